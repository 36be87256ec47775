"""Benchmark: a DG sweep on two dask workers, trials handed out by the package (one per free
worker, costliest first) against all submitted at once and placed by dask (the package's way
until 2026-12-03).

Run from the repository root::

    .venv/bin/python bench/bench_sweep.py [--steps 60] [--rounds 2] [--data FOLDER]

The sweep is the first stage of chapter 05's search at the default profile's sizes but for
the steps: every method, two hyperparameter draws, seed 0, batch 32, width 0.125, ContriMix
with 2 mixes, on the tiny synthetic data (or ``--data``). Each side runs in a fresh folder
(no stored model or prediction reused) on its own local cluster of two single-threaded
workers, the sides in turns, ``--rounds`` times. It prints each side's median wall time, the
trials' busy worker-seconds (their records' training and scoring time), the share of the two
workers' time left idle, and whether every trial's test scores are the same both ways. Both
sides use the same two worker processes of one thread each, so the ratio is per core too.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from coos_utils.dg import sweep
from coos_utils.dg.algorithms import ALGORITHMS
from coos_utils.dg.trial import TrialSpec, read_record
from coos_utils.synthetic import ensure_synthetic


def submit_all(todo: Sequence[TrialSpec], trials_dir: Path, scheduler: str) -> None:
    """The old way: every trial submitted at once in the given order (a reuser with its
    trainer's future as argument) and dask left to place them."""
    from distributed import Client, wait

    with Client(scheduler) as client:
        waits, submitted = sweep.first_trainers(todo), {}
        for spec in todo:
            before = waits.get(spec.trial_id)
            after = [submitted[before.trial_id]] if before is not None else []
            submitted[spec.trial_id] = client.submit(
                lambda spec, *_: sweep._task(spec, str(trials_dir), False),
                spec,
                *after,
                key=f"dg-trial-{spec.trial_id}",
                pure=False,
            )
        wait(list(submitted.values()))


def handed_out(todo: Sequence[TrialSpec], trials_dir: Path, scheduler: str) -> None:
    """The package's way (:func:`coos_utils.dg.sweep._run_on_dask`)."""
    sweep._run_on_dask(todo, trials_dir, (), scheduler, progress=False)


SIDES = {"dask places all at once": submit_all, "one per free worker, costliest first": handed_out}


def run_side(side: str, specs: Sequence[TrialSpec], out: Path) -> tuple[float, float, dict]:
    """Wall seconds, busy worker-seconds and test scores by trial of one sweep."""
    trials_dir = out / sweep.TRIALS_FOLDER
    with sweep.dask_scheduler(None, 2) as address:
        start = time.perf_counter()
        SIDES[side](specs, trials_dir, address)
        wall = time.perf_counter() - start
    records = {spec.trial_id: read_record(trials_dir, spec) for spec in specs}
    busy = sum(r["seconds"]["train"] + r["seconds"]["evaluate"] for r in records.values())
    return wall, busy, {trial: r["test"] for trial, r in records.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", type=Path, help="a COOS-7 folder (default: tiny synthetic)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or ensure_synthetic(Path(tmp) / "data", "tiny", 0)
        specs = sweep.make_sweep(
            data,
            tuple(ALGORITHMS),
            n_draws=2,
            seeds=[0],
            steps=args.steps,
            batch_size=32,
            eval_every=args.steps,
            width=0.125,
            hparams_overrides=(("contrimix_mixings", 2),),
        )
        walls, busies, scores = {s: [] for s in SIDES}, {s: [] for s in SIDES}, {}
        for round_ in range(args.rounds):
            for side in SIDES:
                wall, busy, scores[side] = run_side(
                    side, specs, Path(tmp) / f"{round_}-{len(side)}"
                )
                walls[side].append(wall)
                busies[side].append(busy)
                print(f"round {round_ + 1}, {side}: {wall:.1f} s", flush=True)
    print(f"\n{len(specs)} trials, {args.steps} steps each, 2 workers of one thread\n")
    print("| hand-out | wall s (median) | busy worker-s | workers idle | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base = statistics.median(walls[next(iter(SIDES))])
    for side in SIDES:
        wall, busy = statistics.median(walls[side]), statistics.median(busies[side])
        idle = 1 - busy / (2 * wall)
        print(f"| {side} | {wall:.1f} | {busy:.1f} | {idle:.0%} | {base / wall:.2f}x |")
    same = len({repr(sorted(s.items())) for s in scores.values()}) == 1
    print(f"\nevery trial's test scores the same both ways: {same}")


if __name__ == "__main__":
    main()
