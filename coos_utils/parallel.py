"""Where parallel work runs: local processes (joblib/loky) or a dask.distributed cluster.

Every parallel loop of the package (feature extraction, the random-forest search) goes
through joblib and is wrapped in :func:`joblib_backend`, so one argument decides whether it
runs on this machine's cores or on a Dask cluster given by its scheduler address.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import joblib


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
