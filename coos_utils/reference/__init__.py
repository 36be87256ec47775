"""The paper's class and split tables and its published numbers, shipped as package data.

The CSV files beside this module are copies of the reference tables of the COOS-7 paper
(Lu et al., NeurIPS 2019). Code reads them from here, never from outside the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import pandas as pd

_HERE = files(__name__)


def _read(name: str) -> pd.DataFrame:
    with _HERE.joinpath(name).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle)


@dataclass(frozen=True)
class CoosClass:
    """One of the seven COOS-7 compartments."""

    label: int
    name: str
    short: str


@dataclass(frozen=True)
class CoosSplitInfo:
    """One of the five COOS-7 data sets, as the paper describes it."""

    name: str
    images: int
    plates_per_class: int
    description: str


def paper_classes() -> pd.DataFrame:
    """Label, full name and short name of each class, in the paper's Table 1 order."""
    return _read("paper_classes.csv")


def paper_table2() -> pd.DataFrame:
    """Images per split in the real COOS-7 (the paper's Table 2)."""
    return _read("paper_table2.csv")


def paper_table3() -> pd.DataFrame:
    """Balanced error in percent of every baseline in the paper's Table 3."""
    return _read("paper_table3.csv")


def paper_sensitivities() -> pd.DataFrame:
    """Per-class sensitivities that the paper quotes in its sections 3.3 and 3.4."""
    return _read("paper_sensitivities.csv")


PUBLISHED_METRICS = ("balanced_error", "accuracy", "unstated")
"""What a published number measures (percent): the paper's balanced error, plain accuracy, or a
score whose source does not say which metric it is. Unlike metrics never share a column."""
PUBLISHED_COLUMNS = (
    "source", "year", "representation", "classifier", "metric", "split", "value", "ci95",
    "protocol", "url", "verified",
)  # fmt: skip


def published_results() -> pd.DataFrame:
    """COOS-7 results published after the paper, one row per method and test set (see
    ``published_results.csv``: metric, protocol, source and what was verified, for each).

    Raises ``ValueError`` naming the file when a column, metric, split or value is wrong."""
    name = "published_results.csv"
    frame = _read(name)
    missing = [c for c in PUBLISHED_COLUMNS if c not in frame.columns]
    keys = ["source", "representation", "classifier", "metric", "split"]
    problems = [f"columns {missing} missing"] if missing else []
    if not missing:
        problems += [f"unknown metric {m!r}" for m in set(frame["metric"]) - set(PUBLISHED_METRICS)]
        problems += [f"unknown split {s!r}" for s in set(frame["split"]) - set(TEST_SPLITS)]
        values = pd.to_numeric(frame["value"], errors="coerce")
        if not values.between(0, 100).all():
            problems.append("a value is missing or outside [0, 100]")
        if frame.duplicated(keys).any():
            problems.append("a method has two values for one metric and split")
    if problems:
        raise ValueError(f"{name} (coos_utils.reference): " + "; ".join(problems))
    return frame


CLASSES: tuple[CoosClass, ...] = tuple(
    CoosClass(int(row.label), str(row.name), str(row.short))
    for row in paper_classes().itertuples(index=False)
)
SPLITS: tuple[CoosSplitInfo, ...] = tuple(
    CoosSplitInfo(str(r.split), int(r.images), int(r.plates_per_class), str(r.description))
    for r in paper_table2().itertuples(index=False)
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
CLASS_SHORT_NAMES: tuple[str, ...] = tuple(c.short for c in CLASSES)
SPLIT_NAMES: tuple[str, ...] = tuple(s.name for s in SPLITS)
TEST_SPLITS: tuple[str, ...] = SPLIT_NAMES[1:]
"""The four test sets, in order of growing shift; no choice may look at them."""
IN_DISTRIBUTION: tuple[str, ...] = ("test1", "test2")
"""Test sets drawn from the training plates."""
SHIFTED: tuple[str, ...] = ("test3", "test4")
"""Test sets from other plates (test3) and another site and microscope (test4)."""
N_CLASSES = len(CLASSES)
IMAGE_SHAPE = (2, 64, 64)

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "CLASS_SHORT_NAMES",
    "IMAGE_SHAPE",
    "IN_DISTRIBUTION",
    "N_CLASSES",
    "SPLITS",
    "SHIFTED",
    "SPLIT_NAMES",
    "TEST_SPLITS",
    "CoosClass",
    "CoosSplitInfo",
    "paper_classes",
    "paper_sensitivities",
    "paper_table2",
    "paper_table3",
    "PUBLISHED_COLUMNS",
    "PUBLISHED_METRICS",
    "published_results",
]
