"""Benchmark: chapter 02's work (train DeepLoc and PCI, extract DeepLoc, VGG16 and PCI from
every split) one after the other on every core, against side by side on one core each
(:func:`coos_utils.benchmark.learned.train_and_extract`, the default profile since
2026-12-04).

Run from the repository root::

    .venv/bin/python bench/bench_side_by_side.py [--iterations 250] [--images 1200]

Both sides use the default profile's networks and sizes but for the training iterations
(``--iterations``, validation every 100) on the default synthetic data (``small``, seed 0,
or ``--data``) cut to its first ``--images`` images per split. "One after the other" is the
package before the change: each network trains and extracts in this process on all its
cores (``train_threads`` None); "side by side" runs the two trainings and VGG16's split-by-
split extractions in as many single-threaded worker processes as there are cores. Each side
starts from an empty cache; the sides take turns, ``--rounds`` times; the median wall time of
each is printed with the ratio. Both sides use all the cores of the machine, so the ratio is
per core too. Then the outputs: VGG16's features must be identical (no training; one thread
or two give the same bits), DeepLoc's and PCI's differ in their last bits (one training
thread sums the gradients in another order than two), so their largest difference and each
network's chosen validation score are printed side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from coos_utils.benchmark.learned import train_and_extract
from coos_utils.benchmark.representations import make_representations
from coos_utils.data import CoosSplit, load_splits
from coos_utils.features import features_for
from coos_utils.parallel import usable_cores
from coos_utils.profiles import get_profile
from coos_utils.synthetic import ensure_synthetic

NETWORKS = ["deeploc", "vgg16", "pci"]
SIDES = {"one after the other, every core": None, "side by side, one core each": 1}


def cut(splits: dict[str, CoosSplit], images: int) -> dict[str, CoosSplit]:
    """Each split's first ``images`` images, in memory."""
    return {
        name: dataclasses.replace(
            split,
            images=np.asarray(split.images[:images]),
            labels=split.labels[:images],
            meta=split.meta.iloc[:images],
        )
        for name, split in splits.items()
    }


def networks(iterations: int, train_threads: int | None) -> list:
    """The default profile's three networks, ``iterations`` long, on ``train_threads``."""
    params = {name: dict(get_profile("default").representation_params[name]) for name in NETWORKS}
    for name in ("deeploc", "pci"):
        params[name].update(iterations=iterations, train_threads=train_threads)
    return make_representations(NETWORKS, params, progress=False)


def run_side(
    train_threads: int | None, splits: dict[str, CoosSplit], cache: Path, iterations: int
) -> tuple[float, pd.DataFrame, list]:
    reps = networks(iterations, train_threads)
    start = time.perf_counter()
    history, _ = train_and_extract(reps, splits, cache, progress=False)
    return time.perf_counter() - start, history, reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=250)
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--data", type=Path, help="a COOS-7 folder (default: small synthetic)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or ensure_synthetic(Path(tmp) / "data", "small", 0)
        splits = cut(load_splits(data), args.images)
        walls: dict[str, list[float]] = {side: [] for side in SIDES}
        kept: dict[str, tuple[pd.DataFrame, list, Path]] = {}
        for round_ in range(args.rounds):
            for side, threads in SIDES.items():
                cache = Path(tmp) / f"cache-{round_}-{threads}"
                wall, history, reps = run_side(threads, splits, cache, args.iterations)
                walls[side].append(wall)
                kept[side] = (history, reps, cache)
                print(f"round {round_ + 1}, {side}: {wall:.1f} s", flush=True)
        sizes = ", ".join(f"{name} {len(split)}" for name, split in splits.items())
        print(f"\n{usable_cores()} cores; images: {sizes}; {args.iterations} iterations\n")
        print("| side | wall s (median) | ratio |")
        print("| --- | ---: | ---: |")
        base = statistics.median(walls[next(iter(SIDES))])
        for side, times in walls.items():
            wall = statistics.median(times)
            print(f"| {side} | {wall:.1f} | {base / wall:.2f}x |")
        print("\n| network | output | largest difference | chosen validation score |")
        print("| --- | --- | ---: | --- |")
        (h_a, reps_a, cache_a), (h_b, reps_b, cache_b) = kept.values()
        for rep_a, rep_b in zip(reps_a, reps_b, strict=True):
            a = features_for(rep_a, splits, cache_dir=cache_a)
            b = features_for(rep_b, splits, cache_dir=cache_b)
            scores = ""
            if rep_a.learns:
                chosen = [h[(h["representation"] == rep_a.name) & h["chosen"]] for h in (h_a, h_b)]
                scores = " against ".join(f"{c['val_score'].iloc[0]:.4g}" for c in chosen)
            for output, entries in a.entries.items():
                largest = max(
                    float(np.abs(e.values - b.entries[output][s].values).max())
                    for s, e in entries.items()
                )
                print(f"| {rep_a.name} | {output} | {largest:.3g} | {scores} |")


if __name__ == "__main__":
    main()
