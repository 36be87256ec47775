"""The networks' memory layout on the CPU: ``channels_last`` against contiguous (NCHW).

Every case is the package's own step built twice, once per layout, from the same seed; the
two take turns, round after round, so that a machine whose load changes slows both alike.
The first round is not timed; the median of the others is reported, with the ratio
(contiguous / channels_last: above 1, channels_last is faster) and how far the two layouts'
outputs of the last round are apart (oneDNN sums in another order per layout, so the last
bits differ; a training step's loss is compared after all rounds' steps, so training has
carried the first differences on). Both layouts draw the same random numbers each round.

Cases, with the threads the default build gives them: one training step of each DG method
on DeepLoc at width 0.125, batch 32 in 8 plates, and one prediction pass over 256 crops, on
1 thread (each of the two DG workers has one core); a training step of DeepLoc (width
0.125, batch 64) and of PCI (width 0.125, batch 32) and a VGG16 extraction of conv3_3,
conv4_3 and conv5_3 from 64 images, on 2 threads (chapter 02 has both cores).

    python bench/bench_layout.py               # every case
    python bench/bench_layout.py --rounds 3    # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import time
from collections.abc import Callable, Iterator
from unittest import mock

import numpy as np
import torch
from bench_cnn import deeploc_train, pci_train, random_images
from bench_dg import N_DOMAINS

from coos_utils.dg.algorithms import ALGORITHMS, TaskInfo, get_algorithm
from coos_utils.dg.backbones import build_backbone
from coos_utils.dg.hparams import draw_hparams
from coos_utils.models import deeploc, pci, runtime
from coos_utils.models.extract import extract
from coos_utils.models.vgg import CONV_LAYERS, VGG16

LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
CPU = torch.device("cpu")
Step = Callable[[], object]


@contextlib.contextmanager
def layout(fmt: torch.memory_format) -> Iterator[None]:
    """Every module of the package that asks :func:`runtime.memory_format` gets ``fmt``."""
    with contextlib.ExitStack() as stack:
        for module in (runtime, deeploc, pci, importlib.import_module("coos_utils.models.extract")):
            stack.enter_context(mock.patch.object(module, "memory_format", lambda _: fmt))
        yield


def dg_update(method: str, fmt: torch.memory_format) -> Step:
    """One ``update`` of a DG method on the same 8 minibatches of 4 random crops."""
    task = TaskInfo(2, 7, N_DOMAINS, (100,) * 7)
    generator = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.rand(4, 2, 60, 60, generator=generator).contiguous(memory_format=fmt),
            torch.randint(0, 7, (4,), generator=generator),
        )
        for _ in range(N_DOMAINS)
    ]
    torch.manual_seed(0)
    hparams = {**draw_hparams(method, 0), "contrimix_mixings": 2}
    algorithm = get_algorithm(method)(task, hparams, build_backbone("deeploc", 2, 7, 0.125))
    algorithm = algorithm.to(memory_format=fmt).train()
    return lambda: algorithm.update(batches)


def dg_predict(fmt: torch.memory_format) -> Step:
    """ERM's logits for 256 random crops, in batches of 64 (the CPU's prediction batch)."""
    torch.manual_seed(0)
    algorithm = get_algorithm("ERM")(
        TaskInfo(2, 7, N_DOMAINS, (100,) * 7),
        draw_hparams("ERM", 0),
        build_backbone("deeploc", 2, 7, 0.125),
    )
    algorithm = algorithm.to(memory_format=fmt).eval()
    images = torch.rand(256, 2, 60, 60, generator=torch.Generator().manual_seed(0))
    batches = [images[i : i + 64].contiguous(memory_format=fmt) for i in range(0, 256, 64)]

    def step() -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([algorithm.predict(x) for x in batches])

    return step


def vgg_extract(fmt: torch.memory_format) -> Step:
    """VGG16's pooled conv3_3, conv4_3 and conv5_3 of 64 random images (one pass)."""
    torch.manual_seed(0)
    model = runtime.prepare_module(VGG16(include_classifier=False), CPU).eval()
    images = random_images(64, CPU, channels=3)
    layers = [f"features.{CONV_LAYERS[name]}" for name in ("conv3_3", "conv4_3", "conv5_3")]
    return lambda: np.concatenate(list(extract(model, [images], layers).values()), 1)


def cases() -> dict[str, tuple[int, Callable[[torch.memory_format], Step]]]:
    """Case name -> (torch threads, builder of its step under a layout)."""

    table: dict[str, tuple[int, Callable[[torch.memory_format], Step]]] = {
        f"DG update {method}": (1, lambda fmt, m=method: dg_update(m, fmt)) for method in ALGORITHMS
    }
    table["DG predict 256 crops"] = (1, dg_predict)
    table["DeepLoc training step"] = (2, lambda fmt: deeploc_train(0.125, 64, CPU))
    table["PCI training step"] = (2, lambda fmt: pci_train(0.125, 32, CPU))
    table["VGG16 extraction, 64 images"] = (2, vgg_extract)
    return table


def difference(a: object, b: object) -> str:
    """How far two outputs are apart: 'identical', or the largest relative difference."""
    if isinstance(a, dict):  # a DG update's losses
        a, b = a["loss"], b["loss"]
    a = torch.as_tensor(np.asarray(a, dtype=np.float64))
    b = torch.as_tensor(np.asarray(b, dtype=np.float64))
    if torch.equal(a, b):
        return "identical"
    return f"rel. diff. {float((a - b).abs().max() / a.abs().max().clamp_min(1e-30)):.1e}"


def run_case(threads: int, build: Callable[[torch.memory_format], Step], rounds: int) -> str:
    """The two layouts' median seconds, their ratio and their outputs' difference."""
    torch.set_num_threads(threads)
    steps, outputs, times = {}, {}, {name: [] for name in LAYOUTS}
    for name, fmt in LAYOUTS.items():
        with layout(fmt):
            steps[name] = build(fmt)
    for round_ in range(rounds + 1):
        for name, fmt in LAYOUTS.items():
            torch.manual_seed(round_)  # both layouts draw the same mixes and targets
            with layout(fmt):
                start = time.perf_counter()
                outputs[name] = steps[name]()
                elapsed = time.perf_counter() - start
            if round_:
                times[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return (
        f"{threads} | {1000 * medians['contiguous']:.1f} | {1000 * medians['channels_last']:.1f}"
        f" | {medians['contiguous'] / medians['channels_last']:.2f}x"
        f" | {difference(outputs['contiguous'], outputs['channels_last'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per case")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, medians of {args.rounds} rounds, layouts taking turns\n")
    print("| case | threads | contiguous ms | channels_last ms | ratio | outputs |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, (threads, build) in cases().items():
        print(f"| {name} | {run_case(threads, build, args.rounds)} |", flush=True)


if __name__ == "__main__":
    main()
