"""The DG chapter's forest plot: each method's paired difference from ERM per test set; a
method identical to ERM (``dg.summary.IDENTICAL``) is written as such, never drawn as a
difference of zero."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coos_utils.dg.summary import is_identical
from coos_utils.presentation.style import (
    ANNOTATION_POINTS,
    COLUMN_INCHES,
    NEUTRAL,
    OKABE_ITO,
    styled,
)
from coos_utils.reference import TEST_SPLITS

METRIC_LABELS = {"balanced_error": "balanced error", "macro_f1": "macro F1"}
BETTER, WORSE = OKABE_ITO[0], OKABE_ITO[3]


def _colour(row: pd.Series) -> str:
    if bool(row.get("helps", False)):
        return BETTER
    if bool(row.get("hurts", False)):
        return WORSE
    return NEUTRAL


@styled
def plot_dg_forest(paired: pd.DataFrame, title: str, metric: str = "balanced_error") -> Figure:
    """One panel per test set, one row per method: the mean paired difference from ERM
    (method minus ERM, points) and its 95% interval (``dg_vs_erm.csv``); blue where the
    verdict is better than ERM, vermillion worse, grey neither; "identical to ERM" written
    on the row of a method whose predictions equal ERM's."""
    rows = paired[paired["metric"] == metric]
    methods = list(dict.fromkeys(rows["method"]))
    splits = [s for s in TEST_SPLITS if s in set(rows["split"])]
    height = 0.38 * len(methods) + 1.6
    fig, axes = plt.subplots(
        1, len(splits), figsize=(COLUMN_INCHES, height), sharey=True, squeeze=False
    )
    y = np.arange(len(methods))[::-1]
    for ax, split in zip(axes[0], splits, strict=True):
        part = rows[rows["split"] == split].set_index("method").reindex(methods)
        for k, (_, row) in enumerate(part.iterrows()):
            if is_identical(row.get("note", "")):
                ax.text(
                    0.5,
                    y[k],
                    "identical to ERM",
                    transform=ax.get_yaxis_transform(),
                    ha="center",
                    va="center",
                    fontsize=ANNOTATION_POINTS,
                    color=NEUTRAL,
                )
                continue
            if pd.isna(row["mean_diff"]):
                continue
            colour = _colour(row)
            ax.plot([row["ci_low"], row["ci_high"]], [y[k], y[k]], color=colour, lw=2)
            ax.plot(row["mean_diff"], y[k], "o", color=colour, ms=6)
        ax.axvline(0.0, color="black", lw=1)
        ax.set_title(split)
        ax.grid(axis="y", visible=False)
    axes[0, 0].set_yticks(y, methods)
    better = "lower" if metric == "balanced_error" else "higher"
    fig.supxlabel(
        f"method minus ERM, {METRIC_LABELS.get(metric, metric)} (points; {better} is better)",
        fontsize="medium",
    )
    handles = [
        plt.Line2D([], [], color=c, marker="o", lw=2, label=t)
        for c, t in ((BETTER, "better than ERM"), (WORSE, "worse"), (NEUTRAL, "interval spans 0"))
    ]
    fig.legend(
        handles=handles, loc="upper center", ncol=3, bbox_to_anchor=(0.5, 0.0), frameon=False
    )
    fig.suptitle(title)
    fig.tight_layout()
    return fig
