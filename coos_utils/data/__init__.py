"""The COOS-7 data layer: find, validate and lazily read a split from HDF5 or TIFF folders."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coos_utils.data.errors import CoosDataError
from coos_utils.data.hdf5 import read_hdf5_split
from coos_utils.data.lazy import Hdf5Images, LazyImages, TiffImages
from coos_utils.data.locate import find_split
from coos_utils.data.split import Batch, CoosSplit
from coos_utils.data.tiff import read_tiff_split


def load_split(root: str | Path, split: str) -> CoosSplit:
    """Open one split of COOS-7 (real, synthetic, or unpacked to TIFFs) under ``root``.

    Labels, metadata and attributes are read and validated now; images are read on access
    (``split.images[i:j]``, ``split.iter_batches(n)``), never the whole file unless asked.
    Every problem with the input raises :class:`CoosDataError` naming the file.
    """
    kind, location = find_split(root, split)
    if kind == "hdf5":
        return read_hdf5_split(location, split.lower())
    return read_tiff_split(location.parent, location.name)


def dataset_fingerprint(splits: Mapping[str, CoosSplit]) -> str:
    """One hash over the fingerprints of the given splits (by name, in sorted order)."""
    digest = hashlib.sha256()
    for name in sorted(splits):
        digest.update(f"{name}:{splits[name].fingerprint()}".encode())
    return digest.hexdigest()


_LAZY = {
    "CoosDataset": "coos_utils.data.torch_dataset",
    "eval_loader": "coos_utils.data.torch_dataset",
    "train_loader": "coos_utils.data.torch_dataset",
}
"""Names whose module imports torch: imported on first use, not with this package."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Batch",
    "CoosDataError",
    "CoosDataset",
    "CoosSplit",
    "Hdf5Images",
    "LazyImages",
    "TiffImages",
    "dataset_fingerprint",
    "eval_loader",
    "find_split",
    "load_split",
    "train_loader",
]
