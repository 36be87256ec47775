"""Checkpoint files and the rule that picks the checkpoint a training run keeps.

A checkpoint ``<name>.pt`` is a plain ``torch.save`` file with a checksum beside it,
``<name>.pt.sha256`` (the format of ``sha256sum``, so ``sha256sum -c`` checks it too). Both are
written atomically, the checkpoint first. :func:`load_checkpoint` reads the bytes once, checks
them against the recorded digest and only then unpickles them: ``torch.load`` on a file with a
flipped byte may well succeed and return wrong weights, so the checksum is what catches it.
A damaged, unreadable or unchecked file raises a :class:`CoosDataError` naming it.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from coos_utils.atomic import atomic_path, atomic_write_text
from coos_utils.data.errors import CoosDataError

CHECKSUM_SUFFIX = ".sha256"


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


def checksum_path(path: Path) -> Path:
    """The file holding the SHA-256 of the checkpoint ``path``: ``<path>.sha256``."""
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` and its SHA-256 beside it, each atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    atomic_write_text(checksum_path(path), f"{digest}  {path.name}\n")


def _reason(exc: Exception) -> str:
    """The reason of an OSError without the path (the caller names the file)."""
    return getattr(exc, "strerror", None) or str(exc)


def _recorded_digest(path: Path) -> str:
    record = checksum_path(path)
    try:
        text = record.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"its checksum file {record.name} is unreadable ({_reason(exc)})"
        raise CoosDataError(path, problem) from exc
    digest = text.split()[0] if text.split() else ""
    if len(digest) != 64:
        raise CoosDataError(path, f"its checksum file {record.name} holds no SHA-256")
    return digest.lower()


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, tensors mapped to ``device``.

    Raises :class:`CoosDataError` (naming ``path``) when the file or its checksum file is
    missing or unreadable, when the bytes do not match the recorded SHA-256, or when
    ``torch.load`` cannot read them.
    """
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise CoosDataError(path, f"checkpoint unreadable ({_reason(exc)})") from exc
    expected = _recorded_digest(path)
    if hashlib.sha256(payload).hexdigest() != expected:
        raise CoosDataError(path, "checksum mismatch: the checkpoint is damaged")
    try:
        state = torch.load(io.BytesIO(payload), map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types; none may escape without the file name
        raise CoosDataError(
            path, f"torch.load cannot read it ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(state, dict):
        raise CoosDataError(path, f"holds a {type(state).__name__}, not a checkpoint record")
    return state


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
