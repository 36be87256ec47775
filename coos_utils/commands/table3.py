"""``coos table3``: the paper's Table 3 (classifiers on every representation) for the run's
data, written into its results folder as chapter 03 writes it, and printed."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coos_utils.commands.common import add_run_options, folder

if TYPE_CHECKING:
    from coos_utils.benchmark.table3 import Table3Result
    from coos_utils.book.context import ChapterRun


def add_parser(sub: Any) -> None:
    p = sub.add_parser("table3", help="the paper's Table 3: classifiers on every representation")
    add_run_options(p)
    p.add_argument(
        "--results-dir",
        type=folder,
        default=Path("results"),
        help="results folders' root: writes <results-dir>/<data-id>/<profile>/ (default: results)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.book.context import setup_chapter
    from coos_utils.results.provenance import COMPLETE, FAILED, INTERRUPTED, mark_chapter

    chapter = setup_chapter(
        "03_classifiers",
        args.data_dir,
        args.profile,
        args.seed,
        args.results_dir,
        args.cache_dir,
        representations=args.representations,
    )
    try:
        result, written = _table3_files(chapter, args)
    except KeyboardInterrupt:
        mark_chapter(chapter.folder, chapter.name, INTERRUPTED, "stopped by Ctrl-C")
        raise
    except Exception as exc:
        mark_chapter(chapter.folder, chapter.name, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    mark_chapter(chapter.folder, chapter.name, COMPLETE)
    print(f"Table 3, balanced error % ({chapter.label})")
    columns = ["features", "model", "cv_error", *result.labels]
    print(result.table[columns].round(1).to_string(index=False))
    print(f"wrote {len(written)} files under {chapter.folder}")
    return 0


def _table3_files(chapter: ChapterRun, args: argparse.Namespace) -> tuple[Table3Result, list[Path]]:
    """Table 3 of the chapter run and the files written into its results folder."""
    from coos_utils.analysis.confusion import confusion_frames, sensitivity_table
    from coos_utils.benchmark.representations import make_representations
    from coos_utils.benchmark.table3 import run_table3
    from coos_utils.results.store import write_table3

    reps = make_representations(
        args.representations or chapter.profile.representations,
        chapter.profile.representation_params,
        n_jobs=args.n_jobs,
        progress=not args.quiet,
    )
    result = run_table3(
        chapter.splits,
        reps,
        chapter.profile,
        seed=args.seed,
        cache_dir=chapter.feature_cache,
        n_jobs=args.n_jobs,
        scheduler=args.dask_scheduler,
        progress=not args.quiet,
    )
    outputs = result.predictions, result.labels, result.class_names
    written = write_table3(
        chapter.folder, result.table, sensitivity_table(*outputs), confusion_frames(*outputs)
    )
    return result, written
