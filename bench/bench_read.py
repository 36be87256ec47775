"""Read a paper-sized training split by batches vs. with one h5py slice.

Writes a 41,456 x 2 x 64 x 64 uint16 file (679 MB, the size of COOS-7's train split), then
reads it several times each way, alternating, every read in a fresh subprocess so that its
peak resident memory (ru_maxrss) is its own. Prints MB/s and peak memory, medians and ratios.

    python bench/bench_read.py [--dir DIR] [--repeats 3] [--batch-size 1024]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_TRAIN = 41_456


def write_file(path: Path) -> None:
    """Write the benchmark file in 4,096-image chunks (never the whole array in memory)."""
    from coos_utils.data.writer import Hdf5SplitWriter

    rng = np.random.default_rng(0)
    with Hdf5SplitWriter(path) as writer:
        for start in range(0, N_TRAIN, 4096):
            n = min(4096, N_TRAIN - start)
            images = rng.integers(100, 4000, (n, 2, 64, 64), dtype=np.uint16)
            writer.append(images, rng.integers(0, 7, n))


def _child(mode: str, folder: str, batch_size: int) -> None:
    import resource

    import h5py

    from coos_utils.data import load_split

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    checksum = 0
    if mode == "batches":
        split = load_split(folder, "train")
        for batch in split.iter_batches(batch_size):
            checksum += int(batch.images[:, :, 0, 0].sum())
    else:
        path = next(Path(folder).glob("*train*.hdf5"))
        with h5py.File(path, "r") as handle:
            images = handle["data"][:]
        checksum = int(images[:, :, 0, 0].sum())
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_kb": peak, "base_kb": base, "checksum": checksum}))


def run(mode: str, folder: Path, batch_size: int) -> dict:
    """One timed read in a fresh interpreter."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--dir",
            str(folder),
            "--batch-size",
            str(batch_size),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--child", choices=("batches", "slice"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, str(args.dir), args.batch_size)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        if not any(folder.glob("*train*.hdf5")):
            t0 = time.perf_counter()
            write_file(folder / "BENCH_train.hdf5")
            print(f"wrote {N_TRAIN} images in {time.perf_counter() - t0:.1f} s")
        megabytes = N_TRAIN * 2 * 64 * 64 * 2 / 1e6
        results: dict[str, list[dict]] = {"batches": [], "slice": []}
        for _ in range(args.repeats):
            for mode in results:
                results[mode].append(run(mode, folder, args.batch_size))
        assert len({r["checksum"] for rs in results.values() for r in rs}) == 1
        print(
            f"\n{megabytes:.0f} MB, {args.repeats} runs each, medians "
            f"(batch size {args.batch_size} = {args.batch_size * 16384 / 1e6:.1f} MB):"
        )
        print(f"{'method':<28}{'MB/s':>10}{'peak RSS MB':>14}{'above start MB':>16}")
        summary = {}
        for mode, label in (
            ("batches", "load_split.iter_batches"),
            ("slice", "one h5py slice [:]"),
        ):
            rate = statistics.median(megabytes / r["seconds"] for r in results[mode])
            peak = statistics.median(r["peak_kb"] / 1024 for r in results[mode])
            above = statistics.median((r["peak_kb"] - r["base_kb"]) / 1024 for r in results[mode])
            summary[mode] = (rate, peak, above)
            print(f"{label:<28}{rate:>10.0f}{peak:>14.0f}{above:>16.0f}")
        b, s = summary["batches"], summary["slice"]
        print(f"\nthroughput ratio batches/slice: {b[0] / s[0]:.2f}")
        print(
            f"peak memory above the interpreter's start: batches {b[2]:.0f} MB, "
            f"one slice {s[2]:.0f} MB (the whole array)"
        )


if __name__ == "__main__":
    main()
