"""Chapter 02's networks trained and extracted side by side in worker processes give the
tables and the cached features of the same work done one after the other in one process."""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from coos_utils.benchmark import learned
from coos_utils.benchmark.learned import (
    extract_all,
    side_by_side_workers,
    train_and_extract,
    train_representations,
)
from coos_utils.data import CoosSplit, load_splits
from coos_utils.features import features_for
from coos_utils.features.base import Representation
from coos_utils.models import (
    DeepLocRepresentation,
    PciRepresentation,
    Vgg16Representation,
    training,
)
from coos_utils.parallel import process_threads, usable_cores

QUIET = {"progress": False, "device": "cpu", "seed": 0}
TIMING = ["fit_seconds", "images_per_s"]


def networks(train_threads: int | None = 1) -> list[Representation]:
    """Tiny versions of chapter 02's three networks."""
    return [
        DeepLocRepresentation(
            iterations=6, batch_size=16, eval_every=3, width=1 / 16, fc_units=16,
            train_threads=train_threads, **QUIET,
        ),
        Vgg16Representation(weights=None, layers=["conv1_2", "conv2_2"], **QUIET),
        PciRepresentation(
            iterations=4, batch_size=8, eval_every=2, width=1 / 16,
            train_threads=train_threads, **QUIET,
        ),
    ]  # fmt: skip


def refuse_to_train(*args: object, **kwargs: object) -> None:
    raise AssertionError("trained in the parent process")


@pytest.fixture(scope="module")
def splits(tiny_data: Path) -> dict[str, CoosSplit]:
    """The tiny splits cut to their first images (in memory): 160 to train on, 32 a test."""
    return {
        name: dataclasses.replace(
            split,
            images=np.asarray(split.images[:n]),
            labels=split.labels[:n],
            meta=split.meta.iloc[:n],
        )
        for name, split in load_splits(tiny_data).items()
        for n in [160 if name == "train" else 32]
    }


@pytest.mark.skipif(usable_cores() < 2, reason="side by side needs two cores")
def test_side_by_side_gives_the_tables_and_features_of_one_after_the_other(
    splits: dict[str, CoosSplit],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "stages.jsonl"
    monkeypatch.setenv("COOS_STAGE_LOG", str(log))
    reps = networks()
    with monkeypatch.context() as here_only:  # this process may only read the training back
        here_only.setattr(training, "train", refuse_to_train)
        history, extracted = train_and_extract(reps, splits, tmp_path / "apart", False)
    stages = [json.loads(line) for line in log.read_text().splitlines()]
    extracted_in = {s["pid"] for s in stages if s["stage"] == "extract"}
    assert len(extracted_in) == 2 and os.getpid() not in extracted_in  # in two workers
    assert reps[2].grouping_ == "field" and reps[2].best_iteration_ in (2, 4)  # fitted here

    here = networks()
    alone_history = train_representations(here, splits["train"], tmp_path / "here")
    alone_extracted = extract_all(here, splits, tmp_path / "here")
    pd.testing.assert_frame_equal(history.drop(columns=TIMING), alone_history.drop(columns=TIMING))
    seconds = "seconds (all outputs and splits)"
    pd.testing.assert_frame_equal(
        extracted.drop(columns=seconds), alone_extracted.drop(columns=seconds)
    )
    assert not extracted["from cache"].any()
    for rep in here:
        apart = features_for(rep, splits, cache_dir=tmp_path / "apart")
        alone = features_for(rep, splits, cache_dir=tmp_path / "here")
        for output, entries in apart.entries.items():
            for split, entry in entries.items():
                assert entry.hit
                np.testing.assert_array_equal(entry.values, alone.entries[output][split].values)


def test_side_by_side_only_where_every_training_fixes_its_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert side_by_side_workers(networks(1), cores=4) == 4
    assert side_by_side_workers(networks(2), cores=4) == 2
    assert side_by_side_workers(networks(2), cores=1) == 1
    assert side_by_side_workers(networks(None), cores=4) == 1  # weights would follow the cores
    monkeypatch.setattr(learned, "resolve_device", lambda device: torch.device("cuda"))
    assert side_by_side_workers(networks(1), cores=4) == 1  # one GPU: one after the other


def test_the_training_threads_are_in_the_key_as_used() -> None:
    one, two, every = networks(1)[0], networks(2)[0], networks(None)[0]
    assert one.params()["train_threads"] == 1 and two.params()["train_threads"] == 2
    assert every.params()["train_threads"] == process_threads()
    assert one.params() != two.params()
    with pytest.raises(ValueError, match="train_threads must be a positive integer"):
        PciRepresentation(train_threads=0)


class Grumbling(Vgg16Representation):
    """VGG16 that warns on every split it extracts."""

    def transform(self, split: CoosSplit) -> dict[str, np.ndarray]:
        warnings.warn(f"{split.name}: few grey levels", UserWarning, stacklevel=2)
        return super().transform(split)


def test_a_job_hands_its_warnings_back(splits: dict[str, CoosSplit], tmp_path: Path) -> None:
    rep = Grumbling(weights=None, layers=["conv1_2"], input_scaling="per_image", **QUIET)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing escapes the job itself
        index, history, rows, caught = learned._job(3, rep, ["test1"], splits, tmp_path)
    assert index == 3 and history is None and [r["split"] for r in rows] == ["test1"]
    assert caught == [("test1: few grey levels", UserWarning)]
