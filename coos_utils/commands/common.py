"""What several commands share: the one-line argument parser, argument types checked before
any work starts, the project's root, and the options of the commands that compute.

Nothing here imports the package's heavy modules at import time: ``coos --help`` and a
refused argument stay fast.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import NoReturn

PROFILE_NAMES = ("smoke", "default", "paper")
"""The run profiles' names (:data:`coos_utils.profiles.PROFILES`, which a test keeps equal),
here so that parsing a command line does not import the profiles' table."""


class UsageError(ValueError):
    """A command used where it cannot work (e.g. outside the project); one-line message."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors in one line: ``coos <command>: error: <message>``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def seed(text: str) -> int:
    """A seed: an integer from 0 to 2**32 - 1 (numpy's and torch's range)."""
    from coos_utils.synthetic.params import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer from 0 to {MAX_SEED}")
    return value


def seconds(text: str) -> float:
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


def folder(text: str) -> Path:
    """A folder to write in (made if missing), checked before any work starts."""
    path = Path(text)
    _usable_folder(path)
    return path


def file(text: str) -> Path:
    """A file to write, in a folder that can be made; checked before any work starts."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    _usable_folder(path.parent)
    return path


def representation(name: str) -> str:
    """A built-in or installed representation's name, or a plug-in spec (module:Class or
    path/to/file.py:Class), checked by loading it."""
    from coos_utils.benchmark.representations import get_representation

    try:
        get_representation(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name


def project_root(command: str) -> Path:
    """The current folder if it holds the book's ``notebooks/``; else a :class:`UsageError`."""
    root = Path(".")
    if not (root / "notebooks").is_dir():
        raise UsageError(
            f"{Path.cwd()} has no notebooks/ folder; run `coos {command}` in the project's "
            "root folder (the one with _toc.yml)"
        )
    return root


def chapter_sources(command: str) -> list[Path]:
    """Every chapter's notebook, from the project's root; a :class:`UsageError` if missing."""
    from coos_utils.book.pipeline import BookBuildError
    from coos_utils.book.pipeline import chapter_sources as sources

    root = project_root(command)
    try:
        return sources(root)
    except BookBuildError as exc:
        raise UsageError(str(exc)) from None


def add_data_options(
    p: argparse.ArgumentParser,
    profile_help: str = "the run profile: sizes, iterations and, without --data-dir, the "
    "synthetic data's scale",
    data_help: str = "the data: the real COOS-7 (HDF5 files or TIFF folders) or any folder in "
    "that format (default: the profile's synthetic data, simulated on first use)",
    seed_help: str = "seed of the run and of the synthetic data",
) -> None:
    """``--profile``, ``--data-dir`` and ``--seed``: which run, each said as ``*_help``."""
    p.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default="default",
        help=f"{profile_help} (default: %(default)s)",
    )
    p.add_argument("--data-dir", type=Path, default=None, help=data_help)
    p.add_argument("--seed", type=seed, default=0, help=f"{seed_help} (default: 0)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that compute features and tables."""
    add_data_options(p)
    p.add_argument(
        "--cache-dir",
        type=folder,
        default=None,
        help="the feature cache (default: ./.cache/features)",
    )
    p.add_argument("--n-jobs", type=int, default=-1, help="local worker processes (-1: all cores)")
    p.add_argument(
        "--dask-scheduler", default=None, help="run on this dask.distributed scheduler address"
    )
    p.add_argument(
        "--representations",
        nargs="+",
        default=None,
        metavar="NAME",
        type=representation,
        help="representations to use: names, or plug-ins as module:Class or file.py:Class "
        "(default: the profile's)",
    )


def add_stall_timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stall-timeout",
        type=seconds,
        default=None,
        metavar="SECONDS",
        help="stop, keeping the partial file for the next run, when less than 64 KiB arrive "
        "in this many seconds (default: the downloader's, 180)",
    )


def download_options(args: argparse.Namespace) -> dict[str, float]:
    """The download settings given on the command line; the downloader's defaults otherwise."""
    return {} if args.stall_timeout is None else {"stall_timeout": args.stall_timeout}
