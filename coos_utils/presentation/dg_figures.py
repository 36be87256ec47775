"""Figures of the DG chapters from their tables (``dg.csv``, ``similarity.csv``, the ablation);
each returns a Figure a column wide, in the book's style (the chapter shows it with
``run.show_figure``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coos_utils.dg.summary import is_identical
from coos_utils.presentation.figures import panel_grid
from coos_utils.presentation.style import ANNOTATION_POINTS, COLUMN_INCHES, styled
from coos_utils.reference import TEST_SPLITS, paper_table3

METRIC_LABELS = {"balanced_error": "balanced error (%)", "macro_f1": "macro F1 (%)"}
MEASURE_LABELS = {
    "domain_classifier_accuracy": "domain classifier accuracy",
    "mmd_features": "MMD of ERM's features",
    "wasserstein_ch0": "EMD, protein intensity",
    "wasserstein_ch1": "EMD, nucleus intensity",
}
"""Axis labels of the distance measures (``similarity.csv``)."""


@styled
def plot_methods(summary: pd.DataFrame, title: str, metric: str = "balanced_error") -> Figure:
    """Each method's mean and 95% interval per test set (``dg.csv``), ERM in black, ERM's
    interval shaded, a method identical to ERM labelled so; for balanced error, the paper's
    DeepLoc (end to end, real COOS-7) too."""
    rows = summary[summary["metric"] == metric].dropna(subset=["mean"])  # not-run methods out
    methods = ["ERM", *sorted(set(rows["method"]) - {"ERM"})]
    identical = set(rows.loc[rows["note"].map(is_identical), "method"]) if "note" in rows else set()
    x = np.arange(len(TEST_SPLITS))
    step = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 4.2))
    for k, method in enumerate(methods):
        part = rows[rows["method"] == method].set_index("split").reindex(TEST_SPLITS)
        mean = part["mean"].to_numpy(float)
        error = np.vstack([mean - part["ci_low"], part["ci_high"] - mean])
        pos = x - 0.4 + step * (k + 0.5)
        colour = "black" if method == "ERM" else None
        label = f"{method} (identical to ERM)" if method in identical else method
        ax.errorbar(pos, mean, yerr=error, fmt="o", capsize=3, color=colour, label=label)
        if method == "ERM":
            for i in range(len(x)):
                ax.fill_between(
                    [x[i] - 0.45, x[i] + 0.45],
                    part["ci_low"].iloc[i],
                    part["ci_high"].iloc[i],
                    color="grey",
                    alpha=0.15,
                    lw=0,
                )
    if metric == "balanced_error":
        paper = paper_table3().set_index(["features", "model"]).loc[("DeepLoc", "End-to-End")]
        ax.hlines(
            paper[list(TEST_SPLITS)].to_numpy(float),
            x - 0.45,
            x + 0.45,
            lw=2,
            color="tab:grey",
            zorder=1,
            label="paper: DeepLoc end to end (real COOS-7)",
        )
        ax.set_ylim(bottom=0)
    ax.set_xticks(x, TEST_SPLITS)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig


@styled
def plot_shift_vs_error(
    similarity: pd.DataFrame, summary: pd.DataFrame, title: str, metric: str = "balanced_error"
) -> Figure:
    """One panel per distance measure: each method's mean error against the distance of
    each test set from ``train`` (points labelled by test set)."""
    measures = list(dict.fromkeys(similarity["measure"]))
    errors = summary[summary["metric"] == metric].pivot(
        index="split", columns="method", values="mean"
    )
    fig, axes = panel_grid(len(measures), 3.2, 2.9, per_row=2)
    for ax, measure in zip(axes, measures, strict=True):
        distance = similarity[similarity["measure"] == measure].set_index("split")["value"]
        splits = [s for s in TEST_SPLITS if s in distance.index and s in errors.index]
        for method in errors.columns:
            ax.plot(
                distance[splits],
                errors.loc[splits, method],
                "o",
                label=method,
                color="black" if method == "ERM" else None,
                alpha=0.8,
            )
        for split in splits:
            ax.annotate(
                split,
                (distance[split], errors.loc[split].max()),
                fontsize=ANNOTATION_POINTS,
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
            )
        ax.set_xlabel(MEASURE_LABELS.get(measure, measure))
        ax.grid(alpha=0.3)
    for ax in axes[::2]:
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)
    return fig


@styled
def plot_ablation(ablation: pd.DataFrame, title: str, metric: str = "balanced_error") -> Figure:
    """Per method, a heat map of the change in error (shift off minus all shifts on) for
    each switched-off shift (rows) and test set (columns); blue: the shift was costing.
    With a ``beyond_seed_range`` column, changes within the seed range are written in
    parentheses."""
    rows = ablation[(ablation["metric"] == metric) & (ablation["switch"] != "none")]
    methods = list(dict.fromkeys(rows["method"]))
    switches = list(dict.fromkeys(rows["switch"]))
    if "beyond_seed_range" not in rows:
        rows = rows.assign(beyond_seed_range=True)

    def grid(method: str, column: str) -> pd.DataFrame:
        part = rows[rows["method"] == method]
        wide = part.pivot(index="switch", columns="split", values=column)
        return wide.reindex(index=switches, columns=list(TEST_SPLITS))

    grids = {m: grid(m, "change") for m in methods}
    beyond = {m: grid(m, "beyond_seed_range").eq(True) for m in methods}
    limit = max(float(np.nanmax(np.abs(g.to_numpy()))) for g in grids.values()) or 1.0
    height = 0.45 * len(switches) + 2.2
    fig, axes = plt.subplots(
        1, len(methods), figsize=(COLUMN_INCHES, height), squeeze=False, layout="constrained"
    )
    for k, (ax, (method, grid)) in enumerate(zip(axes[0], grids.items(), strict=True)):
        image = ax.imshow(grid.to_numpy(float), cmap="RdBu_r", vmin=-limit, vmax=limit)
        real = beyond[method].to_numpy()
        for (i, j), value in np.ndenumerate(grid.to_numpy(float)):
            text = f"{value:+.1f}" if real[i, j] else f"({value:+.1f})"
            colour = "white" if abs(value) > 0.6 * limit else "black"  # legible on dark cells
            ax.text(j, i, text, ha="center", va="center", fontsize=ANNOTATION_POINTS, color=colour)
        ax.set_xticks(range(len(TEST_SPLITS)), TEST_SPLITS)
        ax.set_yticks(range(len(switches)), switches if k == 0 else [])
        ax.set_title(method)
        ax.grid(False)
    fig.colorbar(
        image,
        ax=axes[0].tolist(),
        orientation="horizontal",
        shrink=0.5,
        aspect=30,
        label=f"change in {METRIC_LABELS.get(metric, metric)}, shift off minus all on",
    )
    fig.suptitle(title)
    return fig
