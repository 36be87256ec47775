"""``coos features``: compute (or read from the cache) every split's features of the profile's
representations, for the run's data (:func:`~coos_utils.book.run_context.make_run_context`)."""

from __future__ import annotations

import argparse
from typing import Any

from coos_utils.commands.common import add_run_options


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "features", help="compute (or read from the cache) the features of every split"
    )
    add_run_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from coos_utils.benchmark.representations import make_representation
    from coos_utils.book.run_context import make_run_context
    from coos_utils.features import features_for

    context = make_run_context(args.data_dir, args.profile, args.seed, cache_dir=args.cache_dir)
    for name in args.representations or context.profile.representations:
        rep = make_representation(
            name,
            context.profile.representation_params.get(name),
            n_jobs=args.n_jobs,
            progress=not args.quiet,
        )
        found = features_for(rep, context.splits, cache_dir=context.feature_cache)
        for output, entries in found.entries.items():
            for split, entry in entries.items():
                rows, columns = entry.values.shape
                how = "cached" if entry.hit else "computed"
                print(f"{name}/{output} {split}: {rows} x {columns} ({how}) {entry.path}")
    return 0
