"""Benchmark: training and extraction throughput of DeepLoc, PCI and VGG16, and what it implies.

Run from the repository root::

    .venv/bin/python bench/bench_cnn.py             # this machine's default device
    .venv/bin/python bench/bench_cnn.py --quick     # fewer repeats, smaller CPU batches
    .venv/bin/python bench/bench_cnn.py --device cuda

Each case times one step of the package's own code on random 64 x 64 two-channel images
already on the device (disk reads and preprocessing, a few percent of the total, are not
included): a training iteration of the real training task (sampling, augmentation,
forward, backward, optimiser step), a validation pass, or an extraction pass (DeepLoc:
FC2 and class probabilities averaged over the 5 test crops; PCI: max-pooled source-encoder
conv3-5; VGG16: max-pooled activations up to the deepest layer asked for). A case is run
once to warm up, then repeated; the median seconds per image is reported as images/s.

Printed: images/s at full width with the paper's batch sizes and the projected wall time of
the ``paper`` profile (DeepLoc 10,000 x 128 and 20 validations of 8,291 images; PCI 30
epochs of 33,165 images in batches of 64 and one validation per epoch; VGG16 and the
trained networks' features of all 132,209 images); then the same at the widths recommended
for the ``smoke`` and ``default`` profiles, with the projected seconds of those profiles.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from coos_utils.models.deeploc import DeepLoc, _DeepLocTask, test_time_pass
from coos_utils.models.extract import extract
from coos_utils.models.pairs import GroupPartners
from coos_utils.models.pci import FEATURE_LAYERS, PairedCellInpainting, _PciTask
from coos_utils.models.runtime import prepare_module, resolve_device, seed_everything
from coos_utils.models.vgg import CONV_LAYERS, VGG16

PAPER_IMAGES = 132_209
PAPER_TRAIN = 41_456


@dataclass(frozen=True)
class Setting:
    """One profile's sizes: images per part, and the networks' configuration."""

    name: str
    train: int  # images of the training split
    total: int  # images of all five splits
    deeploc_width: float
    deeploc_iterations: int
    deeploc_batch: int
    deeploc_eval_every: int
    deeploc_crops: int
    pci_width: float
    pci_iterations: int | None  # None: 30 epochs
    pci_batch: int
    pci_eval_every: int | None  # None: once per epoch
    vgg_deepest: str  # deepest VGG16 layer extracted

    @property
    def fit(self) -> int:
        return self.train - round(0.2 * self.train)

    @property
    def held_out(self) -> int:
        return round(0.2 * self.train)

    def pci_schedule(self) -> tuple[int, int]:
        per_epoch = self.fit // self.pci_batch
        return self.pci_iterations or 30 * per_epoch, self.pci_eval_every or per_epoch


PAPER = Setting(
    "paper", PAPER_TRAIN, PAPER_IMAGES, 1.0, 10_000, 128, 500, 5, 1.0, None, 64, None, "conv5_3"
)
# Recommended for the two CPU profiles: smoke checks that everything runs, default that the
# networks learn (DeepLoc at these settings, learning rate 1e-3, reached 2-11% balanced
# error on the small synthetic test sets). VGG16 is never shrunk (it must load the standard
# checkpoint); both CPU profiles extract only the paper's three reported layers (conv3_3,
# conv4_1, conv4_2), so extraction stops at conv4_2.
SMOKE = Setting("smoke", 829, 2_643, 0.125, 30, 32, 10, 5, 0.125, 20, 16, 10, "conv4_2")
DEFAULT = Setting(
    "default", 4_146, 13_221, 0.125, 1000, 64, 100, 1, 0.125, 1000, 32, 100, "conv4_2"
)


def median_seconds(step: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall seconds of ``step`` over ``repeats`` runs after one warm-up run (2 runs
    when the warm-up took over 8 s, to keep the whole script within minutes on a CPU)."""

    def timed() -> float:
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    if timed() > 8:
        repeats = min(repeats, 2)
    return statistics.median(timed() for _ in range(repeats))


def random_images(n: int, device: torch.device, channels: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(n, channels, 64, 64, generator=generator).to(device)


def deeploc_train(width: float, batch: int, device: torch.device) -> Callable[[], object]:
    seed_everything(0)
    model = prepare_module(DeepLoc(7, width=width), device)
    images = random_images(2 * batch, device)
    labels = torch.arange(2 * batch, device=device) % 7
    generator = torch.Generator(device=device).manual_seed(0)
    task = _DeepLocTask(model, images, labels, images[:1], np.zeros(1), batch, 5, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step() -> float:
        loss = task.training_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def deeploc_extract(
    width: float, batch: int, crops: int, device: torch.device
) -> Callable[[], object]:
    model = prepare_module(DeepLoc(7, width=width), device).eval()
    images = random_images(batch, device)

    def step() -> object:
        with torch.no_grad():
            return test_time_pass(model, images, crops)

    return step


def pci_task(width: float, batch: int, device: torch.device) -> _PciTask:
    seed_everything(0)
    model = prepare_module(PairedCellInpainting(width), device)
    images = random_images(2 * batch, device)
    partners = GroupPartners(np.arange(2 * batch) % 8, device)
    generator = torch.Generator(device=device).manual_seed(0)
    sources = partners.sources[:batch]
    pairs = (sources, partners.draw(sources, generator))
    return _PciTask(model, images, partners, images, pairs, batch, generator)


def pci_train(width: float, batch: int, device: torch.device) -> Callable[[], object]:
    task = pci_task(width, batch, device)
    optimizer = torch.optim.Adam(task.model.parameters(), lr=1e-4, betas=(0.5, 0.999))
    task.model.train()

    def step() -> float:
        loss = task.training_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def pci_validate(width: float, batch: int, device: torch.device) -> Callable[[], object]:
    task = pci_task(width, batch, device)
    task.model.eval()

    def step() -> float:
        with torch.no_grad():
            return task.validation_score()

    return step


def pci_extract(width: float, batch: int, device: torch.device) -> Callable[[], object]:
    model = prepare_module(PairedCellInpainting(width), device).eval()
    images = random_images(batch, device)
    layers = list(FEATURE_LAYERS.values())
    return lambda: extract(model, [images], layers, "max", model.source)


def vgg_extract(deepest: str, batch: int, device: torch.device) -> Callable[[], object]:
    model = prepare_module(VGG16(include_classifier=False), device).eval()
    images = random_images(batch, device, channels=3)
    return lambda: extract(model, [images], [f"features.{CONV_LAYERS[deepest]}"])


class Bench:
    """Measures images/s per case (memoised) and prints the projections."""

    def __init__(self, device: torch.device, quick: bool) -> None:
        self.device, self.quick = device, quick
        self.repeats = 2 if quick else 3
        self.extract_batch = 64 if device.type == "cpu" else 512
        self.rates: dict[tuple, float] = {}

    def batch(self, wanted: int) -> int:
        """The batch to time: the profile's, capped on CPU with --quick (rates per image
        barely depend on the batch once it is a few dozen images)."""
        if self.device.type == "cpu" and self.quick:
            return min(wanted, 32)
        return wanted

    def rate(self, case: tuple, batch: int, make: Callable[[], Callable[[], object]]) -> float:
        key = (*case, batch)
        if key not in self.rates:
            seconds = median_seconds(make(), self.device, self.repeats)
            self.rates[key] = batch / seconds
            label = " ".join(map(str, case))
            print(f"  {label:<38} batch {batch:>4}: {batch / seconds:8.1f} img/s")
        return self.rates[key]

    def deeploc(self, s: Setting) -> dict[str, float]:
        tb, eb = self.batch(s.deeploc_batch), self.batch(self.extract_batch)
        train = self.rate(
            ("DeepLoc train", s.deeploc_width),
            tb,
            lambda: deeploc_train(s.deeploc_width, tb, self.device),
        )
        extract_rate = self.rate(
            ("DeepLoc extract", s.deeploc_width, f"{s.deeploc_crops} crops"),
            eb,
            lambda: deeploc_extract(s.deeploc_width, eb, s.deeploc_crops, self.device),
        )
        evals = -(-s.deeploc_iterations // s.deeploc_eval_every)
        return {
            "train": s.deeploc_iterations * s.deeploc_batch / train
            + evals * s.held_out / extract_rate,
            "extract": s.total / extract_rate,
        }

    def pci(self, s: Setting) -> dict[str, float]:
        iterations, eval_every = s.pci_schedule()
        tb, eb = self.batch(s.pci_batch), self.batch(self.extract_batch)
        train = self.rate(
            ("PCI train", s.pci_width), tb, lambda: pci_train(s.pci_width, tb, self.device)
        )
        validate = self.rate(
            ("PCI validate", s.pci_width), tb, lambda: pci_validate(s.pci_width, tb, self.device)
        )
        extract_rate = self.rate(
            ("PCI extract", s.pci_width), eb, lambda: pci_extract(s.pci_width, eb, self.device)
        )
        evals = -(-iterations // eval_every)
        return {
            "train": iterations * s.pci_batch / train + evals * s.held_out / validate,
            "extract": s.total / extract_rate,
        }

    def vgg(self, s: Setting) -> dict[str, float]:
        eb = self.batch(64)
        rate = self.rate(
            ("VGG16 extract to", s.vgg_deepest),
            eb,
            lambda: vgg_extract(s.vgg_deepest, eb, self.device),
        )
        return {"train": 0.0, "extract": s.total / rate}

    def report(self, s: Setting) -> None:
        print(f"\n{s.name} profile ({s.train:,} training images, {s.total:,} in all splits)")
        rows = {"DeepLoc": self.deeploc(s), "PCI": self.pci(s), "VGG16": self.vgg(s)}
        iterations, _ = s.pci_schedule()
        print(
            f"  configuration: DeepLoc width {s.deeploc_width} x {s.deeploc_iterations} it x "
            f"batch {s.deeploc_batch} (eval every {s.deeploc_eval_every}, "
            f"{s.deeploc_crops} test crops); PCI width {s.pci_width} x {iterations} it x "
            f"batch {s.pci_batch}; VGG16 full width up to {s.vgg_deepest}"
        )
        total = 0.0
        for name, parts in rows.items():
            seconds = parts["train"] + parts["extract"]
            total += seconds
            train, extracted = _human(parts["train"]), _human(parts["extract"])
            print(
                f"  {name:<8} train {train:>9}  extract {extracted:>9}  total {_human(seconds):>9}"
            )
        print(f"  all three: {_human(total)} (projected from the rates above)")


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--quick", action="store_true", help="2 repeats; CPU batches <= 32")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("images/s, median of the repeats (machines shared with other jobs vary a lot):")
    bench = Bench(device, args.quick)
    for setting in (PAPER, DEFAULT, SMOKE):
        bench.report(setting)


if __name__ == "__main__":
    main()
