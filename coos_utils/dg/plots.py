"""Figures of the DG chapter; each returns a Figure (save it with ``results.store.save_figure``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coos_utils.reference import TEST_SPLITS, paper_table3

METRIC_LABELS = {"balanced_error": "balanced error (%)", "macro_f1": "macro F1 (%)"}


def plot_methods(summary: pd.DataFrame, title: str, metric: str = "balanced_error") -> Figure:
    """Each method's mean and 95% interval over seeds per test set, ERM in black, ERM's
    interval shaded; for balanced error, the paper's DeepLoc (end to end, real COOS-7) too."""
    rows = summary[summary["metric"] == metric].dropna(subset=["mean"])  # not-run methods out
    methods = ["ERM", *sorted(set(rows["method"]) - {"ERM"})]
    x = np.arange(len(TEST_SPLITS))
    step = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(9, 4))
    for k, method in enumerate(methods):
        part = rows[rows["method"] == method].set_index("split").reindex(TEST_SPLITS)
        mean = part["mean"].to_numpy(float)
        error = np.vstack([mean - part["ci_low"], part["ci_high"] - mean])
        pos = x - 0.4 + step * (k + 0.5)
        colour = "black" if method == "ERM" else None
        ax.errorbar(pos, mean, yerr=error, fmt="o", capsize=3, color=colour, label=method)
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
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    return fig


def plot_shift_vs_error(
    similarity: pd.DataFrame, summary: pd.DataFrame, title: str, metric: str = "balanced_error"
) -> Figure:
    """One panel per distance measure: each method's mean error against the distance of
    each test set from ``train`` (points labelled by test set)."""
    measures = list(dict.fromkeys(similarity["measure"]))
    errors = summary[summary["metric"] == metric].pivot(
        index="split", columns="method", values="mean"
    )
    fig, axes = plt.subplots(
        1, len(measures), figsize=(3.6 * len(measures), 3.4), squeeze=False, sharey=True
    )
    for ax, measure in zip(axes[0], measures, strict=True):
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
                fontsize="x-small",
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
            )
        ax.set_xlabel(measure)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(METRIC_LABELS.get(metric, metric))
    axes[0, -1].legend(fontsize="x-small")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig


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
    fig, axes = plt.subplots(
        1, len(methods), figsize=(4.2 * len(methods), 0.45 * len(switches) + 1.6), squeeze=False
    )
    for k, (ax, (method, grid)) in enumerate(zip(axes[0], grids.items(), strict=True)):
        image = ax.imshow(grid.to_numpy(float), cmap="RdBu_r", vmin=-limit, vmax=limit)
        real = beyond[method].to_numpy()
        for (i, j), value in np.ndenumerate(grid.to_numpy(float)):
            text = f"{value:+.1f}" if real[i, j] else f"({value:+.1f})"
            colour = "white" if abs(value) > 0.6 * limit else "black"  # legible on dark cells
            ax.text(j, i, text, ha="center", va="center", fontsize="x-small", color=colour)
        ax.set_xticks(range(len(TEST_SPLITS)), TEST_SPLITS)
        ax.set_yticks(range(len(switches)), switches if k == 0 else [])
        ax.set_title(method)
    fig.colorbar(
        image,
        ax=axes[0].tolist(),
        shrink=0.8,
        label=f"change in {METRIC_LABELS.get(metric, metric)}",
    )
    fig.suptitle(title, fontsize="medium")
    return fig
