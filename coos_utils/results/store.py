"""Reading and writing the tables and figures of a results folder (always atomically).

Nothing here computes: the callers pass the frames (Table 3, sensitivities and confusion
counts from :mod:`coos_utils.analysis.confusion`) to write.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from coos_utils.atomic import atomic_path, atomic_write_text
from coos_utils.reference import SPLIT_NAMES

Matrices = Mapping[tuple[str, str, str], pd.DataFrame]
"""Confusion counts (rows: true class) keyed by (features, model, split)."""
FIGURE_FORMATS = ("png", "svg")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}")
"""A name :func:`unique_slug` keeps as it is (at most 60 file-safe characters)."""


def slug(text: str) -> str:
    """A file-name-safe form of a Table 3 name: ``L1 LR`` -> ``L1_LR``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def unique_slug(text: str) -> str:
    """A file-name-safe form of ``text`` that differs for different texts and is never empty:
    ``text`` itself when it is already safe (:data:`SAFE_NAME`), else its :func:`slug` (cut
    to 40 characters) and 8 hex of its SHA-256: ``my model`` -> ``my_model-1b2a...``,
    ``my-model`` -> ``my-model``."""
    if SAFE_NAME.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return "-".join(part for part in (slug(text)[:40], digest) if part)


def confusion_path(folder: Path, features: str, model: str, split: str) -> Path:
    """``<folder>/confusion/<features>__<model>__<split>.csv`` with names made file-safe."""
    return folder / "confusion" / f"{slug(features)}__{slug(model)}__{split}.csv"


def write_csv(frame: pd.DataFrame, path: Path, index: bool = False) -> Path:
    """``frame`` as CSV at ``path``, atomically; returns ``path``."""
    atomic_write_text(path, frame.to_csv(index=index))
    return path


def write_table3(
    folder: Path, table: pd.DataFrame, sensitivity: pd.DataFrame, confusions: Matrices
) -> list[Path]:
    """``table3.csv``, ``sensitivity.csv`` and one confusion matrix per classifier and split;
    the paths written, in that order."""
    written = [
        write_csv(table, folder / "table3.csv"),
        write_csv(sensitivity, folder / "sensitivity.csv"),
    ]
    for (features, model, split), frame in confusions.items():
        written.append(write_csv(frame, confusion_path(folder, features, model, split), True))
    return written


def _require(path: Path, chapter: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run the chapter {chapter} first for this data and profile "
            f"(coos book, or the chapter itself)"
        )
    return path


def read_table3(folder: Path) -> pd.DataFrame:
    """The ``table3.csv`` of a results folder (written by the classifiers chapter)."""
    return pd.read_csv(_require(folder / "table3.csv", "03_classifiers"))


def read_sensitivity(folder: Path) -> pd.DataFrame:
    """The ``sensitivity.csv`` of a results folder."""
    return pd.read_csv(_require(folder / "sensitivity.csv", "03_classifiers"))


def read_confusions(folder: Path, table3: pd.DataFrame) -> dict[tuple[str, str, str], pd.DataFrame]:
    """Every confusion matrix of every row of ``table3``, keyed (features, model, split)."""
    return {
        (features, model, split): pd.read_csv(
            _require(confusion_path(folder, features, model, split), "03_classifiers"),
            index_col=0,
        )
        for features, model in zip(table3["features"], table3["model"], strict=True)
        for split in SPLIT_NAMES
    }


def save_figure(fig: Figure, folder: Path, name: str) -> list[Path]:
    """``fig`` as ``figures/<name>.png`` and ``.svg`` under ``folder``; returns the paths."""
    written = []
    for fmt in FIGURE_FORMATS:
        path = folder / "figures" / f"{slug(name)}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight")
        written.append(path)
    return written


def read_training(folder: Path) -> pd.DataFrame:
    """Every network's training record (``training/*.csv``, written by the features chapter)
    in one frame; empty when no network was trained."""
    parts = [pd.read_csv(path) for path in sorted((folder / "training").glob("*.csv"))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def read_profile_changes(folder: Path) -> pd.DataFrame | None:
    """``profile_changes.csv`` (this profile's training settings beside the paper's), or None
    when the features chapter wrote none."""
    path = folder / "profile_changes.csv"
    return pd.read_csv(path) if path.exists() else None
