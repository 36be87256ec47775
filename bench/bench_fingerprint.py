"""Time the full-content split fingerprint on a paper-scale split, beside the old 64-image sample.

Writes an HDF5 file laid out as the synthetic paper-scale ``train`` split (132,209 images of
2 x 64 x 64 uint16, chunks of 256 images, no compression, labels and a plate and well
column), with random pixels (generating the simulator's images takes much longer and does
not change the cost of hashing bytes). The file is given an old mtime, as downloaded data
has, so that its hash may be remembered. Then, for ``--runs`` runs each, it times:

- ``old sample``: the previous fingerprint (labels, metadata, attributes, 64 images);
- ``cold, page cache``: the full hash with nothing remembered, file in the OS page cache;
- ``cold, from disk``: the same after asking the kernel to drop the file's cached pages
  (``posix_fadvise(DONTNEED)``, best effort; it needs no privileges);
- ``warm, in process``: a second call in the same process (only labels and metadata hashed);
- ``warm, on-disk memo``: a new process's first call (nothing in memory; the memo file is read).

    python bench/bench_fingerprint.py [--n 132209] [--runs 3] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

PAPER_TRAIN_IMAGES = 132_209
BATCH = 4096
LONG_AGO_NS = 1_600_000_000 * 10**9


def write_split(path: Path, n: int, seed: int = 0) -> None:
    """A COOS-format file of ``n`` random images, as the synthetic writer lays it out."""
    from coos_utils.data.writer import Hdf5SplitWriter

    rng = np.random.default_rng(seed)
    with Hdf5SplitWriter(path, attrs={"origin": "bench_fingerprint"}, chunk_images=256) as out:
        for start in range(0, n, BATCH):
            k = min(BATCH, n - start)
            rows = np.arange(start, start + k)
            out.append(
                rng.integers(0, 2**16, size=(k, 2, 64, 64), dtype=np.uint16),
                rng.integers(0, 7, size=k),
                meta={
                    "plate": (rows // 2000).astype(np.int32),
                    "well": np.array([f"W{i % 96}" for i in rows], dtype=object),
                },
            )
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
    os.utime(path, ns=(LONG_AGO_NS, LONG_AGO_NS))


def old_fingerprint(split, n_samples: int = 64) -> str:  # noqa: ANN001 (a CoosSplit)
    """The fingerprint before issue 17: everything but the images, plus 64 sampled images."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([split.name, list(split.images.shape)]).encode())
    h.update(np.ascontiguousarray(split.labels).tobytes())
    h.update(pd.util.hash_pandas_object(split.meta, index=True).values.tobytes())
    h.update(json.dumps(split.attrs, sort_keys=True, default=str).encode())
    rows = np.unique(np.linspace(0, len(split) - 1, n_samples).astype(np.int64))
    h.update(np.ascontiguousarray(split.images[rows]).tobytes())
    return h.hexdigest()


def drop_page_cache(path: Path) -> None:
    """Ask the kernel to forget the file's cached pages (no effect where unsupported)."""
    if hasattr(os, "posix_fadvise"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(before: Callable[[], None], call: Callable[[], str], runs: int) -> tuple[float, str]:
    """The median wall time of ``call`` over ``runs`` runs, each after ``before``."""
    times, result = [], ""
    for _ in range(runs):
        before()
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def measure(folder: Path, runs: int) -> dict[str, float]:
    """Every timing of the module docstring, in seconds (median of ``runs``)."""
    from coos_utils.data import digest, load_split

    memo = Path(os.environ["COOS_CACHE_DIR"]) / "fingerprints"
    path = next(folder.glob("*.hdf5"))

    def nothing_remembered() -> None:
        digest.forget()
        shutil.rmtree(memo, ignore_errors=True)

    split = load_split(folder, "train")
    old, _ = timed(lambda: drop_page_cache(path), lambda: old_fingerprint(split), runs)
    cached, full = timed(nothing_remembered, split.fingerprint, runs)
    disk, _ = timed(lambda: (nothing_remembered(), drop_page_cache(path)), split.fingerprint, runs)
    split.fingerprint()
    warm, again = timed(lambda: None, split.fingerprint, runs)
    memo_read, from_memo = timed(digest.forget, split.fingerprint, runs)
    assert full == again == from_memo, "the remembered fingerprint differs from the computed one"
    return {
        "images": len(split),
        "gb": split.images.nbytes / 1e9,
        "old_sample_s": old,
        "cold_page_cache_s": cached,
        "cold_disk_s": disk,
        "warm_in_process_s": warm,
        "warm_memo_s": memo_read,
    }


def main() -> None:
    """Build (or reuse) the file, time every case, print a table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=PAPER_TRAIN_IMAGES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (temp if unset)")
    parser.add_argument("--keep", action="store_true", help="keep the file for another run")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench_fingerprint_"))
    folder = work / "data"
    os.environ["COOS_CACHE_DIR"] = str(work / "cache")
    try:
        path = folder / "COOS7_bench_train.hdf5"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            write_split(path, args.n)
            print(
                f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in "
                f"{time.perf_counter() - t0:.0f} s"
            )
        result = measure(folder, args.runs)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    mb = result["gb"] * 1000
    print(
        f"\n{result['images']} images, {result['gb']:.2f} GB of pixels; median of {args.runs} runs"
    )
    for label, key in [
        ("old 64-image sample", "old_sample_s"),
        ("cold, page cache", "cold_page_cache_s"),
        ("cold, from disk", "cold_disk_s"),
        ("warm, in process", "warm_in_process_s"),
        ("warm, on-disk memo", "warm_memo_s"),
    ]:
        rate = f"{mb / result[key]:8.0f} MB/s" if key.startswith("cold") else ""
        print(f"  {label:<22} {result[key]:9.3f} s {rate}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
