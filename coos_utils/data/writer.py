"""Write a split in the COOS-7 HDF5 format, streaming, to a temporary name first."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np
import pandas as pd

from coos_utils.atomic import atomic_path
from coos_utils.data.attrs import encode_attr
from coos_utils.reference import IMAGE_SHAPE

MetaLike = Mapping[str, np.ndarray] | pd.DataFrame


class Hdf5SplitWriter:
    """Append images, labels and per-image metadata to a new COOS-7-format HDF5 file.

    Datasets: ``data`` (N, 2, 64, 64) uint16, ``labels`` (N,) int64, one 1-D dataset per
    metadata column, and optionally ``masks`` (N, 64, 64). The file appears under its final
    name only when the ``with`` block ends without an error.
    """

    def __init__(
        self,
        dest: str | Path,
        attrs: Mapping[str, Any] | None = None,
        chunk_images: int = 256,
        compression: str | None = None,
    ) -> None:
        self.dest = Path(dest)
        self.attrs = dict(attrs or {})
        self.chunk_images = chunk_images
        self.compression = compression
        self._stack = contextlib.ExitStack()
        self._file: h5py.File | None = None
        self._n = 0
        self._meta_columns: list[str] | None = None

    def __enter__(self) -> Hdf5SplitWriter:
        tmp = self._stack.enter_context(atomic_path(self.dest))
        self._file = h5py.File(tmp, "w")
        for key, value in self.attrs.items():
            self._file.attrs[key] = encode_attr(value)
        self._create("data", IMAGE_SHAPE, np.uint16)
        self._create("labels", (), np.int64)
        return self

    def _create(self, name: str, row_shape: tuple[int, ...], dtype: Any) -> h5py.Dataset:
        assert self._file is not None
        return self._file.create_dataset(
            name,
            shape=(0, *row_shape),
            maxshape=(None, *row_shape),
            dtype=dtype,
            chunks=(self.chunk_images, *row_shape)
            if row_shape
            else (max(self.chunk_images, 4096),),
            compression=self.compression if row_shape else None,
        )

    def _extend(self, name: str, values: np.ndarray) -> None:
        assert self._file is not None
        dset = self._file[name]
        dset.resize(self._n + len(values), axis=0)
        dset[self._n : self._n + len(values)] = values

    def append(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        meta: MetaLike | None = None,
        masks: np.ndarray | None = None,
    ) -> None:
        """Add a batch of cells at the end of the file."""
        if self._file is None:
            raise RuntimeError("use Hdf5SplitWriter in a 'with' block")
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.dtype != np.uint16 or images.shape[1:] != IMAGE_SHAPE:
            raise ValueError(
                f"images must be (n, 2, 64, 64) uint16, got {images.shape} {images.dtype}"
            )
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        columns = {} if meta is None else {k: np.asarray(meta[k]) for k in meta}
        if self._meta_columns is None:
            self._meta_columns = list(columns)
            for name, values in columns.items():
                is_text = values.dtype.kind in ("U", "O", "S")
                self._create(name, (), h5py.string_dtype("utf-8") if is_text else values.dtype)
            if masks is not None:
                self._create("masks", IMAGE_SHAPE[1:], np.asarray(masks).dtype)
        elif list(columns) != self._meta_columns:
            raise ValueError(
                f"metadata columns changed from {self._meta_columns} to {list(columns)}"
            )
        if (masks is None) != ("masks" not in self._file):
            raise ValueError("give masks with every batch or with none")
        for name, values in columns.items():
            if len(values) != len(images):
                raise ValueError(
                    f"metadata column {name!r} has {len(values)} rows for {len(images)} images"
                )
            self._extend(name, values.astype(object) if values.dtype.kind == "U" else values)
        if masks is not None:
            self._extend("masks", np.asarray(masks))
        self._extend("data", images)
        self._extend("labels", labels.astype(np.int64))
        self._n += len(images)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if self._file is not None:
            self._file.close()
            self._file = None
        return bool(self._stack.__exit__(exc_type, exc, tb))
