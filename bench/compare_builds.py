"""Benchmark: `make book` of two commits, each alone from a fresh clone, and their tables diffed.

Run from the repository root::

    .venv/bin/python bench/compare_builds.py --before 099d7d4 --after HEAD --work /tmp/builds

For each commit it clones this repository into ``<work>/<label>``, keeps the virtual
environment already there (``make test`` or an earlier run made it; ``--fresh-venv`` makes a
new one first, outside the timed part), removes everything else the build writes (data,
caches, results, the rendered book), and times ``make book`` alone with the stage log of
:mod:`coos_utils.stages` switched on and the machine's busy cores sampled every second
(``<work>/<label>.cpu.jsonl``, which ``bench/bench_book.py`` reads). The two builds run one
after the other, never side by side. ``--phase before`` or ``--phase after`` runs one of them
(its log stays in ``<work>``), ``--phase compare`` only compares two logged builds.

It prints each chapter's seconds (from the pipeline's ``done in`` lines), the totals, their
ratio (both builds use the same cores, so the ratio per core is the same), then compares every
CSV under ``results/`` of the two builds: files only one build wrote, and cells that differ
(numbers compared exactly; ``--tolerance`` allows a relative difference).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BUILD_OUTPUTS = ("data", ".cache", "results", "_build", "book/_generated")
DONE = re.compile(r"^\s+(\S+): done in (\d+) s")


def full_sha(commit: str) -> str:
    """``commit`` (a name or a short hash) of this repository as a full hash."""
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{commit}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def clone(commit: str, where: Path, fresh_venv: bool) -> None:
    """A clone of ``commit`` at ``where`` with nothing a build writes, its venv kept."""
    if not (where / ".git").exists():
        subprocess.run(["git", "clone", "-q", str(REPO), str(where)], check=True)
    refs = "+refs/heads/*:refs/remotes/source/*"
    subprocess.run(["git", "-C", str(where), "fetch", "-q", str(REPO), refs], check=True)
    subprocess.run(["git", "-C", str(where), "checkout", "-q", "--force", commit], check=True)
    for name in BUILD_OUTPUTS:
        shutil.rmtree(where / name, ignore_errors=True)
    if fresh_venv:
        shutil.rmtree(where / ".venv", ignore_errors=True)
    subprocess.run(["make", "-s", ".venv/.installed"], cwd=where, check=True)


@contextmanager
def sampling_cpu(path: Path, every: float = 1.0) -> Iterator[None]:
    """While the block runs, append to ``path`` once per ``every`` seconds how many cores
    the whole machine kept busy and, on a virtual machine, how many its host gave to other
    guests meanwhile (``{"t": end of the interval, "busy": cores, "steal": cores}``). The
    build runs alone, so ``busy`` is the build's; ``steal`` above zero says the cores were
    not the build's alone (a slower build on another day may be that, not the code)."""
    import psutil

    path.unlink(missing_ok=True)
    stop, cores = threading.Event(), psutil.cpu_count()

    def sample() -> None:
        psutil.cpu_times_percent()
        with path.open("a") as out:
            while not stop.wait(every):
                shares = psutil.cpu_times_percent()
                steal = getattr(shares, "steal", 0.0) / 100 * cores
                busy = (100 - shares.idle - getattr(shares, "iowait", 0.0)) / 100 * cores
                sample = {"t": time.time(), "busy": round(busy - steal, 3)}
                out.write(json.dumps({**sample, "steal": round(steal, 3)}) + "\n")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()


def build(label: str, commit: str, work: Path, fresh_venv: bool) -> dict:
    """Time ``make book`` of ``commit``; its record (seconds, chapters, commit) in ``work``."""
    where = work / label
    clone(commit, where, fresh_venv)
    sha = subprocess.run(
        ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    stage_log = work / f"{label}.stages.jsonl"
    stage_log.unlink(missing_ok=True)
    env = dict(os.environ, COOS_STAGE_LOG=str(stage_log))
    print(f"{label}: make book at {sha[:10]} in {where} ...", flush=True)
    start = time.perf_counter()
    with sampling_cpu(work / f"{label}.cpu.jsonl"):
        done = subprocess.run(
            ["make", "book"], cwd=where, env=env, capture_output=True, text=True, check=False
        )
    seconds = time.perf_counter() - start
    (work / f"{label}.log").write_text(done.stdout + done.stderr)
    chapters = {m[1]: int(m[2]) for m in map(DONE.match, done.stdout.splitlines()) if m}
    record = {
        "label": label,
        "commit": sha,
        "seconds": seconds,
        "returncode": done.returncode,
        "chapters": chapters,
        "cores": len(os.sched_getaffinity(0)),
    }
    (work / f"{label}.json").write_text(json.dumps(record, indent=1))
    print(f"{label}: exit {done.returncode}, {seconds:.0f} s", flush=True)
    return record


def csv_files(root: Path) -> dict[str, Path]:
    """Every CSV under ``root/results``, by its path below ``results``."""
    base = root / "results"
    return {str(p.relative_to(base)): p for p in sorted(base.rglob("*.csv"))}


def _same(a: object, b: object, tolerance: float) -> bool:
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or abs(x - y) <= tolerance * max(abs(x), abs(y))


def diff_csv(a: Path, b: Path, tolerance: float = 0.0) -> list[str]:
    """The differences between two CSVs: columns added or removed, rows, then up to 5 cells
    that differ in the columns both have."""
    left = pd.read_csv(a, dtype=str, keep_default_na=False)
    right = pd.read_csv(b, dtype=str, keep_default_na=False)
    notes = []
    added = [c for c in right.columns if c not in left.columns]
    removed = [c for c in left.columns if c not in right.columns]
    if added or removed:  # compare the columns both have
        notes.append(f"columns added {added or '-'}, removed {removed or '-'}")
    if left.shape[0] != right.shape[0]:
        return [*notes, f"{left.shape[0]} rows before, {right.shape[0]} after"]
    common = [c for c in left.columns if c in right.columns]
    cells = [
        f"row {i}, {col}: {x!r} -> {y!r}"
        for col in common
        for i, (x, y) in enumerate(zip(left[col], right[col], strict=True))
        if not _same(x, y, tolerance)
    ]
    more = [f"... {len(cells) - 5} more cells"] if len(cells) > 5 else []
    return notes + cells[:5] + more


def compare_tables(before: Path, after: Path, tolerance: float = 0.0) -> dict[str, list[str]]:
    """Per CSV path, its differences (empty: identical), files of one build included."""
    old, new = csv_files(before), csv_files(after)
    report: dict[str, list[str]] = {}
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            report[name] = ["only before"]
        elif name not in old:
            report[name] = ["only after"]
        else:
            report[name] = diff_csv(old[name], new[name], tolerance)
    return report


def print_times(records: list[dict]) -> None:
    """Chapter seconds side by side, the totals and their ratio."""
    names = sorted({c for r in records for c in r["chapters"]})
    print("\n| chapter | " + " | ".join(f"{r['label']} s" for r in records) + " |")
    print("| --- |" + " ---: |" * len(records))
    for name in names:
        cells = [str(r["chapters"].get(name, "-")) for r in records]
        print(f"| {name} | " + " | ".join(cells) + " |")
    totals = [f"{r['seconds']:.0f} ({r['seconds'] / 60:.1f} min)" for r in records]
    print("| `make book` | " + " | ".join(totals) + " |")
    if len(records) == 2:
        a, b = records
        print(
            f"\nafter / before: {b['seconds'] / a['seconds']:.2f} on {b['cores']} and "
            f"{a['cores']} cores (the same per core when equal); exit codes "
            f"{a['returncode']} and {b['returncode']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="099d7d4")
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--work", type=Path, default=Path("/tmp/builds"))
    parser.add_argument("--phase", choices=("both", "before", "after", "compare"), default="both")
    parser.add_argument("--fresh-venv", action="store_true")
    parser.add_argument("--tolerance", type=float, default=0.0)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for label in ("before", "after") if args.phase == "both" else (args.phase,):
        if label != "compare":
            commit = args.before if label == "before" else args.after
            build(label, full_sha(commit), args.work, args.fresh_venv)
    logged = [args.work / f"{label}.json" for label in ("before", "after")]
    if not all(p.exists() for p in logged):
        return
    print_times([json.loads(p.read_text()) for p in logged])
    report = compare_tables(args.work / "before", args.work / "after", args.tolerance)
    differing = {name: lines for name, lines in report.items() if lines}
    print(f"\n{len(report)} CSV files, {len(report) - len(differing)} identical")
    for name, lines in differing.items():
        print(f"- {name}: " + "; ".join(lines))
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
