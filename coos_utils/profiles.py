"""The run profiles (smoke, default, paper): every size and iteration count in one table.

Notebooks take ``profile`` as a papermill parameter and read everything else from here, so
the book, the tests and the command line agree on what each profile means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Profile:
    """Sizes of one run profile."""

    name: str
    description: str
    synthetic_scale: str
    rf_search_draws: int
    cv_folds: int
    bootstrap_samples: int
    cnn_iterations: int
    cnn_batch_size: int
    checkpoint_every: int

    def as_dict(self) -> dict[str, Any]:
        """The profile as plain values, for tables and notebook parameters."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="CI: tiny synthetic data, shrunken searches, a few CNN iterations",
        synthetic_scale="tiny",
        rf_search_draws=3,
        cv_folds=2,
        bootstrap_samples=100,
        cnn_iterations=20,
        cnn_batch_size=32,
        checkpoint_every=10,
    ),
    "default": Profile(
        name="default",
        description="a laptop without GPU: small synthetic data, reduced searches and training",
        synthetic_scale="small",
        rf_search_draws=20,
        cv_folds=3,
        bootstrap_samples=500,
        cnn_iterations=600,
        cnn_batch_size=64,
        checkpoint_every=100,
    ),
    "paper": Profile(
        name="paper",
        description="the paper's full protocol (GPU expected for the CNNs)",
        synthetic_scale="paper",
        rf_search_draws=100,
        cv_folds=5,
        bootstrap_samples=1000,
        cnn_iterations=10_000,
        cnn_batch_size=128,
        checkpoint_every=500,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``, or a clear error listing the valid names."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


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


def results_dir_for(results_dir: str | Path, profile: str) -> Path:
    """``<results_dir>/<profile>/``, created if needed."""
    path = Path(results_dir) / get_profile(profile).name
    path.mkdir(parents=True, exist_ok=True)
    return path
