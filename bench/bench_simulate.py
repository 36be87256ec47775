"""Time the synthetic COOS-7 simulator and measure its peak memory.

Each run happens in a fresh subprocess, so that its peak resident memory (ru_maxrss) is its
own: the writing (main) process and, separately, the largest worker process. Prints wall
time, images per second, the two peaks and their conservative sum (main + workers x worker
peak), and the size written. The target: ``--scale paper`` in at most 5 minutes on 2 cores
with under 2 GB of memory.

    python bench/bench_simulate.py [--scale paper] [--workers 2] [--out DIR] [--seed 0]
    python bench/bench_simulate.py --scale small --workers 1,2     # compare worker counts
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LIMIT_S = 300.0
LIMIT_MB = 2048.0


def _child(out: str, scale: str, seed: int, workers: int) -> None:
    import resource
    import time

    from coos_utils.synthetic import simulate_dataset

    t0 = time.perf_counter()
    paths = simulate_dataset(out, scale=scale, seed=seed, workers=workers)
    wall = time.perf_counter() - t0
    import h5py

    images = 0
    for path in paths:
        with h5py.File(path, "r") as handle:
            images += handle["data"].shape[0]
    print(
        json.dumps(
            {
                "wall_s": wall,
                "images": images,
                "bytes": sum(p.stat().st_size for p in paths),
                "main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


def run(out: Path, scale: str, seed: int, workers: int) -> dict[str, float]:
    """One simulation in a fresh interpreter; returns its measurements."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from bench.bench_simulate import _child; "
        "_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))"
    )
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", code, root, str(out), scale, str(seed), str(workers)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scale", default="paper", choices=("tiny", "small", "paper"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", default="2", help="comma-separated worker counts to run")
    parser.add_argument(
        "--out", type=Path, default=None, help="keep the files here (else a temp dir)"
    )
    args = parser.parse_args()

    for workers in (int(w) for w in args.workers.split(",")):
        tmp = Path(tempfile.mkdtemp(prefix="coos-bench-sim-"))
        out = args.out / f"workers{workers}" if args.out else tmp / "data"
        try:
            r = run(out, args.scale, args.seed, workers)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        total_mb = r["main_mb"] + workers * r["worker_mb"] if workers > 1 else r["main_mb"]
        verdict = "ok" if r["wall_s"] <= LIMIT_S and total_mb <= LIMIT_MB else "OVER TARGET"
        print(
            f"scale={args.scale} seed={args.seed} workers={workers}: "
            f"{r['images']:,} images, {r['bytes'] / 2**30:.2f} GiB written\n"
            f"  wall time      {r['wall_s']:8.1f} s   ({r['images'] / r['wall_s']:,.0f} images/s)\n"
            f"  peak memory    main {r['main_mb']:7.0f} MB, "
            f"largest worker {r['worker_mb']:5.0f} MB, "
            f"total at most {total_mb:5.0f} MB\n"
            f"  target         <= {LIMIT_S:.0f} s and < {LIMIT_MB:.0f} MB: {verdict}"
        )


if __name__ == "__main__":
    main()
