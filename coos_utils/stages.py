"""Where a run's time goes: named stages, timed into a log when ``COOS_STAGE_LOG`` names a file.

``with stage("extract", "deeploc/test1"):`` times its block; when the environment variable
:data:`ENV` names a file (``bench/bench_book.py`` sets it for a whole ``make book``), each stage
appends one JSON line to it when it ends: its name, detail, the names of the stages around it
in this process, wall seconds, start and end times, the process id and, for the CNN stages,
the floating-point operations counted (:func:`add_flop`). Without the variable a stage costs
one dictionary lookup and writes nothing. Kernels and workers inherit the variable, so one log
holds the pipeline's chapters and every stage inside them; ``bench/bench_book.py`` nests them
by time.

:func:`log_matmul_reference` logs, in the same file, the time of a large fp32 matrix product
on the process's share of the cores (the pipeline calls it before each chapter): what the
cores reach at that moment of the build, against which the report sets the CNN stages'
GFLOP/s (machines are noisy: a reference measured after the build can be far off).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

ENV = "COOS_STAGE_LOG"
REFERENCE = "reference"
"""The name of the stage records that time a matrix product (:func:`log_matmul_reference`)."""
MATMUL_SIZE = 2048


@dataclass
class Stage:
    """One running stage: its name, detail and the operations counted inside it so far."""

    name: str
    detail: str = ""
    flop: float = 0.0


_open: ContextVar[tuple[Stage, ...]] = ContextVar("coos_stages", default=())


def logging_stages() -> bool:
    """Whether stages are being logged (so that counting operations is worth its cost)."""
    return bool(os.environ.get(ENV))


@contextmanager
def stage(name: str, detail: str = "") -> Iterator[None]:
    """Time the block as stage ``name`` (``detail``: what it worked on) when logging."""
    path = os.environ.get(ENV)
    if not path:
        yield
        return
    outer = _open.get()
    current = Stage(name, detail)
    token = _open.set((*outer, current))
    start, started = time.perf_counter(), time.time()
    try:
        yield
    finally:
        _open.reset(token)
        record = {
            "stage": name,
            "detail": detail,
            "within": [s.name for s in outer],
            "seconds": time.perf_counter() - start,
            "start": started,
            "end": time.time(),
            "pid": os.getpid(),
            "flop": current.flop or None,
        }
        for enclosing in outer:
            enclosing.flop += current.flop
        with open(path, "a", encoding="utf-8") as log:  # one short append per stage
            log.write(json.dumps(record) + "\n")


def add_flop(count: float) -> None:
    """Add ``count`` floating-point operations to the innermost running stage (if logging)."""
    running = _open.get()
    if running:
        running[-1].flop += count


def log_matmul_reference(repeats: int = 3) -> None:
    """When logging, time ``repeats`` fp32 ``MATMUL_SIZE`` square matrix products (after one
    untimed) on this process's share of the cores, each logged as a :data:`REFERENCE` stage
    with its operations; nothing otherwise. Torch's thread count is restored afterwards."""
    if not logging_stages():
        return
    import torch

    from coos_utils.parallel import process_threads

    before, threads = torch.get_num_threads(), process_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
        a @ b
        for _ in range(repeats):
            with stage(REFERENCE, f"matmul {MATMUL_SIZE}^2 on {threads} threads"):
                a @ b
                add_flop(2.0 * MATMUL_SIZE**3)
    finally:
        torch.set_num_threads(before)
