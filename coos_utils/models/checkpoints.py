"""Checkpoint files and the rule that picks the checkpoint a training run keeps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from coos_utils.atomic import atomic_path


def best_iteration(iterations: Sequence[int], scores: Sequence[float]) -> int:
    """The iteration with the lowest validation score (e.g. balanced error, or a loss).

    Ties go to the earliest iteration (the shorter training is preferred when it is as
    good); a NaN score never wins unless every score is NaN, in which case the earliest
    iteration is returned.
    """
    if len(iterations) != len(scores) or not iterations:
        raise ValueError("need one score per iteration, and at least one")
    ranked = sorted(
        zip(iterations, scores, strict=True),
        key=lambda pair: (math.isnan(pair[1]), pair[1] if not math.isnan(pair[1]) else 0, pair[0]),
    )
    return int(ranked[0][0])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save``; a reader never sees a half-written file."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, tensors mapped to ``device``."""
    return torch.load(path, map_location=device, weights_only=True)


def global_rng_state() -> dict[str, Any]:
    """torch's global random state (CPU and every CUDA device), e.g. for dropout."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_global_rng_state(state: dict[str, Any]) -> None:
    """Undo :func:`global_rng_state`."""
    torch.set_rng_state(state["cpu"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
