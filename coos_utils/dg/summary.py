"""From trial records to the DG tables: selection on validation, intervals, verdicts, notes.

* :func:`select_draws` -- for each method, the hyperparameter draw with the lowest mean
  training-domain validation balanced error over the seeds that every draw of the method
  has (all seeds in a full grid; the search seed in a two-stage search, see
  ``sweep.run_search``). Only ``validation`` rows are read: test scores take no part.
* :func:`summarise` -- the chosen draw's scores on the full test sets, read from each
  trial's per-image predictions (``trial.read_predictions``). Balanced error: the mean over
  seeds with a 95% percentile bootstrap that resamples the test set's wells within class
  (images where the split has no wells, or a class has fewer than two), the same resample
  for every seed (:func:`coos_utils.metrics.seeds_bootstrap_ci`). Macro F1 and accuracy
  (for comparison with results published in accuracy): the mean with the seeds' range
  (lowest to highest; none with one seed). The column ``interval`` names
  which (:data:`WELLS`, :data:`IMAGES`, :data:`RANGE`); every bound lies in [0, 100].
  The bootstrap holds the trained models fixed: it says how far the mean would move with
  other test wells (images), not with other training seeds.
* :func:`compare_to_erm` -- each method against ERM seed by seed (same seed: same data
  split, held-out part and batches), each at its chosen draw: the mean paired difference
  (method minus ERM) with the same bootstrap (balanced error) or the range of the per-seed
  differences (macro F1). A method "helps" on a split and metric only when that interval
  lies wholly on the better side of zero *and* every paired seed's difference does too, so
  at least two paired seeds are needed ("hurts": the other side); the second condition
  stands in for the training noise that the bootstrap leaves out.
* A method whose chosen draw predicts exactly what ERM's does, on every image of every test
  set for every paired seed, had no effect on these data (a penalty that is zero on them, a
  weight drawn as 0, a plug-in that never calls its loss): :data:`IDENTICAL` is its note;
  ``dg.csv`` keeps its (real) numbers, ``dg_vs_erm.csv`` shows the note instead of a
  difference. A loss that ``update`` returned as 0 at every training step of every seed
  is named in the note too.
* Methods that could not run (CORAL without domain ids) keep a row per split and metric in
  the summary with no numbers, ``seeds`` 0 and the reason in ``note``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from coos_utils.dg.trial import SplitPredictions, read_predictions
from coos_utils.metrics import IMAGES, RANGE, WELLS, balanced_error, macro_f1, seeds_bootstrap_ci
from coos_utils.reference import TEST_SPLITS

SUMMARY_COLUMNS = [
    *("method", "split", "metric", "mean", "ci_low", "ci_high", "interval", "seeds", "note")
]
PAIRED_COLUMNS = [
    *("method", "split", "metric", "mean_diff", "ci_low", "ci_high", "interval", "seeds"),
    *("helps", "hurts", "note"),
]
LOWER_IS_BETTER = {"balanced_error": True, "macro_f1": False}
IDENTICAL = "identical to ERM: no effect on this data"
"""The note of a method whose test predictions equal ERM's (module docstring)."""

Runs = dict[str, dict[int, dict[str, SplitPredictions]]]
"""Method -> seed -> test split -> the chosen draw's predictions."""


def ran(records: pd.DataFrame) -> pd.DataFrame:
    """The rows of trials that ran (a ``note`` names why a trial did not)."""
    if "note" not in records.columns:
        return records
    return records[records["note"].fillna("") == ""]


def not_run(records: pd.DataFrame) -> dict[str, str]:
    """Method -> reason, for the methods none of whose trials ran."""
    if "note" not in records.columns:
        return {}
    notes = records.groupby("method", sort=False)["note"].agg(lambda n: sorted(set(n.fillna(""))))
    return {m: "; ".join(n) for m, n in notes.items() if "" not in n}


def is_identical(note: object) -> bool:
    """Whether a ``note`` says the method was identical to ERM."""
    return IDENTICAL in str(note)


def select_draws(records: pd.DataFrame) -> pd.DataFrame:
    """Per method: the draw with the lowest mean validation balanced error over the seeds
    shared by all its draws (ties: the lowest draw); columns method, hparams_seed,
    validation_error, seeds (how many seeds the comparison used). Trials that did not run
    take no part."""
    records = ran(records)
    val = records[(records["split"] == "validation") & (records["metric"] == "balanced_error")]
    chosen = []
    for method, group in val.groupby("method", sort=False):
        seeds_per_draw = group.groupby("hparams_seed")["seed"].apply(set)
        shared = set.intersection(*seeds_per_draw)
        if not shared:
            raise ValueError(f"the draws of {method} share no seed; they cannot be compared")
        scores = group[group["seed"].isin(shared)].groupby("hparams_seed")["value"].mean()
        chosen.append((method, int(scores.idxmin()), float(scores.min()), len(shared)))
    return pd.DataFrame(chosen, columns=["method", "hparams_seed", "validation_error", "seeds"])


def best_other_method(selection: pd.DataFrame, baseline: str = "ERM") -> str:
    """The method other than ``baseline`` with the lowest validation error in ``selection``
    (from :func:`select_draws`): a choice made without any test split."""
    others = selection[selection["method"] != baseline]
    return str(others.loc[others["validation_error"].idxmin(), "method"])


def _chosen_trials(records: pd.DataFrame) -> pd.DataFrame:
    """One row per trial (method, seed) of each method's chosen draw that ran."""
    if "folder" not in records.columns:
        raise ValueError(
            "the records have no 'folder' column: make them with sweep.records_table, whose "
            "trial folders hold the test predictions the intervals are computed from"
        )
    chosen = select_draws(records)[["method", "hparams_seed"]]
    picked = ran(records).merge(chosen, on=["method", "hparams_seed"])
    return picked.drop_duplicates(["method", "seed"])


def _runs(trials: pd.DataFrame) -> Runs:
    runs: Runs = {}
    for row in trials.itertuples(index=False):
        runs.setdefault(row.method, {})[int(row.seed)] = read_predictions(row.folder)
    return runs


def _identical(runs: Runs, baseline: str) -> set[str]:
    """The methods whose predictions equal ``baseline``'s on every image of every test split
    for every seed both ran (and at least one)."""
    base = runs.get(baseline, {})
    found = set()
    for method, by_seed in runs.items():
        seeds = sorted(set(by_seed) & set(base))
        if method == baseline or not seeds:
            continue
        if all(
            by_seed[s].keys() == base[s].keys()
            and all(np.array_equal(by_seed[s][k].predicted, base[s][k].predicted) for k in base[s])
            for s in seeds
        ):
            found.add(method)
    return found


def _zero_losses(trials: pd.DataFrame, method: str) -> list[str]:
    """The losses of ``method`` that were 0 at every training step of every chosen trial."""
    if "zero_losses" not in trials.columns:
        return []
    found = trials.loc[trials["method"] == method, "zero_losses"].fillna("")
    sets = [set(filter(None, str(names).split(";"))) for names in found]
    return sorted(set.intersection(*sets)) if sets else []


def _notes(trials: pd.DataFrame, runs: Runs, baseline: str) -> dict[str, str]:
    """Method -> its note: :data:`IDENTICAL` and the losses that were always 0."""
    identical = _identical(runs, baseline)
    notes = {}
    for method in runs:
        parts = [IDENTICAL] if method in identical else []
        parts += [
            f"its loss `{n}` was 0 at every training step" for n in _zero_losses(trials, method)
        ]
        notes[method] = "; ".join(parts)
    return notes


def identical_methods(records: pd.DataFrame, baseline: str = "ERM") -> list[str]:
    """The methods whose chosen draw predicts exactly what ``baseline``'s does on every test
    image for every paired seed (their note is :data:`IDENTICAL`)."""
    runs = _runs(_chosen_trials(records))
    return [m for m in runs if m in _identical(runs, baseline)]


def _scored(
    by_seed: Mapping[int, Mapping[str, SplitPredictions]], split: str, seeds: Sequence[int]
) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray]]:
    """Labels, well ids and each seed's predictions of ``split``; the seeds must have been
    scored on the same images."""
    first = by_seed[seeds[0]][split]
    for seed in seeds[1:]:
        if not np.array_equal(by_seed[seed][split].labels, first.labels):
            raise ValueError(
                f"the {split} labels of seeds {seeds[0]} and {seed} differ: the trials were "
                "not scored on the same test set"
            )
    return first.labels, first.wells, [by_seed[s][split].predicted for s in seeds]


def _error_interval(
    labels: np.ndarray,
    wells: np.ndarray | None,
    predictions: list[np.ndarray],
    baseline: list[np.ndarray] | None,
    n_boot: int,
    seed: int,
    level: float,
) -> tuple[float, float, float, str]:
    """Mean balanced error (or paired difference) and its bootstrap interval over wells where
    every class has two or more, else over images; and which of the two."""
    if wells is not None:
        mean, low, high = seeds_bootstrap_ci(
            labels, predictions, baseline, wells, n_boot, seed, level
        )
        if not np.isnan(low):
            return mean, low, high, WELLS
    mean, low, high = seeds_bootstrap_ci(labels, predictions, baseline, None, n_boot, seed, level)
    return mean, low, high, IMAGES


def _seed_range(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, lowest and highest of per-seed values (NaN bounds with one seed)."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        return float(x.mean()), np.nan, np.nan
    return float(x.mean()), float(x.min()), float(x.max())


def _splits(by_seed: Mapping[int, Mapping[str, SplitPredictions]]) -> list[str]:
    present = set.intersection(*(set(found) for found in by_seed.values()))
    return [s for s in TEST_SPLITS if s in present]


def summarise(
    records: pd.DataFrame,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    baseline: str = "ERM",
) -> pd.DataFrame:
    """The DG table (:data:`SUMMARY_COLUMNS`) of the chosen draws on the full test sets (the
    chapter writes it as ``dg.csv``); intervals and notes as in the module docstring."""
    trials = _chosen_trials(records)
    runs = _runs(trials)
    notes = _notes(trials, runs, baseline)
    rows = []
    for method, by_seed in runs.items():
        seeds = sorted(by_seed)
        for split in _splits(by_seed):
            labels, wells, predictions = _scored(by_seed, split, seeds)
            error = _error_interval(labels, wells, predictions, None, n_boot, seed, level)
            f1 = _seed_range([macro_f1(labels, p) for p in predictions])
            accuracy = _seed_range([100.0 * float(np.mean(labels == p)) for p in predictions])
            note = notes[method]
            rows.append((method, split, "balanced_error", *error, len(seeds), note))
            rows.append((method, split, "macro_f1", *f1, RANGE, len(seeds), note))
            rows.append((method, split, "accuracy", *accuracy, RANGE, len(seeds), note))
    for method, reason in not_run(records).items():
        splits = records.loc[records["split"] != "validation", "split"].unique()
        for split in splits:
            for metric in LOWER_IS_BETTER:
                rows.append((method, split, metric, np.nan, np.nan, np.nan, "", 0, reason))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def seed_range(records: pd.DataFrame) -> pd.DataFrame:
    """Per method, split and metric: the range (max - min) of the chosen draw's test scores
    over its seeds (method, split, metric, seed_range, seeds); NaN with a single seed."""
    chosen = select_draws(records)[["method", "hparams_seed"]]
    picked = ran(records).merge(chosen, on=["method", "hparams_seed"])
    test = picked[picked["split"] != "validation"]
    grouped = test.groupby(["method", "split", "metric"], sort=False)["value"]
    table = grouped.agg(seed_range=lambda v: v.max() - v.min(), seeds="count").reset_index()
    table.loc[table["seeds"] < 2, "seed_range"] = np.nan
    return table


def _verdict(
    low: float, high: float, differences: Sequence[float], lower_is_better: bool
) -> tuple[bool, bool]:
    """(helps, hurts): the interval and every paired seed's difference on one side of zero,
    over two or more seeds."""
    if len(differences) < 2 or np.isnan(low):
        return False, False
    below = bool(high < 0 and all(d < 0 for d in differences))
    above = bool(low > 0 and all(d > 0 for d in differences))
    return (below, above) if lower_is_better else (above, below)


def compare_to_erm(
    records: pd.DataFrame,
    baseline: str = "ERM",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Each method against ``baseline``, seed by seed, per test split and metric, over the
    seeds both chosen draws ran (:data:`PAIRED_COLUMNS`; the chapter writes it as
    ``dg_vs_erm.csv``). A method identical to ``baseline`` gets no numbers and
    :data:`IDENTICAL` in ``note``; methods that did not run get no rows (``dg.csv`` has
    them)."""
    trials = _chosen_trials(records)
    runs = _runs(trials)
    notes = _notes(trials, runs, baseline)
    base = runs.get(baseline, {})
    rows = []
    for method, by_seed in runs.items():
        seeds = sorted(set(by_seed) & set(base))
        if method == baseline or not seeds:
            continue
        note = notes[method]
        for split in _splits({s: by_seed[s] for s in seeds}):
            if is_identical(note):
                rows += [
                    (method, split, m, np.nan, np.nan, np.nan, "", len(seeds), False, False, note)
                    for m in LOWER_IS_BETTER
                ]
                continue
            labels, wells, predictions = _scored(by_seed, split, seeds)
            base_labels, _, reference = _scored(base, split, seeds)
            if not np.array_equal(labels, base_labels):
                raise ValueError(
                    f"the {split} labels of {method} and {baseline} differ: the trials were "
                    "not scored on the same test set"
                )
            error = _error_interval(labels, wells, predictions, reference, n_boot, seed, level)
            error_diffs = [
                balanced_error(labels, p) - balanced_error(labels, r)
                for p, r in zip(predictions, reference, strict=True)
            ]
            rows.append(
                (method, split, "balanced_error", *error, len(seeds))
                + _verdict(error[1], error[2], error_diffs, lower_is_better=True)
                + (note,)
            )
            f1_diffs = [
                macro_f1(labels, p) - macro_f1(labels, r)
                for p, r in zip(predictions, reference, strict=True)
            ]
            f1 = _seed_range(f1_diffs)
            rows.append(
                (method, split, "macro_f1", *f1, RANGE, len(seeds))
                + _verdict(f1[1], f1[2], f1_diffs, lower_is_better=False)
                + (note,)
            )
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def paired_findings(
    paired: pd.DataFrame, summary: pd.DataFrame, metric: str = "balanced_error"
) -> str:
    """Sentences (Markdown) for the chapter: per method, the test sets where its paired
    difference from ERM in ``metric`` resolves (helps / hurts), or that it was identical to
    ERM; and the methods not run."""
    rows = paired[paired["metric"] == metric]
    lines = []
    for method, group in rows.groupby("method", sort=False):
        seeds = int(group["seeds"].min())
        note = str(group["note"].fillna("").iloc[0])
        if is_identical(note):
            lines.append(f"- **{method}** ({seeds} paired seeds): {note}; no difference is shown.")
            continue
        helps = ", ".join(group.loc[group["helps"], "split"])
        hurts = ", ".join(group.loc[group["hurts"], "split"])
        if seeds < 2:
            verdict = "one paired seed only: no verdict"
        elif not helps and not hurts:
            verdict = "no test set where the paired difference from ERM excludes zero"
        else:
            parts = [
                f"better than ERM on {helps}" if helps else "",
                f"worse on {hurts}" if hurts else "",
            ]
            verdict = "; ".join(p for p in parts if p)
        lines.append(
            f"- **{method}** ({seeds} paired seeds): {verdict}{f' ({note})' if note else ''}."
        )
    for method, note in (
        summary.loc[summary["seeds"] == 0, ["method", "note"]].drop_duplicates().values
    ):
        lines.append(f"- **{method}**: {note}; no numbers are reported for it.")
    return "\n".join(lines)
