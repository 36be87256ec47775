"""``coos publish DEST``: unexecuted ``.ipynb`` chapters and a ``requirements.txt`` for Colab."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from coos_utils.commands.common import chapter_sources, folder


def add_parser(sub: Any) -> None:
    p = sub.add_parser("publish", help="unexecuted .ipynb chapters + requirements.txt for Colab")
    p.add_argument("dest", type=folder, help="the built site, e.g. _build/html")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.book.publish import publish_notebooks

    sources = chapter_sources("publish")
    for path in publish_notebooks(Path("."), sources, args.dest):
        print(f"wrote {path}")
    return 0
