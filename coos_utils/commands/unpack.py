"""``coos unpack SRC DEST``: HDF5 split files -> TIFF folders in the authors' layout."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from coos_utils.commands.common import folder


def add_parser(sub: Any) -> None:
    p = sub.add_parser("unpack", help="HDF5 split files -> TIFF folders (authors' layout)")
    p.add_argument("src", type=Path, help="an HDF5 file or a folder of them")
    p.add_argument("dest", type=folder, help="folder that receives <split>/<label>/*.tif")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.data.convert import unpack

    for path in unpack(args.src, args.dest, progress=not args.quiet):
        print(f"wrote {path}")
    return 0
