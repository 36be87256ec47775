"""Image representations and their features computed through the cache.

Every representation is a :class:`~coos_utils.features.base.Representation`; the registry
of them all (texture here, the CNNs in :mod:`coos_utils.models`) is
:mod:`coos_utils.benchmark.representations`, above both packages (nothing here imports
:mod:`coos_utils.models`). :func:`features_for` fits a learned representation on ``train``
(once, resumably, in a folder keyed by the code, the parameters and the training data),
transforms every split and caches each (output, split) array under a key of the transformed
split, the fitted-on data, the parameters and the code hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coos_utils.codehash import code_hash
from coos_utils.data.split import CoosSplit
from coos_utils.features.base import DirectPredictor, Representation, check_outputs
from coos_utils.features.cache import CacheEntry, cache_key, entry_path, read_entry, write_entry
from coos_utils.features.texture import TextureFeatures, TextureRepresentation
from coos_utils.stages import stage

PREDICTIONS = "predictions"
"""The cache output under which a direct predictor's class labels are stored."""


def default_cache_dir() -> Path:
    """Where features are cached unless told otherwise: ``./.cache/features``."""
    return Path.cwd() / ".cache" / "features"


@dataclass
class RepresentationFeatures:
    """The features of every output and split of one representation (and its predictions)."""

    representation: Representation
    entries: dict[str, dict[str, CacheEntry]] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)

    def values(self, output: str) -> dict[str, np.ndarray]:
        """Split -> feature array of one output."""
        return {split: entry.values for split, entry in self.entries[output].items()}

    def keys(self, output: str) -> dict[str, str]:
        """Split -> cache key of one output's features (what they were computed from)."""
        return {split: entry.key for split, entry in self.entries[output].items()}


def fit_representation(
    rep: Representation, train: CoosSplit, cache_dir: str | Path | None = None
) -> Representation:
    """Fit ``rep`` on ``train`` in a work folder keyed by code, parameters and training data.

    A finished fit in that folder is reused and an interrupted one resumes (the
    representation keeps its checkpoints there).
    """
    key = cache_key(train.content_fingerprint(), rep.name, rep.params(), _code(rep), output="fit")
    rep.work_dir = Path(cache_dir or default_cache_dir()) / rep.name / f"fit-{key}"
    with stage("train", rep.name):
        rep.fit(train)
    rep.fitted_on = train.content_fingerprint()
    return rep


def _code(rep: Representation) -> str:
    """The code hash of ``rep``'s class: its package modules, and for a plug-in defined outside
    the package, its source file and every module it imports from outside the installed
    packages too (so an edited plug-in or helper never reuses stale features)."""
    cls = type(rep)
    if cls.__module__.split(".")[0] == "coos_utils":
        return code_hash([cls.__module__])
    from coos_utils.plugins import source_digest

    inside = [c.__module__ for c in cls.__mro__ if c.__module__.split(".")[0] == "coos_utils"]
    return f"{code_hash(inside)}-{source_digest(cls)}"


def features_for(
    rep: Representation,
    splits: Mapping[str, CoosSplit],
    train: CoosSplit | None = None,
    cache_dir: str | Path | None = None,
) -> RepresentationFeatures:
    """Every output of ``rep`` for every split, from the cache where possible.

    A learned representation is fitted on ``train`` (default: ``splits["train"]``) only when
    some split is missing from the cache.
    """
    cache_dir = Path(cache_dir or default_cache_dir())
    train = train if train is not None else splits.get("train")
    if rep.learns and train is None:
        raise ValueError(f"{rep.name} learns from the 'train' split; none was given")
    code, params = _code(rep), rep.params()
    fitted_on = train.content_fingerprint() if rep.learns and train is not None else None
    outputs = list(rep.outputs())
    if isinstance(rep, DirectPredictor):
        outputs.append(PREDICTIONS)
    result = RepresentationFeatures(rep, {output: {} for output in rep.outputs()})
    fitted = not rep.learns or getattr(rep, "fitted_on", None) == fitted_on
    for name, split in splits.items():
        keys = {
            o: cache_key(split.content_fingerprint(), rep.name, params, code, fitted_on, o)
            for o in outputs
        }
        paths = {o: entry_path(cache_dir, rep.name, name, keys[o], o) for o in outputs}
        found = {o: read_entry(paths[o], keys[o]) for o in outputs}
        if any(v is None for v in found.values()):
            if not fitted:
                fit_representation(rep, train, cache_dir)
                fitted = True
            with stage("extract", f"{rep.name} {name}"):
                computed = rep.transform(split)
                check_outputs(rep, split, computed)
                if isinstance(rep, DirectPredictor):
                    computed[PREDICTIONS] = rep.predict(split).astype(np.float32)[:, None]
            info = {"split": name, "data": split.data_label, "params": params}
            for o in outputs:
                names = (
                    ["label"] if o == PREDICTIONS else rep.feature_names(o, computed[o].shape[1])
                )
                write_entry(paths[o], keys[o], computed[o], names, {**info, "output": o})
                found[o] = (computed[o], names)
            hit = False
        else:
            hit = True
        for o in outputs:
            values, names = found[o]
            if o == PREDICTIONS:
                result.predictions[name] = values[:, 0].astype(np.int64)
            else:
                result.entries[o][name] = CacheEntry(values, names, paths[o], hit, keys[o])
    return result


__all__ = [
    "PREDICTIONS",
    "CacheEntry",
    "DirectPredictor",
    "Representation",
    "RepresentationFeatures",
    "TextureFeatures",
    "TextureRepresentation",
    "default_cache_dir",
    "features_for",
    "fit_representation",
]
