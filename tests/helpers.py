"""Builders of small COOS-format files for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coos_utils.data.writer import Hdf5SplitWriter


def write_coos_hdf5(
    path: Path,
    n: int = 50,
    seed: int = 0,
    meta: bool = True,
    attrs: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Write a valid COOS-format file with random images; return (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 2**16, size=(n, 2, 64, 64), dtype=np.uint16)
    labels = rng.integers(0, 7, size=n)
    columns = None
    if meta:
        columns = {
            "plate": (np.arange(n) % 4).astype(np.int32),
            "well": np.array([f"W{i % 8}" for i in range(n)], dtype=object),
        }
    with Hdf5SplitWriter(path, attrs=attrs or {"origin": "test"}) as writer:
        writer.append(images, labels, meta=columns)
    return images, labels


DG_TINY = {
    "steps": 2,
    "batch_size": 16,
    "eval_every": 2,
    "max_val_images": 30,
    "backbone": "small_cnn",
    "width": 0.25,
}
"""Trial settings of a DG sweep small enough for a test (a small CNN, two steps)."""
