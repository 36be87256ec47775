"""``coos book``: run every chapter with papermill (skipping those whose keys are unchanged)
and render the book."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from coos_utils.commands.common import add_data_options, project_root


def add_parser(sub: Any) -> None:
    p = sub.add_parser("book", help="run every chapter with papermill and render the book")
    add_data_options(p)
    p.add_argument("--no-html", action="store_true", help="run the chapters only")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.book.pipeline import BookBuildError, RunInterrupted, build_book

    project_root("book")
    try:
        build_book(args.profile, data_dir=args.data_dir, seed=args.seed, html=not args.no_html)
    except BookBuildError as exc:
        print(f"coos book: {exc}", file=sys.stderr)
        return 1
    except RunInterrupted as exc:
        print(f"coos book: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
