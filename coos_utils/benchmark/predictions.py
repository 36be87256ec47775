"""Prediction files: the format a model's outputs are scored in, read and checked against the data.

A run is a folder with one CSV per split predicted: any of ``test1.csv`` ... ``test4.csv`` (at
least one) and optionally ``train.csv``; the test splits without a file are not scored, and
:func:`missing_tests` names them. Each has a header and one row per image of the split::

    index,label[,p0,p1,p2,p3,p4,p5,p6]

``index`` is the image's position in the split (0 .. N-1, each once, any order), ``label`` the
predicted class id (0..6, in the paper's class order), ``p0..p6`` (all or none) the predicted
probability of each class, summing to 1 (within :data:`PROBABILITY_TOLERANCE`). Several runs
(seeds) are sub-folders of one folder (``seed0/``, ``seed1/``, ...), each laid out as above
and each with the same splits.

:func:`read_predictions` checks every file against the split sizes and reports every problem it
finds at once, one line each naming the file and the line (``PredictionFileError``). Reading is
bounded by the split's size: only regular files are opened (never a device or a pipe), at most
one row more than the split has images is read, a line may hold at most
:data:`MAX_LINE_BYTES`, and a value quoted in a problem is cut to :data:`QUOTE_LIMIT`
characters.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from coos_utils.data.errors import CoosDataError
from coos_utils.reference import N_CLASSES, SPLIT_NAMES, TEST_SPLITS

PROBABILITY_TOLERANCE = 0.01
"""How far a row's probabilities may sum from 1 (rounding in the file)."""
MAX_LINE_BYTES = 4096
"""The longest line a prediction file may have (a row is at most nine numbers)."""
QUOTE_LIMIT = 40
"""How many characters of a bad value a problem quotes."""
SINGLE_RUN = "predictions"
"""The run name of a folder that holds the split files itself (no seed sub-folders)."""


class PredictionFileError(CoosDataError):
    """Every problem found in a folder of prediction files, one line each."""

    def __init__(self, folder: str | Path, problems: list[str]) -> None:
        super().__init__(folder, "; ".join(problems))
        self.problems = list(problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)

    def __reduce__(self) -> tuple:
        return type(self), (self.path, self.problems)


@dataclass
class PredictionRun:
    """One run's predictions, each split's in the split's image order."""

    name: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    probabilities: dict[str, np.ndarray | None] = field(default_factory=dict)


def probability_columns(n_classes: int = N_CLASSES) -> list[str]:
    """``p0`` .. ``p<n_classes - 1>``."""
    return [f"p{k}" for k in range(n_classes)]


def find_runs(folder: str | Path) -> dict[str, Path]:
    """Run name -> folder: the folder itself (:data:`SINGLE_RUN`) when it holds CSV files,
    else each sub-folder that does (names in natural order: seed2 before seed10)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PredictionFileError(folder, [f"{folder}: no such folder of prediction files"])
    subfolders = sorted(
        (p for p in folder.iterdir() if p.is_dir() and any(p.glob("*.csv"))), key=_natural
    )
    if any(folder.glob("*.csv")):
        if subfolders:
            names = ", ".join(p.name for p in subfolders)
            problem = f"{folder}: holds both split files and run sub-folders ({names}); use one"
            raise PredictionFileError(folder, [problem])
        return {SINGLE_RUN: folder}
    if not subfolders:
        expected = ", ".join(f"{s}.csv" for s in TEST_SPLITS)
        problem = f"{folder}: no prediction files (expected {expected}, or one sub-folder a seed)"
        raise PredictionFileError(folder, [problem])
    return {p.name: p for p in subfolders}


def _natural(path: Path) -> list[int | str]:
    parts = pd.Series([path.name]).str.split(r"(\d+)", regex=True)[0]
    return [int(p) if p.isdigit() else p for p in parts]


def read_predictions(
    folder: str | Path,
    sizes: Mapping[str, int],
    n_classes: int = N_CLASSES,
    tolerance: float = PROBABILITY_TOLERANCE,
) -> list[PredictionRun]:
    """Every run under ``folder``, checked against ``sizes`` (split -> number of images).

    Raises :class:`PredictionFileError` listing every problem (one line each) if any file is
    missing, unreadable or inconsistent with the data.
    """
    runs, problems = [], []
    for name, run_folder in find_runs(folder).items():
        run = PredictionRun(name, run_folder)
        problems += _read_run(run, sizes, n_classes, tolerance)
        runs.append(run)
    problems += _split_problems(Path(folder), runs)
    if problems:
        raise PredictionFileError(folder, problems)
    return runs


def _read_run(
    run: PredictionRun, sizes: Mapping[str, int], n_classes: int, tolerance: float
) -> list[str]:
    problems = []
    for path in sorted(run.folder.glob("*.csv")):
        if path.stem not in SPLIT_NAMES:
            names = ", ".join(f"{s}.csv" for s in SPLIT_NAMES)
            problems.append(f"{path}: not a split's file (expected {names})")
        elif path.stem not in sizes:
            problems.append(f"{path}: the data have no split {path.stem!r} to check it against")
        else:
            run.files[path.stem] = path
    for split, path in run.files.items():
        values, found = read_split_file(path, sizes[split], n_classes, tolerance)
        problems += [f"{path}: {p}" for p in found]
        if not found:
            run.labels[split], run.probabilities[split] = _ordered(values, sizes[split], n_classes)
    return problems


def _split_problems(folder: Path, runs: list[PredictionRun]) -> list[str]:
    """No test split predicted at all, or runs that predicted different splits."""
    predicted = [s for s in SPLIT_NAMES if any(s in run.files for run in runs)]
    if not any(s in TEST_SPLITS for s in predicted):
        expected = ", ".join(f"{s}.csv" for s in TEST_SPLITS)
        return [f"{folder}: no test split's file (expected one or more of {expected})"]
    return [
        f"{run.folder / f'{split}.csv'}: missing (another run predicts {split}; every run "
        "needs the same splits)"
        for run in runs
        for split in predicted
        if split not in run.files
    ]


def missing_tests(runs: list[PredictionRun]) -> list[str]:
    """The test splits the runs did not predict (the paper's order)."""
    return [s for s in TEST_SPLITS if not any(s in run.files for run in runs)]


def read_split_file(
    path: str | Path,
    n_images: int,
    n_classes: int = N_CLASSES,
    tolerance: float = PROBABILITY_TOLERANCE,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The columns of one split's prediction file as numbers, and one line per problem (the
    first offending line named, without the path); later checks are skipped when the columns
    are unusable. At most ``n_images + 1`` rows are read (module docstring)."""
    text, problem = _bounded_text(Path(path), n_images)
    if problem:
        return {}, [problem]
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return {}, [f"cannot be read as CSV ({_cut(' '.join(str(exc).split()), 200)})"]
    problem = _column_problem([str(c) for c in frame.columns], n_classes)
    if problem:
        return {}, [problem]
    values, problems = {}, []
    for column in frame.columns:
        numbers = pd.to_numeric(frame[column].str.strip(), errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(np.isnan(numbers))
        if len(bad):
            problems.append(
                _at(bad, f"{column} {_quote(frame[column].iloc[bad[0]])} is not a number")
            )
        values[column] = numbers
    if problems:
        return values, problems
    return values, list(_check_values(values, n_images, n_classes, tolerance))


def _bounded_text(path: Path, n_images: int) -> tuple[str, str | None]:
    """The file's text, header and at most ``n_images`` rows (blank lines dropped), or a
    problem: not a regular file, a line longer than :data:`MAX_LINE_BYTES` or holding NUL
    bytes, too many rows or bytes, not UTF-8. Stops reading at the first problem."""
    if not path.is_file():
        return "", "not a regular file (a folder, device or pipe); give a CSV file"
    lines: list[bytes] = []
    budget = (n_images + 2) * MAX_LINE_BYTES
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b"")):
                if b"\0" in line:
                    return "", f"line {number + 1}: holds NUL bytes (a binary file, not CSV)"
                if len(line) > MAX_LINE_BYTES:
                    return "", f"line {number + 1}: longer than {MAX_LINE_BYTES} bytes"
                budget -= len(line)
                if budget < 0:
                    return "", f"is larger than {n_images} rows of at most {MAX_LINE_BYTES} bytes"
                if line.strip():  # blank lines are skipped, as pandas skips them
                    lines.append(line)
                if len(lines) > n_images + 1:
                    return "", (
                        f"has more than {n_images} rows, the split has {n_images} images "
                        "(one row per image)"
                    )
    except OSError as exc:
        return "", f"cannot be read ({exc.strerror})"
    try:
        return b"".join(lines).decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return "", f"cannot be read as CSV (not UTF-8 text: byte {exc.start})"


def _cut(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text``, or its first ``limit`` characters and how many there were."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _quote(value: str) -> str:
    """``repr(value)`` cut to :data:`QUOTE_LIMIT` characters of ``value``."""
    if len(value) <= QUOTE_LIMIT:
        return repr(value)
    return f"{value[:QUOTE_LIMIT]!r}... ({len(value)} characters)"


def _column_problem(columns: list[str], n_classes: int) -> str | None:
    probabilities = probability_columns(n_classes)
    missing = [c for c in ("index", "label") if c not in columns]
    unknown = [c for c in columns if c not in ("index", "label", *probabilities)]
    partial = (
        [p for p in probabilities if p not in columns] if set(probabilities) & set(columns) else []
    )
    if len(set(columns)) < len(columns):
        return f"line 1: a column appears twice ({_cut(', '.join(columns), 200)})"
    if missing or unknown or partial:
        allowed = f"index,label and optionally {probabilities[0]}..{probabilities[-1]}"
        what = [f"missing {', '.join(missing + partial)}"] if missing or partial else []
        what += [f"unknown {_cut(', '.join(unknown), 200)}"] if unknown else []
        return f"line 1: columns must be {allowed} ({'; '.join(what)})"
    return None


def _check_values(
    values: dict[str, np.ndarray], n_images: int, n_classes: int, tolerance: float
) -> Iterator[str]:
    index, label = values["index"], values["label"]
    for name, column in (("index", index), ("label", label)):
        bad = np.flatnonzero(column != np.round(column))
        if len(bad):
            yield _at(bad, f"{name} {column[bad[0]]:g} is not a whole number")
    if len(index) != n_images:
        yield f"has {len(index)} rows, the split has {n_images} images (one row per image)"
    bad = np.flatnonzero((index < 0) | (index >= n_images))
    if len(bad):
        yield _at(bad, f"index {index[bad[0]]:g} is outside 0..{n_images - 1}")
    repeated = np.flatnonzero(pd.Series(index).duplicated().to_numpy())
    if len(repeated):
        first = int(np.flatnonzero(index == index[repeated[0]])[0])
        yield _at(repeated, f"index {index[repeated[0]]:g} repeats line {first + 2}")
    bad = np.flatnonzero((label < 0) | (label >= n_classes))
    if len(bad):
        yield _at(bad, f"label {label[bad[0]]:g} is outside 0..{n_classes - 1}")
    columns = probability_columns(n_classes)
    if columns[0] in values:
        yield from _check_probabilities(np.column_stack([values[c] for c in columns]), tolerance)


def _check_probabilities(p: np.ndarray, tolerance: float) -> Iterator[str]:
    bad = np.flatnonzero(((p < 0) | (p > 1)).any(axis=1))
    if len(bad):
        yield _at(bad, "a probability is outside 0..1")
    sums = p.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1) > tolerance)
    if len(bad):
        yield _at(bad, f"probabilities sum to {sums[bad[0]]:.4g}, not 1 (tolerance {tolerance})")


def _at(rows: np.ndarray, problem: str) -> str:
    """``line N: problem`` for the first of ``rows`` (0-based data rows; line 1 is the header)."""
    more = f" (and {len(rows) - 1} more rows)" if len(rows) > 1 else ""
    return f"line {int(rows[0]) + 2}: {problem}{more}"


def _ordered(
    values: dict[str, np.ndarray], n_images: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """A checked file's labels (and probabilities) in the split's image order."""
    order = values["index"].astype(np.int64)
    labels = np.empty(n_images, dtype=np.int64)
    labels[order] = values["label"].astype(np.int64)
    columns = probability_columns(n_classes)
    if columns[0] not in values:
        return labels, None
    probabilities = np.empty((n_images, n_classes))
    probabilities[order] = np.column_stack([values[c] for c in columns])
    return labels, probabilities
