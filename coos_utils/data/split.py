"""The object every loader returns: one COOS-7 split, images read lazily."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from tqdm import tqdm

from coos_utils.data.lazy import LazyImages


class Batch(NamedTuple):
    """A run of consecutive images: rows ``start:start + len(labels)`` of a split."""

    start: int
    images: np.ndarray
    labels: np.ndarray


@dataclass
class CoosSplit:
    """One split of COOS-7 (or of its synthetic stand-in).

    ``images`` is an (N, 2, 64, 64) uint16 array-like that reads from disk on indexing;
    ``labels`` are int64 in 0..6; ``meta`` has one row per image with every per-image dataset
    the file holds beyond data and labels; the plate, well and field columns are named
    ``plate``, ``well`` and ``field`` whatever the file calls them (``plateID``, ``site``, ...).
    """

    name: str
    images: LazyImages
    labels: np.ndarray
    meta: pd.DataFrame
    source: str
    path: Path
    class_names: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    masks: LazyImages | None = None
    other_datasets: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def is_synthetic(self) -> bool:
        """True when the images come from the simulator (also after a TIFF round trip)."""
        return self.source == "synthetic" or self.attrs.get("coos_source") == "synthetic"

    @property
    def data_label(self) -> str:
        """A short description of where the data came from, for tables and figures."""
        if self.is_synthetic:
            scale = self.attrs.get("scale", "?")
            seed = self.attrs.get("seed", "?")
            return f"SYNTHETIC COOS-7 stand-in (scale={scale}, seed={seed})"
        if self.source == "tiff":
            return f"COOS-7 TIFF folders ({self.path.parent.name}/{self.path.name})"
        return f"real COOS-7 ({self.path.name})"

    def iter_batches(self, batch_size: int = 1024, progress: bool = False) -> Iterator[Batch]:
        """Yield consecutive batches; only one batch of images is in memory at a time.

        A file replaced, truncated or rewritten since the split was opened stops the iteration
        with a :class:`~coos_utils.data.errors.CoosDataError` naming it (each read checks it).
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        starts = range(0, len(self), batch_size)
        for start in tqdm(starts, desc=f"reading {self.name}", disable=not progress):
            stop = min(start + batch_size, len(self))
            yield Batch(start, self.images[start:stop], self.labels[start:stop])

    def load_images(self) -> np.ndarray:
        """Read every image into memory (only call this when the split fits)."""
        return np.asarray(self.images)

    def fingerprint(self) -> str:
        """A hash of the whole content: every byte of the images (and masks), every label,
        the per-image metadata (names, types and values) and the file attributes.

        The images' hash is computed once per file size and modification time and then
        remembered (see :mod:`coos_utils.data.digest`); the rest is hashed on each call. The
        files must still be those opened (same size, mtime, inode), so the fingerprint is that
        of the labels and images this split reads.
        """
        return self._digest(json.dumps(self.attrs, sort_keys=True, default=str))

    def content_fingerprint(self) -> str:
        """:meth:`fingerprint` without the file attributes (which describe where the data came
        from, such as the simulation's settings) but with the class names: what a feature, a
        classifier or a trained network computed from the split depends on. Two splits of
        different simulations with the same images, labels and metadata share it, so work
        keyed by it is reused (an ablation that leaves this split alone)."""
        return self._digest(json.dumps(list(self.class_names)))

    def _digest(self, described: str) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(json.dumps([self.name, list(self.images.shape), str(self.images.dtype)]).encode())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        columns = [[str(c), str(t)] for c, t in self.meta.dtypes.items()]
        h.update(json.dumps(columns).encode())
        h.update(pd.util.hash_pandas_object(self.meta, index=True).values.tobytes())
        h.update(described.encode())
        h.update(_images_digest(self.images).encode())
        if self.masks is not None:
            h.update(b"masks" + _images_digest(self.masks).encode())
        return h.hexdigest()

    def describe(self) -> str:
        """A few lines on what was read: source, size, classes and every dataset found."""
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        lines = [
            f"split {self.name!r}: {len(self)} images {tuple(self.images.shape[1:])} "
            f"{self.images.dtype} from {self.path} [{self.data_label}]",
            "per class: "
            + ", ".join(f"{n}={c}" for n, c in zip(self.class_names, counts, strict=True)),
            "per-image metadata: " + (", ".join(self.meta.columns) or "none"),
        ]
        if self.masks is not None:
            lines.append("masks: present")
        if self.other_datasets:
            lines.append(
                "other datasets: "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.other_datasets.items()))
            )
        return "\n".join(lines)


def _images_digest(images: LazyImages | np.ndarray) -> str:
    """The full-content hash of images on disk (remembered) or in memory."""
    if isinstance(images, LazyImages):
        return images.content_digest()
    return hashlib.sha256(np.ascontiguousarray(images)).hexdigest()
