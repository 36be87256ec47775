"""Write the five synthetic splits: chunks drawn in worker processes, written in order, streamed."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
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
import pandas as pd
from tqdm import tqdm

from coos_utils.atomic import atomic_path
from coos_utils.codehash import code_hash
from coos_utils.data.writer import Hdf5SplitWriter
from coos_utils.parallel import usable_cores
from coos_utils.reference import CLASS_NAMES
from coos_utils.stages import stage
from coos_utils.synthetic.design import (
    CONDITION_COLUMNS,
    META_COLUMNS,
    SPLIT_ORDER,
    Design,
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


RENDER_PARAMS = ("cell_expression_sd", "microscope_a")
"""Parameters the renderer reads for every cell (everything else comes from the design)."""
DRIFT_PARAMS = ("drift_endosome", "drift_golgi", "drift_nucleus_texture")
"""Parameters the renderer reads, scaled by the cell's drift, for cells with a drift."""
SITE_B_PARAMS = ("microscope_b", "test4_microscope")
"""Parameters the renderer reads for cells imaged at the second site."""
RECIPE_ATTR = "split_recipe"


def split_recipe(design: Design, split: str) -> str:
    """A digest of everything that decides the bytes of ``split``: the simulator's code and
    version, scale, seed, the split's cells (circumstances and metadata, in order) and the
    parameters the renderer reads for them (:data:`RENDER_PARAMS`, plus :data:`DRIFT_PARAMS`
    when a cell drifts and :data:`SITE_B_PARAMS` when a cell is at the second site). Two
    simulations with the same recipe for a split write the same data for it, so a split whose
    recipe a switched-off shift leaves alone is copied, not drawn again."""
    cells = design.cells[split]
    names = set(RENDER_PARAMS)
    if (cells["drift"] != 0).any():
        names.update(DRIFT_PARAMS)
    if cells["site_b"].any():
        names.update(SITE_B_PARAMS)
    values = design.params.to_dict()
    head = {
        "generator": [GENERATOR, GENERATOR_VERSION, code_hash(["coos_utils.synthetic.simulate"])],
        "scale": design.scale,
        "seed": design.seed,
        "split": split,
        "columns": [[c, str(t)] for c, t in cells.dtypes.items()],
        "params": {name: values[name] for name in sorted(names)},
    }
    digest = hashlib.sha256(json.dumps(head, sort_keys=True, default=str).encode())
    digest.update(pd.util.hash_pandas_object(cells, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def _donor_file(donors: Sequence[Path], name: str, recipe: str, images: int) -> Path | None:
    """A file called ``name`` in one of ``donors`` written from ``recipe`` with ``images``."""
    for folder in donors:
        path = folder / name
        try:
            with h5py.File(path, "r") as handle:
                if handle.attrs.get(RECIPE_ATTR) == recipe and handle["data"].shape[0] == images:
                    return path
        except (OSError, KeyError):
            continue
    return None


def _copy_split(donor: Path, path: Path, attrs: Mapping[str, object]) -> None:
    """``donor``'s data at ``path`` with this simulation's attributes."""
    shutil.copyfile(donor, path)
    with h5py.File(path, "r+") as handle:
        for key in list(handle.attrs):
            del handle.attrs[key]
        handle.attrs.update(attrs)


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
    donors: Sequence[Path] = (),
) -> list[Path]:
    """Simulate COOS-7-like splits and write them as HDF5 files in ``out_dir``.

    ``scale`` is ``tiny`` (tests), ``small`` (the default book) or ``paper`` (COOS-7's exact
    split sizes). The same seed and parameters give byte-identical files, whatever the number
    of ``workers`` (default: up to 2 processes for larger jobs). A split whose
    :func:`split_recipe` matches that of the same file in one of the ``donors`` folders is
    copied from there (the same data) rather than drawn again. Returns the written paths.
    """
    seed = check_seed(seed)
    params = params or SimulationParams()
    chosen = tuple(SPLIT_ORDER if splits is None else [s.lower() for s in splits])
    unknown = [s for s in chosen if s not in SPLIT_ORDER]
    if unknown:
        raise ValueError(f"unknown split {unknown}; choose from {', '.join(SPLIT_ORDER)}")
    design = make_design(scale, seed, params)
    recipes = {s: split_recipe(design, s) for s in chosen}
    copied = {
        s: _donor_file(donors, file_name(scale, seed, s), recipes[s], len(design.cells[s]))
        for s in chosen
    }
    drawn = [s for s in chosen if copied[s] is None]
    total = sum(split_sizes(scale)[s] for s in drawn)
    if workers is None:
        workers = min(2, usable_cores()) if total >= PARALLEL_FROM else 1

    def jobs() -> Iterator[_Job]:
        for split in drawn:
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
        attrs = {**file_attrs(scale, seed, split, params), RECIPE_ATTR: recipes[split]}
        donor = copied[split]
        if donor is not None:
            _copy_split(donor, path, attrs)
            continue
        cells = design.cells[split]
        bar = tqdm(total=len(cells), desc=f"simulating {split}", unit="img", disable=not progress)
        with ExitStack() as stack:
            stack.enter_context(bar)
            writer = stack.enter_context(Hdf5SplitWriter(path, attrs=attrs, chunk_images=CHUNK))
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
    reused; otherwise the whole folder is built anew under a temporary name and swapped in,
    with every split a simulation of the same scale and seed in ``root`` (other parameters)
    already holds copied from there (:func:`simulate_dataset`'s ``donors``).
    """
    seed = check_seed(seed)
    params = params or SimulationParams()
    folder = Path(root) / folder_name(scale, seed, params)
    if _is_complete(folder, scale, seed, params):
        return folder
    base = folder_name(scale, seed)
    donors = sorted(p for p in Path(root).glob(f"{base}_*") if p != folder)
    donors += [Path(root) / base] if folder.name != base else []
    with stage("simulate", folder.name), atomic_path(folder, is_dir=True) as tmp:
        simulate_dataset(
            tmp, scale=scale, seed=seed, params=params, progress=progress, donors=donors
        )
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
