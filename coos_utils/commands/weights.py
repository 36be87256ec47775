"""``coos weights vgg16``: the pretrained weights a representation loads, fetched and checked."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from coos_utils.commands.common import add_stall_timeout, download_options, folder


def add_parser(sub: Any) -> None:
    p = sub.add_parser("weights", help="fetch pretrained weights (VGG16 on ImageNet)")
    p.add_argument("name", choices=("vgg16",), help="the weights to fetch")
    p.add_argument("--dest", type=folder, default=None, help="default: torch hub checkpoints")
    p.add_argument("--url", default=None, help="mirror of the published file (for tests)")
    add_stall_timeout(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.models.weights import WeightsError, download_weights

    try:
        path = download_weights(
            args.name, args.dest, args.url, progress=not args.quiet, **download_options(args)
        )
    except WeightsError as exc:
        print(f"coos weights: error: {exc}", file=sys.stderr)
        return 2
    print(f"have {path}")
    return 0
