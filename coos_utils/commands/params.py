"""``coos params``: every chapter's parameters as a Markdown table."""

from __future__ import annotations

import argparse
from typing import Any

from coos_utils.commands.common import chapter_sources


def add_parser(sub: Any) -> None:
    p = sub.add_parser("params", help="print every chapter's parameters as a Markdown table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.book.parameters import parameters_markdown

    print(parameters_markdown(chapter_sources("params")))
    return 0
