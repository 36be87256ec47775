"""Write the five synthetic splits: chunks drawn in worker processes, written in order, streamed."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from coos_utils.atomic import atomic_path
from coos_utils.data.writer import Hdf5SplitWriter
from coos_utils.parallel import usable_cores
from coos_utils.reference import CLASS_NAMES
from coos_utils.synthetic.design import (
    CONDITION_COLUMNS,
    META_COLUMNS,
    SPLIT_ORDER,
    make_design,
    rng_for,
    split_sizes,
)
from coos_utils.synthetic.params import MAX_SEED, SimulationParams
from coos_utils.synthetic.render import render_cells

GENERATOR = "coos_utils.synthetic"
GENERATOR_VERSION = "1.0.0"
CHUNK = 256
"""Cells per job; each job has its own random stream, so output does not depend on workers."""
PARALLEL_FROM = 5000
"""Fewer images than this are drawn in the calling process (starting workers costs ~1 s)."""
"""The largest seed: numpy's and torch's seeding take 32-bit seeds, and files store them."""


def check_seed(seed: object, name: str = "seed") -> int:
    """``seed`` if it is an integer from 0 to :data:`MAX_SEED`; a ``ValueError`` naming it."""
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        raise ValueError(f"{name} must be an integer from 0 to {MAX_SEED}, not {seed!r}")
    return int(seed)


@dataclass(frozen=True)
class _Job:
    split: str
    index: int
    seed: int
    conditions: dict[str, np.ndarray]
    params: SimulationParams


def file_name(scale: str, seed: int, split: str) -> str:
    """File name of one synthetic split: unmistakably not COOS-7, yet found by ``load_split``."""
    return f"SYNTHETIC-coos7sim_{scale}_seed{seed}_{split}.hdf5"


def folder_name(scale: str, seed: int, params: SimulationParams | None = None) -> str:
    """Folder of one synthetic data set; non-default parameters add a short digest."""
    name = f"{scale}_seed{seed}"
    if params is not None and params != SimulationParams():
        name += "_" + hashlib.blake2b(params.to_json().encode(), digest_size=4).hexdigest()
    return name


def file_attrs(scale: str, seed: int, split: str, params: SimulationParams) -> dict[str, object]:
    """The attributes written to every synthetic file."""
    return {
        "coos_source": "synthetic",
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "scale": scale,
        "split": split,
        "parameters": params.to_json(),
        "label_names": list(CLASS_NAMES),
        "description": (
            "SYNTHETIC stand-in for COOS-7 drawn by a simulator; not microscopy data. "
            "Numbers measured on it are not the paper's."
        ),
    }


def _render(job: _Job) -> np.ndarray:
    rng = rng_for(job.seed, 1, SPLIT_ORDER.index(job.split), job.index)
    return render_cells(rng, job.conditions, job.params)


PARENT_POLL_SECONDS = 0.5
"""How often a worker checks that the process that started it is still alive."""


def _exit_with_parent(parent: int) -> None:
    """Pool initializer: end this worker as soon as ``parent`` is gone (killed, even with
    SIGKILL), so that no worker outlives the command that started it."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _in_order(jobs: Iterable[_Job], workers: int) -> Iterator[np.ndarray]:
    """Results of ``jobs`` in their order, at most ``2 * workers`` of them in flight; the
    workers end with this process, however it ends."""
    if workers <= 1:
        yield from map(_render, jobs)
        return
    context = multiprocessing.get_context("spawn")
    watched = {"initializer": _exit_with_parent, "initargs": (os.getpid(),)}
    with ProcessPoolExecutor(workers, mp_context=context, **watched) as pool:
        pending: deque[Future[np.ndarray]] = deque()
        queue = iter(jobs)
        for job in queue:
            pending.append(pool.submit(_render, job))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def simulate_dataset(
    out_dir: str | Path,
    scale: str = "small",
    seed: int = 0,
    params: SimulationParams | None = None,
    progress: bool = False,
    splits: Sequence[str] | None = None,
    workers: int | None = None,
) -> list[Path]:
    """Simulate COOS-7-like splits and write them as HDF5 files in ``out_dir``.

    ``scale`` is ``tiny`` (tests), ``small`` (the default book) or ``paper`` (COOS-7's exact
    split sizes). The same seed and parameters give byte-identical files, whatever the number
    of ``workers`` (default: up to 2 processes for larger jobs). Returns the written paths.
    """
    seed = check_seed(seed)
    params = params or SimulationParams()
    chosen = tuple(SPLIT_ORDER if splits is None else [s.lower() for s in splits])
    unknown = [s for s in chosen if s not in SPLIT_ORDER]
    if unknown:
        raise ValueError(f"unknown split {unknown}; choose from {', '.join(SPLIT_ORDER)}")
    design = make_design(scale, seed, params)
    total = sum(split_sizes(scale)[s] for s in chosen)
    if workers is None:
        workers = min(2, usable_cores()) if total >= PARALLEL_FROM else 1

    def jobs() -> Iterator[_Job]:
        for split in chosen:
            cells = design.cells[split]
            for index, start in enumerate(range(0, len(cells), CHUNK)):
                part = cells.iloc[start : start + CHUNK]
                conditions = {c: part[c].to_numpy() for c in CONDITION_COLUMNS}
                yield _Job(split, index, seed, conditions, params)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / file_name(scale, seed, s) for s in chosen]
    results = _in_order(jobs(), workers)
    for split, path in zip(chosen, paths, strict=True):
        cells = design.cells[split]
        bar = tqdm(total=len(cells), desc=f"simulating {split}", unit="img", disable=not progress)
        with ExitStack() as stack:
            stack.enter_context(bar)
            writer = stack.enter_context(
                Hdf5SplitWriter(
                    path, attrs=file_attrs(scale, seed, split, params), chunk_images=CHUNK
                )
            )
            for start in range(0, len(cells), CHUNK):
                part = cells.iloc[start : start + CHUNK]
                images = next(results)
                meta = {c: part[c].to_numpy() for c in META_COLUMNS}
                writer.append(images, part["label"].to_numpy(), meta=meta)
                bar.update(len(part))
    return paths


def _is_complete(folder: Path, scale: str, seed: int, params: SimulationParams) -> bool:
    sizes = split_sizes(scale)
    for split in SPLIT_ORDER:
        path = folder / file_name(scale, seed, split)
        try:
            with h5py.File(path, "r") as handle:
                attrs = handle.attrs
                ok = (
                    attrs.get("generator_version") == GENERATOR_VERSION
                    and attrs.get("parameters") == params.to_json()
                    and handle["data"].shape[0] == sizes[split]
                )
        except (OSError, KeyError):
            return False
        if not ok:
            return False
    return True


def ensure_synthetic(
    root: str | Path,
    scale: str,
    seed: int,
    progress: bool = False,
    params: SimulationParams | None = None,
) -> Path:
    """The folder ``root/<scale>_seed<seed>/`` holding all five splits, simulated if needed.

    Files that are already there and match this generator version and these parameters are
    reused; otherwise the whole folder is built anew under a temporary name and swapped in.
    """
    seed = check_seed(seed)
    params = params or SimulationParams()
    folder = Path(root) / folder_name(scale, seed, params)
    if _is_complete(folder, scale, seed, params):
        return folder
    with atomic_path(folder, is_dir=True) as tmp:
        simulate_dataset(tmp, scale=scale, seed=seed, params=params, progress=progress)
    return folder


@dataclass(frozen=True)
class Simulation:
    """How a synthetic data set was made: enough to make it again with shifts switched off."""

    scale: str
    seed: int
    params: SimulationParams

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> Simulation | None:
        """The simulation stored in a synthetic split's attributes; None when they lack it."""
        if not all(key in attrs for key in ("scale", "seed", "parameters")):
            return None
        params = SimulationParams.from_json(str(attrs["parameters"]))
        return cls(str(attrs["scale"]), int(attrs["seed"]), params)

    def with_shifts_off(self, root: str | Path, *names: str) -> Path:
        """The same design (scale, seed, every other parameter) with the shifts ``names``
        (from :data:`~coos_utils.synthetic.params.SHIFTS`) off, simulated once under ``root``."""
        if not names:
            raise ValueError("name at least one shift to switch off")
        return ensure_synthetic(root, self.scale, self.seed, params=self.params.without(*names))
