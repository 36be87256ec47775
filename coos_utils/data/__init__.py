"""The COOS-7 data layer: find, validate and lazily read a split from HDF5 or TIFF folders.

:func:`load_split` opens one split, :func:`load_splits` all five; :func:`dataset_fingerprint`
hashes their content; :func:`~coos_utils.data.holdout.holdout` holds rows of a split out for
validation. Modules: ``locate`` (which file is which split), ``hdf5`` / ``tiff`` (the readers),
``lazy`` (images read on access), ``split`` (:class:`CoosSplit`), ``attrs``, ``digest`` (file
hashes, remembered), ``writer`` / ``convert`` (HDF5 <-> TIFF), ``download`` (Zenodo and the
package's one resumable downloader), ``holdout``, ``torch_dataset`` (:class:`CoosDataset`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coos_utils.data.errors import CoosDataError
from coos_utils.data.hdf5 import read_hdf5_split
from coos_utils.data.holdout import holdout
from coos_utils.data.lazy import Hdf5Images, LazyImages, TiffImages
from coos_utils.data.locate import find_split
from coos_utils.data.split import Batch, CoosSplit
from coos_utils.data.tiff import read_tiff_split
from coos_utils.reference import SPLIT_NAMES


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


def load_splits(root: str | Path) -> dict[str, CoosSplit]:
    """The five splits under ``root`` (train, test1..test4), each opened by :func:`load_split`."""
    return {name: load_split(root, name) for name in SPLIT_NAMES}


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
    "holdout",
    "load_split",
    "load_splits",
    "train_loader",
]
