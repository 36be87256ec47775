"""The ``coos`` command: data conversion, download, simulation, features, tables, the book.

Bad input ends with one line on stderr, ``coos <command>: error: <message>`` naming the
parameter or the file, and exit code 2: argparse's checks (argument types below), the
package's ``ValueError``s (:class:`CoosDataError`, ``ParameterError``, ...) and ``OSError``s
about a named file. Any other exception is a bug and keeps its traceback; set
``COOS_TRACEBACK=1`` to see the traceback of the one-line errors too.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from coos_utils.evaluate_cli import add_parser as add_evaluate_parser
from coos_utils.results_cli import add_parser as add_results_parser

if TYPE_CHECKING:
    from coos_utils.benchmark.table3 import Table3Result
    from coos_utils.book.context import ChapterRun

Handler = Callable[[argparse.Namespace], int]


class UsageError(ValueError):
    """A command used where it cannot work (e.g. outside the project); one-line message."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line: ``coos <command>: error: <message>``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _seed(text: str) -> int:
    """A seed: an integer from 0 to 2**32 - 1 (numpy's and torch's range)."""
    from coos_utils.synthetic.simulate import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer from 0 to {MAX_SEED}")
    return value


def _seconds(text: str) -> float:
    """A positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _usable_folder(path: Path) -> None:
    """Refuse ``path`` as a folder to write in if it, or its nearest existing parent, is a
    file or is not writable."""
    for place in (path, *path.parents):
        if not (place.exists() or place.is_symlink()):
            continue
        if not place.is_dir():
            below = "" if place == path else f", so {path} cannot be made under it"
            raise argparse.ArgumentTypeError(f"{place} is a file, not a folder{below}")
        if not os.access(place, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"{place} is not writable")
        return


def _folder(text: str) -> Path:
    """A folder to write in (made if missing), checked before any work starts."""
    path = Path(text)
    _usable_folder(path)
    return path


def _file(text: str) -> Path:
    """A file to write, in a folder that can be made; checked before any work starts."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    _usable_folder(path.parent)
    return path


def _project_root(command: str) -> Path:
    """The current folder if it holds the book's ``notebooks/``; else a :class:`UsageError`."""
    root = Path(".")
    if not (root / "notebooks").is_dir():
        raise UsageError(
            f"{Path.cwd()} has no notebooks/ folder; run `coos {command}` in the project's "
            "root folder (the one with _toc.yml)"
        )
    return root


def _chapter_sources(command: str) -> list[Path]:
    """Every chapter's notebook, from the project's root; a :class:`UsageError` if missing."""
    from coos_utils.book.pipeline import BookBuildError, chapter_sources

    root = _project_root(command)
    try:
        return chapter_sources(root)
    except BookBuildError as exc:
        raise UsageError(str(exc)) from None


def _unpack(args: argparse.Namespace) -> int:
    from coos_utils.data.convert import unpack

    for path in unpack(args.src, args.dest, progress=not args.quiet):
        print(f"wrote {path}")
    return 0


def _pack(args: argparse.Namespace) -> int:
    from coos_utils.data.convert import pack

    for path in pack(args.src, args.dest, progress=not args.quiet):
        print(f"wrote {path}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from coos_utils.data.download import download

    found = download(
        args.dest,
        base_url=args.base_url,
        progress=not args.quiet,
        **_download_options(args),
    )
    for path in found:
        print(f"have {path}")
    return 0


def _weights(args: argparse.Namespace) -> int:
    from coos_utils.models.weights import WeightsError, download_weights

    try:
        path = download_weights(
            args.name,
            args.dest,
            args.url,
            progress=not args.quiet,
            **_download_options(args),
        )
    except WeightsError as exc:
        print(f"coos weights: error: {exc}", file=sys.stderr)
        return 2
    print(f"have {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from coos_utils.synthetic import simulate_dataset

    try:
        paths = simulate_dataset(
            args.out, scale=args.scale, seed=args.seed, progress=not args.quiet
        )
    except KeyboardInterrupt:  # files are written whole or not at all
        print(
            "coos simulate: interrupted by Ctrl-C; finished splits are kept, a partial one is not",
            file=sys.stderr,
        )
        return 130
    for path in paths:
        print(f"wrote {path}")
    return 0


def _book(args: argparse.Namespace) -> int:
    from coos_utils.book.pipeline import BookBuildError, RunInterrupted, build_book

    _project_root("book")
    try:
        build_book(args.profile, data_dir=args.data_dir, seed=args.seed, html=not args.no_html)
    except BookBuildError as exc:
        print(f"coos book: {exc}", file=sys.stderr)
        return 1
    except RunInterrupted as exc:
        print(f"coos book: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _run(args: argparse.Namespace) -> int:
    from coos_utils.book.chapters import chapter
    from coos_utils.book.parameters import chapter_parameters, check_given, parse_given

    root = _project_root("run")
    given = parse_given(args.parameters, args.raw_parameters, args.parameters_file)
    name = chapter(args.chapter).name  # checked before papermill is loaded or data are made
    check_given(name, given, chapter_parameters(root / "notebooks" / f"{name}.md"))

    from coos_utils.book.pipeline import BookBuildError, RunInterrupted, run_chapter

    try:
        run_chapter(args.chapter, given, output=args.output)
    except BookBuildError as exc:
        print(f"coos run: {exc}", file=sys.stderr)
        return 1
    except RunInterrupted as exc:
        print(f"coos run: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _params(args: argparse.Namespace) -> int:
    from coos_utils.book.parameters import parameters_markdown

    print(parameters_markdown(_chapter_sources("params")))
    return 0


def _install_cells(args: argparse.Namespace) -> int:
    from coos_utils.book.publish import repository_url, sync_install_cells

    sources = _chapter_sources("install-cells")
    root = Path(".")
    for path in sync_install_cells(root, sources):
        print(f"updated {path}")
    print(f"every chapter installs from {repository_url(root)}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from coos_utils.book.publish import publish_notebooks

    sources = _chapter_sources("publish")
    for path in publish_notebooks(Path("."), sources, args.dest):
        print(f"wrote {path}")
    return 0


def _features(args: argparse.Namespace) -> int:
    from coos_utils.benchmark.representations import make_representation
    from coos_utils.data import load_splits
    from coos_utils.features import features_for
    from coos_utils.profiles import get_profile, resolve_data_dir

    profile = get_profile(args.profile)
    splits = load_splits(resolve_data_dir(args.data_dir, args.profile, args.seed))
    for name in args.representations or profile.representations:
        rep = make_representation(
            name,
            profile.representation_params.get(name),
            n_jobs=args.n_jobs,
            progress=not args.quiet,
        )
        found = features_for(rep, splits, cache_dir=args.cache_dir)
        for output, entries in found.entries.items():
            for split, entry in entries.items():
                rows, columns = entry.values.shape
                how = "cached" if entry.hit else "computed"
                print(f"{name}/{output} {split}: {rows} x {columns} ({how}) {entry.path}")
    return 0


def _table3(args: argparse.Namespace) -> int:
    from coos_utils.book.context import setup_chapter
    from coos_utils.results.provenance import COMPLETE, FAILED, INTERRUPTED, mark_chapter

    run = setup_chapter(
        "03_classifiers",
        args.data_dir,
        args.profile,
        args.seed,
        args.results_dir,
        representations=args.representations,
    )
    try:
        result, written = _table3_files(run, args)
    except KeyboardInterrupt:
        mark_chapter(run.folder, run.name, INTERRUPTED, "stopped by Ctrl-C")
        raise
    except Exception as exc:
        mark_chapter(run.folder, run.name, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    mark_chapter(run.folder, run.name, COMPLETE)
    print(f"Table 3, balanced error % ({run.label})")
    columns = ["features", "model", "cv_error", *result.labels]
    print(result.table[columns].round(1).to_string(index=False))
    print(f"wrote {len(written)} files under {run.folder}")
    return 0


def _table3_files(run: ChapterRun, args: argparse.Namespace) -> tuple[Table3Result, list[Path]]:
    """Table 3 of ``run`` (a chapter run) and the files written into its results folder."""
    from coos_utils.analysis.confusion import confusion_frames, sensitivity_table
    from coos_utils.benchmark.representations import make_representation
    from coos_utils.benchmark.table3 import run_table3
    from coos_utils.results.store import write_table3

    reps = [
        make_representation(
            name,
            run.profile.representation_params.get(name),
            n_jobs=args.n_jobs,
            progress=not args.quiet,
        )
        for name in args.representations or run.profile.representations
    ]
    result = run_table3(
        run.splits,
        reps,
        run.profile,
        seed=args.seed,
        cache_dir=args.cache_dir,
        n_jobs=args.n_jobs,
        scheduler=args.dask_scheduler,
        progress=not args.quiet,
    )
    outputs = result.predictions, result.labels, result.class_names
    written = write_table3(
        run.folder, result.table, sensitivity_table(*outputs), confusion_frames(*outputs)
    )
    return result, written


def _representation(name: str) -> str:
    """A built-in or installed representation's name, or a plug-in spec (module:Class or
    path/to/file.py:Class), checked by loading it."""
    from coos_utils.benchmark.representations import get_representation

    try:
        get_representation(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that compute features and tables."""
    p.add_argument("--profile", choices=("smoke", "default", "paper"), default="default")
    p.add_argument("--data-dir", type=Path, default=None, help="real COOS-7 (default: synthetic)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--cache-dir", type=_folder, default=None, help="default: ./.cache/features")
    p.add_argument("--n-jobs", type=int, default=-1, help="local worker processes (-1: all cores)")
    p.add_argument(
        "--dask-scheduler", default=None, help="run on this dask.distributed scheduler address"
    )
    p.add_argument(
        "--representations",
        nargs="+",
        default=None,
        metavar="NAME",
        type=_representation,
        help="representations to use: names, or plug-ins as module:Class or file.py:Class "
        "(default: the profile's)",
    )


def _add_stall_timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stall-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="stop, keeping the partial file for the next run, when less than 64 KiB arrive "
        "in this many seconds (default: the downloader's, 180)",
    )


def _download_options(args: argparse.Namespace) -> dict[str, float]:
    """The download settings given on the command line; the downloader's defaults otherwise."""
    return {} if args.stall_timeout is None else {"stall_timeout": args.stall_timeout}


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="coos", description=__doc__.split("\n\n")[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("unpack", help="HDF5 split files -> TIFF folders (authors' layout)")
    p.add_argument("src", type=Path, help="an HDF5 file or a folder of them")
    p.add_argument("dest", type=_folder, help="folder that receives <split>/<label>/*.tif")
    p.set_defaults(handler=_unpack)

    p = sub.add_parser("pack", help="TIFF folders -> HDF5 split files (inverse of unpack)")
    p.add_argument("src", type=Path, help="folder holding <split>/ TIFF folders")
    p.add_argument("dest", type=_folder, help="folder that receives the HDF5 files")
    p.set_defaults(handler=_pack)

    p = sub.add_parser("download", help="fetch COOS-7 from Zenodo record 3386336")
    p.add_argument("dest", type=_folder)
    p.add_argument("--base-url", default=None, help="mirror of zenodo.org (for tests)")
    _add_stall_timeout(p)
    p.set_defaults(handler=_download)

    p = sub.add_parser("weights", help="fetch pretrained weights (VGG16 on ImageNet)")
    p.add_argument("name", choices=("vgg16",))
    p.add_argument("--dest", type=_folder, default=None, help="default: torch hub checkpoints")
    p.add_argument("--url", default=None, help="mirror of the published file (for tests)")
    _add_stall_timeout(p)
    p.set_defaults(handler=_weights)

    p = sub.add_parser("simulate", help="write the synthetic COOS-7 stand-in")
    p.add_argument("--scale", choices=("tiny", "small", "paper"), default="small")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", type=_folder, required=True)
    p.set_defaults(handler=_simulate)

    p = sub.add_parser("book", help="run every chapter with papermill and render the book")
    p.add_argument("--profile", choices=("smoke", "default", "paper"), default="default")
    p.add_argument("--data-dir", type=Path, default=None, help="real COOS-7 (default: synthetic)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--no-html", action="store_true", help="run the chapters only")
    p.set_defaults(handler=_book)

    p = sub.add_parser("run", help="run one chapter with papermill (same keys and results)")
    p.add_argument("chapter", help="chapter name, e.g. 03_classifiers")
    p.add_argument(
        "-p",
        "--parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter, VALUE read as YAML (papermill's -p)",
    )
    p.add_argument(
        "-r",
        "--raw-parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter kept as text (papermill's -r)",
    )
    p.add_argument(
        "-f",
        "--parameters-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a YAML file of parameters (papermill's -f)",
    )
    p.add_argument(
        "--output", type=_file, default=None, help="also copy the executed notebook here"
    )
    p.set_defaults(handler=_run)

    p = sub.add_parser("params", help="print every chapter's parameters as a Markdown table")
    p.set_defaults(handler=_params)

    p = sub.add_parser("install-cells", help="point chapters' install cells at _config.yml's repo")
    p.set_defaults(handler=_install_cells)

    p = sub.add_parser("publish", help="unexecuted .ipynb chapters + requirements.txt for Colab")
    p.add_argument("dest", type=_folder, help="the built site, e.g. _build/html")
    p.set_defaults(handler=_publish)

    p = sub.add_parser(
        "features", help="compute (or read from the cache) the features of every split"
    )
    _add_run_options(p)
    p.set_defaults(handler=_features)

    p = sub.add_parser("table3", help="the paper's Table 3: classifiers on every representation")
    _add_run_options(p)
    p.add_argument("--results-dir", type=_folder, default=Path("results"))
    p.set_defaults(handler=_table3)

    add_evaluate_parser(sub)
    add_results_parser(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _message(exc: BaseException) -> str:
    """The message of ``exc`` in one line; an ``OSError`` as ``<file>: <what happened>``."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return _one_line(str(exc))


def _is_user_error(exc: BaseException) -> bool:
    """Bad input rather than a bug: a ``ValueError`` (the package's way of refusing input)
    or an ``OSError`` about a named file (exists, is not a folder, permission, disk full)."""
    return isinstance(exc, ValueError) or (isinstance(exc, OSError) and exc.filename is not None)


def _warning_printer(command: str) -> Callable[..., None]:
    """``warnings.showwarning`` that prints ``coos <command>: warning: <message>``, one line."""

    def show(message: Warning | str, category: type[Warning], *args: object, **kw: object) -> None:
        print(f"coos {command}: warning: {_one_line(str(message))}", file=sys.stderr)

    return show


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's flush at exit raises no second error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``coos`` command line; bad input ends with a one-line message, exit code 2."""
    args = _parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer(args.command)
        try:
            code = args.handler(args)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return code
        except BrokenPipeError:  # the reader went away (`coos ... | head`): nothing to say
            _silence_stdout()
            return 0
        except (ValueError, OSError) as exc:
            if not _is_user_error(exc) or os.environ.get("COOS_TRACEBACK"):
                raise
            print(f"coos {args.command}: error: {_message(exc)}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
