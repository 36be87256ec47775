"""Image representations (texture now, CNN activations later) and their on-disk cache.

Every representation is one entry of :data:`REPRESENTATIONS`: its Table 3 name, a
scikit-learn transformer class, and the parameters that define its features (these go into
the cache key; execution settings such as ``n_jobs`` do not). Adding a representation means
adding one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coos_utils.data.split import CoosSplit
from coos_utils.features.cache import CacheEntry, cache_key, cached, entry_path
from coos_utils.features.texture import DEFAULT_DISTANCES, DEFAULT_GREY_LEVELS, TextureFeatures


@dataclass(frozen=True)
class Representation:
    """One way of turning images into feature vectors."""

    name: str
    display_name: str
    transformer: type
    params: Mapping[str, Any] = field(default_factory=dict)

    def make(self, n_jobs: int | None, scheduler: str | None, progress: bool, **params: Any) -> Any:
        """The transformer with the default parameters updated by ``params``."""
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError(f"{self.name} has no parameters {sorted(unknown)}")
        merged = {**self.params, **params}
        return self.transformer(**merged, n_jobs=n_jobs, scheduler=scheduler, progress=progress)


REPRESENTATIONS: dict[str, Representation] = {
    "texture": Representation(
        name="texture",
        display_name="Texture",
        transformer=TextureFeatures,
        params={"grey_levels": DEFAULT_GREY_LEVELS, "distances": DEFAULT_DISTANCES},
    ),
}


def get_representation(name: str) -> Representation:
    """The registered representation ``name``, or an error listing the known ones."""
    try:
        return REPRESENTATIONS[name]
    except KeyError:
        known = ", ".join(REPRESENTATIONS)
        raise ValueError(f"unknown representation {name!r}; choose one of {known}") from None


def default_cache_dir() -> Path:
    """Where features are cached unless told otherwise: ``./.cache/features``."""
    return Path.cwd() / ".cache" / "features"


def compute_features(
    split: CoosSplit,
    representation: str = "texture",
    cache_dir: str | Path | None = None,
    n_jobs: int | None = -1,
    scheduler: str | None = None,
    progress: bool = True,
    **params: Any,
) -> CacheEntry:
    """Features of every image of ``split``, read from the cache when they were computed before.

    ``cache_dir=None`` uses :func:`default_cache_dir`. ``params`` override the
    representation's defaults (and so change the cache key). Work runs on ``n_jobs`` local
    processes, or on the Dask cluster at ``scheduler``.
    """
    rep = get_representation(representation)
    transformer = rep.make(n_jobs, scheduler, progress, **params)
    feature_params = {k: getattr(transformer, k) for k in rep.params}
    key = cache_key(split.fingerprint(), rep.name, feature_params)
    path = entry_path(cache_dir or default_cache_dir(), rep.name, split.name, key)

    def compute() -> tuple[Any, list[str]]:
        values = transformer.fit(split).transform(split)
        return values, [str(n) for n in transformer.get_feature_names_out()]

    info = {"split": split.name, "data": split.data_label, "params": feature_params}
    return cached(path, key, compute, info)


__all__ = [
    "REPRESENTATIONS",
    "CacheEntry",
    "Representation",
    "TextureFeatures",
    "compute_features",
    "default_cache_dir",
    "get_representation",
]
