"""The run profiles (smoke, default, paper): every size and iteration count in one table.

Notebooks take ``profile`` as a papermill parameter and read everything else from here, so
the book, the tests and the command line agree on what each profile means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coos_utils.registry import lookup


@dataclass(frozen=True)
class Profile:
    """Sizes of one run profile."""

    name: str
    description: str
    synthetic_scale: str
    rf_search_draws: int
    cv_folds: int
    bootstrap_samples: int
    representations: tuple[str, ...] = ("texture",)
    """The representations Table 3 is computed on (names in the feature registry)."""
    representation_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per representation, the parameters this profile overrides (sizes, iterations)."""
    rf_top_outputs: int = 3
    """A representation with more outputs gets the forest search only on this many of them."""

    def to_record(self) -> dict[str, Any]:
        """Plain values for the provenance record."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="CI: tiny synthetic data, shrunken searches, a few CNN iterations",
        synthetic_scale="tiny",
        rf_search_draws=3,
        cv_folds=2,
        bootstrap_samples=100,
    ),
    "default": Profile(
        name="default",
        description="a laptop without GPU: small synthetic data, reduced searches and training",
        synthetic_scale="small",
        rf_search_draws=20,
        cv_folds=3,
        bootstrap_samples=500,
    ),
    "paper": Profile(
        name="paper",
        description="the paper's full protocol (GPU expected for the CNNs)",
        synthetic_scale="paper",
        rf_search_draws=100,
        cv_folds=5,
        bootstrap_samples=1000,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``, or a clear error listing the valid names."""
    return lookup(PROFILES, name, "profile")


def default_data_root() -> Path:
    """Where generated synthetic data live unless a notebook is given ``data_dir``."""
    return Path.cwd() / "data"


def resolve_data_dir(
    data_dir: str | Path | None, profile: str, seed: int = 0, root: str | Path | None = None
) -> Path:
    """The folder a notebook reads: ``data_dir`` if given, else the profile's synthetic data.

    Synthetic data are generated on first use under ``root`` (default ``./data``) and reused
    afterwards; the real COOS-7 is used by passing its folder as ``data_dir``.
    """
    if data_dir:
        return Path(data_dir)
    from coos_utils.synthetic import ensure_synthetic

    base = Path(root) if root is not None else default_data_root() / "synthetic"
    return ensure_synthetic(base, get_profile(profile).synthetic_scale, seed)
