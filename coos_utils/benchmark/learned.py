"""The learned representations' side of the benchmark: train them on ``train``, extract every
split, and report what the profile changed from the paper's protocol."""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import joblib
import pandas as pd
from tqdm import tqdm

from coos_utils.data import CoosSplit
from coos_utils.features import Representation, features_for, fit_representation
from coos_utils.models.runtime import resolve_device
from coos_utils.parallel import usable_cores


class RepresentationParams(Protocol):
    """What :func:`profile_changes` reads of a run profile (a
    :class:`coos_utils.profiles.Profile`)."""

    @property
    def representation_params(self) -> Mapping[str, Mapping[str, Any]]: ...


def train_representations(
    reps: Sequence[Representation], train: CoosSplit, cache_dir: str | Path | None = None
) -> pd.DataFrame:
    """Fit each learned representation on ``train`` (resuming or reusing finished training)
    and return their training histories, one table, with the chosen checkpoint marked."""
    frames = [_fit(rep, train, cache_dir) for rep in reps if rep.learns]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def extract_all(
    reps: Sequence[Representation],
    splits: Mapping[str, CoosSplit],
    cache_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Features of every output of every representation on every split (cached); one row per
    (representation, output, split) with the array's shape and whether it came from the cache."""
    return pd.DataFrame([row for rep in reps for row in _extract(rep, splits, cache_dir)])


def train_and_extract(
    reps: Sequence[Representation],
    splits: Mapping[str, CoosSplit],
    cache_dir: str | Path,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`train_representations` on ``splits["train"]`` then :func:`extract_all`: the
    same two tables, the same cache entries, sooner where the cores allow.

    When :func:`side_by_side_workers` gives more than one worker, the independent jobs (each
    learned network's training and then its extraction; a fixed network's extraction of one
    split) run in that many processes, trainings first, then the largest splits, each job
    on ``cores // workers`` threads; a network trains on its own ``train_threads`` wherever
    it runs, so its weights are the same either way. The learned representations in ``reps``
    are then fitted here from the cache (for what the chapters read of them, such as PCI's
    pairing); their table's ``fit_seconds`` is the worker's. Warnings raised in a worker are
    raised again here. Otherwise everything runs here, one after the other.
    """
    train = splits["train"]
    jobs = _jobs(reps, splits)
    workers = min(side_by_side_workers(reps), len(jobs))
    if workers <= 1:
        return train_representations(reps, train, cache_dir), extract_all(reps, splits, cache_dir)
    pool = joblib.Parallel(
        n_jobs=workers,
        backend="loky",
        inner_max_num_threads=max(1, usable_cores() // workers),
        return_as="generator_unordered",
    )
    done: dict[int, tuple[pd.DataFrame | None, list[dict[str, Any]]]] = {}
    calls = (joblib.delayed(_job)(i, rep, names, splits, cache_dir) for i, (rep, names) in jobs)
    bar = tqdm(total=len(jobs), desc="networks and splits", unit="job", disable=not progress)
    with bar:
        for index, history, rows, caught in pool(calls):
            for message, category in caught:
                warnings.warn(message, category, stacklevel=2)
            done[index] = (history, rows)
            bar.update()
    for rep in reps:
        if rep.learns:
            fit_representation(rep, train, cache_dir)  # the workers' finished training
    ordered = [done[i] for i in sorted(done)]
    histories = [h for h, _ in ordered if h is not None]
    history = pd.concat(histories, ignore_index=True) if histories else pd.DataFrame()
    return history, _merge_rows([rows for _, rows in ordered])


def side_by_side_workers(reps: Sequence[Representation], cores: int | None = None) -> int:
    """How many processes :func:`train_and_extract` may run its jobs in: 1 (this process)
    when a network runs on a GPU, or when a learned one trains on every core (its
    ``train_threads`` ``None``: its weights would then depend on how the cores were shared);
    else as many as the cores hold trainings of the largest ``train_threads``."""
    learned = [getattr(rep, "train_threads", None) for rep in reps if rep.learns]
    if None in learned or any(resolve_device(rep.device).type != "cpu" for rep in reps):
        return 1
    return max(1, (cores or usable_cores()) // max(learned, default=1))


def _jobs(
    reps: Sequence[Representation], splits: Mapping[str, CoosSplit]
) -> list[tuple[int, tuple[Representation, list[str]]]]:
    """(order, (representation, split names)) in launch order: each learned network's whole
    job first (its training is the longest work), then fixed networks split by split, the
    largest first. ``order`` is the row order of the sequential tables."""
    order, learned, fixed = 0, [], []
    for rep in reps:
        if rep.learns:
            learned.append((order, (rep, list(splits))))
            order += 1
        else:
            for name in splits:
                fixed.append((order, (rep, [name])))
                order += 1
    fixed.sort(key=lambda job: -len(splits[job[1][1][0]]))
    return learned + fixed


def _job(
    index: int,
    rep: Representation,
    names: Sequence[str],
    splits: Mapping[str, CoosSplit],
    cache_dir: str | Path,
) -> tuple[int, pd.DataFrame | None, list[dict[str, Any]], list[tuple[str, type[Warning]]]]:
    """One worker's job: fit ``rep`` when it learns, extract the splits ``names``; the job's
    index, history, table rows and the warnings raised (to raise again in the parent)."""
    rep.progress = False  # the parent shows one bar for all jobs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = _fit(rep, splits["train"], cache_dir) if rep.learns else None
        rows = _extract(rep, {name: splits[name] for name in names}, cache_dir)
    return index, history, rows, [(str(w.message), w.category) for w in caught]


def _fit(rep: Representation, train: CoosSplit, cache_dir: str | Path | None) -> pd.DataFrame:
    """Fit one learned representation; its history with the chosen checkpoint marked."""
    start = time.perf_counter()
    fit_representation(rep, train, cache_dir)
    history = rep.history_.copy()
    history.insert(0, "representation", rep.name)
    history["chosen"] = history["iteration"] == rep.best_iteration_
    history["fit_seconds"] = time.perf_counter() - start
    return history


def _extract(
    rep: Representation, splits: Mapping[str, CoosSplit], cache_dir: str | Path | None
) -> list[dict[str, Any]]:
    """The rows of :func:`extract_all` for one representation."""
    start = time.perf_counter()
    found = features_for(rep, splits, cache_dir=cache_dir)
    seconds = time.perf_counter() - start
    return [
        {
            "representation": rep.name,
            "output": rep.outputs()[output],
            "split": split,
            "images": entry.values.shape[0],
            "dimensions": entry.values.shape[1],
            "from cache": entry.hit,
            "seconds (all outputs and splits)": round(seconds, 1),
        }
        for output, entries in found.entries.items()
        for split, entry in entries.items()
    ]


def _merge_rows(jobs: list[list[dict[str, Any]]]) -> pd.DataFrame:
    """The rows of the jobs (in job order) as :func:`extract_all` orders them (representation,
    output, split), each representation's seconds summed over its jobs."""
    seconds = "seconds (all outputs and splits)"
    total: dict[str, float] = {}
    for rows in jobs:
        if rows:
            name = rows[0]["representation"]
            total[name] = total.get(name, 0.0) + rows[0][seconds]
    rows = [{**row, seconds: round(total[row["representation"]], 1)} for job in jobs for row in job]
    outputs = list(dict.fromkeys(row["output"] for row in rows))  # in representation order
    return pd.DataFrame(sorted(rows, key=lambda row: outputs.index(row["output"])))


def profile_changes(
    profile: RepresentationParams, names: Sequence[str], registry: Mapping[str, type]
) -> pd.DataFrame:
    """Each parameter ``profile`` sets for a representation, beside the class default (the
    paper's protocol), so a chapter can say what it shrank."""
    rows = []
    for name in names:
        defaults = {
            key: p.default
            for key, p in inspect.signature(registry[name].__init__).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        for key, value in profile.representation_params.get(name, {}).items():
            rows.append(
                {
                    "representation": name,
                    "parameter": key,
                    "this profile": value,
                    "paper protocol": defaults.get(key),
                }
            )
    return pd.DataFrame(
        rows, columns=["representation", "parameter", "this profile", "paper protocol"]
    )


def pairing_note(reps: Sequence[Representation]) -> str:
    """Where each fitted paired-cell-inpainting representation drew its pairs from, in
    Markdown ("" when none of ``reps`` pairs cells), for the chapters and the PCI rows."""
    from coos_utils.models.pairs import describe_pairing

    groupings = [rep.grouping_ for rep in reps if hasattr(rep, "grouping_")]
    return " ".join(f"**Pairs.** {describe_pairing(g)}" for g in groupings)
