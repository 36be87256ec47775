"""An on-disk cache of Table 3 rows, so that a rerun refits no classifier it has fitted before.

One entry per (features, model): the row of :func:`~coos_utils.benchmark.classifiers.fit_table3`
and the model's predictions on every split. Its key, like the feature cache's, covers what the
row is computed from: the feature cache keys of every split (data, representation, parameters
and its code), digests of the labels and of every other argument of ``fit_table3`` (search
draws, folds, seed, bootstrap samples, well ids...; only the execution settings
:data:`EXECUTION_SETTINGS` are left out), the model's name, the hash of the code that fits
and scores it, and the scikit-learn and numpy versions. An ``.npz`` file holds the
predictions and a JSON record with the key, the row and a checksum of both; it is written
atomically, and an unreadable or inconsistent file is named in a warning and refitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn

from coos_utils.atomic import atomic_path
from coos_utils.codehash import code_hash

FORMAT_VERSION = 1
EXECUTION_SETTINGS: frozenset[str] = frozenset({"n_jobs", "scheduler", "progress"})
"""Arguments of ``fit_table3`` that cannot change a row (where and how visibly it runs)."""
CODE_MODULES: tuple[str, ...] = ("coos_utils.benchmark.classifiers", __name__)
"""The modules (with everything they import) whose source is in every key."""

Predictions = dict[tuple[str, str, str], np.ndarray]
Row = dict[str, Any]
FitRows = Callable[[list[str]], tuple[pd.DataFrame, Predictions]]
"""Fits the given models and returns their rows and predictions (``fit_table3``'s result)."""

log = logging.getLogger(__name__)


def _digest(value: Any) -> Any:
    """``value`` made JSON-able for a key: arrays by a digest of their dtype, shape and bytes."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        digest = hashlib.blake2b(array.tobytes(), digest_size=16)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        return f"array-{digest.hexdigest()}"
    if isinstance(value, Mapping):
        return {str(k): _digest(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_digest(v) for v in value]
    return value


def _checksum(row: Row, predictions: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.blake2b(json.dumps(row).encode(), digest_size=16)
    for split, values in predictions.items():
        digest.update(f"\0{split}\0{values.dtype.str}{values.shape}\0".encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def read_rows(path: Path, key: str, splits: Sequence[str]) -> tuple[Row, dict[str, np.ndarray]]:
    """The row and per-split predictions stored at ``path`` for ``key``; raises ValueError
    (with the problem) when the file is unreadable or does not match its record."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            record = json.loads(str(stored["record"]))
            predictions = {s: stored[f"predictions_{s}"] for s in record["splits"]}
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from exc
    if record.get("key") != key:
        raise ValueError("written for another key")
    if sorted(predictions) != sorted(splits):
        raise ValueError(f"holds splits {sorted(predictions)}, expected {sorted(splits)}")
    if _checksum(record["row"], predictions) != record.get("checksum"):
        raise ValueError("checksum mismatch")
    return record["row"], predictions


def write_rows(
    path: Path, key: str, row: Row, predictions: Mapping[str, np.ndarray], info: Mapping[str, Any]
) -> None:
    """Store ``row`` and ``predictions`` at ``path`` atomically, with the key and a checksum."""
    row = json.loads(json.dumps(row, default=_native))
    predictions = {s: np.ascontiguousarray(v) for s, v in predictions.items()}
    record = {
        "key": key,
        "splits": list(predictions),
        "row": row,
        "checksum": _checksum(row, predictions),
        **info,
    }
    arrays = {f"predictions_{s}": v for s, v in predictions.items()}
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez(handle, record=np.array(json.dumps(record, default=str)), **arrays)


@dataclass
class ClassifierCache:
    """Table 3 rows under ``folder``, and how many were read (``hits``) or fitted (``fits``)."""

    folder: Path
    hits: int = 0
    fits: int = 0

    @cached_property
    def code(self) -> str:
        """Hash of the source of :data:`CODE_MODULES` and what they import."""
        return code_hash(CODE_MODULES)

    def key(
        self,
        feature_keys: Mapping[str, str],
        labels: Mapping[str, np.ndarray],
        features_name: str,
        model: str,
        settings: Mapping[str, Any],
    ) -> str:
        """Hex digest of everything one row depends on (see the module docstring)."""
        record = {
            "features": dict(feature_keys),
            "labels": _digest(dict(labels)),
            "features_name": features_name,
            "model": model,
            "settings": self._settings(settings),
            "code": self.code,
            "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
            "format": FORMAT_VERSION,
        }
        text = json.dumps(record, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    @staticmethod
    def _settings(settings: Mapping[str, Any]) -> Any:
        return _digest({k: v for k, v in settings.items() if k not in EXECUTION_SETTINGS})

    def path(self, features_name: str, model: str, key: str) -> Path:
        """``<folder>/<features>__<model>-<key>.npz`` (names reduced to letters and digits)."""
        return self.folder / f"{_slug(features_name)}__{_slug(model)}-{key}.npz"

    def _read(self, path: Path, key: str, splits: Sequence[str]) -> tuple[Row, dict] | None:
        if not path.exists():
            return None
        try:
            return read_rows(path, key, splits)
        except ValueError as exc:
            warnings.warn(f"classifier cache {path} is damaged ({exc}); refitting", stacklevel=3)
            return None

    def rows(
        self,
        feature_keys: Mapping[str, str],
        labels: Mapping[str, np.ndarray],
        features_name: str,
        models: Sequence[str],
        settings: Mapping[str, Any],
        fit: FitRows,
    ) -> tuple[pd.DataFrame, Predictions]:
        """The rows of ``models`` on these features, in order, and their predictions: read
        where cached, the others fitted together by ``fit(missing models)`` and stored."""
        splits = list(feature_keys)
        keys = {m: self.key(feature_keys, labels, features_name, m, settings) for m in models}
        found = {
            m: self._read(self.path(features_name, m, keys[m]), keys[m], splits) for m in models
        }
        missing = [m for m in models if found[m] is None]
        if missing:
            found.update(self._fit_and_store(fit(missing), features_name, keys, splits, settings))
        hits = len(models) - len(missing)
        self.hits, self.fits = self.hits + hits, self.fits + len(missing)
        log.info("%s: %d rows from the cache, %d fitted", features_name, hits, len(missing))
        rows = [found[m][0] for m in models]
        predictions = {(features_name, m, s): p for m in models for s, p in found[m][1].items()}
        return pd.DataFrame(rows), predictions

    def _fit_and_store(
        self,
        fitted: tuple[pd.DataFrame, Predictions],
        features_name: str,
        keys: Mapping[str, str],
        splits: Sequence[str],
        settings: Mapping[str, Any],
    ) -> dict[str, tuple[Row, dict[str, np.ndarray]]]:
        """Write each fitted row, and read it back (so that a rerun gives the same values)."""
        table, predicted = fitted
        info = {"features": features_name, "settings": self._settings(settings)}
        stored = {}
        for row in table.to_dict("records"):
            model = row["model"]
            path = self.path(features_name, model, keys[model])
            mine = {s: predicted[(features_name, model, s)] for s in splits}
            write_rows(path, keys[model], row, mine, {**info, "model": model})
            stored[model] = read_rows(path, keys[model], splits)
        return stored
