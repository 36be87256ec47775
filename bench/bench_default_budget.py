"""Benchmark: how long the ``default`` profile's networks should train on 2 CPU cores.

Run from the repository root::

    .venv/bin/python bench/bench_default_budget.py --quick      # ~14 min on 2 cores
    .venv/bin/python bench/bench_default_budget.py --candidates pci:0.125:32 --budget 180
    .venv/bin/python bench/bench_default_budget.py --candidates pci:0.125:32 --downstream

Trains PCI and DeepLoc through the package's own representation classes (``fit`` on the
``default`` profile's synthetic ``train``, 20% of it held out for validation, exactly as the
book does) for several (width, batch size) candidates, each for about ``--budget`` seconds of
training with torch on ``--threads`` threads, validating about 12 times. The number of
iterations for the budget comes from a short probe run of each candidate. Printed per
candidate: the validation score (DeepLoc: balanced error in %; PCI: inpainting MSE) against
iterations and against training seconds (validations excluded), seconds per iteration, the
wall time of the whole fit (data loading and validations included), where the curve levels
off (the first validation whose best-so-far score is within 2% of the final best) and whether
it was still improving at the end (:func:`still_improving`:
the last quarter beat the best before it by more than 2%). With ``--downstream``, the fitted
features of each candidate are also classified by an L2 logistic regression fitted on
``train``, and its balanced error on test1 and test3 is printed (DeepLoc: its own predictions).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from coos_utils.data import CoosSplit, load_split
from coos_utils.features.base import DirectPredictor, Representation
from coos_utils.models.deeploc import DeepLocRepresentation
from coos_utils.models.pci import PciRepresentation
from coos_utils.profiles import get_profile, resolve_data_dir

GRID = tuple(
    f"{network}:{width}:{batch}"
    for network in ("pci", "deeploc")
    for width in (0.125, 0.25)
    for batch in (32, 64)
)
EVALUATIONS = 12
PROBE_ITERATIONS = 10
QUICK = {"pci": 120.0, "deeploc": 45.0}
"""``--quick``: seconds of training per candidate (DeepLoc levels off far sooner than PCI)."""


@dataclass(frozen=True)
class Candidate:
    """One network at one width and batch size."""

    network: str
    width: float
    batch: int

    @classmethod
    def parse(cls, text: str) -> Candidate:
        network, width, batch = text.split(":")
        return cls(network, float(width), int(batch))

    def make(self, iterations: int, eval_every: int, threads: int) -> Representation:
        """The representation with the ``default`` profile's other parameters."""
        params = dict(get_profile("default").representation_params[self.network])
        params.update(
            iterations=iterations, eval_every=eval_every, width=self.width, batch_size=self.batch
        )
        cls = PciRepresentation if self.network == "pci" else DeepLocRepresentation
        return cls(**params, n_jobs=threads, progress=False)

    def __str__(self) -> str:
        return f"{self.network} width {self.width:g} batch {self.batch}"


def training_seconds(history: pd.DataFrame, batch: int) -> pd.Series:
    """Cumulative seconds of training (validations excluded) at each validation."""
    steps = history["iteration"].diff().fillna(history["iteration"].iloc[0])
    return (steps * batch / history["images_per_s"]).cumsum()


TOLERANCE = 0.02
"""A curve has levelled off once its best-so-far is within 2% of its final best."""


def still_improving(history: pd.DataFrame, tolerance: float = TOLERANCE) -> bool:
    """Whether the best score of the last quarter of the run beats the best before it by more
    than ``tolerance`` (the training chapter marks such a network as cut short)."""
    scored = history.dropna(subset=["val_score"])
    tail = scored["iteration"] > 0.75 * scored["iteration"].max()
    before, after = scored.loc[~tail, "val_score"], scored.loc[tail, "val_score"]
    return bool(len(before) and after.min() < before.min() * (1 - tolerance))


def levelled_at(history: pd.DataFrame, tolerance: float = TOLERANCE) -> int:
    """The first iteration whose best-so-far score is within ``tolerance`` of the final best."""
    best = history["val_score"].cummin()
    within = best <= history["val_score"].min() * (1 + tolerance)
    return int(history.loc[within, "iteration"].iloc[0])


def probe_speed(candidate: Candidate, train: CoosSplit, threads: int) -> float:
    """Seconds per training iteration, from a short run (the first iterations are slower)."""
    rep = candidate.make(PROBE_ITERATIONS, PROBE_ITERATIONS, threads).fit(train)
    return float(candidate.batch / rep.history_["images_per_s"].iloc[-1])


def run(
    candidate: Candidate,
    train: CoosSplit,
    budget: float,
    threads: int,
    iterations: int | None = None,
) -> Representation:
    """Fit ``candidate`` for ``iterations`` (default: about ``budget`` seconds of training at
    the probe's speed); print its curve."""
    if iterations is None:
        iterations = max(EVALUATIONS, round(budget / probe_speed(candidate, train, threads)))
    eval_every = max(1, math.ceil(iterations / EVALUATIONS))
    start = time.perf_counter()
    rep = candidate.make(iterations, eval_every, threads).fit(train)
    wall = time.perf_counter() - start
    history = rep.history_.assign(seconds=training_seconds(rep.history_, candidate.batch))
    total = history["seconds"].iloc[-1]
    fastest = candidate.batch / history["images_per_s"].max()
    print(f"\n== {candidate}: {iterations} iterations, validated every {eval_every}")
    print(
        history[["iteration", "seconds", "train_loss", "val_score"]].round(4).to_string(index=False)
    )
    print(
        f"{total / iterations:.3f} s/iteration on average, {fastest:.3f} in the fastest stretch "
        f"(a machine shared with other jobs slows the others); {total:.0f} s training, "
        f"{wall:.0f} s wall (load + validations: {wall - total:.0f} s); best "
        f"{history['val_score'].min():.4g} at {rep.best_iteration_}; within 2% of it from "
        f"iteration {levelled_at(history)}; still improving at the end: "
        f"{still_improving(rep.history_)}"
    )
    return rep


def downstream(rep: Representation, splits: dict[str, CoosSplit]) -> None:
    """Balanced error (%) on test1 and test3 of an L2 logistic regression on each output."""
    train, tests = splits["train"], {k: v for k, v in splits.items() if k != "train"}
    features = {name: rep.transform(split) for name, split in splits.items()}
    for output, display in rep.outputs().items():
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        model.fit(features["train"][output], train.labels)
        errors = {
            name: 100
            * (1 - balanced_accuracy_score(s.labels, model.predict(features[name][output])))
            for name, s in tests.items()
        }
        print(f"  {display} + L2 LR: " + ", ".join(f"{k} {v:.1f}%" for k, v in errors.items()))
    if isinstance(rep, DirectPredictor):
        errors = {
            name: 100 * (1 - balanced_accuracy_score(s.labels, rep.predict(s)))
            for name, s in tests.items()
        }
        print("  end to end: " + ", ".join(f"{k} {v:.1f}%" for k, v in errors.items()))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: the profile's data")
    parser.add_argument("--candidates", nargs="+", default=GRID, help="network:width:batch")
    parser.add_argument("--budget", type=float, default=180.0, help="training seconds each")
    parser.add_argument(
        "--quick", action="store_true", help=f"instead of --budget: {QUICK} s of training"
    )
    parser.add_argument("--iterations", type=int, default=None, help="instead of a time budget")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--downstream", action="store_true", help="L2 LR on test1 and test3")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # each curve as soon as it is measured
    data_dir = resolve_data_dir(args.data_dir, "default", 0)
    names = ("train", "test1", "test3") if args.downstream else ("train",)
    splits = {name: load_split(data_dir, name) for name in names}
    print(f"data: {data_dir}; {len(splits['train'])} train images; {args.threads} threads")
    for text in args.candidates:
        candidate = Candidate.parse(text)
        budget = QUICK[candidate.network] if args.quick else args.budget
        rep = run(candidate, splits["train"], budget, args.threads, args.iterations)
        if args.downstream:
            downstream(rep, splits)


if __name__ == "__main__":
    main()
