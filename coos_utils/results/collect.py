"""Tables across runs: list the results folders and collect chosen ones into one table.

A results folder is any ``<results_dir>/<data-id>/<name>/`` with a ``provenance.json``: a
profile's folder written by the chapters (``table3.csv``, ``dg.csv``, ...) or an
``eval-<model>`` folder written by ``coos evaluate``. :func:`list_results` says for each what
made it (data id, profile, code hash, date, status) and what it holds; :func:`collect` reads
the balanced errors of chosen folders into one long table, as DomainBed's ``collect_results``
does for its sweeps:

* ``table3.csv``: one row per (features, model) and split, with the well-level bootstrap
  interval when the row has one, else the image-level one (the rows that stand for the
  paper's only: ``chosen_by_cv`` not False);
* an evaluation folder with several seeds: its ``summary.csv`` (mean and t-interval over
  seeds) instead of its per-seed ``table3.csv`` rows;
* ``dg.csv``: one row per method and split (mean and t-interval over seeds).

A folder whose results are marked failed in ``provenance.json`` is refused, not shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from coos_utils.data.errors import CoosDataError
from coos_utils.reference import SPLIT_NAMES
from coos_utils.results.provenance import FAILED, PROVENANCE, read_provenance

COLUMNS = [
    "source", "features", "model", "split", "mean", "ci_low", "ci_high", "interval", "seeds"
]  # fmt: skip
LIST_COLUMNS = ["folder", "data_id", "profile", "code", "date", "status", "holds"]
WRITERS = {"table3.csv": "03_classifiers", "dg.csv": "05_domain_generalization"}
"""The chapter that writes each collected file (its status says whether the file is whole)."""
EVALUATION = "evaluate"
SHOWN_FILES = ("table3.csv", "dg.csv", "summary.csv")
"""The files :func:`collect` reads (``summary.csv``: an evaluation's mean over seeds)."""
DG_FEATURES = "DG sweep"
"""The ``features`` of the rows read from ``dg.csv`` (its methods are the ``model``)."""


def results_folders(results_dir: str | Path) -> list[Path]:
    """Every ``<data-id>/<name>/`` folder under ``results_dir`` with a provenance record."""
    return sorted(p.parent for p in Path(results_dir).glob(f"*/*/{PROVENANCE}"))


def _holds(folder: Path) -> str:
    parts = []
    if (folder / "table3.csv").is_file():
        table = pd.read_csv(folder / "table3.csv")
        parts.append(f"table3 ({len(table)} rows)")
    if (folder / "dg.csv").is_file():
        methods = pd.read_csv(folder / "dg.csv")["method"].nunique()
        parts.append(f"dg ({methods} methods)")
    if (folder / "summary.csv").is_file():
        seeds = int(pd.read_csv(folder / "summary.csv")["seeds"].max())
        parts.append(f"evaluation ({seeds} seeds)")
    others = sorted(p.name for p in folder.glob("*.csv") if p.name not in SHOWN_FILES)
    if others:
        parts.append(f"{len(others)} other tables")
    figures = list((folder / "figures").glob("*.png"))
    if figures:
        parts.append(f"{len(figures)} figures")
    return ", ".join(parts) or "nothing yet"


def list_results(results_dir: str | Path) -> pd.DataFrame:
    """One row per results folder: its path under ``results_dir``, data id, profile, code
    hash (12 hex), date (UTC), status and what it holds."""
    rows = []
    for folder in results_folders(results_dir):
        record = read_provenance(folder)
        rows.append(
            {
                "folder": folder.relative_to(results_dir).as_posix(),
                "data_id": record.get("data_id", folder.parent.name),
                "profile": record.get("profile", "?"),
                "code": str(record.get("code_hash", ""))[:12],
                "date": str(record.get("time", ""))[:16].replace("T", " "),
                "status": record.get("status", "?"),
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
    runs = read_provenance(folder).get("chapters", {})
    writers = [WRITERS.get(f, EVALUATION) for f in files] + [EVALUATION]
    for chapter in dict.fromkeys(writers):
        if runs.get(chapter, {}).get("status") == FAILED:
            error = runs[chapter].get("error", "no error recorded")
            raise CoosDataError(
                folder, f"the results of {chapter} are marked failed ({error}); not collected"
            )


def _table3_rows(table: pd.DataFrame, source: str) -> list[list]:
    if "chosen_by_cv" in table:
        table = table[table["chosen_by_cv"].astype("boolean").fillna(True)]
    rows = []
    for _, row in table.iterrows():
        for split in [s for s in SPLIT_NAMES if s in table.columns]:
            well = f"{split}_well_ci_low" in row and pd.notna(row[f"{split}_well_ci_low"])
            infix, kind = ("_well", "bootstrap, wells") if well else ("", "bootstrap, images")
            low, high = row.get(f"{split}{infix}_ci_low"), row.get(f"{split}{infix}_ci_high")
            rows.append(
                [source, row["features"], row["model"], split, row[split], low, high, kind, 1]
            )
    return rows


def _summary_rows(summary: pd.DataFrame, source: str, features: str | None) -> list[list]:
    errors = summary[(summary["metric"] == "balanced_error") & summary["split"].isin(SPLIT_NAMES)]
    return [
        [
            source,
            features or r.method,
            r.method if features else f"mean of {r.seeds} seeds",
            r.split,
            r.mean,
            r.ci_low,
            r.ci_high,
            "t over seeds",
            int(r.seeds),
        ]
        for r in errors.itertuples(index=False)
    ]


def folder_rows(folder: Path, source: str | None = None) -> pd.DataFrame:
    """The balanced errors one results folder holds (module docstring), :data:`COLUMNS`."""
    source = source or f"{folder.parent.name}/{folder.name}"
    present = [f for f in SHOWN_FILES if (folder / f).is_file()]
    if not {"table3.csv", "dg.csv"} & set(present):
        raise CoosDataError(folder, "holds neither table3.csv nor dg.csv: nothing to collect")
    _refuse_failed(folder, present)
    rows: list[list] = []
    summary = pd.read_csv(folder / "summary.csv") if "summary.csv" in present else None
    if summary is not None and summary["seeds"].max() > 1:
        rows += _summary_rows(summary, source, None)
    elif "table3.csv" in present:
        rows += _table3_rows(pd.read_csv(folder / "table3.csv"), source)
    if "dg.csv" in present:
        rows += _summary_rows(pd.read_csv(folder / "dg.csv"), source, DG_FEATURES)
    return pd.DataFrame(rows, columns=COLUMNS)


def collect(folders: Sequence[str | Path], results_dir: str | Path = "results") -> pd.DataFrame:
    """The rows of every folder in ``folders`` (paths, or ``<data-id>/<name>`` under
    ``results_dir``) in one long table, :data:`COLUMNS`, in the order given."""
    if not folders:
        raise ValueError("name at least one results folder to collect (see `coos results`)")
    frames = [folder_rows(resolve_folder(name, results_dir)) for name in folders]
    return pd.concat(frames, ignore_index=True)


def wide(long: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, features, model), one column per split: ``mean [low, high]``
    (balanced error, %), and the interval each row carries."""
    cells = long.assign(cell=[_cell(r.mean, r.ci_low, r.ci_high) for r in long.itertuples()])
    keys = ["source", "features", "model"]
    table = cells.pivot_table(
        index=keys, columns="split", values="cell", aggfunc="first", sort=False
    )
    splits = [s for s in SPLIT_NAMES if s in table.columns]
    table = table[splits].fillna("")
    kinds = cells.groupby(keys, sort=False)["interval"].first()
    return table.assign(interval=kinds).reset_index().rename_axis(columns=None)


def _cell(mean: float, low: float, high: float) -> str:
    if pd.isna(mean):
        return "not run"
    if pd.isna(low) or pd.isna(high):
        return f"{mean:.1f}"
    return f"{mean:.1f} [{low:.1f}, {high:.1f}]"
