"""Read and validate one COOS-7 HDF5 file (real or synthetic)."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from coos_utils.data.attrs import LABEL_NAME_KEYS, decode_column, to_python
from coos_utils.data.errors import CoosDataError
from coos_utils.data.lazy import Hdf5Images
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
        labels = _read_labels(path, handle["labels"], n)
        attrs = {k: to_python(v) for k, v in handle.attrs.items()}
        class_names = _class_names(path, handle, attrs)
        meta, masks, others = _per_image_datasets(path, handle, n)
        images = Hdf5Images(path, "data", data.shape, data.dtype)
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
    path: Path, handle: h5py.File, n: int
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
            masks = Hdf5Images(path, name, dset.shape, dset.dtype)
        elif dset.ndim == 1 and dset.shape[0] == n:
            columns[name] = decode_column(dset[:])
        elif dset.ndim == 2 and dset.shape[0] == n and dset.shape[1] <= 16:
            values = decode_column(dset[:].ravel()).reshape(dset.shape)
            for j in range(dset.shape[1]):
                columns[f"{name}_{j}"] = values[:, j]
        else:
            others[name] = tuple(dset.shape)
    return pd.DataFrame(columns, index=pd.RangeIndex(n, name="index")), masks, others
