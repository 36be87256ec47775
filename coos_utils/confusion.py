"""Sections 3.3 and 3.4 of the paper: which classes fail, and how the failures differ by shift.

Everything here works on confusion-count matrices (rows = true class, columns = predicted
class), as written by the classifiers chapter to ``confusion/<features>__<model>__<split>.csv``.
Counts are enough for per-class bootstrap intervals: resampling the images of one class with
replacement is the same as drawing that row again from a multinomial with the row's rates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coos_utils.reference import CLASSES, paper_sensitivities
from coos_utils.table3 import confusion_path, run_table3

TEST_SPLITS = ("test1", "test2", "test3", "test4")
SHORT_NAMES = {c.name: c.short for c in CLASSES}


def load_or_run_table3(
    out_dir: Path, data_dir: str | Path | None, profile: str, seed: int, results_dir: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3 and the sensitivities written by the classifiers chapter for this profile;
    computed now (texture only) when this chapter runs on its own before that one."""
    if not (out_dir / "table3.csv").exists() or not (out_dir / "sensitivity.csv").exists():
        run_table3(data_dir, profile, seed, results_dir, progress=False)
    return pd.read_csv(out_dir / "table3.csv"), pd.read_csv(out_dir / "sensitivity.csv")


def sensitivity_intervals_for(
    matrices: Mapping[tuple[str, str, str], pd.DataFrame],
    best: pd.DataFrame,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """Per-class sensitivity with bootstrap intervals for the best classifiers on each test set."""
    frames = []
    for features, model in zip(best["features"], best["model"], strict=True):
        for split in TEST_SPLITS:
            table = sensitivity_intervals(matrices[(features, model, split)], n_boot, seed)
            table.insert(0, "split", split)
            table.insert(0, "model", model)
            table.insert(0, "features", features)
            frames.append(table)
    return pd.concat(frames, ignore_index=True)


def read_confusion(out_dir: Path, features: str, model: str, split: str) -> pd.DataFrame:
    """One confusion matrix written by the classifiers chapter."""
    return pd.read_csv(confusion_path(out_dir, features, model, split), index_col=0)


def read_all_confusions(
    out_dir: Path, table3: pd.DataFrame
) -> dict[tuple[str, str, str], pd.DataFrame]:
    """Every confusion matrix of every classifier in ``table3``, keyed (features, model, split)."""
    return {
        (features, model, split): read_confusion(out_dir, features, model, split)
        for features, model in zip(table3["features"], table3["model"], strict=True)
        for split in ("train", *TEST_SPLITS)
        if confusion_path(out_dir, features, model, split).exists()
    }


def paper_sensitivities_beside(sens: pd.DataFrame) -> pd.DataFrame:
    """The sensitivities the paper quotes, with ours for the same representation, classifier,
    split and class where this run has them ("not run here" otherwise)."""
    rows = []
    for _, quote in paper_sensitivities().iterrows():
        mine = sens[
            sens["features"].str.startswith(quote["representation"])
            & ((sens["model"] == quote["model"]) | quote["model"].startswith("End-to-End"))
            & (sens["split"] == quote["split"])
            & (sens["class"] == quote["class"])
        ]
        ours = ", ".join(
            f"{r.features} + {r.model}: {r.sensitivity:.3f}" for r in mine.itertuples()
        )
        rows.append(
            {
                **quote[["representation", "model", "split", "class"]].to_dict(),
                "paper (real COOS-7)": quote["sensitivity"],
                "here": ours or "not run here",
            }
        )
    return pd.DataFrame(rows)


def best_models(table3: pd.DataFrame, selection_split: str = "test1") -> pd.DataFrame:
    """The classifier with the lowest balanced error on ``selection_split``, per representation.

    Choosing on test1 (a random hold-out of the training wells) is the analogue of
    DomainBed's training-domain validation: no shifted test set is looked at to choose.
    """
    best = table3.loc[table3.groupby("features", sort=False)[selection_split].idxmin()]
    return best[["features", "model", selection_split]].reset_index(drop=True)


def row_normalised(counts: pd.DataFrame) -> pd.DataFrame:
    """Each row divided by its total (0 for a class with no images)."""
    totals = counts.sum(axis=1).replace(0, np.nan)
    return counts.div(totals, axis=0).fillna(0.0)


def plot_confusions(matrices: Mapping[str, pd.DataFrame], title: str) -> Figure:
    """Row-normalised heatmaps, one per split, with the counts written in each cell."""
    fig, axes = plt.subplots(
        1, len(matrices), figsize=(4.3 * len(matrices) + 0.8, 4.6), squeeze=False
    )
    image = None
    for ax, (split, counts) in zip(axes[0], matrices.items(), strict=True):
        rates = row_normalised(counts)
        image = ax.imshow(rates.to_numpy(), cmap="viridis", vmin=0, vmax=1)
        names = [SHORT_NAMES.get(n, n) for n in counts.index]
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(
            range(len(names)), names if ax is axes[0, 0] else [""] * len(names), fontsize=8
        )
        for i in range(len(names)):
            for j in range(len(names)):
                value = int(counts.iat[i, j])
                if value:
                    colour = "black" if rates.iat[i, j] > 0.6 else "white"
                    ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color=colour)
        ax.set_title(split, fontsize=10)
        ax.set_xlabel("predicted class", fontsize=8)
    axes[0, 0].set_ylabel("true class", fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="fraction of the true class")
    fig.suptitle(title, fontsize=10)
    return fig


def sensitivity_intervals(
    counts: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """Per-class sensitivity with a bootstrap interval (images resampled within class)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, name in enumerate(counts.index):
        row = counts.iloc[i].to_numpy(dtype=np.int64)
        n = int(row.sum())
        if n == 0:
            rows.append(
                {
                    "class": name,
                    "images": 0,
                    "sensitivity": np.nan,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                }
            )
            continue
        draws = rng.binomial(n, row[i] / n, size=n_boot) / n
        low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
        rows.append(
            {
                "class": name,
                "images": n,
                "sensitivity": row[i] / n,
                "ci_low": float(low),
                "ci_high": float(high),
            }
        )
    return pd.DataFrame(rows)


def top_confusions(counts: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """The ``k`` largest off-diagonal errors, as a share of the true class's images."""
    rates = row_normalised(counts)
    rows = [
        {
            "true class": true,
            "predicted class": predicted,
            "images": int(counts.loc[true, predicted]),
            "share of true class": float(rates.loc[true, predicted]),
        }
        for true in counts.index
        for predicted in counts.columns
        if true != predicted and counts.loc[true, predicted] > 0
    ]
    table = pd.DataFrame(
        rows, columns=["true class", "predicted class", "images", "share of true class"]
    )
    table = table.sort_values(["share of true class", "images"], ascending=False, kind="stable")
    return table.head(k).reset_index(drop=True)


def compare_shifts(
    first: pd.DataFrame,
    second: pd.DataFrame,
    names: Sequence[str] = ("test3", "test4"),
    min_share: float = 0.05,
) -> pd.DataFrame:
    """Errors (true -> predicted) that reach ``min_share`` of the true class in either split.

    ``where`` says whether the error is common in one split only or in both; ``difference``
    is the share in the first split minus the share in the second.
    """
    a, b = row_normalised(first), row_normalised(second)
    rows = []
    for true in a.index:
        for predicted in a.columns:
            if true == predicted:
                continue
            share_a, share_b = float(a.loc[true, predicted]), float(b.loc[true, predicted])
            if max(share_a, share_b) < min_share:
                continue
            if share_a >= min_share and share_b >= min_share:
                where = "both"
            else:
                where = f"{names[0]} only" if share_a >= min_share else f"{names[1]} only"
            rows.append(
                {
                    "true class": true,
                    "predicted class": predicted,
                    names[0]: share_a,
                    names[1]: share_b,
                    "difference": share_a - share_b,
                    "where": where,
                }
            )
    table = pd.DataFrame(
        rows, columns=["true class", "predicted class", *names, "difference", "where"]
    )
    order = table["difference"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index(drop=True)


def main_error(counts: pd.DataFrame, true_class: str) -> tuple[str | None, float]:
    """The class ``true_class`` is most often mistaken for, and the share of its images."""
    rates = row_normalised(counts).loc[true_class].drop(true_class)
    if rates.max() <= 0:
        return None, 0.0
    return str(rates.idxmax()), float(rates.max())


def sensitivity_heatmap(sens: pd.DataFrame, title: str) -> Figure:
    """Sensitivity of every (features, model, split) row for every class, colour 0..1."""
    wide = sens.pivot_table(
        index=["features", "model", "split"], columns="class", values="sensitivity", sort=False
    )
    wide = wide[[c for c in SHORT_NAMES if c in wide.columns]]
    fig, ax = plt.subplots(figsize=(1.0 * wide.shape[1] + 3.5, 0.28 * len(wide) + 1.6))
    image = ax.imshow(wide.to_numpy(), cmap="magma", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(
        range(wide.shape[1]), [SHORT_NAMES[c] for c in wide.columns], rotation=45, ha="right"
    )
    ax.set_yticks(range(len(wide)), [" / ".join(map(str, i)) for i in wide.index], fontsize=7)
    fig.colorbar(image, ax=ax, label="sensitivity (recall of the class)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
