"""Benchmark: texture features for every image of COOS-7-sized data, package path vs plain loop.

Run from the repository root::

    .venv/bin/python bench/bench_texture.py                 # paper-scale synthetic data
    .venv/bin/python bench/bench_texture.py --data-dir DIR  # any data load_split reads

Without ``--data-dir`` the paper-scale synthetic stand-in (132,209 images) is generated on
first use under ``--work-dir``. The package path (``TextureFeatures`` on ``--n-jobs``
processes, each reading its own batches from disk) runs over all five splits; the plain loop
(one image at a time through mahotas in this process, written here independently of the
package) runs over the first ``--loop-images`` training images, and the two are checked to
agree on those images. Printed: images/s of both, their ratio, the projected time of the
plain loop on all images, and the peak memory (this process plus its workers).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mahotas
import numpy as np
import psutil

from coos_utils.data import CoosSplit, load_split
from coos_utils.features.texture import TextureFeatures, quantise, rescale_unit
from coos_utils.reference import SPLIT_NAMES


def machine_busy_seconds() -> float:
    """CPU seconds spent by everything on this machine (Linux /proc/stat), all cores summed."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_busy_seconds() -> float:
    """CPU seconds of this process and its live and finished children."""
    me = psutil.Process()
    times = me.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in me.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total


class PeakMemory:
    """Samples the resident memory of this process and all its children in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def plain_loop(split: CoosSplit, n_images: int, grey_levels: int) -> np.ndarray:
    """What one would write by hand: read each image, rescale, quantise, call mahotas."""
    rows = []
    for i in range(n_images):
        image = split.images[i].astype(np.float64)
        protein = image[0]
        span = protein.max() - protein.min()
        unit = (protein - protein.min()) / span if span > 0 else np.zeros_like(protein)
        levels = np.minimum(np.floor(unit * grey_levels), grey_levels - 1).astype(np.uint8)
        haralick = [
            mahotas.features.haralick(levels, distance=d, return_mean=True) for d in range(1, 6)
        ]
        corr = np.corrcoef(protein.ravel(), image[1].ravel())[0, 1]
        stats = [unit.mean(), unit.sum(), unit.std(), corr if np.isfinite(corr) else 0.0]
        rows.append(np.concatenate([*haralick, stats]))
    return np.array(rows)


def level_costs(images: np.ndarray, levels: tuple[int, ...], repeats: int = 3) -> dict[int, float]:
    """Milliseconds per image (best of ``repeats``) for 5-distance Haralick features by levels."""
    costs = {}
    for n_levels in levels:
        unit = rescale_unit(images[:, 0])
        quantised = quantise(unit, n_levels)
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            for q in quantised:
                for d in range(1, 6):
                    mahotas.features.haralick(q, distance=d, return_mean=True)
            best = min(best, time.perf_counter() - start)
        costs[n_levels] = 1000 * best / len(images)
    return costs


@dataclass
class Run:
    """Wall time, CPU time (ours and the rest of the machine's) and peak memory of one call."""

    result: Any
    wall_s: float
    own_cpu_s: float
    other_cpu_s: float
    peak_bytes: int

    def describe(self, images: int) -> str:
        return (
            f"{images} images in {self.wall_s:.1f} s = {images / self.wall_s:.0f} images/s; "
            f"peak memory {self.peak_bytes / 2**20:.0f} MiB (this process + workers); "
            f"CPU: ours {self.own_cpu_s / self.wall_s:.2f} cores, "
            f"other work on the machine {self.other_cpu_s / self.wall_s:.2f} cores; "
            f"{images / self.own_cpu_s:.0f} images per CPU-second"
        )


def measure(work: Callable[[], Any]) -> Run:
    """Run ``work()`` and record what it cost."""
    busy, own = machine_busy_seconds(), own_busy_seconds()
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = work()
        wall = time.perf_counter() - start
    busy, own = machine_busy_seconds() - busy, own_busy_seconds() - own
    return Run(result, wall, own, max(busy - own, 0.0), memory.peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, default=Path("data/synthetic"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--grey-levels", type=int, default=64)
    parser.add_argument("--loop-images", type=int, default=2000)
    parser.add_argument("--level-images", type=int, default=100, help="0 skips the level table")
    args = parser.parse_args()

    if args.data_dir is None:
        from coos_utils.synthetic import ensure_synthetic

        args.data_dir = ensure_synthetic(args.work_dir, "paper", args.seed)
    splits = {name: load_split(args.data_dir, name) for name in SPLIT_NAMES}
    total = sum(len(s) for s in splits.values())
    cores = psutil.cpu_count()
    print(f"data: {splits['train'].data_label}, {total} images in {len(splits)} splits")
    print(f"cores: {cores}, n_jobs={args.n_jobs}, grey levels={args.grey_levels}")

    transformer = TextureFeatures(
        grey_levels=args.grey_levels, batch_size=args.batch_size, n_jobs=args.n_jobs
    )
    package = measure(lambda: {name: transformer.transform(s) for name, s in splits.items()})
    print(f"package path: {package.describe(total)}")
    print(f"  all {total} images took {package.wall_s / 60:.1f} min")

    n_loop = min(args.loop_images, len(splits["train"]))
    loop = measure(lambda: plain_loop(splits["train"], n_loop, args.grey_levels))
    print(f"plain loop:   {loop.describe(n_loop)}")
    loop_rate = n_loop / loop.wall_s
    print(f"  projected for all {total} images: {total / loop_rate / 60:.1f} min")
    ratio = (total / package.wall_s) / loop_rate
    per_cpu = (total / package.own_cpu_s) / (n_loop / loop.own_cpu_s)
    print(f"speed-up of the package path: {ratio:.2f}x in wall time, {per_cpu:.2f}x per CPU-second")
    idle_min = package.own_cpu_s / cores / 60
    print(
        f"projected on {cores} otherwise idle cores: package {idle_min:.1f} min, "
        f"plain loop {total / loop_rate / 60:.1f} min (it uses one core)"
    )
    same = np.allclose(loop.result, package.result["train"][:n_loop], rtol=1e-9, atol=1e-12)
    print(f"features agree with the plain loop on those {n_loop} images: {same}")

    if args.level_images:
        sample = splits["train"].images[: args.level_images]
        costs = level_costs(sample, (16, 32, 64, 128, 256))
        print("Haralick cost per image, 5 distances, one core (ms), by number of grey levels:")
        for n_levels, ms in costs.items():
            projected = total * ms / 1000 / cores / 60
            print(
                f"  {n_levels:>3} levels: {ms:6.1f} ms "
                f"(about {projected:.1f} min for all images on {cores} idle cores)"
            )


if __name__ == "__main__":
    main()
