"""``coos download DEST``: the COOS-7 files of Zenodo record 3386336, resumed and checked."""

from __future__ import annotations

import argparse
from typing import Any

from coos_utils.commands.common import add_stall_timeout, download_options, folder


def add_parser(sub: Any) -> None:
    p = sub.add_parser("download", help="fetch COOS-7 from Zenodo record 3386336")
    p.add_argument("dest", type=folder, help="folder that receives the HDF5 files")
    p.add_argument("--base-url", default=None, help="mirror of zenodo.org (for tests)")
    add_stall_timeout(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.data.download import download

    found = download(
        args.dest, base_url=args.base_url, progress=not args.quiet, **download_options(args)
    )
    for path in found:
        print(f"have {path}")
    return 0
