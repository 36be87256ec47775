"""The chapters' figures; each states the data and profile it shows in its title.

Every function returns a matplotlib Figure; :func:`coos_utils.results.store.save_figure`
writes it as PNG and SVG under the results folder's ``figures/``.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from coos_utils.analysis.confusion import row_normalised
from coos_utils.data import CoosSplit
from coos_utils.reference import CLASSES, SPLIT_NAMES, paper_table3

SHORT_NAMES = {c.name: c.short for c in CLASSES}

PROTEIN_RGB = np.array([0.1, 1.0, 0.1], dtype=np.float32)
NUCLEUS_RGB = np.array([0.85, 0.0, 0.85], dtype=np.float32)
PANELS_PER_ROW = 4


def stretch(channel: np.ndarray, low: float = 0.5, high: float = 99.8) -> np.ndarray:
    """One channel mapped to 0..1 between two of its own percentiles."""
    lo, hi = np.percentile(channel, [low, high])
    return np.clip((channel.astype(np.float32) - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)


def composite(image: np.ndarray, nucleus: bool = True) -> np.ndarray:
    """An (2, H, W) crop as RGB: protein green over nucleus magenta, each stretched on its own."""
    rgb = stretch(image[0])[..., None] * PROTEIN_RGB
    if nucleus:
        rgb = rgb + 0.6 * stretch(image[1])[..., None] * NUCLEUS_RGB
    return np.clip(rgb, 0.0, 1.0)


def plot_examples(
    splits: Mapping[str, CoosSplit],
    per_class: int = 3,
    seed: int = 0,
    nucleus: bool = True,
) -> Figure:
    """Random example cells of each class (rows) from each split (column groups).

    Like the paper's Table 1 (examples from train, test3 and test4), for real or synthetic
    data: the title says which. Examples are drawn with ``seed``; a class missing from a
    split leaves its cells empty.
    """
    if not splits:
        raise ValueError("give at least one split")
    first = next(iter(splits.values()))
    names = first.class_names
    n_cols = len(splits) * per_class
    fig, axes = plt.subplots(
        len(names), n_cols, squeeze=False, figsize=(1.1 * n_cols + 1.6, 1.1 * len(names) + 0.9)
    )
    rng = np.random.default_rng(seed)
    for group, (split_name, split) in enumerate(splits.items()):
        for label in range(len(names)):
            rows = np.flatnonzero(split.labels == label)
            chosen = np.sort(rng.choice(rows, min(per_class, len(rows)), replace=False))
            images = split.images[chosen] if len(chosen) else []
            for k in range(per_class):
                ax = axes[label, group * per_class + k]
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if k < len(images):
                    ax.imshow(composite(images[k], nucleus), interpolation="nearest")
                if label == 0 and k == (per_class - 1) // 2:
                    ax.set_title(split_name, fontsize=11)
                if group == 0 and k == 0:
                    ax.set_ylabel(names[label], rotation=0, ha="right", va="center", fontsize=9)
    colours = "protein green, nucleus magenta" if nucleus else "protein channel"
    fig.suptitle(
        f"Example cells per class - {first.data_label}\n"
        f"({colours}; each image stretched on its own)",
        fontsize=10,
    )
    fig.subplots_adjust(left=0.2, right=0.99, bottom=0.01, top=0.9, wspace=0.05, hspace=0.05)
    return fig


def panel_grid(
    n: int, width: float, height: float, sharey: bool = True, per_row: int = PANELS_PER_ROW
) -> tuple[Figure, list]:
    """A figure with ``n`` panels of ``width`` x ``height`` inches, in rows of at most
    ``per_row`` (so a long figure stays readable on a book page); the axes row by row,
    unused places hidden. The first panel of each row is the one to label the y axis on."""
    ncols = min(n, per_row)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols + 1, height * nrows), squeeze=False, sharey=sharey
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def plot_errors(table: pd.DataFrame, title: str) -> Figure:
    """Bars of our balanced error per split and model (95% bootstrap interval as error bars),
    one panel per representation; black ticks mark the paper's value where it has one."""
    splits = [s for s in SPLIT_NAMES if s in table.columns]
    paper = paper_table3().set_index(["features", "model"])
    representations = list(dict.fromkeys(table["features"]))
    fig, axes = panel_grid(len(representations), 4.5, 3.6)
    for ax, features in zip(axes, representations, strict=True):
        rows = table[table["features"] == features].reset_index(drop=True)
        width = 0.8 / len(rows)
        x = np.arange(len(splits))
        for k, row in rows.iterrows():
            pos = x - 0.4 + width * (k + 0.5)
            values = row[splits].to_numpy(float)
            low = values - row[[f"{s}_ci_low" for s in splits]].to_numpy(float)
            high = row[[f"{s}_ci_high" for s in splits]].to_numpy(float) - values
            ax.bar(pos, values, width, yerr=[low, high], capsize=2, label=row["model"])
            if (features, row["model"]) in paper.index:
                reference = paper.loc[(features, row["model"]), splits].to_numpy(float)
                ax.scatter(pos, reference, marker="_", s=150, color="black", zorder=3)
        ax.set_xticks(x, splits)
        ax.set_title(features)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[::PANELS_PER_ROW]:
        ax.set_ylabel("balanced error (%)")
    legend_ax = axes[min(len(axes), PANELS_PER_ROW) - 1]
    legend_ax.scatter([], [], marker="_", s=150, color="black", label="paper (real COOS-7)")
    legend_ax.legend(fontsize="small")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig


def plot_confusions(matrices: Mapping[str, pd.DataFrame], title: str) -> Figure:
    """Row-normalised heatmaps (seaborn), one per split, with the counts written in each cell.

    Colour is the share of the true class's images, 0 to 1 on the same scale in every panel.
    """
    fig, axes = plt.subplots(
        1, len(matrices), figsize=(4.3 * len(matrices) + 1.0, 4.6), squeeze=False
    )
    for k, (ax, (split, counts)) in enumerate(zip(axes[0], matrices.items(), strict=True)):
        names = [SHORT_NAMES.get(n, n) for n in counts.index]
        rates = row_normalised(counts)
        sns.heatmap(
            pd.DataFrame(rates.to_numpy(), index=names, columns=names),
            ax=ax,
            vmin=0,
            vmax=1,
            cmap="viridis",
            annot=counts.to_numpy(),
            fmt="d",
            annot_kws={"fontsize": 7},
            cbar=k == len(matrices) - 1,
            cbar_kws={"label": "fraction of the true class"},
            yticklabels=names if k == 0 else False,
            square=True,
        )
        ax.set_title(split, fontsize=10)
        ax.set_xlabel("predicted class", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0, 0].set_ylabel("true class", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sensitivity_heatmap(sens: pd.DataFrame, title: str) -> Figure:
    """Sensitivity of every classifier (row) for every class (column), one panel per split,
    colour 0..1 on one scale (seaborn)."""
    splits = [s for s in SPLIT_NAMES if s in set(sens["split"])]
    classifiers = list(dict.fromkeys(zip(sens["features"], sens["model"], strict=True)))
    classes = [c for c in SHORT_NAMES if c in set(sens["class"])]
    height = 0.22 * len(classifiers) + 1.8
    fig, axes = panel_grid(len(splits), 3.2, height, sharey=False, per_row=len(splits))
    for k, (ax, split) in enumerate(zip(axes, splits, strict=True)):
        wide = sens[sens["split"] == split].pivot_table(
            index=["features", "model"], columns="class", values="sensitivity", sort=False
        )
        wide = wide.reindex(index=pd.MultiIndex.from_tuples(classifiers), columns=classes)
        sns.heatmap(
            pd.DataFrame(
                wide.to_numpy(),
                index=[f"{f} + {m}" for f, m in classifiers],
                columns=[SHORT_NAMES[c] for c in classes],
            ),
            ax=ax,
            vmin=0,
            vmax=1,
            cmap="magma",
            cbar=k == len(splits) - 1,
            cbar_kws={"label": "sensitivity (recall of the class)"},
            yticklabels=k == 0,
        )
        ax.set_title(split, fontsize=9)
        ax.tick_params(axis="both", labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_sensitivity_intervals(intervals: pd.DataFrame, title: str) -> Figure:
    """Per-class sensitivity with its 95% interval, one panel per followed classifier,
    one colour per test set (seaborn point plot with explicit interval bars)."""
    groups = list(dict.fromkeys(zip(intervals["features"], intervals["model"], strict=True)))
    fig, axes = panel_grid(len(groups), 4.2, 3.8)
    palette = dict(zip(SPLIT_NAMES[1:], sns.color_palette("colorblind", 4), strict=True))
    for ax, (features, model) in zip(axes, groups, strict=True):
        part = intervals[(intervals["features"] == features) & (intervals["model"] == model)]
        classes = list(dict.fromkeys(part["class"]))
        for k, (split, rows) in enumerate(part.groupby("split", sort=False)):
            x = np.arange(len(classes)) + (k - 1.5) * 0.18
            ax.errorbar(
                x,
                rows["sensitivity"],
                yerr=[rows["sensitivity"] - rows["ci_low"], rows["ci_high"] - rows["sensitivity"]],
                fmt="o",
                ms=3,
                capsize=2,
                color=palette.get(split),
                label=split,
            )
        ax.set_xticks(range(len(classes)), [SHORT_NAMES.get(c, c) for c in classes], rotation=45)
        ax.set_title(f"{features} + {model}", fontsize=9)
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[::PANELS_PER_ROW]:
        ax.set_ylabel("sensitivity (95% interval)")
    axes[min(len(axes), PANELS_PER_ROW) - 1].legend(fontsize="small", loc="lower left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_training_curves(history: pd.DataFrame, title: str) -> Figure:
    """Training loss and validation score by iteration, one panel pair per representation;
    the chosen checkpoint is marked. Columns: representation, iteration, train_loss,
    val_score, chosen."""
    names = list(dict.fromkeys(history["representation"]))
    fig, axes = plt.subplots(
        2, len(names), figsize=(4.6 * len(names) + 0.6, 5.6), squeeze=False, sharex="col"
    )
    for k, name in enumerate(names):
        part = history[history["representation"] == name]
        loss_ax, val_ax = axes[0, k], axes[1, k]
        sns.lineplot(data=part, x="iteration", y="train_loss", ax=loss_ax, color="tab:blue")
        scored = part.dropna(subset=["val_score"])
        sns.lineplot(
            data=scored, x="iteration", y="val_score", ax=val_ax, marker="o", color="tab:orange"
        )
        chosen = scored[scored["chosen"]]
        val_ax.scatter(
            chosen["iteration"],
            chosen["val_score"],
            s=90,
            facecolors="none",
            edgecolors="black",
            zorder=3,
            label="chosen checkpoint",
        )
        loss_ax.set_title(name, fontsize=10)
        loss_ax.set_ylabel("training loss")
        val_ax.set_ylabel("validation score\n(held-out 20% of train)")
        val_ax.legend(fontsize="small")
        for ax in (loss_ax, val_ax):
            ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
