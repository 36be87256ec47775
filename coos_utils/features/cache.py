"""An on-disk cache of feature arrays, keyed by what the features were computed from.

The key hashes the split's content fingerprint, the fingerprint of the data the
representation was fitted on (for learned ones), the representation's name, output and
parameters, and a hash of the source code of the representation's modules (not the version
string, which an editable install never changes), so a rerun on the same data with the same
code reads the file and any change computes afresh. One ``.npz`` file per entry holds the array,
the feature names and a JSON record with
the key and a checksum of the array bytes; it is written under a temporary name and renamed
when complete, and on reading every part is checked. A file that is unreadable, truncated or
does not match its record is reported with a warning and computed again.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from coos_utils.atomic import atomic_path

FORMAT_VERSION = 2


class CacheEntry(NamedTuple):
    """Features read from, or just written to, the cache."""

    values: np.ndarray
    names: list[str]
    path: Path
    hit: bool
    key: str
    """The cache key the entry is stored under (what later results computed from it key on)."""


def cache_key(
    fingerprint: str,
    representation: str,
    params: Mapping[str, Any],
    code: str,
    fitted_on: str | None = None,
    output: str = "",
) -> str:
    """Hex digest of everything the features depend on.

    ``fingerprint``: the transformed split; ``fitted_on``: the data the representation
    learned from (None when it learns nothing); ``code``: the hash of its source code.
    """
    record = {
        "fingerprint": fingerprint,
        "fitted_on": fitted_on,
        "representation": representation,
        "output": output,
        "params": dict(params),
        "code": code,
        "format": FORMAT_VERSION,
    }
    text = json.dumps(record, sort_keys=True, default=list)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _checksum(values: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(values).tobytes(), digest_size=16).hexdigest()


def entry_path(
    cache_dir: str | Path, representation: str, split: str, key: str, output: str = ""
) -> Path:
    """``<cache_dir>/<representation>/<output>-<split>-<key>.npz`` (no output: no prefix)."""
    prefix = f"{output}-" if output else ""
    return Path(cache_dir) / representation / f"{prefix}{split}-{key}.npz"


def read_entry(path: Path, key: str) -> tuple[np.ndarray, list[str]] | None:
    """The cached features at ``path`` if present and intact, else None (warning if damaged)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            record = json.loads(str(stored["record"]))
            values = stored["values"]
            names = [str(n) for n in stored["names"]]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        problem = f"unreadable ({type(exc).__name__}: {exc})"
    else:
        if record.get("key") != key:
            problem = "written for another key"
        elif list(values.shape) != record.get("shape") or len(names) != values.shape[1]:
            problem = "shape does not match its record"
        elif _checksum(values) != record.get("checksum"):
            problem = "checksum mismatch"
        else:
            return values, names
    warnings.warn(f"feature cache {path} is damaged ({problem}); recomputing", stacklevel=2)
    return None


def write_entry(
    path: Path, key: str, values: np.ndarray, names: list[str], info: Mapping[str, Any]
) -> None:
    """Store ``values`` and ``names`` at ``path`` atomically, with the key and a checksum."""
    values = np.ascontiguousarray(values)
    if values.ndim != 2 or values.shape[1] != len(names):
        raise ValueError(f"{values.shape} features do not match {len(names)} names")
    record = {
        "key": key,
        "shape": list(values.shape),
        "dtype": str(values.dtype),
        "checksum": _checksum(values),
        **info,
    }
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez(
            handle,
            values=values,
            names=np.array(names, dtype=str),
            record=np.array(json.dumps(record, sort_keys=True, default=str)),
        )
