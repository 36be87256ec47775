"""Score a folder of prediction files exactly as Table 3 scores its rows, and store the result.

An application module (beside ``evaluate_cli``, which is its command): it reads the data, the
benchmark's scoring and the analysis, and writes a results folder.

:func:`evaluate` opens the five splits, checks the prediction files against them
(:mod:`coos_utils.benchmark.predictions`) and scores each run (seed) with
:func:`~coos_utils.benchmark.classifiers.score_row`: balanced error (%) per split with the
within-class image bootstrap interval and, where the data have well ids, the well-level one,
with the profile's number of bootstrap samples and the same seed as the book's Table 3. It adds
macro F1, per-class sensitivity, the confusion matrices and the worst test set, and, over
runs, the mean and 95% t-interval over seeds (:func:`coos_utils.metrics.t_interval`, as in
``dg.csv``). :func:`book_baselines` reads the book's own Table 3 to show beside it.

:func:`write_evaluation` writes the results folder ``<results_dir>/<data-id>/eval-<name>/``
(:func:`evaluation_folder`) in the book's layout, all at once (a half-written folder never
appears): ``table3.csv`` (one row per run, Table 3's columns; ``model`` is the run's name),
``scores.csv`` (run, split, balanced error and intervals, macro F1), ``summary.csv`` (over
runs, ``dg.csv``'s columns), ``sensitivity.csv``, ``confusion/`` and ``provenance.json`` with
the SHA-256 of every prediction file.
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
from coos_utils.benchmark.predictions import PredictionRun, read_predictions
from coos_utils.benchmark.table3 import well_clusters
from coos_utils.codehash import code_hash
from coos_utils.data import CoosSplit, load_splits
from coos_utils.data.digest import file_digest
from coos_utils.identity import data_fingerprint, data_id
from coos_utils.metrics import macro_f1, t_interval
from coos_utils.reference import SPLIT_NAMES, TEST_SPLITS
from coos_utils.results.provenance import COMPLETE, FAILED, chapter_status, mark_chapter, record_run
from coos_utils.results.store import slug, write_csv, write_table3

EVALUATION = "evaluate"
"""The entry the scorer adds under ``chapters`` in ``provenance.json``."""
SCORE_COLUMNS = [
    "run", "split", "balanced_error", "ci_low", "ci_high", "well_ci_low", "well_ci_high",
    "macro_f1",
]  # fmt: skip
SUMMARY_COLUMNS = ["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds"]
WORST = "worst test"
"""The ``split`` of the summary rows about each run's worst test set."""


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


def summarise(name: str, scores: pd.DataFrame) -> pd.DataFrame:
    """Over runs, per split: mean and 95% t-interval of the balanced error and macro F1, and
    of each run's worst test-set error (split :data:`WORST`)."""
    rows = []
    for metric in ("balanced_error", "macro_f1"):
        for split, group in scores.groupby("split", sort=False):
            rows.append([name, split, metric, *t_interval(group[metric]), len(group)])
    tests = scores[scores["split"].isin(TEST_SPLITS)]
    worst = tests.groupby("run", sort=False)["balanced_error"].max()
    rows.append([name, WORST, "balanced_error", *t_interval(worst), len(worst)])
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


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
    scores_frame = pd.DataFrame(scores, columns=SCORE_COLUMNS)
    return pd.DataFrame(rows), scores_frame, summarise(name, scores_frame)


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


def evaluation_folder(results_dir: str | Path, evaluation: Evaluation) -> Path:
    """``<results_dir>/<data-id>/eval-<name>/`` (the name made file-safe)."""
    return Path(results_dir) / evaluation.data["data_id"] / f"eval-{slug(evaluation.name)}"


def write_evaluation(
    folder: str | Path, evaluation: Evaluation, profile: str, parameters: Mapping[str, Any]
) -> list[Path]:
    """Write the results folder (module docstring), replacing any earlier one only once the
    new one is complete; ``profile`` (whose bootstrap size was used) and ``parameters`` (how
    it was scored) go into ``provenance.json``."""
    folder = Path(folder)
    with atomic_path(folder, is_dir=True) as tmp:
        outputs = evaluation.predictions, evaluation.labels, evaluation.class_names
        written = write_table3(
            tmp, evaluation.table, sensitivity_table(*outputs), confusion_frames(*outputs)
        )
        written.append(write_csv(evaluation.scores, tmp / "scores.csv"))
        written.append(write_csv(evaluation.summary, tmp / "summary.csv"))
        data = {**evaluation.data, "prediction_files": evaluation.files}
        record_run(tmp, EVALUATION, data, profile, dict(parameters), code_hash())
        mark_chapter(tmp, EVALUATION, COMPLETE)
    return [folder / p.relative_to(tmp) for p in written] + [folder / "provenance.json"]


def book_baselines(folder: str | Path) -> pd.DataFrame | None:
    """The book's ``table3.csv`` in the results ``folder`` when chapter 03 wrote it there and
    it is not marked failed; ``None`` otherwise (the comparison then shows the paper only)."""
    path = Path(folder) / "table3.csv"
    if not path.is_file() or chapter_status(Path(folder), "03_classifiers") == FAILED:
        return None
    return pd.read_csv(path)
