"""A sweep: independent trials (method x hyperparameter draw x seed), run on dask.distributed.

Each trial is one task that writes its own record and done marker (:mod:`coos_utils.dg.trial`),
so the sweep keeps no state of its own: running it again skips every finished trial and runs
the rest, which is how an interrupted sweep resumes.

Where the tasks run:

* ``serial=True``: one after the other in this process (tiny runs, tests, debugging);
* ``scheduler=None``: a local dask cluster (:func:`dask_scheduler`) of ``n_workers`` worker
  processes, each task using ``cpu_count // n_workers`` torch threads; on a machine with
  GPUs, one worker per GPU, each declaring the resource ``GPU=1`` and running on
  ``cuda:<worker index>``;
* ``scheduler="tcp://host:8786"``: any running cluster. When its workers declare a ``GPU``
  resource, each task asks for one GPU, so a worker runs one trial at a time; such a worker
  is expected to see one device (``CUDA_VISIBLE_DEVICES`` set per worker, as dask-cuda does).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from coos_utils.dg.algorithms import ALGORITHMS, method_name, plugin_spec
from coos_utils.dg.summary import select_draws
from coos_utils.dg.trial import TrialSpec, is_done, read_record, run_trial
from coos_utils.reference import TEST_SPLITS

TRIALS_FOLDER = "dg_trials"
RECORD_COLUMNS = [
    "trial_id",
    "method",
    "hparams_seed",
    "seed",
    "hparams",
    "split",
    "metric",
    "value",
    "note",
]
METRICS = ("balanced_error", "macro_f1")


def make_sweep(
    data_dir: str | Path,
    methods: Sequence[str] = tuple(ALGORITHMS),
    n_draws: int = 1,
    seeds: Iterable[int] = (0,),
    **settings: Any,
) -> list[TrialSpec]:
    """Every (method, draw, seed) trial; ``settings`` are the other :class:`TrialSpec` fields.

    A method is a built-in or entry-point name or a plug-in spec (``module:Class``,
    ``path/to/file.py:Class``); a plug-in's trials carry its spec and its rows its class name.
    Draw 0 is each method's defaults; draws 1..n_draws-1 are random (see ``hparams``).
    """
    names = {method: method_name(method) for method in methods}  # unknown: a one-line error
    repeated = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
    if repeated:
        raise ValueError(f"two DG methods share the name(s) {repeated}; rename a plug-in class")
    return [
        TrialSpec(
            names[method],
            draw,
            seed,
            str(Path(data_dir).resolve()),
            **settings,
            plugin=plugin_spec(method),
        )
        for method in methods
        for draw in range(n_draws)
        for seed in seeds
    ]


def pending(specs: Sequence[TrialSpec], trials_dir: str | Path) -> list[TrialSpec]:
    """The trials that have no done marker yet."""
    return [spec for spec in specs if not is_done(trials_dir, spec)]


def _worker_device() -> str:
    """The device of the dask worker running this task (see the module docstring)."""
    if not torch.cuda.is_available():
        return "cpu"
    from distributed import get_worker

    name = get_worker().name
    index = name if isinstance(name, int) else 0
    return f"cuda:{index % torch.cuda.device_count()}"


def _task(spec: TrialSpec, trials_dir: str, keep_model: bool) -> str:
    run_trial(spec, trials_dir, device=_worker_device(), keep_model=keep_model)
    return spec.trial_id


@contextlib.contextmanager
def dask_scheduler(scheduler: str | None = None, n_workers: int = 2) -> Iterator[str]:
    """The address of ``scheduler``, or of a local cluster that lives as long as the block.

    The local cluster has ``n_workers`` single-threaded worker processes (one per GPU when
    there are GPUs, each declaring ``GPU=1``), each giving torch ``cpu_count // workers``
    threads. Dask starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc
    hand freed memory back to the system at once; torch then re-faults its activation
    buffers at every step, and CPU training ran 2.5 times slower here: ours start without it.
    """
    if scheduler is not None:
        yield scheduler
        return
    try:
        import dask
        from distributed import LocalCluster
    except ImportError as exc:  # optional dependency
        raise ImportError(
            'the sweep runs on dask.distributed: pip install "coos-utils[dask]", '
            "or pass serial=True"
        ) from exc
    n_gpus = torch.cuda.device_count()
    n_workers = n_gpus or n_workers
    threads = str(max(1, (os.cpu_count() or 1) // n_workers))
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    environ.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            resources={"GPU": 1} if n_gpus else None,
            dashboard_address=None,
        ) as cluster,
    ):
        yield cluster.scheduler_address


def _run_on_dask(
    todo: Sequence[TrialSpec],
    trials_dir: Path,
    keep_models: Sequence[str],
    scheduler: str,
    progress: bool,
) -> None:
    from distributed import Client, as_completed

    with Client(scheduler) as client:
        workers = client.scheduler_info()["workers"].values()
        wants_gpu = any("GPU" in w.get("resources", {}) for w in workers)
        futures = [
            client.submit(
                _task,
                spec,
                str(trials_dir),
                spec.method in keep_models,
                key=f"dg-trial-{spec.trial_id}",
                resources={"GPU": 1} if wants_gpu else None,
                pure=False,
            )
            for spec in todo
        ]
        failures = []
        done = as_completed(futures)
        for future in tqdm(done, total=len(futures), desc="DG trials", disable=not progress):
            if future.status == "error":
                failures.append((future.key, future.exception()))
    if failures:
        names = ", ".join(str(key) for key, _ in failures)
        raise RuntimeError(f"{len(failures)} trial(s) failed: {names}") from failures[0][1]


def run_sweep(
    specs: Sequence[TrialSpec],
    out_dir: str | Path,
    scheduler: str | None = None,
    n_workers: int = 2,
    serial: bool = False,
    keep_models: Sequence[str] = ("ERM",),
    progress: bool = True,
) -> pd.DataFrame:
    """Run the unfinished trials of ``specs`` under ``out_dir/dg_trials``; the records table.

    Finished trials (done marker present) are skipped. The selected weights of the methods
    in ``keep_models`` are saved with their records (``model.pt``), e.g. for shift measures
    on ERM's features. Returns :func:`records_table` of all ``specs``.
    """
    trials_dir = Path(out_dir) / TRIALS_FOLDER
    todo = pending(specs, trials_dir)
    if serial:
        for spec in tqdm(todo, desc="DG trials", disable=not progress):
            run_trial(spec, trials_dir, keep_model=spec.method in keep_models)
    elif todo:
        with dask_scheduler(scheduler, n_workers) as address:
            _run_on_dask(todo, trials_dir, keep_models, address, progress)
    return records_table(specs, out_dir)


def run_search(
    data_dir: str | Path,
    out_dir: str | Path,
    methods: Sequence[str] = tuple(ALGORITHMS),
    n_draws: int = 2,
    seeds: Sequence[int] = (0, 1, 2),
    scheduler: str | None = None,
    n_workers: int = 2,
    serial: bool = False,
    keep_models: Sequence[str] = ("ERM",),
    progress: bool = True,
    **settings: Any,
) -> pd.DataFrame:
    """A two-stage random search: every draw of every method on the first seed; then, for
    the draw that training-domain validation chose, the other seeds. The records table.

    This costs ``methods x (n_draws + seeds - 1)`` trials instead of the full grid's
    ``methods x n_draws x seeds``, and :func:`~coos_utils.dg.summary.select_draws` makes
    the same choice from the records afterwards (it compares draws on their shared seed).
    """
    first = make_sweep(data_dir, methods, n_draws, list(seeds)[:1], **settings)
    options = {"serial": serial, "keep_models": keep_models, "progress": progress}
    with contextlib.ExitStack() as stack:
        if not serial and pending(first, Path(out_dir) / TRIALS_FOLDER):
            scheduler = stack.enter_context(dask_scheduler(scheduler, n_workers))  # one for both
        chosen = select_draws(run_sweep(first, out_dir, scheduler, n_workers, **options))
        by_name = {spec.method: spec for spec in first}  # a plug-in keeps its spec
        rest = [
            replace(by_name[method], hparams_seed=int(draw), seed=seed)
            for method, draw in zip(chosen["method"], chosen["hparams_seed"], strict=True)
            for seed in list(seeds)[1:]
        ]
        run_sweep(rest, out_dir, scheduler, n_workers, **options)
    return records_table(first + rest, out_dir)


def records_table(specs: Sequence[TrialSpec], out_dir: str | Path) -> pd.DataFrame:
    """One row per finished trial, split (``validation``, test1..test4) and metric, with the
    trial's hyperparameters as JSON. A trial that was not run (CORAL without domains) gives
    its rows a NaN value and the reason in ``note`` (empty for trials that ran)."""
    trials_dir = Path(out_dir) / TRIALS_FOLDER
    rows = []
    for spec in specs:
        if not is_done(trials_dir, spec):
            continue
        record = read_record(trials_dir, spec)
        hparams = json.dumps(record.get("hparams", {}), sort_keys=True)
        key = (spec.trial_id, spec.method, spec.hparams_seed, spec.seed, hparams)
        if record.get("status", "ran") != "ran":
            for split in ("validation", *TEST_SPLITS):
                rows.extend((*key, split, m, float("nan"), record["reason"]) for m in METRICS)
            continue
        scores = {"validation": record["validation"], **record["test"]}
        for split, result in scores.items():
            for metric in METRICS:
                rows.append((*key, split, metric, float(result[metric]), ""))
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)
