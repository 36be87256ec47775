"""Convert HDF5 attributes and metadata values to plain Python and back, losslessly."""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL_NAME_KEYS = ("label_names", "class_names", "classes")


def to_python(value: Any) -> Any:
    """An HDF5 attribute value as str, int, float, bool or a list of those."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [to_python(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def encode_attr(value: Any) -> Any:
    """A plain Python value as something h5py stores (lists of str become string arrays)."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return np.array(value, dtype=object)
    return value


def decode_column(values: np.ndarray) -> np.ndarray:
    """A 1-D HDF5 dataset as a numpy column; byte strings become str."""
    if values.dtype.kind in ("S", "O"):
        return np.array(
            [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values], dtype=object
        )
    return values
