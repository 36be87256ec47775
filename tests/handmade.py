"""Small hand-made COOS-7-format files for tests: 7 classes of distinguishable textures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from coos_utils.data.writer import Hdf5SplitWriter
from coos_utils.reference import N_CLASSES, SPLIT_NAMES


def textured_images(labels: np.ndarray, seed: int, noise: float = 0.3) -> np.ndarray:
    """(N, 2, 64, 64) uint16 cells: class k has blobs of width ~k+1 pixels; channel 1 a disk."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:64, :64]
    nucleus = ((yy - 32) ** 2 + (xx - 32) ** 2 < 12**2).astype(np.float64)
    out = np.empty((len(labels), 2, 64, 64), dtype=np.uint16)
    for i, label in enumerate(labels):
        field = ndimage.gaussian_filter(rng.normal(size=(64, 64)), sigma=0.6 + 0.7 * label)
        field = (field - field.mean()) / (field.std() + 1e-12)
        protein = np.clip(field + noise * rng.normal(size=(64, 64)), -3, 3) + 3
        gain = rng.uniform(200, 2000)
        out[i, 0] = (protein * gain + 100).astype(np.uint16)
        out[i, 1] = (nucleus * rng.uniform(500, 5000) + 50 + 20 * rng.random((64, 64))).astype(
            np.uint16
        )
    return out


def write_handmade(root: Path, per_class: int = 8, seed: int = 0) -> Path:
    """Write train/test1..test4 HDF5 files under ``root``; later tests are noisier (shift)."""
    root.mkdir(parents=True, exist_ok=True)
    for k, split in enumerate(SPLIT_NAMES):
        labels = np.repeat(np.arange(N_CLASSES), per_class + k)
        images = textured_images(labels, seed=seed * 100 + k, noise=0.3 + 0.1 * k)
        with Hdf5SplitWriter(root / f"handmade_{split}.hdf5", attrs={"maker": "tests"}) as w:
            w.append(images, labels)
    return root
