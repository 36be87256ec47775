"""What the dataset chapter (``01_dataset``) shows: its tables made for reading, the example
cells of the splits the paper shows, and the generated caption of the shift figure.

The chapter computes with :mod:`coos_utils.analysis.dataset_stats` and only displays what
these functions return, so that no branch or loop sits in a notebook cell.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from coos_utils.analysis.dataset_stats import MEASURES, counts_wide, table2_with_paper
from coos_utils.data import CoosSplit
from coos_utils.presentation.figures import plot_examples
from coos_utils.presentation.tables import readable
from coos_utils.reference import TEST_SPLITS

EXAMPLE_SPLITS = ("train", "test3", "test4")
"""The splits of the paper's Table 1 (examples): training and the two most shifted tests."""
SHORT_MEASURES = {
    "protein_mean": "protein mean",
    "protein_p99": "protein 99th pct.",
    "background": "background",
    "nucleus_mean": "nuclear stain mean",
    "nucleus_area": "nucleus area",
}
"""Column names of the medians table (the measures of ``MEASURES``, short)."""
SMALL_SHIFT = 0.05
"""A median within this share of train's is not called a shift in the figure's caption."""


def plot_example_cells(splits: Mapping[str, CoosSplit], seed: int = 0) -> Figure:
    """Example cells per class from the splits of the paper's Table 1 that the data have."""
    shown = {name: splits[name] for name in EXAMPLE_SPLITS if name in splits}
    return plot_examples(shown, seed=seed)


def counts_table(counts: pd.DataFrame, label: str) -> Styler:
    """Images per class (rows) and split (columns), from ``table2.csv``'s tidy counts."""
    wide = counts_wide(counts).rename_axis(columns=None)
    return readable(wide, caption=f"Images per split and class ({label})")


def _count(value: float) -> str:
    return "–" if pd.isna(value) else f"{int(value):,}"


def _ratio(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.3g}"


def table2_comparison(counts: pd.DataFrame, label: str) -> Styler:
    """The split sizes of this run beside the paper's Table 2: images, their ratio, shares."""
    table = table2_with_paper(counts)
    shown = pd.DataFrame(
        {
            "split": table["split"],
            "images (this run)": table["images_here"].map(_count),
            "images (paper)": table["images_paper"].map(_count),
            "this run / paper": table["ratio_here_to_paper"].map(_ratio),
            "share here (%)": table["share_here_%"],
            "share in paper (%)": table["share_paper_%"],
        }
    )
    return readable(shown, caption=f"Split sizes beside the paper's Table 2 ({label})")


def medians_table(medians: pd.DataFrame, label: str) -> Styler:
    """The medians of :func:`~coos_utils.analysis.dataset_stats.shift_table` with short
    column names."""
    shown = medians.rename(columns=SHORT_MEASURES)
    caption = f"Median per split, ratio to the training median in brackets ({label})"
    return readable(shown, caption=caption)


def metadata_table(overview: pd.DataFrame, label: str) -> Styler:
    """Per split, the number of distinct values of each per-image metadata column."""
    shown = overview.rename(columns=lambda c: c.replace("_", " "))
    return readable(shown, decimals=0, caption=f"Distinct metadata values per split ({label})")


def largest_shifts(stats: pd.DataFrame, reference: str = "train") -> pd.DataFrame:
    """Per test split, the measure whose median moved furthest from ``reference``'s (by the
    factor, up or down): columns split, measure, ratio."""
    medians = stats.groupby("split", sort=False)[list(MEASURES)].median()
    ratios = medians / medians.loc[reference].replace(0, np.nan)
    rows = []
    for split in [s for s in TEST_SPLITS if s in ratios.index]:
        distance = np.abs(np.log(ratios.loc[split].astype(float)))
        measure = str(distance.idxmax()) if distance.notna().any() else ""
        ratio = float(ratios.loc[split, measure]) if measure else np.nan
        rows.append({"split": split, "measure": measure, "ratio": ratio})
    return pd.DataFrame(rows, columns=["split", "measure", "ratio"])


def shift_caption(stats: pd.DataFrame, label: str, within: float = SMALL_SHIFT) -> str:
    """The caption of the per-image measurement figure: what the panels show, and the
    largest change of a median from ``train`` on each test set (from ``stats``); test sets
    whose medians all stay within ``within`` of train's are named together."""
    shifts = largest_shifts(stats).dropna()
    small = (shifts["ratio"] - 1).abs() < within
    moved = "; ".join(
        f"{r.split}: {SHORT_MEASURES[r.measure]} ×{r.ratio:.2f}"
        for r in shifts[~small].itertuples()
    )
    text = (
        f"Five measurements per cell on a random sample of each split ({label}). The "
        "left-most box of each panel (`train`) is all a classifier is fitted on; a test box "
        "higher or lower than it is covariate shift."
    )
    if moved:
        text += f" Largest change of a median from `train`: {moved}."
    if small.any():
        text += (
            f" Every median of {_listed(list(shifts.loc[small, 'split']))} is within "
            f"{within:.0%} of train's."
        )
    return text


def _listed(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)
