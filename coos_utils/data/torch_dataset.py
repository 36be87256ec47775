"""COOS-7 as a PyTorch ``Dataset``, and the loaders a training and an evaluation loop need.

``CoosDataset(root, "train")`` reads any split :func:`~coos_utils.data.load_split` reads (real
HDF5, synthetic HDF5, TIFF folders). An item is ``(image, label, metadata)``: a float32
(2, 64, 64) tensor of raw intensities (or whatever ``transform`` makes of it), the class id,
and a dict with the split, the image's index in the split and the split's per-image metadata
(``plate``, ``well``, ``field``, ... where the files have them; a missing text value is "").

Images are read lazily, one item (or one batch, through ``__getitems__``) at a time. HDF5
files are opened on first use in each process (:class:`~coos_utils.data.lazy.Hdf5Images`
keys its handle by process id and drops it when pickled), so every ``DataLoader`` worker opens
its own handle even when the parent process already read from the file. Each open (in any
process) and each read checks that the file is still the one the split opened (size, mtime,
inode, device): a file replaced or truncated meanwhile raises a one-line ``CoosDataError``
naming it, also from a worker, never other images under the old labels or zero-filled ones.

This module imports torch; ``coos_utils.data`` imports it only when ``CoosDataset`` is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, WeightedRandomSampler

from coos_utils.data.errors import CoosDataError
from coos_utils.data.split import CoosSplit

Item = tuple[torch.Tensor, int, dict[str, Any]]
Transform = Callable[[torch.Tensor], torch.Tensor]
CLASS = "class"


class CoosDataset(Dataset):
    """One COOS-7 split as ``(image, label, metadata)`` items (see the module docstring).

    ``data`` is a folder (with ``split``, the split's name) or an opened :class:`CoosSplit`.
    """

    def __init__(
        self,
        data: str | Path | CoosSplit,
        split: str | None = None,
        transform: Transform | None = None,
    ) -> None:
        self.split = _open(data, split)
        self.transform = transform
        self._columns = {name: _plain(self.split.meta[name]) for name in self.split.meta.columns}

    @property
    def labels(self) -> np.ndarray:
        """Every image's class id, in order (read without touching the images)."""
        return self.split.labels

    @property
    def meta(self) -> pd.DataFrame:
        """The per-image metadata, one row per item."""
        return self.split.meta

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.split.class_names

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> Item:
        index = _checked(index, len(self))
        return self._item(index, self.split.images[index])

    def __getitems__(self, indices: Sequence[int]) -> list[Item]:
        """A batch of items, its images read from disk in one request (DataLoader uses this)."""
        rows = [_checked(i, len(self)) for i in indices]
        images = self.split.images[np.asarray(rows, dtype=np.int64)]
        return [self._item(i, image) for i, image in zip(rows, images, strict=True)]

    def _item(self, index: int, image: np.ndarray) -> Item:
        tensor = torch.from_numpy(image.astype(np.float32))
        if self.transform is not None:
            tensor = self.transform(tensor)
        return tensor, int(self.split.labels[index]), self.metadata(index)

    def metadata(self, index: int) -> dict[str, Any]:
        """The metadata dict of item ``index``: split, index and every per-image column."""
        found = {name: values[index] for name, values in self._columns.items()}
        return {"split": self.split.name, "index": int(index), **found}

    def __repr__(self) -> str:
        return f"CoosDataset({self.split.name!r}, {len(self)} images from {self.split.path})"


def _open(data: str | Path | CoosSplit, split: str | None) -> CoosSplit:
    if isinstance(data, CoosSplit):
        if split is not None and split.lower() != data.name:
            raise ValueError(f"split {split!r} given with the opened split {data.name!r}")
        return data
    if split is None:
        raise ValueError("name the split to read: CoosDataset(root, 'train')")
    from coos_utils.data import load_split

    return load_split(data, split)


def _checked(index: int, n: int) -> int:
    index = int(index) + (n if index < 0 else 0)
    if not 0 <= index < n:
        raise IndexError(f"index {index} is out of range for {n} images")
    return index


def _plain(column: pd.Series) -> list[Any]:
    """Python values that the default collate function batches (no NA, no numpy scalars)."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column.to_numpy().tolist()
    return ["" if pd.isna(v) else str(v) for v in column]


def group_weights(dataset: CoosDataset, balance: str) -> np.ndarray:
    """One sampling weight per item, 1 / (size of its group), so that every group (class, or
    value of the metadata column ``balance``) is drawn equally often in expectation."""
    if balance == CLASS:
        groups = dataset.labels
    elif balance in dataset.meta.columns:
        groups = dataset.meta[balance].astype(str).to_numpy()
    else:
        columns = ", ".join(dataset.meta.columns) or "none"
        raise CoosDataError(
            dataset.split.path,
            f"cannot balance over {balance!r}: use 'class' or a metadata column ({columns})",
        )
    _, members, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    return 1.0 / sizes[members]


def train_loader(
    dataset: CoosDataset,
    batch_size: int,
    balance: str | None = None,
    seed: int = 0,
    num_workers: int = 0,
    **loader_options: Any,
) -> DataLoader:
    """Batches for training, drawn in a random order seeded by ``seed``.

    ``balance=None``: each epoch is a shuffle of the split. ``"class"`` or a metadata column
    (``"plate"``, ...): ``len(dataset)`` draws with replacement, each group equally likely.
    Worker processes' random seeds derive from ``seed`` too.
    """
    generator = torch.Generator().manual_seed(seed)
    sampler: Sampler[int]
    if balance is None:
        sampler = RandomSampler(dataset, generator=generator)
    else:
        weights = torch.as_tensor(group_weights(dataset, balance), dtype=torch.double)
        sampler = WeightedRandomSampler(
            weights, len(dataset), replacement=True, generator=generator
        )
    worker_seeds = torch.Generator().manual_seed(seed + 1)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        generator=worker_seeds,
        **loader_options,
    )


def eval_loader(
    dataset: CoosDataset, batch_size: int, num_workers: int = 0, **loader_options: Any
) -> DataLoader:
    """Batches in the split's order, every image once (predictions line up with indices)."""
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, **loader_options
    )
