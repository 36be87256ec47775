"""A model of one's own on COOS-7, end to end: train with ``CoosDataset``, predict every split,
write the predictions in the scored format (:mod:`coos_utils.benchmark.predictions`).

The chapter "Benchmark your own model" uses these with a deliberately small network, the
backbone its DG trials train (``notebooks/my_backbone.py:make``, built whole by
:func:`~coos_utils.dg.backbones.backbone_network`); any ``torch.nn.Module`` that maps a
(N, 2, H, W) batch to (N, 7) logits can take its place. :func:`train` draws batches from
:func:`~coos_utils.data.torch_dataset.train_loader` (class-balanced by default),
:func:`predict` reads a split in order through
:func:`~coos_utils.data.torch_dataset.eval_loader`, and :func:`write_predictions` writes one
``<split>.csv`` per split (``index,label,p0..p6``), each atomically.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from coos_utils.atomic import atomic_write_text
from coos_utils.benchmark.predictions import probability_columns
from coos_utils.data.torch_dataset import CoosDataset, Transform, eval_loader, train_loader
from coos_utils.models.flops import FlopSampler
from coos_utils.models.runtime import resolve_device, seed_everything
from coos_utils.stages import stage

TRAINING_STEPS = {"smoke": 60, "default": 300, "paper": 3000}
"""Steps of the chapter's small model in each profile (a step: one batch)."""
BATCH_SIZE = 32


def training_steps(profile: str, steps: int | None = None) -> int:
    """``steps`` when given, else the profile's (:data:`TRAINING_STEPS`)."""
    return TRAINING_STEPS[profile] if steps is None else int(steps)


def train(
    model: nn.Module,
    dataset: CoosDataset,
    steps: int,
    batch_size: int = BATCH_SIZE,
    lr: float = 1e-3,
    balance: str | None = "class",
    seed: int = 0,
    device: str | None = "cpu",
) -> pd.DataFrame:
    """``steps`` Adam steps of cross-entropy on batches of ``dataset``; the loss per step."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    seed_everything(seed)
    target = resolve_device(device)
    model.to(target).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loader = train_loader(dataset, batch_size, balance=balance, seed=seed)
    losses, flops = [], FlopSampler()
    with stage("train", "your_model"):
        for x, y, _ in itertools.islice(_forever(loader), steps):
            with flops.measure(1):
                loss = F.cross_entropy(model(x.to(target)), y.to(target))
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
            losses.append(loss.item())
    return pd.DataFrame({"step": np.arange(1, steps + 1), "loss": losses})


def _forever(batches: Iterable) -> Iterable:
    while True:
        yield from batches


@torch.no_grad()
def predict(
    model: nn.Module, dataset: CoosDataset, batch_size: int = 256, device: str | None = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted labels and class probabilities of every image of ``dataset``, in order."""
    target = resolve_device(device)
    model.to(target).eval()
    chunks, flops = [], FlopSampler()
    with stage("predict", f"your_model {dataset.split.name}"):
        for x, _, _ in eval_loader(dataset, batch_size):
            with flops.measure(len(x)):
                chunks.append(torch.softmax(model(x.to(target)).float(), dim=1).cpu())
    probabilities = torch.cat(chunks).numpy().astype(np.float64)
    return probabilities.argmax(axis=1), probabilities


def predict_splits(
    model: nn.Module,
    data_dir: str | Path,
    splits: Sequence[str],
    transform: Transform | None = None,
    device: str | None = "cpu",
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Split -> (labels, probabilities) of ``model`` on each of ``splits``."""
    return {
        split: predict(model, CoosDataset(data_dir, split, transform), device=device)
        for split in splits
    }


def write_predictions(
    folder: str | Path, predictions: Mapping[str, tuple[np.ndarray, np.ndarray | None]]
) -> list[Path]:
    """One ``<split>.csv`` (``index,label`` and ``p0..`` when probabilities are given) per
    split under ``folder``; the paths written. Probabilities are rounded to 6 decimals and
    renormalised, so each row still sums to 1 within the scorer's tolerance."""
    written = []
    for split, (labels, probabilities) in predictions.items():
        frame = pd.DataFrame({"index": np.arange(len(labels)), "label": np.asarray(labels)})
        if probabilities is not None:
            p = np.asarray(probabilities, dtype=np.float64)
            p = p / p.sum(axis=1, keepdims=True)
            frame[probability_columns(p.shape[1])] = np.round(p, 6)
        path = Path(folder) / f"{split}.csv"
        atomic_write_text(path, frame.to_csv(index=False))
        written.append(path)
    return written
