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
    from coos_utils.pipeline import BookBuildError, build_book

    try:
        build_book(args.profile, data_dir=args.data_dir, seed=args.seed, html=not args.no_html)
    except BookBuildError as exc:
        print(f"coos book: {exc}", file=sys.stderr)
        return 1
    return 0


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
