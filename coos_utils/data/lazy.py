"""Array-like views of a split's images that read from disk only what is asked for.

Each view remembers the identity of every file it reads (:class:`FileIdentity`: size,
modification time, inode, device) as it was when the split was opened, and checks it with one
``stat`` per read and on every (re)open, in each process: a file replaced, truncated or
rewritten under a split is refused by name, never read as other images (or as zeros) under
the labels read at opening.
"""

from __future__ import annotations

import io
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np
import tifffile

from coos_utils.data import digest
from coos_utils.data.errors import CoosDataError


class FileIdentity(NamedTuple):
    """What a file was when a split was opened: its size, mtime (ns), inode and device."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileIdentity:
        return cls(info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)

    @classmethod
    def of_path(cls, path: Path) -> FileIdentity:
        try:
            return cls.of(os.stat(path))
        except OSError as exc:
            raise CoosDataError(path, f"cannot read the file ({exc.strerror or exc})") from exc

    def changes(self, now: FileIdentity) -> str:
        """The differences from ``now``, in words ("" when there is none)."""
        found = []
        if (now.inode, now.device) != (self.inode, self.device):
            found.append("replaced by another file")
        if now.size != self.size:
            found.append(f"size {self.size} -> {now.size}")
        if now.mtime_ns != self.mtime_ns:
            found.append("modification time changed")
        return ", ".join(found)


def check_unchanged(path: Path, opened: FileIdentity, now: os.stat_result | None = None) -> None:
    """Refuse ``path`` when it is no longer the file that was opened (``now``: its stat, taken
    here when not given)."""
    if now is None:
        try:
            now = os.stat(path)
        except FileNotFoundError:
            raise CoosDataError(path, "changed since it was opened (it no longer exists)") from None
        except OSError as exc:
            raise CoosDataError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    changes = opened.changes(FileIdentity.of(now))
    if changes:
        raise CoosDataError(path, f"changed since it was opened ({changes}); open the split again")


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

    The open handle is not pickled, so the object can be sent to worker processes. Every open
    and every read checks that the file is still ``opened`` (default: the file as it is now).
    """

    def __init__(
        self,
        path: Path,
        dataset: str,
        shape: tuple[int, ...],
        dtype: np.dtype,
        opened: FileIdentity | None = None,
    ) -> None:
        self.path = Path(path)
        self.dataset = dataset
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.opened = opened if opened is not None else FileIdentity.of_path(self.path)
        self._handle: h5py.File | None = None
        self._pid: int | None = None

    def check_unchanged(self) -> None:
        """Refuse the file if it changed since the split was opened (one ``stat``)."""
        check_unchanged(self.path, self.opened)

    def _dset(self) -> h5py.Dataset:
        if self._handle is None or self._pid != os.getpid():
            try:
                handle = h5py.File(self.path, "r")
            except OSError as exc:
                self.check_unchanged()
                raise CoosDataError(self.path, f"cannot open HDF5 file ({exc})") from exc
            try:
                check_unchanged(self.path, self.opened, os.fstat(handle.id.get_vfd_handle()))
            except CoosDataError:
                handle.close()
                raise
            self._handle, self._pid = handle, os.getpid()
        return self._handle[self.dataset]

    def _guarded(self, read: Any) -> np.ndarray:
        """``read(dataset)``, then a check that the file did not change during the read (a
        truncated HDF5 file reads as zeros past its end)."""
        try:
            out = read(self._dset())
        except (OSError, RuntimeError) as exc:
            self.check_unchanged()
            raise CoosDataError(self.path, f"cannot read '{self.dataset}' ({exc})") from exc
        self.check_unchanged()
        return out

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        return self._guarded(lambda d: d[start:stop])

    def _read_into(self, start: int, stop: int, out: np.ndarray) -> None:
        self._guarded(lambda d: d.read_direct(out, np.s_[start:stop], np.s_[0 : stop - start]))

    def content_digest(self) -> str:
        self.check_unchanged()  # a remembered hash must be that of the opened file
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
    ``opened`` holds each file's identity when the split was opened (default: as it is now);
    each file is read whole and checked against it before and after the read.
    """

    def __init__(
        self,
        channel_files: list[tuple[Path, ...]],
        image_shape: tuple[int, int],
        dtype: np.dtype | type = np.uint16,
        stack_channels: bool = True,
        opened: list[tuple[FileIdentity, ...]] | None = None,
    ) -> None:
        self.channel_files = channel_files
        if opened is None:
            opened = [tuple(FileIdentity.of_path(p) for p in cell) for cell in channel_files]
        if [len(cell) for cell in opened] != [len(cell) for cell in channel_files]:
            raise ValueError("opened must hold one identity per file of channel_files")
        self.opened = opened
        self.image_shape = tuple(image_shape)
        self.stack_channels = stack_channels
        n_channels = len(channel_files[0]) if channel_files else 2
        lead = (len(channel_files), n_channels) if stack_channels else (len(channel_files),)
        self.shape = (*lead, *self.image_shape)
        self.dtype = np.dtype(dtype)

    def _read_one(self, i: int) -> np.ndarray:
        planes = []
        for path, opened in zip(self.channel_files[i], self.opened[i], strict=True):
            raw = _read_unchanged(path, opened)
            try:
                plane = tifffile.imread(io.BytesIO(raw))
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
        for path, opened in zip(files, (o for cell in self.opened for o in cell), strict=True):
            check_unchanged(path, opened)  # a remembered hash must be that of the opened file
        return digest.files_digest(files, "tiff-images" if self.stack_channels else "tiff-masks")

    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        for k, i in enumerate(rows):
            out[k] = self._read_one(int(i))
        return out


def _read_unchanged(path: Path, opened: FileIdentity) -> bytes:
    """Every byte of ``path``, refused when the file is not (or stopped being, during the
    read) the one that was opened."""
    try:
        with open(path, "rb") as handle:
            check_unchanged(path, opened, os.fstat(handle.fileno()))
            raw = handle.read()
            check_unchanged(path, opened, os.fstat(handle.fileno()))
    except OSError as exc:
        check_unchanged(path, opened)
        raise CoosDataError(path, f"unreadable TIFF ({exc.strerror or exc})") from exc
    if len(raw) != opened.size:
        raise CoosDataError(path, f"short read: {len(raw)} of {opened.size} bytes")
    return raw
