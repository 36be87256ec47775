"""Tables across runs: list the results folders and collect chosen ones into one table.

A results folder is any ``<results_dir>/<data-id>/<name>/`` with a ``provenance.json``: a
profile's folder written by the chapters (``table3.csv``, ``dg.csv``, ...), an
``eval-<model>`` folder written by ``coos evaluate`` or a folder written by ``coos sweep``
(``dg.csv``, entry :data:`SWEEP`). :func:`list_results` says for each what
made it (data id, profile, code hash, date, status) and what it holds; :func:`collect` reads
the balanced errors of chosen folders into one long table, as DomainBed's ``collect_results``
does for its sweeps. Each row names its ``metric`` (``balanced_error``, or ``accuracy`` where a
file has it: ``<split>_accuracy`` columns of ``table3.csv``, ``accuracy`` rows of
``summary.csv`` and ``dg.csv``) and its ``interval``:

* ``table3.csv``: one row per (features, model) and split, with the well-level bootstrap
  interval when the row has one (:data:`WELLS`), else the image-level one (:data:`IMAGES`)
  (the rows that stand for the paper's only: ``chosen_by_cv`` not False);
* an evaluation folder with several seeds: its ``summary.csv`` (the mean over seeds and the
  interval its ``interval`` column names; :data:`T_OVER_SEEDS` in files written before it
  had one) instead of its per-seed ``table3.csv`` rows;
* ``dg.csv``: one row per method and split, with the interval its ``interval`` column names
  (:data:`UNNAMED` when it has none); the model is the method's name (a plug-in's class
  name). Chapter 06's ``your_model/dg.csv`` is read from its profile folder, whose record
  holds that chapter's run and status, its rows' features :data:`DG_FILES` names.

An interval that leaves [0, 100] (a t-interval over two or three seeds in an older file) is
not shown: the row keeps its mean and its ``interval`` says why. :func:`wide` shows the two
metrics in separate columns, never in one. Every folder keeps its rows:
two folders with the same ``<data-id>/<name>`` are told apart by more of their path
(:func:`source_labels`); a folder named twice, or a file with two rows for one (features,
model, split), is refused. A folder whose ``provenance.json`` cannot be read, or whose results
are marked failed, is refused by :func:`collect` in one line and listed as such.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coos_utils.data.errors import CoosDataError
from coos_utils.metrics import IMAGES, WELLS
from coos_utils.reference import SPLIT_NAMES
from coos_utils.results.provenance import PROVENANCE, UNFINISHED, read_provenance

COLUMNS = [
    "source", "features", "model", "split", "metric", "mean", "ci_low", "ci_high", "interval",
    "seeds",
]  # fmt: skip
METRICS = ("balanced_error", "accuracy")
"""The metrics collected, each in columns of its own in :func:`wide`."""
LIST_COLUMNS = ["folder", "data_id", "profile", "code", "date", "status", "holds"]
SWEEP = "sweep"
"""The entry ``coos sweep`` records in its folder's ``provenance.json``."""
YOUR_MODEL_DG = "your_model/dg.csv"
"""Chapter 06's DG table, in its profile folder (whose record holds the chapter's run)."""
WRITERS = {
    "table3.csv": ("03_classifiers",),
    "dg.csv": ("05_domain_generalization", SWEEP),
    YOUR_MODEL_DG: ("06_your_model",),
}
"""The runs that write each collected file (their status says whether the file is whole)."""
EVALUATION = "evaluate"
SHOWN_FILES = ("table3.csv", "dg.csv", "summary.csv", YOUR_MODEL_DG)
"""The files :func:`collect` reads (``summary.csv``: an evaluation's mean over seeds)."""
DG_FEATURES = "DG sweep"
"""The ``features`` of the rows read from ``dg.csv`` (its methods are the ``model``)."""
DG_FILES = {"dg.csv": DG_FEATURES, YOUR_MODEL_DG: f"{DG_FEATURES} (06_your_model)"}
"""The DG tables a folder may hold, each with the ``features`` its rows carry."""
T_OVER_SEEDS = "t over seeds"
"""A t-interval over seeds (``summary.csv`` files without an ``interval`` column)."""
UNNAMED = "not named in dg.csv"
"""The kind of a ``dg.csv`` interval when the file has no ``interval`` column."""
NO_INTERVAL = "no interval"
"""The kind of a value shown without interval (a single run's accuracy)."""
OUT_OF_RANGE = "not shown: outside [0, 100]"
"""Said (after the file's kind) of an interval that leaves the error's range."""
MAX_RECORD_BYTES = 16 * 2**20
"""The largest ``provenance.json`` read (a record is a few kilobytes)."""
LISTED_CHARACTERS = 40
"""How much of a record's value a listing shows."""


def accuracy_column(split: str) -> str:
    """The ``table3.csv`` column of the accuracy (%) on ``split``."""
    return f"{split}_accuracy"


def results_folders(results_dir: str | Path) -> list[Path]:
    """Every ``<data-id>/<name>/`` folder under ``results_dir`` with a provenance record."""
    return sorted(p.parent for p in Path(results_dir).glob(f"*/*/{PROVENANCE}"))


def read_record(folder: Path) -> dict[str, Any]:
    """``folder``'s provenance record, checked to be a JSON object whose ``chapters`` is an
    object of objects; a :class:`CoosDataError` naming the file (one line) otherwise."""
    path = folder / PROVENANCE
    if not path.is_file() or path.stat().st_size > MAX_RECORD_BYTES:
        raise CoosDataError(path, "not a provenance record (not a file, or over 16 MiB)")
    try:
        record = read_provenance(folder)
    except (ValueError, OSError) as exc:  # bad JSON, bad UTF-8, unreadable
        reason = " ".join(str(exc).replace(str(path), "").split())[:80]
        raise CoosDataError(path, f"cannot be read ({reason})") from None
    chapters = record.get("chapters", {}) if isinstance(record, dict) else None
    if not isinstance(chapters, dict) or not all(isinstance(c, dict) for c in chapters.values()):
        raise CoosDataError(path, "not a provenance record (a JSON object of chapters expected)")
    return record


def _read_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """The CSV file at ``path`` with at least ``columns``; a :class:`CoosDataError` naming it."""
    try:
        table = pd.read_csv(path)
    except (ValueError, OSError) as exc:  # pandas' parser errors and bad UTF-8 are ValueErrors
        reason = " ".join(str(exc).replace(str(path), "").split())[:80]
        raise CoosDataError(path, f"cannot be read as CSV ({reason})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise CoosDataError(path, f"has no column {', '.join(missing)}")
    return table


def _holds(folder: Path) -> str:
    parts = []
    for name, column, say in (
        ("table3.csv", "features", lambda t: f"table3 ({len(t)} rows)"),
        ("dg.csv", "method", lambda t: f"dg ({t['method'].nunique()} methods)"),
        (YOUR_MODEL_DG, "method", lambda t: f"chapter 06 dg ({t['method'].nunique()} methods)"),
        ("summary.csv", "seeds", lambda t: f"evaluation ({t['seeds'].max()} seeds)"),
    ):
        if (folder / name).is_file():
            try:
                parts.append(say(_read_csv(folder / name, [column])))
            except CoosDataError:
                parts.append(f"{name} (unreadable)")
    others = sorted(p.name for p in folder.glob("*.csv") if p.name not in SHOWN_FILES)
    if others:
        parts.append(f"{len(others)} other tables")
    figures = list((folder / "figures").glob("*.png"))
    if figures:
        parts.append(f"{len(figures)} figures")
    return ", ".join(parts) or "nothing yet"


def _listed(value: Any, default: str = "?") -> str:
    return default if value is None else str(value)[:LISTED_CHARACTERS]


def list_results(results_dir: str | Path) -> pd.DataFrame:
    """One row per results folder: its path under ``results_dir``, data id, profile, code
    hash (12 hex), date (UTC), status and what it holds; a folder whose record cannot be read
    is listed with the status ``unreadable provenance.json``."""
    rows = []
    for folder in results_folders(results_dir):
        try:
            record = read_record(folder)
        except CoosDataError:
            record = {"status": f"unreadable {PROVENANCE}"}
        rows.append(
            {
                "folder": folder.relative_to(results_dir).as_posix(),
                "data_id": _listed(record.get("data_id"), folder.parent.name),
                "profile": _listed(record.get("profile")),
                "code": _listed(record.get("code_hash"), "")[:12],
                "date": _listed(record.get("time"), "")[:16].replace("T", " "),
                "status": _listed(record.get("status")),
                "holds": _holds(folder),
            }
        )
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def resolve_folder(name: str | Path, results_dir: str | Path = "results") -> Path:
    """A results folder given as a path, or as ``<data-id>/<name>`` under ``results_dir``."""
    for candidate in (Path(name), Path(results_dir) / name):
        if (candidate / PROVENANCE).is_file():
            return candidate
    raise CoosDataError(
        name,
        f"not a results folder (no {PROVENANCE} here or under {results_dir}); see `coos results`",
    )


def _refuse_failed(folder: Path, files: Sequence[str]) -> None:
    runs = read_record(folder).get("chapters", {})
    writers = [w for f in files for w in WRITERS.get(f, (EVALUATION,))] + [EVALUATION]
    for chapter in dict.fromkeys(writers):
        status = runs.get(chapter, {}).get("status")
        if status in UNFINISHED:
            error = str(runs[chapter].get("error", "no error recorded"))[:300]
            raise CoosDataError(
                folder, f"the results of {chapter} are marked {status} ({error}); not collected"
            )


def _table3_rows(table: pd.DataFrame, source: str) -> list[list]:
    if "chosen_by_cv" in table:
        table = table[table["chosen_by_cv"].astype("boolean").fillna(True)]
    rows = []
    for _, row in table.iterrows():
        for split in [s for s in SPLIT_NAMES if s in table.columns]:
            well = f"{split}_well_ci_low" in row and pd.notna(row[f"{split}_well_ci_low"])
            infix, kind = ("_well", WELLS) if well else ("", IMAGES)
            low, high = row.get(f"{split}{infix}_ci_low"), row.get(f"{split}{infix}_ci_high")
            key = [source, row["features"], row["model"], split]
            rows.append([*key, "balanced_error", row[split], low, high, kind, 1])
            accuracy = row.get(accuracy_column(split))
            if accuracy is not None and pd.notna(accuracy):
                rows.append([*key, "accuracy", accuracy, np.nan, np.nan, NO_INTERVAL, 1])
    return rows


def _summary_rows(
    summary: pd.DataFrame, source: str, features: str | None, unnamed: str
) -> list[list]:
    errors = summary[summary["metric"].isin(METRICS) & summary["split"].isin(SPLIT_NAMES)]
    kinds = errors["interval"] if "interval" in errors else pd.Series(unnamed, errors.index)
    return [
        [
            source,
            features or r.method,
            r.method if features else f"mean of {r.seeds} seeds",
            r.split,
            r.metric,
            r.mean,
            r.ci_low,
            r.ci_high,
            str(kind) if pd.notna(kind) else unnamed,
            int(r.seeds),
        ]
        for r, kind in zip(errors.itertuples(index=False), kinds, strict=True)
    ]


def _within_range(rows: list[list]) -> list[list]:
    """``rows`` with any interval outside [0, 100] dropped and said so in ``interval``."""
    low, high, kind = COLUMNS.index("ci_low"), COLUMNS.index("ci_high"), COLUMNS.index("interval")
    for row in rows:
        if (pd.notna(row[low]) and row[low] < 0) or (pd.notna(row[high]) and row[high] > 100):
            row[low], row[high], row[kind] = (
                float("nan"),
                float("nan"),
                f"{row[kind]}; {OUT_OF_RANGE}",
            )
    return rows


def _unique(rows: list[list], path: Path) -> list[list]:
    """``rows``, or a :class:`CoosDataError` naming ``path`` when two share a key."""
    keys = Counter(tuple(str(v) for v in row[1:5]) for row in rows)
    twice = next((key for key, count in keys.items() if count > 1), None)
    if twice is not None:
        features, model, split, metric = twice
        raise CoosDataError(path, f"holds two rows for {features} / {model} on {split} ({metric})")
    return rows


def folder_rows(folder: Path, source: str | None = None) -> pd.DataFrame:
    """The balanced errors one results folder holds (module docstring), :data:`COLUMNS`."""
    source = source or f"{folder.parent.name}/{folder.name}"
    present = [f for f in SHOWN_FILES if (folder / f).is_file()]
    _refuse_failed(folder, present or list(WRITERS))
    if not {"table3.csv", *DG_FILES} & set(present):
        raise CoosDataError(folder, "holds neither table3.csv nor dg.csv: nothing to collect")
    summary_columns = ["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds"]
    rows: list[list] = []
    summary = (
        _read_csv(folder / "summary.csv", summary_columns) if "summary.csv" in present else None
    )
    if summary is not None and summary["seeds"].max() > 1:
        found = _summary_rows(summary, source, None, T_OVER_SEEDS)
        rows += _unique(found, folder / "summary.csv")
    elif "table3.csv" in present:
        table = _read_csv(folder / "table3.csv", ["features", "model"])
        rows += _unique(_table3_rows(table, source), folder / "table3.csv")
    for name, features in DG_FILES.items():
        if name in present:
            dg = _read_csv(folder / name, summary_columns)
            rows += _unique(_summary_rows(dg, source, features, UNNAMED), folder / name)
    return pd.DataFrame(_within_range(rows), columns=COLUMNS)


def source_labels(folders: Sequence[Path]) -> list[str]:
    """Each folder's label: ``<data-id>/<name>``, and more of its path (up to the whole) for
    folders whose labels would otherwise be equal; a :class:`CoosDataError` for a folder
    named twice."""
    resolved = [Path(f).resolve() for f in folders]
    twice = next((f for f, count in Counter(resolved).items() if count > 1), None)
    if twice is not None:
        raise CoosDataError(twice, "named twice; collect each folder once")
    depths = [2] * len(resolved)
    while True:
        labels = [_tail(p, d) for p, d in zip(resolved, depths, strict=True)]
        counts = Counter(labels)
        if all(counts[label] == 1 for label in labels):
            return labels
        depths = [d + (counts[label] > 1) for d, label in zip(depths, labels, strict=True)]


def _tail(path: Path, depth: int) -> str:
    """The last ``depth`` parts of ``path``; the whole path once ``depth`` covers it."""
    return path.as_posix() if depth >= len(path.parts) - 1 else "/".join(path.parts[-depth:])


def collect(folders: Sequence[str | Path], results_dir: str | Path = "results") -> pd.DataFrame:
    """The rows of every folder in ``folders`` (paths, or ``<data-id>/<name>`` under
    ``results_dir``) in one long table, :data:`COLUMNS`, in the order given."""
    if not folders:
        raise ValueError("name at least one results folder to collect (see `coos results`)")
    found = [resolve_folder(name, results_dir) for name in folders]
    labels = source_labels(found)
    frames = [folder_rows(folder, label) for folder, label in zip(found, labels, strict=True)]
    return pd.concat(frames, ignore_index=True)


def wide(long: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, features, model): one column per split for the balanced error,
    ``mean [low, high]`` (%); then, where any row has it, ``<split> accuracy`` columns (%,
    the mean); and the kinds of the error intervals the row carries. Every row of ``long``
    is shown: two rows with one key, split and metric are refused (``ValueError``)."""
    keys = ["source", "features", "model"]
    long = long if "metric" in long else long.assign(metric="balanced_error")
    repeated = long[long.duplicated([*keys, "split", "metric"], keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        raise ValueError(
            f"{first['source']}: two rows for {first['features']} / {first['model']} "
            f"on {first['split']}; give each folder its own source"
        )
    order = long[keys].drop_duplicates()
    errors = long[long["metric"] == "balanced_error"]
    table = _pivot(errors, keys, order, lambda r: _cell(r.mean, r.ci_low, r.ci_high), "{}")
    accuracy = long[long["metric"] == "accuracy"]
    if len(accuracy):
        more = _pivot(accuracy, keys, order, lambda r: _cell(r.mean, np.nan, np.nan), "{} accuracy")
        table = pd.concat([table, more], axis=1)
    kinds = errors.groupby(keys, sort=False)["interval"].agg(lambda k: "; ".join(dict.fromkeys(k)))
    table = table.assign(interval=kinds.reindex(table.index).fillna(""))
    return table.reset_index().rename_axis(columns=None)


def _pivot(
    rows: pd.DataFrame, keys: list[str], order: pd.DataFrame, cell: Any, name: str
) -> pd.DataFrame:
    """``rows`` as one text column per split (named ``name.format(split)``), indexed by
    ``keys`` in ``order``; "" where a row has no value."""
    cells = rows.assign(cell=[cell(r) for r in rows.itertuples()])
    table = (
        cells.pivot_table(index=keys, columns="split", values="cell", aggfunc="first", sort=False)
        if len(cells)
        else pd.DataFrame(index=pd.MultiIndex.from_frame(order))
    )
    splits = [s for s in SPLIT_NAMES if s in table.columns]
    table = table.reindex(pd.MultiIndex.from_frame(order))[splits].fillna("")
    return table.rename(columns={s: name.format(s) for s in splits})


def _cell(mean: float, low: float, high: float) -> str:
    if pd.isna(mean):
        return "not run"
    if pd.isna(low) or pd.isna(high):
        return f"{mean:.1f}"
    return f"{mean:.1f} [{low:.1f}, {high:.1f}]"
