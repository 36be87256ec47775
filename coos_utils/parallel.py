"""Where parallel work runs: local processes (joblib/loky) or a dask.distributed cluster.

Every parallel loop of the package (feature extraction, the random-forest search) goes
through joblib and is wrapped in :func:`joblib_backend`, so one argument decides whether it
runs on this machine's cores or on a Dask cluster given by its scheduler address.
:func:`usable_cores` says how many cores this process may really use, which sizes the local
worker pools; :func:`process_threads`, its share of them, sizes torch's threads.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

import joblib

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
"""cgroup v2's CPU quota of this process's group (``"max 100000"``: none)."""


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may really use: those it is allowed to run on (its CPU
    affinity, e.g. ``taskset`` or a container's cpuset), capped by a cgroup CPU quota
    (``docker --cpus``); ``os.cpu_count()`` counts every core of the machine."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def process_threads(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The threads this process's numeric libraries should use: :func:`usable_cores`, capped
    by ``OMP_NUM_THREADS`` when the process was started with it. A parent that shares the
    cores between worker processes sets it for each (the DG sweep's dask workers, joblib's
    loky workers); ignoring it would give every worker all the cores and oversubscribe them."""
    cores = usable_cores(cpu_max)
    try:
        share = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return cores
    return max(1, min(cores, share))


@contextlib.contextmanager
def joblib_backend(scheduler: str | None = None) -> Iterator[None]:
    """Run the joblib calls inside the block locally, or on the Dask cluster at ``scheduler``.

    ``scheduler`` is a dask.distributed address such as ``"tcp://10.0.0.5:8786"``; ``None``
    keeps joblib's default process pool (loky). Leaving the block disconnects from the
    cluster without shutting it down. Needs the ``dask`` extra when ``scheduler`` is given.
    """
    if scheduler is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "a Dask scheduler was given but dask.distributed is not installed; "
            'install it with pip install "coos-utils[dask]"'
        ) from exc
    with Client(scheduler), joblib.parallel_config(backend="dask"):
        yield
