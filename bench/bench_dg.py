"""Cost of one training iteration of each DG method, relative to ERM, on the DeepLoc backbone.

Every method gets the same minibatches (8 plates, random 60 x 60 crops) and its default
hyperparameters; the methods take turns, round after round, so that a machine whose load
changes during the run slows all of them alike. The first ``--warmup`` rounds are not
timed; the median of the others is reported. TestTimeBN trains exactly like ERM (its extra
cost is one forward pass over each test set, at evaluation).

    python bench/bench_dg.py                       # default-profile width and full width
    python bench/bench_dg.py --configs 0.125:32 --threads 1   # one configuration (width:batch)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from coos_utils.dg.algorithms import ALGORITHMS, TaskInfo, get_algorithm
from coos_utils.dg.backbones import build_backbone
from coos_utils.dg.hparams import draw_hparams
from coos_utils.models.runtime import autocast, prepare_input, prepare_module, resolve_device

N_DOMAINS = 8


def time_methods(
    width: float, batch: int, device: torch.device, warmup: int, repeats: int
) -> dict[str, float]:
    """Median seconds per ``update`` of every method at one width and batch size."""
    task = TaskInfo(2, 7, N_DOMAINS, (100,) * 7)
    generator = torch.Generator().manual_seed(0)
    minibatches = [
        (
            prepare_input(torch.rand(batch // N_DOMAINS, 2, 60, 60, generator=generator), device),
            torch.randint(0, 7, (batch // N_DOMAINS,), generator=generator).to(device),
        )
        for _ in range(N_DOMAINS)
    ]
    algorithms = {}
    for method in ALGORITHMS:
        torch.manual_seed(0)
        backbone = build_backbone("deeploc", 2, 7, width)
        algorithm = get_algorithm(method)(task, draw_hparams(method, 0), backbone)
        algorithms[method] = prepare_module(algorithm, device).train()
    times: dict[str, list[float]] = {method: [] for method in ALGORITHMS}
    for round_ in range(warmup + repeats):
        for method, algorithm in algorithms.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            with autocast(device):
                algorithm.update(minibatches)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if round_ >= warmup:
                times[method].append(time.perf_counter() - start)
    return {method: statistics.median(values) for method, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["0.125:32", "1.0:128"],
        help="width:batch pairs (default: the default profile's and the paper's)",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda or None (CUDA when present)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (1 is steadiest on a busy machine)",
    )
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed rounds (default: 7 below width 0.5, else 2)",
    )
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for config in args.configs:
        width, batch = float(config.split(":")[0]), int(config.split(":")[1])
        repeats = args.repeats or (7 if width < 0.5 else 2)
        medians = time_methods(width, batch, device, args.warmup, repeats)
        print(f"\nwidth {width}, batch {batch} ({N_DOMAINS} plates), median of {repeats}:")
        print(f"{'method':<14} {'ms/iteration':>13} {'x ERM':>7}")
        for method, seconds in medians.items():
            print(f"{method:<14} {1000 * seconds:>13.1f} {seconds / medians['ERM']:>7.2f}")


if __name__ == "__main__":
    main()
