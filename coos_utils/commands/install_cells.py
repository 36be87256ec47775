"""``coos install-cells``: point every chapter's install cell at ``_config.yml``'s repository."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from coos_utils.commands.common import chapter_sources


def add_parser(sub: Any) -> None:
    p = sub.add_parser("install-cells", help="point chapters' install cells at _config.yml's repo")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.book.publish import repository_url, sync_install_cells

    sources = chapter_sources("install-cells")
    root = Path(".")
    for path in sync_install_cells(root, sources):
        print(f"updated {path}")
    print(f"every chapter installs from {repository_url(root)}")
    return 0
