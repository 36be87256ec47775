"""From trial records to the DG table: selection on validation, intervals over seeds, verdicts.

* :func:`select_draws` -- for each method, the hyperparameter draw with the lowest mean
  training-domain validation balanced error over the seeds that every draw of the method
  has (all seeds in a full grid; the search seed in a two-stage search, see
  ``sweep.run_search``). Only ``validation`` rows are read: test scores take no part.
* :func:`summarise` -- the chosen draw's test scores, mean and 95% t-interval over seeds
  (:func:`coos_utils.metrics.t_interval`). One seed gives no interval (NaN).
* :func:`compare_to_erm` -- each method against ERM seed by seed: the per-seed difference
  (method minus ERM, each at its chosen draw, same seed: same data split, same held-out
  part, same batches), its mean and 95% t-interval over the paired seeds. A method "helps"
  on a split and metric only when that interval lies wholly on the better side of zero
  ("hurts": the other side). Two overlapping intervals of the means say little: the seeds'
  shared noise cancels in the paired difference, not in the separate intervals.
* Methods that could not run (CORAL without domain ids) keep a row per split and metric in
  the summary with no numbers, ``seeds`` 0 and the reason in ``note``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coos_utils.metrics import t_interval

SUMMARY_COLUMNS = ["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds", "note"]
PAIRED_COLUMNS = ["method", "split", "metric", "mean_diff", "ci_low", "ci_high", "seeds"]
LOWER_IS_BETTER = {"balanced_error": True, "macro_f1": False}


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


def _chosen_test_rows(records: pd.DataFrame) -> pd.DataFrame:
    """The test rows of each method's chosen draw (trials that ran only)."""
    chosen = select_draws(records)
    picked = ran(records).merge(chosen[["method", "hparams_seed"]], on=["method", "hparams_seed"])
    return picked[picked["split"] != "validation"]


def summarise(records: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """The DG table (method, split, metric, mean, ci_low, ci_high, seeds, note) of the chosen
    draws (the chapter writes it as ``dg.csv``)."""
    test = _chosen_test_rows(records)
    rows = []
    for (method, split, metric), group in test.groupby(["method", "split", "metric"], sort=False):
        mean, low, high = t_interval(group["value"], level)
        rows.append((method, split, metric, mean, low, high, len(group), ""))
    for method, reason in not_run(records).items():
        splits = records.loc[records["split"] != "validation", "split"].unique()
        for split in splits:
            for metric in LOWER_IS_BETTER:
                rows.append((method, split, metric, np.nan, np.nan, np.nan, 0, reason))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def seed_range(records: pd.DataFrame) -> pd.DataFrame:
    """Per method, split and metric: the range (max - min) of the chosen draw's test scores
    over its seeds (method, split, metric, seed_range, seeds); NaN with a single seed."""
    test = _chosen_test_rows(records)
    grouped = test.groupby(["method", "split", "metric"], sort=False)["value"]
    table = grouped.agg(seed_range=lambda v: v.max() - v.min(), seeds="count").reset_index()
    table.loc[table["seeds"] < 2, "seed_range"] = np.nan
    return table


def compare_to_erm(
    records: pd.DataFrame,
    baseline: str = "ERM",
    level: float = 0.95,
) -> pd.DataFrame:
    """Each method against ``baseline``, seed by seed, per test split and metric.

    For the seeds both chosen draws ran: the difference (method minus baseline), its mean
    and ``level`` t-interval (NaN bounds with one seed), and ``helps`` / ``hurts`` when the
    whole interval is on the better / worse side of zero. Columns: method, split, metric,
    mean_diff, ci_low, ci_high, seeds, helps, hurts (the chapter writes it as
    ``dg_vs_erm.csv``).
    """
    test = _chosen_test_rows(records)
    keys = ["split", "metric", "seed"]
    base = test[test["method"] == baseline].set_index(keys)["value"]
    rows = []
    for (method, split, metric), group in test.groupby(["method", "split", "metric"], sort=False):
        if method == baseline:
            continue
        values = group.set_index(keys)["value"]
        diffs = (values - base).dropna()
        if diffs.empty:
            continue
        mean, low, high = t_interval(diffs.to_numpy(), level)
        lower_better = LOWER_IS_BETTER[metric]
        below, above = bool(high < 0), bool(low > 0)
        better, worse = (below, above) if lower_better else (above, below)
        rows.append((method, split, metric, mean, low, high, len(diffs), better, worse))
    return pd.DataFrame(rows, columns=[*PAIRED_COLUMNS, "helps", "hurts"])


def paired_findings(
    paired: pd.DataFrame, summary: pd.DataFrame, metric: str = "balanced_error"
) -> str:
    """Sentences (Markdown) for the chapter: per method, the test sets where its paired
    difference from ERM in ``metric`` resolves (helps / hurts), and the methods not run."""
    rows = paired[paired["metric"] == metric]
    lines = []
    for method, group in rows.groupby("method", sort=False):
        helps = ", ".join(group.loc[group["helps"], "split"])
        hurts = ", ".join(group.loc[group["hurts"], "split"])
        seeds = int(group["seeds"].min())
        if seeds < 2:
            verdict = "one paired seed only: no interval, no verdict"
        elif not helps and not hurts:
            verdict = "no test set where the paired difference from ERM excludes zero"
        else:
            parts = [
                f"better than ERM on {helps}" if helps else "",
                f"worse on {hurts}" if hurts else "",
            ]
            verdict = "; ".join(p for p in parts if p)
        lines.append(f"- **{method}** ({seeds} paired seeds): {verdict}.")
    for method, note in (
        summary.loc[summary["seeds"] == 0, ["method", "note"]].drop_duplicates().values
    ):
        lines.append(f"- **{method}**: {note}; no numbers are reported for it.")
    return "\n".join(lines)
