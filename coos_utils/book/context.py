"""The one-line setup every chapter starts with, and the handle it gives the chapter.

``run = setup_chapter("03_classifiers", data_dir, profile, seed, results_dir, ...)`` finds or
simulates the data, opens the five splits, names the results folder
``<results_dir>/<data-id>/<profile>/``, records the run in its ``provenance.json`` and returns a
:class:`ChapterRun`; the chapter then only calls package functions and displays. Files are
written by package functions (``run.save_figure``, ``run.write_csv`` and the writers of
:mod:`coos_utils.results.store`), which return the paths they wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure

from coos_utils.book.chapters import chapter
from coos_utils.codehash import code_hash
from coos_utils.data import CoosSplit, load_split
from coos_utils.profiles import Profile, get_profile, resolve_data_dir
from coos_utils.reference import SPLIT_NAMES
from coos_utils.results.paths import data_fingerprint, data_id, results_folder
from coos_utils.results.provenance import provenance_line, record_run, refuse_failed
from coos_utils.results.store import save_figure, write_csv

SITE_RESULTS = "../../results"
"""Where a rendered chapter (``book/_generated/<name>.html``) finds the published results."""


@dataclass
class ChapterRun:
    """A chapter's data, profile, results folder and provenance record."""

    name: str
    profile: Profile
    seed: int
    data_path: Path
    splits: dict[str, CoosSplit]
    folder: Path
    record: dict[str, Any]

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

    def provenance(self) -> str:
        """The chapter's provenance line (Markdown), made from ``provenance.json``."""
        return provenance_line(self.record, self.profile.description)

    def site_link(self, path: Path) -> str:
        """A Markdown link to a results file, as published beside the rendered chapter."""
        relative = path.relative_to(self.folder.parent.parent).as_posix()
        return f"[`{path.name}`]({SITE_RESULTS}/{relative})"

    def regenerate_command(self) -> str:
        """The one command that rebuilds this chapter's files on one's own data."""
        command = f"coos run {self.name} -p profile {self.profile.name}"
        if self.synthetic:
            return command + f" -p seed {self.seed}"
        return command + " -p data_dir /path/to/COOS7"

    def table_note(self, *paths: Path) -> Markdown:
        """Under a table: links to the CSV files it shows and the command that regenerates them."""
        links = ", ".join(self.site_link(p) for p in paths)
        return Markdown(f"CSV: {links}. Regenerate: `{self.regenerate_command()}`")

    def save_figure(self, fig: Figure, name: str) -> Markdown:
        """Write ``fig`` to ``figures/<name>.png`` and ``.svg``; return links to the files."""
        paths = save_figure(fig, self.folder, name)
        return Markdown("Figure files: " + ", ".join(self.site_link(p) for p in paths))

    def write_csv(self, frame: pd.DataFrame, name: str, index: bool = False) -> Path:
        """Write ``frame`` to ``<name>`` in the results folder (atomically)."""
        return write_csv(frame, self.folder / name, index)


def setup_chapter(
    name: str,
    data_dir: str | Path | None = None,
    profile: str = "default",
    seed: int = 0,
    results_dir: str | Path = "results",
    **parameters: Any,
) -> ChapterRun:
    """Open the data, name the results folder and record the run (see the module docstring).

    ``parameters`` are the chapter's other notebook parameters, kept in the provenance record.
    """
    spec, settings = chapter(name), get_profile(profile)
    data_path = resolve_data_dir(data_dir, profile, seed)
    splits = {split: load_split(data_path, split) for split in SPLIT_NAMES}
    fingerprint = data_fingerprint(splits)
    train = splits["train"]
    identity = data_id(train, fingerprint)
    folder = results_folder(results_dir, identity, settings.name)
    refuse_failed(folder, spec.reads)  # an earlier chapter's partial results are never read
    data = {
        "data_id": identity,
        "data_source": "synthetic" if train.is_synthetic else "real",
        "data_label": train.data_label,
        "data_fingerprint": fingerprint,
        "data_path": str(data_path),
    }
    given = {"data_dir": data_dir, "seed": seed, "results_dir": str(results_dir), **parameters}
    record = record_run(
        folder,
        spec.name,
        data,
        settings.name,
        {**given, "profile_settings": settings.to_record()},
        code_hash(),
    )
    return ChapterRun(spec.name, settings, seed, Path(data_path), splits, folder, record)
