"""Activations of named submodules, in batches, pooled to one vector per image.

:func:`extract` runs a network over batches with forward hooks on the requested
submodules (any name of ``model.named_modules()``, e.g. ``"features.15"`` or
``"source.conv3"``) and stops each forward pass as soon as the deepest requested layer has
fired, so nothing after it is computed. An (N, C, H, W) activation becomes an (N, C)
vector by global max pooling (the strongest response of each channel anywhere in the
image) or global mean pooling; (N, D) activations are kept as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np
import torch

from coos_utils.models.flops import FlopSampler
from coos_utils.models.runtime import autocast, memory_format

Pooling = Literal["max", "mean", "flatten"]


def pool(activation: torch.Tensor, how: Pooling = "max") -> torch.Tensor:
    """(N, C, H, W) -> (N, C) by global max or mean over space, or (N, C*H*W) by flattening."""
    if activation.ndim == 2:
        return activation
    if how == "max":
        return activation.amax(dim=tuple(range(2, activation.ndim)))
    if how == "mean":
        return activation.mean(dim=tuple(range(2, activation.ndim)))
    if how == "flatten":
        return activation.flatten(1)
    raise ValueError(f"unknown pooling {how!r}; use 'max', 'mean' or 'flatten'")


class _EnoughComputed(Exception):
    """Raised by the last hook to cut a forward pass short."""


def extract(
    model: torch.nn.Module,
    batches: Iterable[torch.Tensor],
    layers: Sequence[str],
    pooling: Pooling = "max",
    forward: Callable[[torch.Tensor], object] | None = None,
) -> dict[str, np.ndarray]:
    """Pooled activations of ``layers`` over all ``batches``: name -> (N, D) float32.

    ``forward`` is the call that runs the network on one batch (default ``model``), for
    networks whose forward takes more than one input. The model is run in eval mode
    without gradients (bf16 autocast on CUDA; activations are returned as float32).
    """
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules]
    if unknown:
        raise KeyError(f"{type(model).__name__} has no submodules {unknown}")
    if not layers:
        raise ValueError("no layers requested")
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    current: dict[str, torch.Tensor] = {}
    pending: set[str] = set()

    def hook_for(name: str) -> Callable[..., None]:
        def hook(module: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
            current[name] = pool(output.detach(), pooling).float().cpu()
            pending.discard(name)
            if not pending:
                raise _EnoughComputed

        return hook

    device = next(model.parameters()).device
    run = forward or model
    collected: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    handles = [modules[name].register_forward_hook(hook_for(name)) for name in layers]
    was_training = model.training
    model.eval()
    flops = FlopSampler()
    try:
        with torch.no_grad(), autocast(device):
            for batch in batches:
                current.clear()
                pending.update(layers)
                if batch.ndim == 4:
                    batch = batch.contiguous(memory_format=memory_format(batch.device))
                with flops.measure(len(batch)), contextlib.suppress(_EnoughComputed):
                    run(batch)
                if pending:
                    missing = sorted(pending, key=order.__getitem__)
                    raise RuntimeError(f"layers {missing} were not reached by the forward pass")
                for name in layers:
                    collected[name].append(current[name])
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {
        name: torch.cat(parts).numpy() if parts else np.zeros((0, 0), np.float32)
        for name, parts in collected.items()
    }
