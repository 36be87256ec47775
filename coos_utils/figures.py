"""Figures shared by the chapters; each states the source of the data it shows."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from coos_utils.data import CoosSplit

PROTEIN_RGB = np.array([0.1, 1.0, 0.1], dtype=np.float32)
NUCLEUS_RGB = np.array([0.85, 0.0, 0.85], dtype=np.float32)


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
