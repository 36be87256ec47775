"""``coos simulate --out DIR``: write the synthetic COOS-7 stand-in (the same file format)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from coos_utils.commands.common import folder, seed

SCALES = {
    "tiny": "1/50 of COOS-7's split sizes (tests, the smoke profile)",
    "small": "1/10 (the default profile)",
    "paper": "COOS-7's exact split sizes",
}
"""The scales and what each means (:data:`coos_utils.synthetic.design.SCALES`)."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="write the synthetic COOS-7 stand-in",
        description="Write the five simulated splits (train, test1..test4) as HDF5 files, in "
        "COOS-7's format and with its shifts; the same scale and seed give byte-identical "
        "files. Ctrl-C keeps the splits already finished, never a partial one.",
    )
    p.add_argument(
        "--scale",
        choices=tuple(SCALES),
        default="small",
        help="how many images: "
        + "; ".join(f"{k}: {v}" for k, v in SCALES.items())
        + " (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=seed,
        default=0,
        help="seed of the simulation, 0 to 2**32 - 1 (default: 0); the data id names it",
    )
    p.add_argument(
        "--out", type=folder, required=True, help="folder that receives the HDF5 files (made)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.synthetic import simulate_dataset

    try:
        paths = simulate_dataset(
            args.out, scale=args.scale, seed=args.seed, progress=not args.quiet
        )
    except KeyboardInterrupt:  # files are written whole or not at all
        print(
            "coos simulate: interrupted by Ctrl-C; finished splits are kept, a partial one is not",
            file=sys.stderr,
        )
        return 130
    for path in paths:
        print(f"wrote {path}")
    return 0
