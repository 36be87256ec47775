"""Benchmark: where the time of one `make book` goes, stage by stage.

Run from the repository root::

    .venv/bin/python bench/bench_book.py --run                # build HEAD in /tmp/builds/book
    .venv/bin/python bench/bench_book.py --log FILE [--total SECONDS]   # report a logged build

``--run`` clones this repository's HEAD into ``<work>/book`` (its venv kept, everything a build
writes removed, as ``bench/compare_builds.py`` does) and times ``make book`` alone with the
stage log of :mod:`coos_utils.stages` on. ``bench/compare_builds.py`` writes the same log for
each of its two builds (``<work>/<label>.stages.jsonl``), which ``--log`` reports.

It prints, per chapter, the seconds of each kind of stage (simulate, train each CNN, extract
each representation, each classifier search, bootstrap, DG training and testing per method,
shift measures, ablations, render) with their count and share of the whole build, the part of
each chapter no stage covers, and for the CNN stages the GFLOP/s achieved next to what the
same cores reach on a large fp32 matrix product (torch, as many threads as the build's torch
used): the median of the products the build itself timed before each chapter
(:func:`~coos_utils.stages.log_matmul_reference`), or, for a log without them, one measured
now. Stages that run side by side (the DG trials on two workers) can add up to more than
their chapter; each chapter's covered time counts overlapping stages once. Training FLOPs are
counted on the first iteration (forward, backward, optimiser) and credited to every
iteration; extraction FLOPs on the first batch, per image.

With the build's CPU samples (``<log>`` with ``.cpu.jsonl`` for ``.stages.jsonl``, written by
``bench/compare_builds.py``), each row also gives the cores the machine kept busy during it, on
average over its intervals: a chapter below the machine's core count left cores idle. A
header line gives the cores the host of a virtual machine gave to other guests meanwhile
(steal, sampled since 2026-12-04): above zero, the build did not have its cores alone, and its
seconds are not comparable with another build's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

import torch

from coos_utils.parallel import usable_cores
from coos_utils.stages import MATMUL_SIZE, REFERENCE


def matmul_gflops(threads: int, repeats: int = 5) -> float:
    """Median GFLOP/s of an fp32 ``MATMUL_SIZE`` square matrix product on ``threads``."""
    torch.set_num_threads(threads)
    a, b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    a @ b  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * MATMUL_SIZE**3 / statistics.median(times) / 1e9


def logged_reference(records: list[dict]) -> float | None:
    """Median GFLOP/s of the matrix products timed during the build (None if it timed none)."""
    speeds = [r["flop"] / r["seconds"] / 1e9 for r in records if r["stage"] == REFERENCE]
    return statistics.median(speeds) if speeds else None


def read_log(path: Path) -> list[dict]:
    """The stage records of one build, in order of their start."""
    lines = path.read_text().splitlines()
    return sorted((json.loads(line) for line in lines if line.strip()), key=lambda r: r["start"])


def covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of ``intervals``."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def group_of(record: dict, detail: bool) -> str:
    """The row a stage adds to: its name and the representation, method or layer it ran."""
    words = record["detail"].split()
    if detail or not words:
        return f"{record['stage']} {record['detail']}".strip()
    return f"{record['stage']} {words[0]}"


def chapter_of(record: dict, chapters: list[dict]) -> str:
    """The chapter whose run contains the record's start; otherwise "(outside chapters)"."""
    for chapter in chapters:
        if chapter["start"] <= record["start"] <= chapter["end"]:
            return chapter["detail"]
    return "(outside chapters)"


def _samples(path: Path) -> list[dict]:
    """The CPU samples of a build, [] when ``path`` is missing."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_cpu(path: Path) -> list[tuple[float, float]]:
    """(time, busy cores) samples of a build, [] when ``path`` is missing."""
    return [(s["t"], s["busy"]) for s in _samples(path)]


def read_steal(path: Path) -> list[float]:
    """The cores other guests of the host took at each sample ([] for a log without them)."""
    return [s["steal"] for s in _samples(path) if "steal" in s]


def steal_line(steal: list[float]) -> str:
    """The header line on steal: its mean and peak over the build, or that none was sampled."""
    if not steal:
        return "cores taken by other guests (steal): not sampled for this build"
    return (
        f"cores taken by other guests (steal): mean {statistics.mean(steal):.2f}, "
        f"at most {max(steal):.2f}, over {len(steal)} one-second samples"
    )


def busy_cores(samples: list[tuple[float, float]], records: list[dict]) -> str:
    """The mean busy cores of the samples inside ``records``' intervals ("" without any)."""
    inside = [b for t, b in samples if any(r["start"] < t <= r["end"] for r in records)]
    return f"{statistics.mean(inside):.2f}" if inside else ""


def _row(*cells: object) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def report(
    records: list[dict],
    total: float,
    peak: float,
    when: str,
    detail: bool = False,
    cpu: list[tuple[float, float]] | None = None,
    steal: list[float] | None = None,
) -> None:
    """Print the per-chapter table of stages (see the module docstring); ``peak``: the matrix
    product's GFLOP/s, measured ``when``; ``cpu``: the build's busy-core samples; ``steal``:
    the cores other guests took at each sample."""
    cpu = cpu or []
    chapters = [r for r in records if r["stage"] == "chapter"]
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for record in records:
        if record["stage"] not in ("chapter", REFERENCE):
            rows[chapter_of(record, chapters), group_of(record, detail)].append(record)
    print(f"build: {total:.0f} s ({total / 60:.1f} min); a {MATMUL_SIZE}^2 fp32 matrix product")
    print(f"on the same threads: {peak:.1f} GFLOP/s ({when})")
    print(steal_line(steal or []) + "\n")
    print(
        "| chapter | stage | count | seconds | share of build | GFLOP/s (of matmul) | busy cores |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    order = [c["detail"] for c in chapters] + ["(outside chapters)"]
    for chapter in order:
        mine = {g: rs for (c, g), rs in rows.items() if c == chapter}
        match = [c for c in chapters if c["detail"] == chapter]
        if match:
            seconds, busy = match[0]["seconds"], busy_cores(cpu, match)
            print(
                _row(
                    f"**{chapter}**",
                    "whole chapter",
                    1,
                    f"{seconds:.0f}",
                    f"{seconds / total:.0%}",
                    "",
                    busy,
                )
            )
        for group, rs in sorted(mine.items(), key=lambda item: -sum(r["seconds"] for r in item[1])):
            seconds = sum(r["seconds"] for r in rs)
            depth = min(len(r["within"]) for r in rs)
            flop = sum(r["flop"] or 0 for r in rs)
            speed = (
                f"{flop / seconds / 1e9:.1f} ({flop / seconds / 1e9 / peak:.0%})" if flop else ""
            )
            name = "&nbsp;&nbsp;" * depth + group
            share = f"{seconds / total:.0%}"
            print(_row(chapter, name, len(rs), f"{seconds:.0f}", share, speed, busy_cores(cpu, rs)))
        if match:
            top = [(r["start"], r["end"]) for g, rs in mine.items() for r in rs if not r["within"]]
            rest = match[0]["seconds"] - covered(top)
            outside = "not in a stage (kernel start, tables, figures)"
            print(_row(chapter, outside, "", f"{rest:.0f}", f"{rest / total:.0%}", "", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="a stage log to report")
    parser.add_argument("--total", type=float, help="the build's wall seconds")
    parser.add_argument("--run", action="store_true", help="build HEAD first")
    parser.add_argument("--work", type=Path, default=Path("/tmp/builds"))
    parser.add_argument("--detail", action="store_true", help="one row per split and layer")
    parser.add_argument("--threads", type=int, default=usable_cores())
    args = parser.parse_args()
    if args.run:
        from compare_builds import build, full_sha

        args.work.mkdir(parents=True, exist_ok=True)
        record = build("book", full_sha("HEAD"), args.work, fresh_venv=False)
        args.log, args.total = args.work / "book.stages.jsonl", record["seconds"]
    if args.log is None:
        parser.error("give --log FILE or --run")
    records = read_log(args.log)
    total = args.total or max(r["end"] for r in records) - min(r["start"] for r in records)
    peak = logged_reference(records)
    count = sum(r["stage"] == REFERENCE for r in records)
    when = f"median of {count} timed during the build"
    if peak is None:
        peak, when = matmul_gflops(args.threads), "measured now: the build timed none"
    samples = args.log.with_name(args.log.name.replace(".stages.jsonl", ".cpu.jsonl"))
    report(records, total, peak, when, args.detail, read_cpu(samples), read_steal(samples))


if __name__ == "__main__":
    main()
