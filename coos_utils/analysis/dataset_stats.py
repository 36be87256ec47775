"""What the dataset chapter measures: counts per split and class, and per-image measurements
that make covariate shift visible (intensity, background, nucleus size). Their figure is
:func:`coos_utils.presentation.dataset_figures.plot_distributions`."""

from __future__ import annotations

from collections.abc import Mapping

import mahotas
import numpy as np
import pandas as pd

from coos_utils.data import CoosSplit
from coos_utils.reference import paper_table2

MEASURES = {
    "protein_mean": "mean protein intensity (ADU)",
    "protein_p99": "99th percentile of protein intensity (ADU)",
    "background": "5th percentile of protein intensity (ADU)",
    "nucleus_mean": "mean nuclear-stain intensity (ADU)",
    "nucleus_area": "area of the central nucleus (pixels)",
}


def class_counts(splits: Mapping[str, CoosSplit]) -> pd.DataFrame:
    """Images per split and class (the data of the paper's Table 2), tidy."""
    rows = []
    for name, split in splits.items():
        counts = np.bincount(split.labels, minlength=len(split.class_names))
        rows += [
            {"split": name, "class": cls, "images": int(n)}
            for cls, n in zip(split.class_names, counts, strict=True)
        ]
    return pd.DataFrame(rows, columns=["split", "class", "images"])


def counts_wide(counts: pd.DataFrame) -> pd.DataFrame:
    """Classes as rows (in label order), splits as columns (in the paper's order)."""
    wide = counts.pivot(index="class", columns="split", values="images")
    return wide.loc[list(dict.fromkeys(counts["class"])), list(dict.fromkeys(counts["split"]))]


def table2_with_paper(counts: pd.DataFrame) -> pd.DataFrame:
    """Images per split here next to the paper's Table 2, with the ratio."""
    ours = counts.groupby("split", sort=False)["images"].sum().rename("images_here")
    paper = paper_table2().set_index("split")["images"].rename("images_paper")
    table = pd.concat([ours, paper], axis=1).reindex(paper.index)
    table["ratio_here_to_paper"] = (table["images_here"] / table["images_paper"]).round(4)
    table["share_here_%"] = (100 * table["images_here"] / table["images_here"].sum()).round(1)
    table["share_paper_%"] = (100 * table["images_paper"] / table["images_paper"].sum()).round(1)
    return table.reset_index(names="split")


def central_nucleus_area(nucleus: np.ndarray) -> int:
    """Pixels of the nucleus under the crop's centre, segmented by Otsu's threshold."""
    if nucleus.max() == nucleus.min():
        return 0
    mask = nucleus > mahotas.otsu(nucleus)
    labelled, _ = mahotas.label(mask)
    centre = labelled[
        labelled.shape[0] // 2 - 2 : labelled.shape[0] // 2 + 3,
        labelled.shape[1] // 2 - 2 : labelled.shape[1] // 2 + 3,
    ]
    ids = centre[centre > 0]
    if ids.size == 0:
        return 0
    return int((labelled == np.bincount(ids).argmax()).sum())


def image_statistics(
    split: CoosSplit, max_images: int = 2000, seed: int = 0, batch_size: int = 512
) -> pd.DataFrame:
    """Per-image measurements of a random subset of ``split`` (one row per image)."""
    rng = np.random.default_rng(seed)
    n = len(split)
    rows = np.sort(rng.choice(n, size=min(max_images, n), replace=False))
    parts = []
    for start in range(0, len(rows), batch_size):
        idx = rows[start : start + batch_size]
        raw = split.images[idx]
        protein, nucleus = raw[:, 0].astype(np.float64), raw[:, 1].astype(np.float64)
        parts.append(
            pd.DataFrame(
                {
                    "index": idx,
                    "label": split.labels[idx],
                    "protein_mean": protein.mean(axis=(1, 2)),
                    "protein_p99": np.percentile(protein, 99, axis=(1, 2)),
                    "background": np.percentile(protein, 5, axis=(1, 2)),
                    "nucleus_mean": nucleus.mean(axis=(1, 2)),
                    "nucleus_area": [central_nucleus_area(x) for x in raw[:, 1]],
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "split", split.name)
    table.insert(3, "class", [split.class_names[i] for i in table["label"]])
    return table


def all_image_statistics(
    splits: Mapping[str, CoosSplit], max_images: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """:func:`image_statistics` of every split, one table (rows of ``splits``' order)."""
    parts = [image_statistics(split, max_images, seed) for split in splits.values()]
    return pd.concat(parts, ignore_index=True)


def shift_table(stats: pd.DataFrame, reference: str = "train") -> pd.DataFrame:
    """Median of each measure per split, and its ratio to the reference split's median."""
    medians = stats.groupby("split", sort=False)[list(MEASURES)].median()
    ratios = medians / medians.loc[reference]
    out = medians.round(1).astype(object)
    for column in MEASURES:
        out[column] = [
            f"{m:.1f} ({r:.2f}x)" for m, r in zip(medians[column], ratios[column], strict=True)
        ]
    return out.reset_index()


def metadata_overview(splits: Mapping[str, CoosSplit]) -> pd.DataFrame:
    """Per split: which per-image metadata exist and how many distinct values each has."""
    rows = []
    for name, split in splits.items():
        row: dict[str, object] = {"split": name, "images": len(split)}
        if split.meta.columns.empty:
            row["metadata"] = "none in this file"
        for column in split.meta.columns:
            row[column] = int(split.meta[column].nunique())
        rows.append(row)
    return pd.DataFrame(rows)
