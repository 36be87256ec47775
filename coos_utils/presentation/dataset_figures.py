"""The dataset chapter's figure of per-image measurements (from
:func:`coos_utils.analysis.dataset_stats.image_statistics`)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from coos_utils.analysis.dataset_stats import MEASURES
from coos_utils.presentation.style import COLUMN_INCHES, NEUTRAL, OKABE_ITO, styled

PANELS_PER_ROW = 3
"""Three box-plot panels a row fit the book's column with readable split names."""


@styled
def plot_distributions(stats: pd.DataFrame, title: str, reference: str = "train") -> Figure:
    """One box plot per measure, splits side by side, outliers hidden; the ``reference``
    split (what a classifier is fitted on) in colour, the others grey, and a dotted line at
    its median, so that a shift reads as a box away from the line."""
    splits = list(dict.fromkeys(stats["split"]))
    ncols = min(PANELS_PER_ROW, len(MEASURES))
    nrows = -(-len(MEASURES) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_INCHES, 2.9 * nrows), squeeze=False)
    colours = [OKABE_ITO[0] if s == reference else NEUTRAL for s in splits]
    for ax, (column, label) in zip(axes.flat, MEASURES.items(), strict=False):
        data = [stats.loc[stats["split"] == s, column].to_numpy() for s in splits]
        boxes = ax.boxplot(
            data,
            showfliers=False,
            patch_artist=True,
            widths=0.6,
            medianprops={"color": "black"},
        )
        for box, colour in zip(boxes["boxes"], colours, strict=True):
            box.set(facecolor=colour, alpha=0.6)
        if reference in splits:
            ax.axhline(
                float(pd.Series(data[splits.index(reference)]).median()),
                ls=":",
                color=OKABE_ITO[0],
            )
        ax.set_xticks(range(1, len(splits) + 1), splits, rotation=45)
        ax.set_title(textwrap.fill(label, 24))
        ax.grid(axis="x", visible=False)
    for ax in axes.flat[len(MEASURES) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
