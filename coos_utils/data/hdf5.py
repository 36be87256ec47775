"""Read and validate one COOS-7 HDF5 file (real or synthetic).

The file's identity (size, mtime, inode, device) is taken from the handle that reads the
labels, so the lazily read images are checked against the very file those labels came from.
"""

from __future__ import annotations

import errno
import math
import os
import warnings
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from coos_utils.data.attrs import (
    LABEL_NAME_KEYS,
    canonical_meta_names,
    decode_column,
    to_python,
)
from coos_utils.data.errors import CoosDataError
from coos_utils.data.lazy import FileIdentity, Hdf5Images, check_unchanged
from coos_utils.data.split import CoosSplit
from coos_utils.reference import CLASS_NAMES, IMAGE_SHAPE, N_CLASSES

MASK_KEYS = ("masks", "mask")


def read_hdf5_split(path: str | Path, split: str) -> CoosSplit:
    """Open ``path`` and check it is a COOS-7 split; images stay on disk."""
    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise CoosDataError(
            path, f"not a readable HDF5 file, truncated or corrupt ({exc})"
        ) from exc
    with handle:
        opened = FileIdentity.of(os.fstat(handle.id.get_vfd_handle()))
        for key in ("data", "labels"):
            if key not in handle or not isinstance(handle[key], h5py.Dataset):
                raise CoosDataError(path, f"no '{key}' dataset (found: {sorted(handle.keys())})")
        data = handle["data"]
        if data.ndim != 4 or tuple(data.shape[1:]) != IMAGE_SHAPE:
            raise CoosDataError(
                path,
                f"'data' has shape {data.shape}, expected (N, {', '.join(map(str, IMAGE_SHAPE))})",
            )
        if data.dtype != np.uint16:
            raise CoosDataError(path, f"'data' is {data.dtype}, expected uint16 raw intensities")
        n = data.shape[0]
        if n == 0:
            raise CoosDataError(path, "the split holds no images ('data' has 0 rows)")
        check_stored(path, data, "data", images=True)
        check_stored(path, handle["labels"], "labels")
        labels = _read_labels(path, handle["labels"], n)
        attrs = {k: to_python(v) for k, v in handle.attrs.items()}
        class_names = _class_names(path, handle, attrs)
        meta, masks, others = _per_image_datasets(path, handle, n, opened)
        images = Hdf5Images(path, "data", data.shape, data.dtype, opened)
    check_unchanged(path, opened)  # the labels and metadata are those of the opened file
    source = "synthetic" if attrs.get("coos_source") == "synthetic" else "coos7"
    return CoosSplit(
        name=split,
        images=images,
        labels=labels,
        meta=meta,
        source=source,
        path=path,
        class_names=class_names,
        attrs=attrs,
        masks=masks,
        other_datasets=others,
    )


def _read_labels(path: Path, dset: h5py.Dataset, n: int) -> np.ndarray:
    if dset.ndim == 2 and dset.shape[1] == 1:
        raw = dset[:, 0]
    elif dset.ndim == 1:
        raw = dset[:]
    else:
        raise CoosDataError(path, f"'labels' has shape {dset.shape}, expected (N,)")
    if len(raw) != n:
        raise CoosDataError(path, f"'labels' has {len(raw)} entries but 'data' has {n} images")
    if raw.dtype.kind not in "iuf":
        raise CoosDataError(path, f"'labels' are {raw.dtype}, expected integers")
    labels = raw.astype(np.int64)
    if raw.dtype.kind == "f" and not np.array_equal(labels, raw):
        raise CoosDataError(path, "'labels' hold non-integer values")
    bad = (labels < 0) | (labels >= N_CLASSES)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise CoosDataError(
            path,
            f"{int(bad.sum())} labels outside 0..{N_CLASSES - 1} "
            f"(first at index {first}: {labels[first]})",
        )
    return labels


def _class_names(path: Path, handle: h5py.File, attrs: dict) -> tuple[str, ...]:
    """Class names from the file when it names them, else the paper's Table 1 order."""
    for where in (attrs, {k: to_python(v) for k, v in handle["labels"].attrs.items()}):
        for key in LABEL_NAME_KEYS:
            if key in where:
                names = where[key]
                if not isinstance(names, list) or len(names) != N_CLASSES:
                    raise CoosDataError(
                        path, f"attribute '{key}' should name {N_CLASSES} classes, got {names!r}"
                    )
                names = tuple(str(x) for x in names)
                if names != CLASS_NAMES:
                    warnings.warn(
                        f"{path}: class names {names} differ from the paper's table; "
                        "using the file's names",
                        stacklevel=3,
                    )
                return names
    return CLASS_NAMES


def _per_image_datasets(
    path: Path, handle: h5py.File, n: int, opened: FileIdentity
) -> tuple[pd.DataFrame, Hdf5Images | None, dict[str, tuple[int, ...]]]:
    columns: dict[str, np.ndarray] = {}
    masks = None
    others: dict[str, tuple[int, ...]] = {}
    datasets: list[tuple[str, h5py.Dataset]] = []
    handle.visititems(
        lambda name, obj: datasets.append((name, obj)) if isinstance(obj, h5py.Dataset) else None
    )
    for name, dset in sorted(datasets):
        if name in ("data", "labels"):
            continue
        if name in MASK_KEYS and dset.ndim == 3 and dset.shape == (n, *IMAGE_SHAPE[1:]):
            check_stored(path, dset, name)
            masks = Hdf5Images(path, name, dset.shape, dset.dtype, opened)
        elif dset.ndim == 1 and dset.shape[0] == n:
            check_stored(path, dset, name)
            columns[name] = decode_column(dset[:])
        elif dset.ndim == 2 and dset.shape[0] == n and dset.shape[1] <= 16:
            check_stored(path, dset, name)
            values = decode_column(dset[:].ravel()).reshape(dset.shape)
            for j in range(dset.shape[1]):
                columns[f"{name}_{j}"] = values[:, j]
        else:
            others[name] = tuple(dset.shape)
    renames = canonical_meta_names(path, columns)
    columns = {renames.get(name, name): values for name, values in columns.items()}
    return pd.DataFrame(columns, index=pd.RangeIndex(n, name="index")), masks, others


def check_stored(path: Path, dset: h5py.Dataset, name: str, images: bool = False) -> None:
    """Refuse a dataset the file cannot hold or whose rows were never (all) written.

    Only metadata is read (the chunk index, the storage size, the file's holes), so a tiny
    file that declares a huge dataset is refused without allocating it. Unwritten parts
    would otherwise read back as zeros. With ``images``, rows of a contiguous dataset that
    lie wholly in holes of a sparse file (all-zero images never written) are refused too.
    """
    row_name = "images" if images else "rows"
    n = dset.shape[0] if dset.ndim else 1
    declared = dset.size * dset.dtype.itemsize
    if dset.is_virtual:
        raise CoosDataError(path, f"'{name}' is a virtual dataset; copy it into a plain file")
    if dset.chunks is None:
        stored = dset.id.get_storage_size()
        if stored < declared:
            missing = n if stored == 0 else math.ceil((declared - stored) / (declared // n))
            _refuse_unwritten(path, name, row_name, missing, n, f"{declared - stored} bytes")
        offset = dset.id.get_offset()
        if images and offset is not None and n:
            missing = _rows_in_holes(path, offset, declared // n, n)
            if missing:
                _refuse_unwritten(path, name, row_name, missing, n, "never-written file blocks")
    else:
        missing_chunks, total, missing = _chunk_gaps(dset)
        if missing_chunks:
            _refuse_unwritten(
                path, name, row_name, missing, n, f"{missing_chunks} of {total} chunks"
            )
    unfiltered = dset.id.get_create_plist().get_nfilters() == 0
    if unfiltered and declared > path.stat().st_size:
        raise CoosDataError(
            path,
            f"'{name}' declares {n} {row_name} ({declared} bytes) but the file holds only "
            f"{path.stat().st_size} bytes: it is incomplete or corrupt",
        )


def _refuse_unwritten(path: Path, name: str, rows: str, missing: int, n: int, what: str) -> None:
    raise CoosDataError(
        path,
        f"'{name}' is only partly written: {missing} of {n} {rows} were never written "
        f"({what} missing; they would read as zeros). The file is incomplete; "
        "write or download it again",
    )


def _chunk_gaps(dset: h5py.Dataset) -> tuple[int, int, int]:
    """(chunks never written, chunks declared, rows lying in an unwritten chunk)."""
    n, rows_per_chunk = dset.shape[0], dset.chunks[0]
    grid = [math.ceil(s / c) for s, c in zip(dset.shape, dset.chunks, strict=True)]
    total = math.prod(grid)
    have = dset.id.get_num_chunks()
    if have >= total:
        return 0, total, 0
    per_band = math.prod(grid[1:])
    bands = Counter(offset[0] // rows_per_chunk for offset in _chunk_offsets(dset))
    written = sum(
        min(rows_per_chunk, n - band * rows_per_chunk)
        for band, count in bands.items()
        if count >= per_band
    )
    return total - have, total, n - written


def _chunk_offsets(dset: h5py.Dataset) -> list[tuple[int, ...]]:
    """The offsets of the chunks the file holds (one pass over the chunk index)."""
    offsets: list[tuple[int, ...]] = []
    try:
        dset.id.chunk_iter(lambda info: offsets.append(info.chunk_offset))
    except (AttributeError, NotImplementedError):  # older HDF5: index each chunk
        count = dset.id.get_num_chunks()
        offsets = [dset.id.get_chunk_info(i).chunk_offset for i in range(count)]
    return offsets


def _rows_in_holes(path: Path, offset: int, row_bytes: int, n: int) -> int:
    """How many rows of a contiguous dataset lie wholly in holes of a sparse file.

    HDF5 allocates a contiguous dataset whole at its first write; rows never written
    after that stay holes in the file (on file systems with sparse files).
    """
    if not hasattr(os, "SEEK_DATA"):
        return 0
    end = offset + row_bytes * n
    missing = 0
    with open(path, "rb") as handle:
        pos = offset
        while pos < end:
            try:
                data = min(os.lseek(handle.fileno(), pos, os.SEEK_DATA), end)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # no hole support here: nothing to learn
                    return missing
                data = end
            first = -(-(pos - offset) // row_bytes)
            missing += max(0, (data - offset) // row_bytes - first)
            if data >= end:
                break
            pos = os.lseek(handle.fileno(), data, os.SEEK_HOLE)
    return missing
