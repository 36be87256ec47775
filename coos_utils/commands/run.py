"""``coos run CHAPTER -p NAME VALUE ...``: one chapter with papermill, with the same rerun keys
and results folder as ``coos book``; parameters are checked before anything runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from coos_utils.commands.common import file, project_root


def add_parser(sub: Any) -> None:
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
    p.add_argument("--output", type=file, default=None, help="also copy the executed notebook here")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.book.chapters import chapter
    from coos_utils.book.parameters import chapter_parameters, check_given, parse_given

    root = project_root("run")
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
