"""The results folder of a scored folder of predictions, and the book's rows to set beside it.

:func:`write_evaluation` writes ``<results_dir>/<data-id>/eval-<name>/``
(:func:`evaluation_folder`; the name made file-safe and distinct per model name) in the
book's layout, all at once (a half-written folder never appears): ``table3.csv`` (one row per
run, Table 3's columns with ``<split>_accuracy``; ``model`` is the run's name), ``scores.csv``
(run, split, balanced error and intervals, accuracy, macro F1), ``summary.csv`` (over runs,
``dg.csv``'s columns and ``interval``), ``sensitivity.csv``, ``confusion/`` and
``provenance.json`` with the model's name, the SHA-256 of every prediction file and the
test splits scored and missing. It replaces only an earlier evaluation folder of the same
model, and refuses any other existing path. The evaluation it writes is computed by
:func:`coos_utils.benchmark.evaluation.evaluate` (anything with the attributes of
:class:`ScoredPredictions`). :func:`book_baselines` reads the book's own Table 3.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from coos_utils.atomic import atomic_path
from coos_utils.codehash import code_hash
from coos_utils.data.errors import CoosDataError
from coos_utils.reference import TEST_SPLITS
from coos_utils.results.collect import read_record
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
"""The entry an evaluation adds under ``chapters`` in ``provenance.json``."""
EVALUATION_FILES = ("table3.csv", "scores.csv", "summary.csv", "sensitivity.csv", PROVENANCE)
"""The files an evaluation folder holds (and ``confusion/*.csv``)."""


class ScoredPredictions(Protocol):
    """What :func:`write_evaluation` writes (a
    :class:`coos_utils.benchmark.evaluation.Evaluation`)."""

    name: str
    table: pd.DataFrame
    scores: pd.DataFrame
    summary: pd.DataFrame
    data: dict[str, Any]
    files: dict[str, str]
    source: Path
    missing: list[str]

    def sensitivity_table(self) -> pd.DataFrame: ...
    def confusion_frames(self) -> Mapping[tuple[str, str, str], pd.DataFrame]: ...


def evaluation_folder(results_dir: str | Path, evaluation: ScoredPredictions) -> Path:
    """``<results_dir>/<data-id>/eval-<name>/``, the name made file-safe, distinct per model
    name and never empty (:func:`~coos_utils.results.store.unique_slug`)."""
    folder = f"eval-{unique_slug(evaluation.name)}"
    return Path(results_dir) / evaluation.data["data_id"] / folder


def refuse_shared_file_names(evaluation: ScoredPredictions) -> None:
    """A :class:`CoosDataError` when two runs' names give the same result file names
    (``seed 1``, ``seed_1``)."""
    seen: dict[str, str] = {}
    for run in evaluation.table["model"].astype(str):
        other = seen.setdefault(slug(run), run)
        if other != run:
            raise CoosDataError(
                evaluation.source,
                f"runs {other!r} and {run!r} would share result files; rename one",
            )


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
    folder: str | Path,
    evaluation: ScoredPredictions,
    profile: str,
    parameters: Mapping[str, Any],
) -> list[Path]:
    """Write the results folder (module docstring), replacing any earlier one only once the
    new one is complete; ``profile`` (whose bootstrap size was used) and ``parameters`` (how
    it was scored) go into ``provenance.json``. An existing ``folder`` other than an earlier
    evaluation folder of the same model is refused (:func:`refuse_other_folder`), and so are
    two runs whose files would share names (:func:`refuse_shared_file_names`)."""
    folder = Path(folder)
    refuse_shared_file_names(evaluation)
    refuse_other_folder(folder, evaluation.name)
    with atomic_path(folder, is_dir=True) as tmp:
        written = write_table3(
            tmp, evaluation.table, evaluation.sensitivity_table(), evaluation.confusion_frames()
        )
        written.append(write_csv(evaluation.scores, tmp / "scores.csv"))
        written.append(write_csv(evaluation.summary, tmp / "summary.csv"))
        data = {
            **evaluation.data,
            "evaluated_model": evaluation.name,
            "prediction_files": evaluation.files,
            "scored_tests": [s for s in TEST_SPLITS if s not in evaluation.missing],
            "missing_tests": list(evaluation.missing),
        }
        record_run(tmp, EVALUATION, data, profile, dict(parameters), code_hash())
        mark_chapter(tmp, EVALUATION, COMPLETE)
    return [folder / p.relative_to(tmp) for p in written] + [folder / PROVENANCE]


def book_baselines(folder: str | Path) -> pd.DataFrame | None:
    """The book's ``table3.csv`` in the results ``folder`` when chapter 03 wrote it there and
    it is not marked failed or interrupted; ``None`` otherwise (the comparison then shows the
    paper only)."""
    path = Path(folder) / "table3.csv"
    if not path.is_file() or chapter_status(Path(folder), "03_classifiers") in UNFINISHED:
        return None
    return pd.read_csv(path)
