"""A sweep: independent trials (method x hyperparameter draw x seed), run on dask.distributed.

Each trial is one task that writes its own record and done marker (:mod:`coos_utils.dg.trial`),
so the sweep keeps no state of its own: running it again skips every finished trial and runs
the rest, which is how an interrupted sweep resumes.

Where the tasks run:

* ``serial=True``: one after the other in this process (tiny runs, tests, debugging);
* ``scheduler=None``: a local dask cluster (:func:`dask_scheduler`) of ``n_workers`` worker
  processes, each task using ``usable_cores() // n_workers`` torch threads; on a machine with
  GPUs, one worker per GPU, each declaring the resource ``GPU=1`` and running on
  ``cuda:<worker index>``;
* ``scheduler="tcp://host:8786"``: any running cluster. When its workers declare a ``GPU``
  resource, each task asks for one GPU, so a worker runs one trial at a time; such a worker
  is expected to see one device (``CUDA_VISIBLE_DEVICES`` set per worker, as dask-cuda does).

On a cluster the sweep hands out trials itself, one per free slot (worker thread, or GPU
worker), costliest first (:func:`launch_order`): left to dask, every trial is queued on a
worker at once, and one worker could run two long trials (ContriMix's) in a row while the
other sat idle. The order changes no result: each trial is seeded and runs alone.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from coos_utils.data import CoosDataError, load_split
from coos_utils.dg.algorithms import ALGORITHMS, method_name, plugin_spec
from coos_utils.dg.summary import select_draws
from coos_utils.dg.trial import (
    TrialSpec,
    is_done,
    read_record,
    run_trial,
    training_key,
    trial_folder,
    trial_hparams,
)
from coos_utils.parallel import usable_cores
from coos_utils.reference import TEST_SPLITS
from coos_utils.stages import stage

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
    "folder",
    "zero_losses",
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
    """Run one trial on this worker's device."""
    run_trial(spec, trials_dir, device=_worker_device(), keep_model=keep_model)
    return spec.trial_id


@functools.cache
def _train_fingerprint(data_dir: str) -> str:
    return load_split(data_dir, "train").content_fingerprint()


def first_trainers(specs: Sequence[TrialSpec]) -> dict[str, TrialSpec]:
    """Trial id -> the earlier trial of ``specs`` that trains the same model (same
    :func:`~coos_utils.dg.trial.training_key` but for the device), for every trial that has
    one: it waits for that one and then reuses its model rather than train it at the same
    time. TestTimeBN after ERM, an ablation data set whose ``train`` did not change."""
    first: dict[str, TrialSpec] = {}
    waits = {}
    for spec in specs:
        key = training_key(spec, _train_fingerprint(spec.data_dir), "any")
        if key in first:
            waits[spec.trial_id] = first[key]
        else:
            first[key] = spec
    return waits


def estimated_cost(spec: TrialSpec) -> float:
    """A trial's rough training cost in ERM trials of the same settings (its method's
    :meth:`~coos_utils.dg.algorithms.Algorithm.step_cost` under its draw)."""
    return float(spec.algorithm.step_cost(trial_hparams(spec)))


def launch_order(specs: Sequence[TrialSpec]) -> list[TrialSpec]:
    """``specs`` costliest first (ties in their given order): with each worker taking the
    next trial when it is free, the long trials start early and the short ones fill in, so
    no worker waits idle at the end while another runs a long trial it queued."""
    return sorted(specs, key=estimated_cost, reverse=True)


def next_ready(
    queue: Sequence[TrialSpec], waits: dict[str, TrialSpec], finished: set[str]
) -> TrialSpec | None:
    """The first trial of ``queue`` whose model trainer (``waits``) has finished, if any."""
    for spec in queue:
        before = waits.get(spec.trial_id)
        if before is None or before.trial_id in finished:
            return spec
    return None


@contextlib.contextmanager
def dask_scheduler(scheduler: str | None = None, n_workers: int = 2) -> Iterator[str]:
    """The address of ``scheduler``, or of a local cluster that lives as long as the block.

    The local cluster has ``n_workers`` single-threaded worker processes (one per GPU when
    there are GPUs, each declaring ``GPU=1``), each giving torch ``usable_cores() // workers``
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
    threads = str(max(1, usable_cores() // n_workers))
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
    """Run ``todo`` on the cluster, as many at a time as it has slots (threads, or GPU
    workers), each free slot taking the next trial of :func:`launch_order` that is ready
    (a trial that reuses another's model starts after that one)."""
    from distributed import Client, as_completed

    with Client(scheduler) as client:
        workers = client.scheduler_info()["workers"].values()
        wants_gpu = any("GPU" in w.get("resources", {}) for w in workers)
        slots = sum(1 if wants_gpu else w.get("nthreads", 1) for w in workers) or 1
        waits, queue = first_trainers(todo), launch_order(todo)
        finished: set[str] = set()
        running, trial_of, failures = as_completed(), {}, []

        def launch() -> None:
            while queue and running.count() < slots:
                spec = next_ready(queue, waits, finished)
                if spec is None:
                    return
                queue.remove(spec)
                future = client.submit(
                    _task,
                    spec,
                    str(trials_dir),
                    spec.method in keep_models,
                    key=f"dg-trial-{spec.trial_id}",
                    resources={"GPU": 1} if wants_gpu else None,
                    pure=False,
                )
                trial_of[future.key] = spec.trial_id
                running.add(future)

        launch()
        with tqdm(total=len(todo), desc="DG trials", disable=not progress) as bar:
            for future in running:
                finished.add(trial_of[future.key])
                if future.status == "error":
                    failures.append((future.key, future.exception()))
                bar.update()
                launch()
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

    Finished trials (done marker present) are skipped; a trial that trains the same model
    as another waits for it and reuses its model (:func:`first_trainers`). The selected
    weights of the methods in ``keep_models`` are saved with their records (``model.pt``),
    e.g. for shift measures on ERM's features. Returns :func:`records_table` of all
    ``specs``; a trial that ran but left no record stops it (``CoosDataError``).
    """
    trials_dir = Path(out_dir) / TRIALS_FOLDER
    todo = pending(specs, trials_dir)
    if serial:
        for spec in tqdm(todo, desc="DG trials", disable=not progress):
            run_trial(spec, trials_dir, keep_model=spec.method in keep_models)
    elif todo:
        with dask_scheduler(scheduler, n_workers) as address:
            _run_on_dask(todo, trials_dir, keep_models, address, progress)
    lost = [spec.trial_id for spec in todo if not is_done(trials_dir, spec)]
    if lost:
        raise CoosDataError(
            trials_dir,
            f"{len(lost)} trial(s) ran but left no record under their id ({', '.join(lost)}); "
            "a plug-in method must resolve to the same code in the workers as here",
        )
    return records_table(specs, out_dir)


@stage("DG search")
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

    The settings:

    * ``data_dir``: the data (a folder of the five COOS-7 splits); trials train on 80% of
      its ``train``, choose their weights on the other 20% and are scored on every test set.
    * ``out_dir``: where the trials are kept (``out_dir/dg_trials/<trial id>/``: record,
      done marker, test predictions); a trial already done there is not run again.
    * ``methods``: built-in or entry-point names, or plug-ins as ``module:Class`` or
      ``path/to/file.py:Class`` (rows carry the class name).
    * ``n_draws``: hyperparameter draws per method on the first seed; draw 0 is the
      method's defaults, the others random (:mod:`coos_utils.dg.hparams`).
    * ``seeds``: trial seeds (the held-out part of ``train``, the initialisation, the
      batches); the first is the search seed.
    * ``scheduler``, ``n_workers``, ``serial``: where the trials run (module docstring): a
      dask.distributed address, else a local cluster of ``n_workers`` processes, or with
      ``serial`` one by one in this process.
    * ``keep_models``: methods whose chosen weights are saved with their records
      (``model.pt``), for the shift measures on ERM's features.
    * ``progress``: a progress bar.
    * ``settings``: the other fields of :class:`~coos_utils.dg.trial.TrialSpec`, the same
      for every trial: ``steps`` (training steps), ``batch_size``, ``eval_every`` (steps
      between validation scores), ``width`` (network width, 1.0 full size), ``backbone``
      (the network, :mod:`coos_utils.dg.backbones`), ``max_val_images`` (images of the
      held-out part scored at each validation; None: all), ``val_fraction`` (that part's
      share of ``train``), ``hparams_overrides`` ((name, value) pairs fixing hyperparameters).

    The records are not a results folder: ``coos sweep`` runs this same search and writes
    one (``dg.csv`` and ``dg_vs_erm.csv`` as chapter 05 writes them, ``records.csv``,
    ``provenance.json``) that ``coos results collect`` reads; from Python,
    ``coos_utils.commands.main(["sweep", ...])``.
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
    trial's hyperparameters as JSON, its folder (where its test predictions are) and
    ``zero_losses``: the losses its ``update`` returned that were 0 at every training step
    (``;``-separated, "" when none). A trial that was not run (CORAL without domains) gives
    its rows a NaN value and the reason in ``note`` (empty for trials that ran)."""
    trials_dir = Path(out_dir) / TRIALS_FOLDER
    rows = []
    for spec in specs:
        if not is_done(trials_dir, spec):
            continue
        record = read_record(trials_dir, spec)
        hparams = json.dumps(record.get("hparams", {}), sort_keys=True)
        key = (spec.trial_id, spec.method, spec.hparams_seed, spec.seed, hparams)
        folder = str(trial_folder(trials_dir, spec))
        if record.get("status", "ran") != "ran":
            for split in ("validation", *TEST_SPLITS):
                rows.extend(
                    (*key, split, m, float("nan"), record["reason"], folder, "") for m in METRICS
                )
            continue
        ever = record.get("losses_ever_nonzero", {})
        zero = ";".join(name for name, nonzero in ever.items() if not nonzero)
        scores = {"validation": record["validation"], **record["test"]}
        for split, result in scores.items():
            for metric in METRICS:
                rows.append((*key, split, metric, float(result[metric]), "", folder, zero))
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)
