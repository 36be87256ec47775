"""The learned representations' side of the benchmark: train them on ``train``, extract every
split, and report what the profile changed from the paper's protocol."""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from coos_utils.data import CoosSplit
from coos_utils.features import Representation, features_for, fit_representation


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
    frames = []
    for rep in reps:
        if not rep.learns:
            continue
        start = time.perf_counter()
        fit_representation(rep, train, cache_dir)
        history = rep.history_.copy()
        history.insert(0, "representation", rep.name)
        history["chosen"] = history["iteration"] == rep.best_iteration_
        history["fit_seconds"] = time.perf_counter() - start
        frames.append(history)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def extract_all(
    reps: Sequence[Representation],
    splits: Mapping[str, CoosSplit],
    cache_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Features of every output of every representation on every split (cached); one row per
    (representation, output, split) with the array's shape and whether it came from the cache."""
    rows = []
    for rep in reps:
        start = time.perf_counter()
        found = features_for(rep, splits, cache_dir=cache_dir)
        seconds = time.perf_counter() - start
        for output, entries in found.entries.items():
            for split, entry in entries.items():
                rows.append(
                    {
                        "representation": rep.name,
                        "output": rep.outputs()[output],
                        "split": split,
                        "images": entry.values.shape[0],
                        "dimensions": entry.values.shape[1],
                        "from cache": entry.hit,
                        "seconds (all outputs and splits)": round(seconds, 1),
                    }
                )
    return pd.DataFrame(rows)


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
