"""The dataset chapter's measurements on hand-made images with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coos_utils.analysis.dataset_stats import (
    central_nucleus_area,
    class_counts,
    counts_wide,
    image_statistics,
    shift_table,
    table2_with_paper,
)
from coos_utils.data import load_split
from coos_utils.data.writer import Hdf5SplitWriter


def _disk(radius: float, centre=(32, 32), value: int = 1000) -> np.ndarray:
    yy, xx = np.mgrid[:64, :64]
    return np.where((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2, value, 100).astype(
        np.uint16
    )


def test_central_nucleus_area_ignores_neighbours() -> None:
    image = _disk(10) + _disk(6, centre=(5, 5)) - 100
    expected = int((_disk(10) > 100).sum())
    assert central_nucleus_area(image) == expected
    assert central_nucleus_area(np.full((64, 64), 7, np.uint16)) == 0


def _write_split(folder: Path, name: str, labels: list[int], brightness: int) -> None:
    images = np.stack(
        [np.stack([_disk(8, value=brightness), _disk(8 + lab % 3)]) for lab in labels]
    )
    with Hdf5SplitWriter(folder / f"hand_{name}.hdf5") as writer:
        writer.append(images.astype(np.uint16), np.array(labels))


def test_counts_follow_label_and_split_order(tmp_path: Path) -> None:
    _write_split(tmp_path, "train", [0, 0, 6, 2], 1000)
    _write_split(tmp_path, "test4", [6, 1], 3000)
    splits = {s: load_split(tmp_path, s) for s in ("train", "test4")}
    counts = class_counts(splits)
    assert counts["images"].sum() == 6 and len(counts) == 14
    wide = counts_wide(counts)
    assert list(wide.columns) == ["train", "test4"]
    assert wide.index[0] == "Endoplasmic Reticulum" and wide.iloc[0].tolist() == [2, 0]
    table = table2_with_paper(counts).set_index("split")
    assert table.loc["train", "images_here"] == 4 and table.loc["train", "images_paper"] == 41456
    assert pd.isna(table.loc["test1", "images_here"])


def test_shift_table_reports_ratio_to_train(tmp_path: Path) -> None:
    _write_split(tmp_path, "train", [0, 1, 2], 1000)
    _write_split(tmp_path, "test4", [0, 1, 2], 3000)
    stats = pd.concat([image_statistics(load_split(tmp_path, s), 10) for s in ("train", "test4")])
    assert len(stats) == 6 and set(stats["class"]) == {
        "Endoplasmic Reticulum",
        "Golgi",
        "Inner Mitochondrial Membrane",
    }
    table = shift_table(stats).set_index("split")
    assert table.loc["train", "protein_p99"].endswith("(1.00x)")
    assert table.loc["test4", "protein_p99"] == "3000.0 (3.00x)"
