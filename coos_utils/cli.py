"""The ``coos`` command: data conversion, download, simulation, features, tables, the book."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from coos_utils.data.errors import CoosDataError

Handler = Callable[[argparse.Namespace], int]


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

    for path in download(args.dest, base_url=args.base_url, progress=not args.quiet):
        print(f"have {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from coos_utils.synthetic import simulate_dataset

    for path in simulate_dataset(
        args.out, scale=args.scale, seed=args.seed, progress=not args.quiet
    ):
        print(f"wrote {path}")
    return 0


def _book(args: argparse.Namespace) -> int:
    from coos_utils.book.pipeline import BookBuildError, build_book

    try:
        build_book(args.profile, data_dir=args.data_dir, seed=args.seed, html=not args.no_html)
    except BookBuildError as exc:
        print(f"coos book: {exc}", file=sys.stderr)
        return 1
    return 0


def _features(args: argparse.Namespace) -> int:
    from coos_utils.benchmark.table3 import load_splits
    from coos_utils.features import features_for, make_representation
    from coos_utils.profiles import get_profile, resolve_data_dir

    profile = get_profile(args.profile)
    splits = load_splits(resolve_data_dir(args.data_dir, args.profile, args.seed))
    for name in args.representations:
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
    from coos_utils.benchmark.table3 import run_table3
    from coos_utils.book.context import setup_chapter
    from coos_utils.features import make_representation
    from coos_utils.results.store import write_table3

    run = setup_chapter(
        "03_classifiers",
        args.data_dir,
        args.profile,
        args.seed,
        args.results_dir,
        representations=args.representations,
    )
    reps = [
        make_representation(
            name,
            run.profile.representation_params.get(name),
            n_jobs=args.n_jobs,
            progress=not args.quiet,
        )
        for name in args.representations
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
    written = write_table3(
        run.folder, result.table, result.predictions, result.labels, result.class_names
    )
    print(f"Table 3, balanced error % ({run.label})")
    columns = ["features", "model", "cv_error", *result.labels]
    print(result.table[columns].round(1).to_string(index=False))
    print(f"wrote {len(written)} files under {run.folder}")
    return 0


def _representation(name: str) -> str:
    from coos_utils.features import REPRESENTATIONS

    if name not in REPRESENTATIONS:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(REPRESENTATIONS)}")
    return name


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that compute features and tables."""
    p.add_argument("--profile", choices=("smoke", "default", "paper"), default="default")
    p.add_argument("--data-dir", type=Path, default=None, help="real COOS-7 (default: synthetic)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", type=Path, default=None, help="default: ./.cache/features")
    p.add_argument("--n-jobs", type=int, default=-1, help="local worker processes (-1: all cores)")
    p.add_argument(
        "--dask-scheduler", default=None, help="run on this dask.distributed scheduler address"
    )
    p.add_argument(
        "--representations",
        nargs="+",
        default=["texture"],
        metavar="NAME",
        type=_representation,
        help="representations to use (default: texture)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coos", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("unpack", help="HDF5 split files -> TIFF folders (authors' layout)")
    p.add_argument("src", type=Path, help="an HDF5 file or a folder of them")
    p.add_argument("dest", type=Path, help="folder that receives <split>/<label>/*.tif")
    p.set_defaults(handler=_unpack)

    p = sub.add_parser("pack", help="TIFF folders -> HDF5 split files (inverse of unpack)")
    p.add_argument("src", type=Path, help="folder holding <split>/ TIFF folders")
    p.add_argument("dest", type=Path, help="folder that receives the HDF5 files")
    p.set_defaults(handler=_pack)

    p = sub.add_parser("download", help="fetch COOS-7 from Zenodo record 3386336")
    p.add_argument("dest", type=Path)
    p.add_argument("--base-url", default=None, help="mirror of zenodo.org (for tests)")
    p.set_defaults(handler=_download)

    p = sub.add_parser("simulate", help="write the synthetic COOS-7 stand-in")
    p.add_argument("--scale", choices=("tiny", "small", "paper"), default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(handler=_simulate)

    p = sub.add_parser("book", help="run every chapter with papermill and render the book")
    p.add_argument("--profile", choices=("smoke", "default", "paper"), default="default")
    p.add_argument("--data-dir", type=Path, default=None, help="real COOS-7 (default: synthetic)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-html", action="store_true", help="run the chapters only")
    p.set_defaults(handler=_book)

    p = sub.add_parser(
        "features", help="compute (or read from the cache) the features of every split"
    )
    _add_run_options(p)
    p.set_defaults(handler=_features)

    p = sub.add_parser("table3", help="the paper's Table 3: classifiers on every representation")
    _add_run_options(p)
    p.add_argument("--results-dir", type=Path, default=Path("results"))
    p.set_defaults(handler=_table3)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``coos`` command line; bad input ends with a one-line message, exit code 2."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except CoosDataError as exc:
        print(f"coos {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
