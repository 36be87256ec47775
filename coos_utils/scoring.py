"""Score a folder of prediction files exactly as Table 3 scores its rows, and store the result.

An application module (beside ``evaluate_cli``, which is its command): it reads the data, the
benchmark's scoring and the analysis, and writes a results folder.

:func:`evaluate` opens the five splits, checks the prediction files against them
(:mod:`coos_utils.benchmark.predictions`) and scores each run (seed) with
:func:`~coos_utils.benchmark.classifiers.score_row`: balanced error (%) per split with the
within-class image bootstrap interval and, where the data have well ids, the well-level one,
with the profile's number of bootstrap samples and the same seed as the book's Table 3. It adds
macro F1, per-class sensitivity, the confusion matrices and the worst test set, and, over
runs (:func:`summarise`), the mean per split with an interval that stays within [0, 100]:
the balanced error's percentile bootstrap over test wells (images where a class has fewer
than two wells, or no well ids), every run scored on the same resample
(:func:`coos_utils.metrics.seeds_bootstrap_ci`); macro F1 and each run's worst test-set
error: the range (lowest, highest) over runs. Each summary row names its ``interval``.
:func:`book_baselines` reads the book's own Table 3 to show beside it.

:func:`write_evaluation` writes the results folder ``<results_dir>/<data-id>/eval-<name>/``
(:func:`evaluation_folder`; the name made file-safe and distinct per model name) in the
book's layout, all at once (a half-written folder never appears): ``table3.csv`` (one row per
run, Table 3's columns; ``model`` is the run's name), ``scores.csv`` (run, split, balanced
error and intervals, macro F1), ``summary.csv`` (over runs, ``dg.csv``'s columns and
``interval``), ``sensitivity.csv``, ``confusion/`` and ``provenance.json`` with the model's
name and the SHA-256 of every prediction file. It replaces only an earlier evaluation folder
of the same model, and refuses any other existing path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coos_utils.analysis.confusion import (
    class_sensitivities,
    confusion_frame,
    confusion_frames,
    sensitivity_table,
)
from coos_utils.atomic import atomic_path
from coos_utils.benchmark.classifiers import score_row
from coos_utils.benchmark.predictions import PredictionFileError, PredictionRun, read_predictions
from coos_utils.benchmark.table3 import well_clusters
from coos_utils.codehash import code_hash
from coos_utils.data import CoosSplit, load_splits
from coos_utils.data.digest import file_digest
from coos_utils.data.errors import CoosDataError
from coos_utils.identity import data_fingerprint, data_id
from coos_utils.metrics import macro_f1, seeds_bootstrap_ci
from coos_utils.reference import SPLIT_NAMES, TEST_SPLITS
from coos_utils.results.collect import IMAGES, RANGE, WELLS, read_record
from coos_utils.results.provenance import (
    COMPLETE,
    PROVENANCE,
    UNFINISHED,
    chapter_status,
    mark_chapter,
    record_run,
)
from coos_utils.results.store import slug, unique_slug, write_csv, write_table3

EVALUATION = "evaluate"
"""The entry the scorer adds under ``chapters`` in ``provenance.json``."""
SCORE_COLUMNS = [
    "run", "split", "balanced_error", "ci_low", "ci_high", "well_ci_low", "well_ci_high",
    "macro_f1",
]  # fmt: skip
SUMMARY_COLUMNS = ["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds", "interval"]
WORST = "worst test"
"""The ``split`` of the summary rows about each run's worst test set."""
EVALUATION_FILES = ("table3.csv", "scores.csv", "summary.csv", "sensitivity.csv", PROVENANCE)
"""The files an evaluation folder holds (and ``confusion/*.csv``)."""


@dataclass
class Evaluation:
    """A folder of predictions scored against one data set."""

    name: str
    table: pd.DataFrame
    scores: pd.DataFrame
    summary: pd.DataFrame
    predictions: dict[tuple[str, str, str], np.ndarray]
    labels: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    data: dict[str, Any]
    files: dict[str, str]

    @property
    def splits(self) -> list[str]:
        """The splits every run predicted, in the paper's order."""
        return [s for s in SPLIT_NAMES if s in self.table.columns]

    def worst_tests(self) -> pd.Series:
        """Run -> the test set with the highest balanced error."""
        return self.table.set_index("model")[list(TEST_SPLITS)].idxmax(axis=1)

    def confusion(self, split: str) -> pd.DataFrame:
        """Counts (rows: true class) on ``split``, summed over the runs."""
        frames = [
            confusion_frame(self.labels[split], predicted, self.class_names)
            for (_, _, s), predicted in self.predictions.items()
            if s == split
        ]
        return sum(frames[1:], frames[0])

    def sensitivities(self) -> pd.DataFrame:
        """Per-class sensitivity (rows: class, columns: split), the mean over runs."""
        frame = pd.DataFrame({s: class_sensitivities(self.confusion(s)) for s in self.splits})
        return frame.rename_axis("class")


def score_run(
    name: str,
    run: PredictionRun,
    labels: Mapping[str, np.ndarray],
    clusters: Mapping[str, np.ndarray | None],
    seed: int = 0,
    bootstrap_samples: int = 1000,
) -> dict[str, Any]:
    """One Table 3 row (features ``name``, model the run's name) for ``run``'s predictions.

    :func:`score_row` wants a ``train`` split (it scores fitted classifiers); each split's
    numbers depend only on that split's labels, predictions and wells and on ``seed``, so each
    split is scored alone in ``train``'s place, which gives exactly Table 3's numbers.
    """
    row: dict[str, Any] = {"features": name, "model": run.name, "cv_error": np.nan}
    for split in [s for s in SPLIT_NAMES if s in run.labels]:
        alone = score_row(
            name,
            run.name,
            {"train": run.labels[split]},
            {"train": labels[split]},
            np.nan,
            seed,
            bootstrap_samples,
            {"train": clusters.get(split)},
        )
        row.update({split + key[5:]: v for key, v in alone.items() if key.startswith("train")})
    return row


def _scores(row: dict[str, Any], run: PredictionRun, labels: Mapping[str, np.ndarray]) -> list:
    """``scores.csv`` rows of one run."""
    return [
        [
            run.name,
            split,
            row[split],
            row[f"{split}_ci_low"],
            row[f"{split}_ci_high"],
            row[f"{split}_well_ci_low"],
            row[f"{split}_well_ci_high"],
            macro_f1(labels[split], run.labels[split]),
        ]
        for split in SPLIT_NAMES
        if split in run.labels
    ]


def summarise(
    name: str,
    scores: pd.DataFrame,
    runs: Sequence[PredictionRun],
    labels: Mapping[str, np.ndarray],
    clusters: Mapping[str, np.ndarray | None],
    seed: int = 0,
    bootstrap_samples: int = 1000,
) -> pd.DataFrame:
    """Over runs, per split: the mean balanced error with its bootstrap interval and the mean
    macro F1 with the runs' range; and each run's worst test-set error (split :data:`WORST`)
    with the runs' range (module docstring). :data:`SUMMARY_COLUMNS`."""
    rows = []
    for split, group in scores.groupby("split", sort=False):
        predicted = [run.labels[split] for run in runs if split in run.labels]
        mean, low, high, kind = _bootstrap(
            labels[split], predicted, clusters.get(split), seed, bootstrap_samples
        )
        rows.append([name, split, "balanced_error", mean, low, high, len(group), kind])
    for split, group in scores.groupby("split", sort=False):
        rows.append([name, split, "macro_f1", *_range(group["macro_f1"]), len(group), RANGE])
    tests = scores[scores["split"].isin(TEST_SPLITS)]
    worst = tests.groupby("run", sort=False)["balanced_error"].max()
    rows.append([name, WORST, "balanced_error", *_range(worst), len(worst), RANGE])
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _bootstrap(
    truth: np.ndarray,
    predicted: list[np.ndarray],
    clusters: np.ndarray | None,
    seed: int,
    bootstrap_samples: int,
) -> tuple[float, float, float, str]:
    """Mean over runs, low, high and kind: wells resampled where every class has two, else
    images (as Table 3 shows its rows)."""
    if clusters is not None:
        mean, low, high = seeds_bootstrap_ci(
            truth, predicted, clusters=clusters, n_boot=bootstrap_samples, seed=seed
        )
        if not np.isnan(low):
            return mean, low, high, WELLS
    mean, low, high = seeds_bootstrap_ci(truth, predicted, n_boot=bootstrap_samples, seed=seed)
    return mean, low, high, IMAGES


def _range(values: pd.Series) -> tuple[float, float, float]:
    """Mean, lowest and highest value (NaN bounds for one value)."""
    if len(values) < 2:
        return float(values.mean()), np.nan, np.nan
    return float(values.mean()), float(values.min()), float(values.max())


def score_runs(
    name: str,
    runs: Sequence[PredictionRun],
    splits: Mapping[str, CoosSplit],
    seed: int = 0,
    bootstrap_samples: int = 1000,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Table 3 rows, ``scores.csv`` rows and the summary over runs for checked ``runs``."""
    labels = {split: data.labels for split, data in splits.items()}
    clusters = {split: well_clusters(data.meta) for split, data in splits.items()}
    rows, scores = [], []
    for run in runs:
        rows.append(score_run(name, run, labels, clusters, seed, bootstrap_samples))
        scores += _scores(rows[-1], run, labels)
    frame = pd.DataFrame(scores, columns=SCORE_COLUMNS)
    summary = summarise(name, frame, runs, labels, clusters, seed, bootstrap_samples)
    return pd.DataFrame(rows), frame, summary


def data_record(splits: Mapping[str, CoosSplit], data_path: str | Path) -> dict[str, Any]:
    """What ``provenance.json`` says about the data (as the chapters record it)."""
    fingerprint = data_fingerprint(splits)
    train = splits["train"]
    return {
        "data_id": data_id(train, fingerprint),
        "data_source": "synthetic" if train.is_synthetic else "real",
        "data_label": train.data_label,
        "data_fingerprint": fingerprint,
        "data_path": str(data_path),
    }


def prediction_hashes(folder: Path, runs: Sequence[PredictionRun]) -> dict[str, str]:
    """Path relative to ``folder`` -> SHA-256, for every prediction file scored."""
    return {
        path.relative_to(folder).as_posix(): file_digest(path)
        for run in runs
        for path in run.files.values()
    }


def evaluate(
    predictions_dir: str | Path,
    data_dir: str | Path,
    name: str | None = None,
    seed: int = 0,
    bootstrap_samples: int = 1000,
) -> Evaluation:
    """Check the prediction files under ``predictions_dir`` against the data in ``data_dir``
    and score them (see the module docstring). Bad files raise
    :class:`~coos_utils.benchmark.predictions.PredictionFileError`, one line per problem."""
    folder = Path(predictions_dir)
    splits = load_splits(data_dir)
    runs = read_predictions(folder, {split: len(data) for split, data in splits.items()})
    _refuse_shared_file_names(folder, runs)
    name = name or folder.resolve().name
    table, scores, summary = score_runs(name, runs, splits, seed, bootstrap_samples)
    return Evaluation(
        name=name,
        table=table,
        scores=scores,
        summary=summary,
        predictions={(name, r.name, s): p for r in runs for s, p in r.labels.items()},
        labels={split: splits[split].labels for split in SPLIT_NAMES},
        class_names=splits["train"].class_names,
        data=data_record(splits, data_dir),
        files=prediction_hashes(folder, runs),
    )


def _refuse_shared_file_names(folder: Path, runs: Sequence[PredictionRun]) -> None:
    """Two runs whose names give the same confusion file names (``seed 1``, ``seed_1``)."""
    seen: dict[str, str] = {}
    for run in runs:
        other = seen.setdefault(slug(run.name), run.name)
        if other != run.name:
            problem = (
                f"{folder}: runs {other!r} and {run.name!r} would share result files; rename one"
            )
            raise PredictionFileError(folder, [problem])


def evaluation_folder(results_dir: str | Path, evaluation: Evaluation) -> Path:
    """``<results_dir>/<data-id>/eval-<name>/``, the name made file-safe, distinct per model
    name and never empty (:func:`~coos_utils.results.store.unique_slug`)."""
    folder = f"eval-{unique_slug(evaluation.name)}"
    return Path(results_dir) / evaluation.data["data_id"] / folder


def refuse_other_folder(folder: Path, name: str) -> None:
    """A :class:`CoosDataError` unless ``folder`` is absent or an earlier evaluation folder of
    the model ``name`` that holds only what an evaluation writes."""
    if not (folder.exists() or folder.is_symlink()):
        return
    if folder.is_symlink() or not folder.is_dir():
        what = "a link" if folder.is_symlink() else "not a folder"
        raise CoosDataError(folder, f"exists and is {what}; choose a new folder to write in")
    earlier = _evaluated_model(folder)
    if earlier is None:
        raise CoosDataError(
            folder, "exists and is not an evaluation folder; choose a new folder to write in"
        )
    if earlier != name:
        raise CoosDataError(
            folder,
            f"holds the evaluation of another model ({earlier[:40]!r}, not {name[:40]!r}); "
            "choose another name or folder",
        )
    extra = next((p for p in folder.rglob("*") if not _written_by_evaluation(folder, p)), None)
    if extra is not None:
        raise CoosDataError(
            folder,
            f"holds {extra.relative_to(folder)}, which an evaluation does not write; "
            "move it away or choose another folder",
        )


def _evaluated_model(folder: Path) -> str | None:
    """The model an evaluation folder scored (its record, else its ``table3.csv``); None when
    ``folder`` is not an evaluation folder."""
    try:
        record = read_record(folder)
        if EVALUATION not in record.get("chapters", {}):
            return None
        name = record.get("evaluated_model")
        table3 = folder / "table3.csv"
        if name is None and table3.is_file():
            names = pd.read_csv(table3)["features"].astype(str).unique()
            name = names[0] if len(names) == 1 else None
    except (ValueError, OSError, KeyError):  # an unreadable record or table
        return None
    return name if isinstance(name, str) else None


def _written_by_evaluation(folder: Path, path: Path) -> bool:
    parts = path.relative_to(folder).parts
    if parts == ("confusion",):
        return path.is_dir() and not path.is_symlink()
    in_confusion = len(parts) == 2 and parts[0] == "confusion" and path.suffix == ".csv"
    top = len(parts) == 1 and parts[0] in EVALUATION_FILES
    return (in_confusion or top) and path.is_file() and not path.is_symlink()


def write_evaluation(
    folder: str | Path, evaluation: Evaluation, profile: str, parameters: Mapping[str, Any]
) -> list[Path]:
    """Write the results folder (module docstring), replacing any earlier one only once the
    new one is complete; ``profile`` (whose bootstrap size was used) and ``parameters`` (how
    it was scored) go into ``provenance.json``. An existing ``folder`` other than an earlier
    evaluation folder of the same model is refused (:func:`refuse_other_folder`)."""
    folder = Path(folder)
    refuse_other_folder(folder, evaluation.name)
    with atomic_path(folder, is_dir=True) as tmp:
        outputs = evaluation.predictions, evaluation.labels, evaluation.class_names
        written = write_table3(
            tmp, evaluation.table, sensitivity_table(*outputs), confusion_frames(*outputs)
        )
        written.append(write_csv(evaluation.scores, tmp / "scores.csv"))
        written.append(write_csv(evaluation.summary, tmp / "summary.csv"))
        data = {
            **evaluation.data,
            "evaluated_model": evaluation.name,
            "prediction_files": evaluation.files,
        }
        record_run(tmp, EVALUATION, data, profile, dict(parameters), code_hash())
        mark_chapter(tmp, EVALUATION, COMPLETE)
    return [folder / p.relative_to(tmp) for p in written] + [folder / "provenance.json"]


def book_baselines(folder: str | Path) -> pd.DataFrame | None:
    """The book's ``table3.csv`` in the results ``folder`` when chapter 03 wrote it there and
    it is not marked failed or interrupted; ``None`` otherwise (the comparison then shows the
    paper only)."""
    path = Path(folder) / "table3.csv"
    if not path.is_file() or chapter_status(Path(folder), "03_classifiers") in UNFINISHED:
        return None
    return pd.read_csv(path)
