"""Array-like views of a split's images that read from disk only what is asked for."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import tifffile

from coos_utils.data import digest
from coos_utils.data.errors import CoosDataError


class LazyImages(ABC):
    """A read-only (N, C, H, W) array on disk.

    Indexing with an int, a slice, an index array or a boolean mask reads just those rows;
    ``np.asarray(images)`` reads everything (only when asked for).
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    @abstractmethod
    def _read_range(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as one array."""

    @abstractmethod
    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows at the sorted, unique positions ``rows``."""

    @abstractmethod
    def content_digest(self) -> str:
        """A hash of every byte of the images, computed once per file size and mtime."""

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        n = len(self)
        if isinstance(key, (int, np.integer)):
            i = int(key) + (n if key < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"index {key} is out of range for {n} images")
            out = self._read_range(i, i + 1)[0]
        elif isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:
                out = self._read_range(start, max(start, stop))
            else:
                out = self._take(np.arange(start, stop, step))
        else:
            idx = np.asarray(key)
            if idx.dtype == bool:
                if idx.shape != (n,):
                    raise IndexError(f"boolean index of shape {idx.shape} for {n} images")
                idx = np.flatnonzero(idx)
            out = self._take(idx.astype(np.int64))
        return out[(slice(None), *rest)] if rest and out.ndim == self.ndim else out[rest]

    def _take(self, idx: np.ndarray) -> np.ndarray:
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"index out of range for {n} images")
        if idx.size == 0:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        unique, inverse = np.unique(idx, return_inverse=True)
        return self._read_rows(unique)[inverse]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self._read_range(0, len(self))
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"


class Hdf5Images(LazyImages):
    """The ``data`` dataset of one HDF5 file, opened on first use in each process.

    The open handle is not pickled, so the object can be sent to worker processes.
    """

    def __init__(self, path: Path, dataset: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path = Path(path)
        self.dataset = dataset
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self._handle: h5py.File | None = None
        self._pid: int | None = None

    def _dset(self) -> h5py.Dataset:
        if self._handle is None or self._pid != os.getpid():
            try:
                self._handle = h5py.File(self.path, "r")
            except OSError as exc:
                raise CoosDataError(self.path, f"cannot open HDF5 file ({exc})") from exc
            self._pid = os.getpid()
        return self._handle[self.dataset]

    def _guarded(self, read: Any) -> np.ndarray:
        try:
            return read(self._dset())
        except (OSError, RuntimeError) as exc:
            raise CoosDataError(self.path, f"cannot read '{self.dataset}' ({exc})") from exc

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        return self._guarded(lambda d: d[start:stop])

    def _read_into(self, start: int, stop: int, out: np.ndarray) -> None:
        self._guarded(lambda d: d.read_direct(out, np.s_[start:stop], np.s_[0 : stop - start]))

    def content_digest(self) -> str:
        return digest.remembered(
            self.path,
            self.dataset,
            lambda: digest.hash_rows(self._read_into, len(self), self.shape[1:], self.dtype),
        )

    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        return self._guarded(lambda d: d[rows])

    def close(self) -> None:
        """Close the file handle, if this process opened one."""
        if self._handle is not None:
            self._handle.close()
        self._handle = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handle"] = None
        state["_pid"] = None
        return state


class TiffImages(LazyImages):
    """Cells stored as one TIFF per channel; each read checks every file's shape and type.

    With ``stack_channels=False`` each cell has one file and the array is (N, H, W) (masks).
    """

    def __init__(
        self,
        channel_files: list[tuple[Path, ...]],
        image_shape: tuple[int, int],
        dtype: np.dtype | type = np.uint16,
        stack_channels: bool = True,
    ) -> None:
        self.channel_files = channel_files
        self.image_shape = tuple(image_shape)
        self.stack_channels = stack_channels
        n_channels = len(channel_files[0]) if channel_files else 2
        lead = (len(channel_files), n_channels) if stack_channels else (len(channel_files),)
        self.shape = (*lead, *self.image_shape)
        self.dtype = np.dtype(dtype)

    def _read_one(self, i: int) -> np.ndarray:
        planes = []
        for path in self.channel_files[i]:
            try:
                plane = tifffile.imread(path)
            except Exception as exc:  # tifffile raises several types for bad files
                raise CoosDataError(path, f"unreadable TIFF ({exc})") from exc
            if plane.shape != self.image_shape:
                raise CoosDataError(
                    path, f"image is {plane.shape}, expected {self.image_shape} pixels"
                )
            if plane.dtype != self.dtype:
                raise CoosDataError(path, f"pixels are {plane.dtype}, expected {self.dtype}")
            planes.append(plane)
        return np.stack(planes) if self.stack_channels else planes[0]

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        return self._read_rows(np.arange(start, stop))

    def content_digest(self) -> str:
        """A hash of the bytes of every TIFF file (decoded or not, any change shows)."""
        files = [path for cell in self.channel_files for path in cell]
        return digest.files_digest(files, "tiff-images" if self.stack_channels else "tiff-masks")

    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        for k, i in enumerate(rows):
            out[k] = self._read_one(int(i))
        return out
