"""A folder of prediction files scored exactly as Table 3 scores its rows: :func:`evaluate`.

:func:`evaluate` opens the five splits, checks the prediction files against them
(:mod:`coos_utils.benchmark.predictions`) and scores each run (seed) on every split it
predicts with :func:`~coos_utils.benchmark.scoring.score_labels`, the scorer of Table 3's rows:
balanced error (%) with the within-class image bootstrap interval and, where the data have
well ids, the well-level one (the profile's number of bootstrap samples, the book's seed),
accuracy and macro F1 (%), the confusion counts and the worst test set among those
predicted. The test splits without prediction files are named in
:attr:`Evaluation.missing` and not scored. Over runs (:func:`summarise`): the mean per split
with an interval that stays within [0, 100]: the balanced error's percentile bootstrap over
test wells (images where a class has fewer than two wells, or no well ids), every run scored
on the same resample (:func:`coos_utils.metrics.seeds_bootstrap_ci`); accuracy, macro F1 and
each run's worst test-set error: the range (lowest, highest) over runs. Each summary row
names its ``interval``.

Writing the results folder is :mod:`coos_utils.results.evaluation`'s job; printing it, the
``coos evaluate`` command's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coos_utils.benchmark.predictions import PredictionRun, missing_tests, read_predictions
from coos_utils.benchmark.scoring import SplitScore, score_labels
from coos_utils.data import CoosSplit, load_splits
from coos_utils.data.digest import file_digest
from coos_utils.data.wells import well_clusters
from coos_utils.identity import data_fingerprint, data_id
from coos_utils.metrics import (
    IMAGES,
    RANGE,
    WELLS,
    confusion,
    seeds_bootstrap_ci,
    sensitivity_from_counts,
)
from coos_utils.reference import SPLIT_NAMES, TEST_SPLITS

SCORE_COLUMNS = [
    "run", "split", "balanced_error", "ci_low", "ci_high", "well_ci_low", "well_ci_high",
    "accuracy", "macro_f1",
]  # fmt: skip
SUMMARY_COLUMNS = ["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds", "interval"]
RANGE_METRICS = ("accuracy", "macro_f1")
"""The metrics summarised over runs by their range (the balanced error by a bootstrap)."""
WORST = "worst test"
"""The ``split`` of the summary rows about each run's worst test set."""


@dataclass
class Evaluation:
    """A folder of predictions scored against one data set."""

    name: str
    table: pd.DataFrame
    """One Table 3 row per run (``model``: the run's name)."""
    scores: pd.DataFrame
    """:data:`SCORE_COLUMNS`, one row per run and split."""
    summary: pd.DataFrame
    """:data:`SUMMARY_COLUMNS`, over runs."""
    predictions: dict[tuple[str, str, str], np.ndarray]
    labels: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    data: dict[str, Any]
    files: dict[str, str]
    """Prediction file (relative to :attr:`source`) -> SHA-256."""
    source: Path = Path(".")
    """The folder of prediction files."""
    missing: list[str] = field(default_factory=list)
    """The test splits no run predicted (not scored)."""

    @property
    def splits(self) -> list[str]:
        """The splits every run predicted, in the paper's order."""
        return [s for s in SPLIT_NAMES if s in self.table.columns]

    @property
    def tests(self) -> list[str]:
        """The test splits scored."""
        return [s for s in TEST_SPLITS if s in self.table.columns]

    def worst_tests(self) -> pd.Series:
        """Run -> the scored test set with the highest balanced error."""
        return self.table.set_index("model")[self.tests].idxmax(axis=1)

    def intervals(self) -> dict[str, str]:
        """Split -> the kind of interval its balanced error is shown with (:data:`WELLS` or
        :data:`IMAGES`): one run's own interval, or the summary's over runs."""
        if len(self.table) == 1:
            return {
                r.split: IMAGES if pd.isna(r.well_ci_low) else WELLS
                for r in self.scores.itertuples(index=False)
            }
        errors = self.summary[
            (self.summary["metric"] == "balanced_error") & self.summary["split"].isin(SPLIT_NAMES)
        ]
        return dict(zip(errors["split"], errors["interval"], strict=True))

    def confusion(self, split: str) -> pd.DataFrame:
        """Counts (rows: true class) on ``split``, summed over the runs."""
        counts = sum(
            _counts(self.labels[split], predicted, self.class_names)
            for (_, _, s), predicted in self.predictions.items()
            if s == split
        )
        return _count_frame(np.asarray(counts), self.class_names)

    def confusion_frames(self) -> dict[tuple[str, str, str], pd.DataFrame]:
        """Counts per (name, run, split), as the book's ``confusion/`` files hold them."""
        return {
            key: _count_frame(_counts(self.labels[key[2]], p, self.class_names), self.class_names)
            for key, p in self.predictions.items()
        }

    def sensitivity_table(self) -> pd.DataFrame:
        """One row per (name, run, split, class) with that class's sensitivity, as the book's
        ``sensitivity.csv``."""
        rows = [
            [*key, name, value]
            for key, frame in self.confusion_frames().items()
            for name, value in zip(
                self.class_names, sensitivity_from_counts(frame.to_numpy()), strict=True
            )
        ]
        return pd.DataFrame(rows, columns=["features", "model", "split", "class", "sensitivity"])

    def sensitivities(self) -> pd.DataFrame:
        """Per-class sensitivity (rows: class, columns: split) of the counts summed over runs."""
        values = {s: sensitivity_from_counts(self.confusion(s).to_numpy()) for s in self.splits}
        return pd.DataFrame(values, index=pd.Index(self.class_names, name="class"))


def _counts(truth: np.ndarray, predicted: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    return confusion(truth, predicted, len(class_names))


def _count_frame(counts: np.ndarray, class_names: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(
        counts,
        index=pd.Index(class_names, name="true class"),
        columns=pd.Index(class_names, name="predicted class"),
    )


def score_run(
    name: str,
    run: PredictionRun,
    labels: Mapping[str, np.ndarray],
    clusters: Mapping[str, np.ndarray | None],
    seed: int = 0,
    bootstrap_samples: int = 1000,
) -> dict[str, Any]:
    """One Table 3 row (features ``name``, model the run's name) for ``run``'s predictions,
    the columns of :func:`~coos_utils.benchmark.classifiers.score_row` for the splits it
    predicts."""
    scores = run_scores(run, labels, clusters, seed, bootstrap_samples)
    return _row(name, run.name, scores)


def run_scores(
    run: PredictionRun,
    labels: Mapping[str, np.ndarray],
    clusters: Mapping[str, np.ndarray | None],
    seed: int = 0,
    bootstrap_samples: int = 1000,
) -> dict[str, SplitScore]:
    """Split -> :class:`SplitScore` of each split ``run`` predicts (the paper's order)."""
    return {
        split: score_labels(
            labels[split], run.labels[split], clusters.get(split), seed, bootstrap_samples
        )
        for split in SPLIT_NAMES
        if split in run.labels
    }


def _row(name: str, run: str, scores: Mapping[str, SplitScore]) -> dict[str, Any]:
    row: dict[str, Any] = {"features": name, "model": run, "cv_error": np.nan}
    row.update({split: score.balanced_error for split, score in scores.items()})
    for split, score in scores.items():
        row.update(score.columns(split))
    return row


def _score_rows(run: str, scores: Mapping[str, SplitScore]) -> list[list]:
    """``scores.csv`` rows of one run."""
    return [
        [
            run,
            split,
            s.balanced_error,
            s.ci_low,
            s.ci_high,
            s.well_ci_low,
            s.well_ci_high,
            s.accuracy,
            s.macro_f1,
        ]
        for split, s in scores.items()
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
    """Over runs, per split: the mean balanced error with its bootstrap interval, the mean
    accuracy and macro F1 with the runs' range; and each run's worst test-set error (split
    :data:`WORST`) with the runs' range (module docstring). :data:`SUMMARY_COLUMNS`."""
    rows = []
    for split, group in scores.groupby("split", sort=False):
        predicted = [run.labels[split] for run in runs if split in run.labels]
        mean, low, high, kind = _bootstrap(
            labels[split], predicted, clusters.get(split), seed, bootstrap_samples
        )
        rows.append([name, split, "balanced_error", mean, low, high, len(group), kind])
    for metric in RANGE_METRICS:
        for split, group in scores.groupby("split", sort=False):
            rows.append([name, split, metric, *_range(group[metric]), len(group), RANGE])
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
        found = run_scores(run, labels, clusters, seed, bootstrap_samples)
        rows.append(_row(name, run.name, found))
        scores += _score_rows(run.name, found)
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
    and score the splits they predict (module docstring). Bad files raise
    :class:`~coos_utils.benchmark.predictions.PredictionFileError`, one line per problem."""
    folder = Path(predictions_dir)
    splits = load_splits(data_dir)
    runs = read_predictions(folder, {split: len(data) for split, data in splits.items()})
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
        source=folder,
        missing=missing_tests(runs),
    )
