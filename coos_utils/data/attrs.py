"""Convert HDF5 attributes and metadata values to plain Python and back; name metadata columns."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from coos_utils.data.errors import CoosDataError

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


META_ALIASES: dict[str, tuple[str, ...]] = {
    "plate": ("plate", "plates", "plateid", "plateids", "platename"),
    "well": ("well", "wells", "wellid", "wellids", "wellname"),
    "field": ("field", "fields", "fieldid", "fieldids", "site", "siteid"),
}
"""The usual spellings of the plate, well and field columns (lower case, without _ and -)."""

_CANONICAL = {alias: name for name, aliases in META_ALIASES.items() for alias in aliases}


def canonical_meta_names(path: Path, columns: Iterable[str]) -> dict[str, str]:
    """The renames that give the plate, well and field columns their canonical names.

    A column is recognised by its last path part (``meta/plateID`` is ``plate``),
    case-insensitively and ignoring ``_`` and ``-``. Two columns for one name are an error.
    """
    renames: dict[str, str] = {}
    taken: dict[str, str] = {}
    for column in columns:
        key = re.sub(r"[_\-\s]", "", column.rsplit("/", 1)[-1].lower())
        name = _CANONICAL.get(key)
        if name is None:
            continue
        if name in taken:
            raise CoosDataError(
                path, f"columns {taken[name]!r} and {column!r} both give the {name!r} of each image"
            )
        taken[name] = column
        if column != name:
            renames[column] = name
    return renames
