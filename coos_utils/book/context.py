"""The one-line setup every chapter starts with, and the handle it gives the chapter.

``run = setup_chapter("03_classifiers", data_dir, profile, seed, results_dir, cache_dir, ...)``
makes the run's :class:`~coos_utils.book.run_context.RunContext` (the data, its id, the
results, trials and cache folders, the data with shifts off), records the run in the results
folder's ``provenance.json`` and returns a :class:`ChapterRun`: that context with the
chapter's name and record. The chapter then only calls package functions and displays. Files
are written by package functions (``run.save_figure``, ``run.write_csv`` and the writers of
:mod:`coos_utils.results.store`), which return the paths they wrote.
"""

from __future__ import annotations

import json
import shlex
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from coos_utils.book.chapters import chapter
from coos_utils.book.parameters import chapter_defaults
from coos_utils.book.run_context import RunContext, make_run_context
from coos_utils.codehash import code_hash
from coos_utils.results.provenance import provenance_line, record_run, refuse_failed
from coos_utils.results.store import save_figure, write_csv

EXECUTION_PARAMETERS = frozenset({"cache_dir", "device", "n_jobs", "dask_scheduler", "n_workers"})
"""Chapter parameters that decide where and how fast a chapter runs, never its numbers."""
SITE_RESULTS = "../../results"
"""Where a rendered chapter (``book/_generated/<name>.html``) finds the published results."""


@dataclass(frozen=True)
class ChapterRun(RunContext):
    """The run's context (data, profile, folders, shifts off) with the chapter's name and
    provenance record."""

    name: str
    record: dict[str, Any]
    figure_numbers: list[str] = field(default_factory=list, repr=False, compare=False)

    def provenance(self) -> str:
        """The chapter's provenance line (Markdown), made from ``provenance.json``."""
        return provenance_line(self.record, self.profile.description)

    def site_link(self, path: Path) -> str:
        """A Markdown link to a results file, as published beside the rendered chapter."""
        relative = path.relative_to(self.results_dir).as_posix()
        return f"[`{path.name}`]({SITE_RESULTS}/{relative})"

    def regenerate_command(self) -> str:
        """The one command that rebuilds this chapter's files: the profile, the seed, every
        parameter given a value other than the chapter's default (representations, seeds,
        plug-in specs, results folder...), and the data folder as a placeholder (a page shows
        no path of the machine that built it). Settings that only say where and how fast it
        runs (:data:`EXECUTION_PARAMETERS`) are left out: they change no number."""
        given = self.record.get("chapters", {}).get(self.name, {}).get("parameters", {})
        defaults = chapter_defaults(self.root, self.name)
        parts = ["coos", "run", self.name, "-p", "profile", self.profile.name]
        if given.get("data_dir") is not None:
            placeholder = "/path/to/synthetic-data" if self.synthetic else "/path/to/COOS7"
            parts += ["-p", "data_dir", placeholder]
        parts += ["-p", "seed", str(self.seed)]
        for key, value in given.items():
            if key in EXECUTION_PARAMETERS or key in ("data_dir", "seed", "profile_settings"):
                continue
            default = defaults.get(key) if defaults else None  # no source: every value given
            if key == "results_dir" and value is not None and Path(value).is_absolute():
                value = "/path/to/results"  # outside the project: no path of this machine
            if value != default:
                parts += ["-p", key, json.dumps(value)]  # JSON is YAML, as -p reads it
        return shlex.join(parts)

    def table_note(self, *paths: Path) -> Markdown:
        """Under a table: links to the CSV files it shows and the command that regenerates them."""
        links = ", ".join(self.site_link(p) for p in paths)
        return Markdown(f"CSV: {links}. Regenerate: `{self.regenerate_command()}`")

    def save_figure(self, fig: Figure, name: str) -> Markdown:
        """Write ``fig`` to ``figures/<name>.png`` and ``.svg``; return links to the files."""
        paths = save_figure(fig, self.folder, name)
        return Markdown("Figure files: " + ", ".join(self.site_link(p) for p in paths))

    def show_figure(self, fig: Figure, name: str, caption: str) -> None:
        """Save ``fig`` (see :meth:`save_figure`), display it, then its numbered caption
        (``**Figure N.** caption``, N counting this chapter's figures) with the file links, in
        the same output; the figure is closed so that it is not drawn a second time."""
        links = self.save_figure(fig, name).data
        self.figure_numbers.append(name)
        display(fig)
        plt.close(fig)
        number = len(self.figure_numbers)
        display(Markdown(f"**Figure {number}.** {caption.rstrip()} {links}."))

    def write_csv(self, frame: pd.DataFrame, name: str, index: bool = False) -> Path:
        """Write ``frame`` to ``<name>`` in the results folder (atomically)."""
        return write_csv(frame, self.folder / name, index)


def short_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """A warning as a chapter shows it: the module's file name, not its path on the machine
    that ran the chapter."""
    return f"{Path(filename).name}:{lineno}: {category.__name__}: {message}\n"


def setup_chapter(
    name: str,
    data_dir: str | Path | None = None,
    profile: str = "default",
    seed: int = 0,
    results_dir: str | Path = "results",
    cache_dir: str | Path | None = None,
    **parameters: Any,
) -> ChapterRun:
    """Make the run's context, refuse failed upstream results and record the run (see the
    module docstring). Relative paths are relative to the project root.

    ``parameters`` are the chapter's other notebook parameters, kept in the provenance record.
    """
    warnings.formatwarning = short_warning  # no page shows a machine path
    spec = chapter(name)
    context = make_run_context(data_dir, profile, seed, results_dir, cache_dir)
    context.folder.mkdir(parents=True, exist_ok=True)
    refuse_failed(context.folder, spec.reads)  # an earlier chapter's partial results are never read
    paths = {"data_dir": data_dir, "results_dir": results_dir, "cache_dir": cache_dir}
    given = {
        **{key: None if path is None else context.public(path) for key, path in paths.items()},
        "seed": seed,
        **parameters,
    }
    settings = context.profile
    record = record_run(
        context.folder,
        spec.name,
        context.data_record(),
        settings.name,
        {**given, "profile_settings": settings.to_record()},
        code_hash(),
    )
    values = {field.name: getattr(context, field.name) for field in fields(RunContext)}
    return ChapterRun(**values, name=spec.name, record=record)
