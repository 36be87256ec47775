"""One run, resolved once: (data_dir, profile, seed, results_dir, cache_dir) -> a RunContext.

The context opens the five splits, fingerprints them, names the data (its id) and every folder
the run uses: results ``<results_dir>/<data-id>/<profile>/``, DG trials
``<cache_dir or .cache/dg>/<data-id>/<profile>/``, features ``<cache_dir or .cache/features>``;
and it makes "this data with these shifts off" (simulated data only). The book pipeline and
every chapter (through :func:`~coos_utils.book.context.setup_chapter`) use it, so no code
works back from a folder name or a file attribute to find where a run lives.

Relative paths are relative to the project root (the folder with ``_toc.yml`` and
``notebooks/``, found from the current folder), wherever a chapter is executed from; the
pipeline passes paths in that form, so no page shows a path of the machine that built it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from coos_utils.data import CoosSplit, load_splits
from coos_utils.data.errors import CoosDataError
from coos_utils.identity import data_fingerprint, data_id
from coos_utils.profiles import Profile, get_profile, resolve_data_dir
from coos_utils.synthetic import Simulation

ROOT_MARKERS = ("_toc.yml", "notebooks")
OUTSIDE = "<outside the project>"
"""What a page shows instead of the path of a folder outside the project."""


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder from ``start`` (default: the current one) upwards that holds
    ``_toc.yml`` and ``notebooks/``; ``start`` itself when none does (a chapter run alone)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return here


def _under(root: Path, path: str | Path | None) -> Path | None:
    """``path`` resolved against ``root`` (an absolute ``path`` stays as it is)."""
    return None if path is None or str(path) == "" else (root / Path(path).expanduser()).resolve()


@dataclass(frozen=True)
class RunContext:
    """A run's data, identity and folders; make one with :func:`make_run_context`."""

    root: Path
    profile: Profile
    seed: int
    data_path: Path
    splits: Mapping[str, CoosSplit]
    fingerprint: str
    data_id: str
    results_dir: Path
    cache_dir: Path | None

    @property
    def train(self) -> CoosSplit:
        return self.splits["train"]

    @property
    def synthetic(self) -> bool:
        return self.train.is_synthetic

    @property
    def label(self) -> str:
        """A compact caption for tables and figures: data and profile."""
        return f"{self.train.data_label}, profile {self.profile.name}"

    @property
    def folder(self) -> Path:
        """The results folder ``<results_dir>/<data-id>/<profile>/`` (not created here)."""
        return self.results_dir / self.data_id / self.profile.name

    @property
    def trials_dir(self) -> Path:
        """Where the DG trials of this data and profile are kept."""
        return (self.cache_dir or self.root / ".cache" / "dg") / self.data_id / self.profile.name

    @property
    def feature_cache(self) -> Path:
        """Where features (and the classifier cache beside them) are kept."""
        return self.cache_dir or self.root / ".cache" / "features"

    @property
    def synthetic_root(self) -> Path:
        """Where simulated data are generated: the default data and their ablations."""
        return self.root / "data" / "synthetic"

    def with_shifts_off(self, *names: str) -> Path:
        """This data simulated again, everything equal but the shifts ``names`` (from
        :data:`coos_utils.synthetic.SHIFTS`) off, once, under :attr:`synthetic_root`.

        Only simulated data have shifts to switch off: real data raise a ``CoosDataError``.
        """
        simulation = Simulation.from_attrs(self.train.attrs) if self.synthetic else None
        if simulation is None:
            raise CoosDataError(
                self.data_path,
                "not simulated data (or no simulation parameters stored): its shifts cannot "
                "be switched off; an ablation needs data made by `coos simulate`",
            )
        return simulation.with_shifts_off(self.synthetic_root, *names)

    def public(self, path: str | Path) -> str:
        """``path`` (relative ones are taken from the project root) as pages and records show
        it: relative to the project root when inside it, else as given."""
        resolved = (self.root / Path(path).expanduser()).resolve()
        if resolved.is_relative_to(self.root):
            return resolved.relative_to(self.root).as_posix()
        return str(path)

    def public_text(self, text: str) -> str:
        """``text`` as a page shows it: the run's folders outside the project (data, results,
        cache) as ``<outside the project>/<folder name>``, the project root dropped from the
        paths under it and the home folder as ``~``, whatever paths the user gave."""
        folders = (self.data_path, self.results_dir, self.cache_dir)
        outside = {f for f in folders if f is not None and not f.is_relative_to(self.root)}
        for folder in sorted(outside, key=lambda f: -len(str(f))):
            text = text.replace(str(folder), f"{OUTSIDE}/{folder.name}")
        text = text.replace(str(self.root) + os.sep, "")
        home = str(Path.home())
        return text.replace(home, "~") if len(home) > 1 else text

    def data_record(self) -> dict[str, str]:
        """What ``provenance.json`` says about the data."""
        return {
            "data_id": self.data_id,
            "data_source": "synthetic" if self.synthetic else "real",
            "data_label": self.train.data_label,
            "data_fingerprint": self.fingerprint,
            "data_path": self.public(self.data_path),
        }


def make_run_context(
    data_dir: str | Path | None,
    profile: str,
    seed: int = 0,
    results_dir: str | Path = "results",
    cache_dir: str | Path | None = None,
    root: str | Path | None = None,
) -> RunContext:
    """Resolve a run: find (or simulate) the data, open and fingerprint the five splits.

    Relative paths are taken from ``root`` (default: :func:`project_root`); without
    ``data_dir`` the profile's synthetic data are used, generated under ``root/data/synthetic``.
    """
    settings = get_profile(profile)
    base = Path(root).resolve() if root is not None else project_root()
    given = _under(base, data_dir)
    data = resolve_data_dir(given, settings.name, seed, root=base / "data" / "synthetic")
    splits = load_splits(data)
    fingerprint = data_fingerprint(splits)
    return RunContext(
        root=base,
        profile=settings,
        seed=seed,
        data_path=data.resolve(),
        splits=splits,
        fingerprint=fingerprint,
        data_id=data_id(splits["train"], fingerprint),
        results_dir=_under(base, results_dir) or base / "results",
        cache_dir=_under(base, cache_dir),
    )
