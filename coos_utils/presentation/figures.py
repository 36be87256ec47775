"""The chapters' figures; each states the data and profile it shows in its title.

Every function returns a matplotlib Figure drawn in the book's style
(:mod:`coos_utils.presentation.style`), at most a column wide;
:func:`coos_utils.results.store.save_figure` writes it as PNG and SVG under the results
folder's ``figures/``. Functions that take ``cut_short`` (representation -> reason, see
:func:`coos_utils.presentation.tables.mark_cut_short`) mark those rows with the same footnote
marks as the tables, and hatch them where they are bars.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from coos_utils.analysis.confusion import row_normalised
from coos_utils.data import CoosSplit
from coos_utils.presentation.findings import headline_rows
from coos_utils.presentation.style import (
    ANNOTATION_POINTS,
    COLUMN_INCHES,
    OKABE_ITO,
    SEQUENTIAL,
    colours,
    styled,
)
from coos_utils.presentation.tables import cut_short_keys, cut_short_marks
from coos_utils.reference import CLASSES, SPLIT_NAMES, TEST_SPLITS, paper_table3

SHORT_NAMES = {c.name: c.short for c in CLASSES}

PROTEIN_RGB = np.array([0.1, 1.0, 0.1], dtype=np.float32)
NUCLEUS_RGB = np.array([0.85, 0.0, 0.85], dtype=np.float32)
PANELS_PER_ROW = 4
BAR_PANELS_PER_ROW = 2
"""Panels of grouped bars per row: two fit the column with readable ticks."""
CUT_SHORT_HATCH = "///"


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


@styled
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
        len(names), n_cols, squeeze=False, figsize=_examples_size(n_cols, len(names))
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
                    ax.set_title(split_name)
                if group == 0 and k == 0:
                    ax.set_ylabel(
                        SHORT_NAMES.get(names[label], names[label]),
                        rotation=0,
                        ha="right",
                        va="center",
                    )
    colours = "protein green, nucleus magenta" if nucleus else "protein channel"
    fig.suptitle(
        f"Example cells per class - {first.data_label}\n"
        f"({colours}; each image stretched on its own)",
    )
    fig.subplots_adjust(left=0.13, right=0.99, bottom=0.01, top=0.88, wspace=0.05, hspace=0.05)
    return fig


def _examples_size(n_cols: int, n_rows: int) -> tuple[float, float]:
    """A column-wide figure of square cells, with room for the row labels and title."""
    cell = (COLUMN_INCHES - 1.0) / n_cols
    return COLUMN_INCHES, cell * n_rows + 0.9


def panel_grid(
    n: int, width: float, height: float, sharey: bool = True, per_row: int = PANELS_PER_ROW
) -> tuple[Figure, list]:
    """A figure with ``n`` panels of ``height`` inches, in rows of at most ``per_row`` (so a
    long figure stays readable on a book page), each ``width`` inches wide or narrower so
    that a row fits the column; the axes row by row, unused places hidden. The first panel
    of each row is the one to label the y axis on."""
    ncols = min(n, per_row)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(min(width * ncols + 1, COLUMN_INCHES), height * nrows),
        squeeze=False,
        sharey=sharey,
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _marked(names: list[str], cut_short: Mapping[str, str] | None) -> tuple[list[str], str]:
    """``names`` with the tables' footnote marks for rows cut short, and the footnote."""
    marks, footnote = cut_short_marks(pd.Series(names, dtype=object), cut_short or {})
    return [f"{n} {m}" if m else n for n, m in zip(names, marks, strict=True)], footnote


def _legend_below(fig: Figure, handles: list, ncol: int | None = None) -> None:
    """A figure legend in the band left free under the panels (anchored to a point, so that
    saving with a tight bounding box does not move it onto the footnote)."""
    fig.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=fig.transFigure,
        ncol=ncol or len(handles),
        frameon=False,
    )


def _footnote(fig: Figure, footnote: str) -> None:
    """The footnote under the figure, wrapped to its width (saved with a tight bounding box)."""
    if footnote:
        width = int(fig.get_size_inches()[0] * 13)
        fig.text(0.01, -0.01, textwrap.fill(footnote, width), ha="left", va="top")


@styled
def plot_errors(
    table: pd.DataFrame, title: str, cut_short: Mapping[str, str] | None = None
) -> Figure:
    """Bars of our balanced error per split and model (95% bootstrap interval as error bars),
    one panel per representation, two panels a row; black ticks mark the paper's value where
    it has one; representations cut short are hatched and marked."""
    splits = [s for s in SPLIT_NAMES if s in table.columns]
    paper = paper_table3().set_index(["features", "model"])
    representations = list(dict.fromkeys(table["features"]))
    titles, footnote = _marked(representations, cut_short)
    short = cut_short_keys(pd.Series(representations, dtype=object), cut_short or {})
    models = colours(list(dict.fromkeys(table["model"])))
    fig, axes = panel_grid(len(representations), 3.4, 2.8, per_row=BAR_PANELS_PER_ROW)
    for ax, features, name, hatched in zip(axes, representations, titles, short, strict=True):
        rows = table[table["features"] == features].reset_index(drop=True)
        width = 0.8 / len(rows)
        x = np.arange(len(splits))
        for k, row in rows.iterrows():
            pos = x - 0.4 + width * (k + 0.5)
            values = row[splits].to_numpy(float)
            low = values - row[[f"{s}_ci_low" for s in splits]].to_numpy(float)
            high = row[[f"{s}_ci_high" for s in splits]].to_numpy(float) - values
            ax.bar(
                pos,
                values,
                width,
                yerr=[low, high],
                capsize=2,
                label=row["model"],
                color=models[row["model"]],
                hatch=CUT_SHORT_HATCH if hatched else None,
            )
            if (features, row["model"]) in paper.index:
                reference = paper.loc[(features, row["model"]), splits].to_numpy(float)
                ax.scatter(pos, reference, marker="_", s=120, color="black", zorder=3)
        ax.set_xticks(x, splits)
        ax.set_title(name)
        ax.grid(axis="x", visible=False)
    for ax in axes[::BAR_PANELS_PER_ROW]:
        ax.set_ylabel("balanced error (%)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, label=m) for m, c in models.items()]
    handles.append(
        plt.Line2D([], [], marker="_", ms=12, ls="", color="black", label="paper (real COOS-7)")
    )
    _legend_below(fig, handles)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _footnote(fig, footnote)
    return fig


def _confusion_panel(ax, counts: pd.DataFrame, ylabels: bool, cbar_ax=None) -> None:
    """One row-normalised confusion heatmap: colour and number = % of the true class."""
    names = [SHORT_NAMES.get(n, n) for n in counts.index]
    rates = row_normalised(counts).to_numpy()
    sns.heatmap(
        pd.DataFrame(100 * rates, index=names, columns=names),
        ax=ax,
        vmin=0,
        vmax=100,
        cmap=SEQUENTIAL,
        annot=True,
        fmt=".0f",
        annot_kws={"fontsize": ANNOTATION_POINTS},
        cbar=cbar_ax is not None,
        cbar_ax=cbar_ax,
        cbar_kws={"label": "% of the true class"},
        xticklabels=names,
        yticklabels=names if ylabels else False,
        square=True,
    )
    ax.tick_params(axis="x", labelrotation=90)
    ax.tick_params(axis="y", labelrotation=0)


@styled
def plot_confusions(matrices: Mapping[str, pd.DataFrame], title: str) -> Figure:
    """Row-normalised heatmaps (seaborn), one per split, two a row; each cell gives the % of
    the true class's images given that label (colour: the same, 0 to 100 in every panel)."""
    grid = {("", split): counts for split, counts in matrices.items()}
    return _confusion_figure(grid, [""], list(matrices), title, per_row=2)


@styled
def plot_confusion_grid(
    matrices: Mapping[tuple[str, str, str], pd.DataFrame],
    classifiers: Sequence[tuple[str, str]],
    title: str,
    splits: Sequence[str] = ("test3", "test4"),
    cut_short: Mapping[str, str] | None = None,
) -> Figure:
    """The confusion matrices of a few ``classifiers`` (rows of panels) on ``splits``
    (columns): those the text discusses, not all of them. Cells: % of the true class."""
    names = [f"{f} + {m}" for f, m in classifiers]
    marked, footnote = _marked(names, cut_short)
    grid = {
        (label, split): matrices[(f, m, split)]
        for label, (f, m) in zip(marked, classifiers, strict=True)
        for split in splits
    }
    fig = _confusion_figure(grid, marked, list(splits), title, per_row=len(splits))
    _footnote(fig, footnote)
    return fig


def _confusion_figure(
    grid: Mapping[tuple[str, str], pd.DataFrame],
    rows: list[str],
    splits: list[str],
    title: str,
    per_row: int,
) -> Figure:
    keys = [(r, s) for r in rows for s in splits]
    ncols = min(per_row, len(keys))
    nrows = -(-len(keys) // ncols)
    side = (COLUMN_INCHES - 2.0) / ncols
    fig = plt.figure(figsize=(COLUMN_INCHES, side * nrows + 1.4 * nrows + 0.4))
    spec = fig.add_gridspec(nrows, ncols + 1, width_ratios=[1] * ncols + [0.05])
    cbar_ax = fig.add_subplot(spec[:, -1])
    for k, (row, split) in enumerate(keys):
        ax = fig.add_subplot(spec[k // ncols, k % ncols])
        _confusion_panel(ax, grid[(row, split)], ylabels=k % ncols == 0, cbar_ax=cbar_ax)
        ax.set_title(f"{row}, {split}" if row else split)
        ax.set_xlabel("predicted class")
        if k % ncols == 0:
            ax.set_ylabel("true class")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def sensitivity_heatmap(
    sens: pd.DataFrame,
    title: str,
    splits: Sequence[str] | None = None,
    cut_short: Mapping[str, str] | None = None,
) -> Figure:
    """Sensitivity of every classifier (row) for every class (column), one panel per split
    (the test sets by default), colour 0..1 on one scale; rows cut short are marked."""
    splits = [s for s in (splits or TEST_SPLITS) if s in set(sens["split"])]
    classifiers = list(dict.fromkeys(zip(sens["features"], sens["model"], strict=True)))
    classes = [c for c in SHORT_NAMES if c in set(sens["class"])]
    labels, footnote = _marked([f"{f} + {m}" for f, m in classifiers], cut_short)
    height = 0.24 * len(classifiers) + 2.0
    fig = plt.figure(figsize=(COLUMN_INCHES, height))
    spec = fig.add_gridspec(1, len(splits) + 1, width_ratios=[1] * len(splits) + [0.08])
    cbar_ax = fig.add_subplot(spec[0, -1])
    for k, split in enumerate(splits):
        ax = fig.add_subplot(spec[0, k])
        wide = sens[sens["split"] == split].pivot_table(
            index=["features", "model"], columns="class", values="sensitivity", sort=False
        )
        wide = wide.reindex(index=pd.MultiIndex.from_tuples(classifiers), columns=classes)
        sns.heatmap(
            pd.DataFrame(wide.to_numpy(), index=labels, columns=[SHORT_NAMES[c] for c in classes]),
            ax=ax,
            vmin=0,
            vmax=1,
            cmap=SEQUENTIAL,
            cbar=k == 0,
            cbar_ax=cbar_ax,
            cbar_kws={"label": "sensitivity (recall of the class)"},
            yticklabels=k == 0,
        )
        ax.set_title(split)
        ax.tick_params(axis="x", labelrotation=90)
    fig.suptitle(title)
    fig.tight_layout()
    _footnote(fig, footnote)
    return fig


@styled
def plot_headline(
    table: pd.DataFrame, title: str, cut_short: Mapping[str, str] | None = None
) -> Figure:
    """The paper's story in one figure: balanced error on each test set for each
    representation (its classifier with the lowest cross-validated error on ``train``), ours
    beside the paper's (same features and classifier, real COOS-7), on one y scale. Lines
    of representations cut short are dashed and marked."""
    rows = headline_rows(table)
    families = list(dict.fromkeys(rows["family"]))
    palette = colours(families)
    fig, (ours_ax, paper_ax) = plt.subplots(
        1, 2, figsize=(COLUMN_INCHES, 3.6), sharey=True, sharex=True
    )
    x = np.arange(len(TEST_SPLITS))
    keys = cut_short_keys(pd.Series(rows["features"].unique(), dtype=object), cut_short or {})
    short = dict(zip(rows["features"].unique(), keys, strict=True))
    labels, footnote = _marked(
        [f"{r.features} + {r.model}" for r in rows.drop_duplicates("family").itertuples()],
        cut_short,
    )
    for family, label in zip(families, labels, strict=True):
        part = rows[rows["family"] == family].set_index("split").reindex(list(TEST_SPLITS))
        style = "--" if short[part["features"].iloc[0]] else "-"
        ours_ax.plot(x, part["ours"], style, marker="o", color=palette[family], label=label)
        paper_ax.plot(x, part["paper"], "-", marker="s", color=palette[family])
    for ax, name in ((ours_ax, "this run"), (paper_ax, "the paper (real COOS-7)")):
        ax.set_xticks(x, TEST_SPLITS)
        ax.set_title(name)
        ax.set_ylim(bottom=0)
        ax.grid(axis="x", visible=False)
    ours_ax.set_ylabel("balanced error (%)")
    _legend_below(fig, ours_ax.get_legend_handles_labels()[0], ncol=2)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05 + 0.045 * -(-len(families) // 2), 1, 1))
    _footnote(fig, footnote)
    return fig


@styled
def plot_sensitivity_intervals(intervals: pd.DataFrame, title: str) -> Figure:
    """Per-class sensitivity with its 95% interval, one panel per followed classifier (two a
    row), one colour per test set."""
    groups = list(dict.fromkeys(zip(intervals["features"], intervals["model"], strict=True)))
    fig, axes = panel_grid(len(groups), 3.2, 3.0, per_row=BAR_PANELS_PER_ROW)
    palette = dict(zip(TEST_SPLITS, OKABE_ITO, strict=False))
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
        ax.set_xticks(range(len(classes)), [SHORT_NAMES.get(c, c) for c in classes], rotation=90)
        ax.set_title(f"{features} + {model}")
        ax.set_ylim(0, 1.02)
    for ax in axes[::BAR_PANELS_PER_ROW]:
        ax.set_ylabel("sensitivity (95% interval)")
    handles, names = axes[0].get_legend_handles_labels()
    _legend_below(fig, handles)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
