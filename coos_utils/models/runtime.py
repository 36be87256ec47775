"""Where and how the networks run: device, seeds, mixed precision, memory layout, CPU threads.

The same code runs on CPU (tests, laptops) and CUDA (the ``paper`` profile). Images and
convolutions use ``channels_last`` tensors on both (on the CPU, oneDNN's convolutions with few
channels run 1.1-2x faster that way: ``bench/bench_layout.py``). bf16 autocast only pays off
on a GPU and is switched on only there; on CPU everything runs in float32 and, with a fixed
seed, gives identical results from run to run.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

from coos_utils.parallel import process_threads


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` -> CUDA when present, else CPU; ``"cpu"``/``"cuda"``/``"cuda:N"`` honoured.

    Asking for CUDA where there is none is an error, not a silent fallback to CPU.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {str(device)!r} was asked for, but this torch ({torch.__version__}) sees "
            "no CUDA GPU; use device='cpu' or device=None (picks CUDA when present)"
        )
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {str(device)!r}; use 'cpu' or 'cuda'")
    return resolved


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA), and ask cuDNN for deterministic kernels.

    On CPU this makes training bit-for-bit repeatable. On CUDA, cuDNN's deterministic
    convolutions cost little; ops without a deterministic CUDA kernel (e.g. the backward of
    nearest-neighbour upsampling) may still differ in the last bits between runs.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (tensor cores, no loss scaling needed); nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    """``channels_last`` on every device: tensor cores on CUDA, and on the CPU oneDNN's
    convolutions skip the reorders around every layer (``bench/bench_layout.py``)."""
    return torch.channels_last


def prepare_module(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move ``module`` to ``device`` in the memory layout that suits it."""
    return module.to(device=device, memory_format=memory_format(device))


def prepare_input(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a batch to ``device`` as float32 in the memory layout that suits it."""
    return x.to(device=device, dtype=torch.float32, memory_format=memory_format(device))


@contextlib.contextmanager
def cpu_threads(n_jobs: int | None) -> Iterator[None]:
    """Use ``n_jobs`` torch CPU threads inside the block (-1 or None: this process's share of
    the cores, :func:`~coos_utils.parallel.process_threads`: the cores it may use, capped by
    ``OMP_NUM_THREADS`` where a parent shared them between workers; torch's own default counts
    every core of the machine, even those a cpuset or a CPU quota keeps from it)."""
    cores = process_threads()
    before = torch.get_num_threads()
    torch.set_num_threads(cores if n_jobs is None or n_jobs < 0 else max(1, min(n_jobs, cores)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_train_threads(threads: int | None) -> None:
    """A ``ValueError`` unless ``threads`` is a positive integer or ``None``."""
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"train_threads must be a positive integer or None, not {threads!r}")


def training_threads_used(threads: int | None, device: str | torch.device | None) -> int | None:
    """The torch CPU threads a network trains on: ``threads``, or with ``None`` this process's
    share of the cores (:func:`~coos_utils.parallel.process_threads`); ``None`` on a GPU."""
    check_train_threads(threads)
    if resolve_device(device).type != "cpu":
        return None
    return threads or process_threads()


@contextlib.contextmanager
def training_threads(threads: int | None) -> Iterator[None]:
    """Train on exactly ``threads`` torch CPU threads inside the block (``None``: this
    process's share of the cores). Not capped by the cores: the count decides how oneDNN
    splits a gradient's sums, so the same count gives the same weights on any machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or process_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)
