"""``coos pack SRC DEST``: TIFF folders -> HDF5 split files (the inverse of ``unpack``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from coos_utils.commands.common import folder


def add_parser(sub: Any) -> None:
    p = sub.add_parser("pack", help="TIFF folders -> HDF5 split files (inverse of unpack)")
    p.add_argument("src", type=Path, help="folder holding <split>/ TIFF folders")
    p.add_argument("dest", type=folder, help="folder that receives the HDF5 files")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.data.convert import pack

    for path in pack(args.src, args.dest, progress=not args.quiet):
        print(f"wrote {path}")
    return 0
