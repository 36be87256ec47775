"""Where a run's time goes: named stages, timed into a log when ``COOS_STAGE_LOG`` names a file.

``with stage("extract", "deeploc/test1"):`` times its block; when the environment variable
:data:`ENV` names a file (``bench/bench_book.py`` sets it for a whole ``make book``), each stage
appends one JSON line to it when it ends: its name, detail, the names of the stages around it
in this process, wall seconds, start and end times, the process id and, for the CNN stages,
the floating-point operations counted (:func:`add_flop`). Without the variable a stage costs
one dictionary lookup and writes nothing. Kernels and workers inherit the variable, so one log
holds the pipeline's chapters and every stage inside them; ``bench/bench_book.py`` nests them
by time.
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
