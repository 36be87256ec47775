"""Benchmark: scoring a DG trial's test set, the old way and this package's.

Run from the repository root::

    .venv/bin/python bench/bench_dg_predict.py                    # default-profile network
    .venv/bin/python bench/bench_dg_predict.py --data-dir DIR --split test2 --threads 2

On one test split (default: ``test1`` of the default profile's synthetic data, simulated first
if needed) and a DeepLoc backbone at the default profile's width (random weights: the cost
does not depend on them), on ``--threads`` torch threads (1: what each DG worker gets), it
times, taking turns round after round so that a change of machine load slows both alike:

* **prediction** (ERM and every method scoring a test set): batches of 256 images (until
  2026-12-03) against :data:`~coos_utils.dg.trial.EVAL_BATCH` on the CPU (64);
* **TestTimeBN's adaptation** (AdaBN): one pass from the images per batch-norm layer (until
  2026-12-03) against the passes along the module chain that start from the inputs the pass
  before kept (:mod:`coos_utils.dg.adabn`), each at the same batch size.

It prints the medians of ``--repeats`` rounds, their ratios (both sides use the same threads,
so the ratio per core is the same) and whether the outputs agree: the logits bit for bit,
and every adapted layer's statistics bit for bit.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from coos_utils.data import load_split
from coos_utils.dg.adabn import adapt_batch_norms, module_chain
from coos_utils.dg.algorithms import TaskInfo, get_algorithm
from coos_utils.dg.backbones import build_backbone
from coos_utils.dg.trial import EVAL_BATCH, _batches
from coos_utils.profiles import get_profile, resolve_data_dir

OLD_BATCH = 256


def _network(width: float) -> torch.nn.Module:
    torch.manual_seed(0)
    task = TaskInfo(in_channels=2, n_classes=7, n_domains=1, class_counts=(1,) * 7)
    backbone = build_backbone("deeploc", 2, 7, width)
    return get_algorithm("TestTimeBN")(task, {"lr": 1e-3, "weight_decay": 0.0}, backbone).eval()


def _logits(network: torch.nn.Module, images: np.ndarray, batch: int) -> torch.Tensor:
    device = torch.device("cpu")
    with torch.no_grad():
        return torch.cat([network.predict(x) for x in _batches(images, device, batch)])


def _adapted(network: torch.nn.Module, images: np.ndarray, batch: int, chain: bool) -> list:
    """Adapt a copy's batch norms; return every layer's (mean, variance)."""
    norms = [m for m in network.modules() if isinstance(m, _BatchNorm)]
    modules = module_chain(network.featurizer, network.classifier) if chain else None
    batches = lambda: _batches(images, torch.device("cpu"), batch)  # noqa: E731
    adapt_batch_norms(network.predict, norms, batches, modules)
    return [(m.running_mean.clone(), m.running_var.clone()) for m in norms]


def _timed(call: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--split", default="test1")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    profile = get_profile("default")
    data_dir = args.data_dir or resolve_data_dir(None, "default")
    images = np.asarray(load_split(data_dir, args.split).images)
    width = float(profile.dg["width"])
    new_batch = EVAL_BATCH["cpu"]
    print(
        f"{args.split} of {data_dir}: {len(images)} images; DeepLoc width {width}, "
        f"{args.threads} thread(s), median of {args.repeats} rounds"
    )

    cases: dict[str, Callable[[], object]] = {
        f"predict, batch {OLD_BATCH}": lambda: _logits(_network(width), images, OLD_BATCH),
        f"predict, batch {new_batch}": lambda: _logits(_network(width), images, new_batch),
        f"AdaBN per layer from the images, batch {OLD_BATCH}": lambda: _adapted(
            _network(width), images, OLD_BATCH, chain=False
        ),
        f"AdaBN along the chain, batch {new_batch}": lambda: _adapted(
            _network(width), images, new_batch, chain=True
        ),
        f"AdaBN along the chain, batch {OLD_BATCH}": lambda: _adapted(
            _network(width), images, OLD_BATCH, chain=True
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    outputs: dict[str, object] = {}
    for _ in range(args.repeats):
        for name, call in cases.items():
            seconds, outputs[name] = _timed(call)
            times[name].append(seconds)
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in median.items():
        print(f"  {name:<48} {seconds:7.2f} s")
    names = list(cases)
    print(
        f"predict: {median[names[0]] / median[names[1]]:.2f}x faster; logits identical: "
        f"{torch.equal(outputs[names[0]], outputs[names[1]])}"
    )
    same = all(
        torch.equal(a, b)
        for old, new in zip(outputs[names[2]], outputs[names[3]], strict=True)
        for a, b in zip(old, new, strict=True)
    )
    print(
        f"AdaBN: {median[names[2]] / median[names[3]]:.2f}x faster "
        f"({median[names[2]] / median[names[4]]:.2f}x from the chain alone); "
        f"every layer's statistics identical: {same}"
    )


if __name__ == "__main__":
    main()
