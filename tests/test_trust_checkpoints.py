"""Checkpoints carry a checksum: a damaged ``last.pt`` or ``best.pt`` is named in a warning
and never used; the fit starts again from scratch and ends as a clean run does."""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from coos_utils.data import CoosSplit, load_split
from coos_utils.data.errors import CoosDataError
from coos_utils.models import DeepLocRepresentation, training
from coos_utils.models.checkpoints import checksum_path, load_checkpoint, save_checkpoint
from coos_utils.models.training import TrainingOutcome, TrainingPlan, TrainingTask
from tests.test_models_training import Interrupted, deeploc_task, interrupt_after
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse fixture)

PLAN = TrainingPlan(iterations=10, eval_every=3, batch_size=8, identity={"run": "a"})


def flip_middle_byte(path: Path) -> None:
    """Invert one byte in the middle of ``path``, as a bad disk or copy would."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def weights(task: TrainingTask) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in task.model.state_dict().items()}


def count_steps(task: TrainingTask) -> list[int]:
    """Count the task's training batches (in the returned one-element list)."""
    original, count = task.training_loss, [0]

    def loss() -> torch.Tensor:
        count[0] += 1
        return original()

    task.training_loss = loss  # type: ignore[method-assign]
    return count


def clean_run(work_dir: Path) -> tuple[TrainingOutcome, dict[str, torch.Tensor]]:
    task, optimizer, scheduler = deeploc_task()
    outcome = training.train(task, optimizer, PLAN, work_dir, scheduler, progress=False)
    return outcome, weights(task)


def assert_same_run(outcome: TrainingOutcome, expected: TrainingOutcome) -> None:
    assert outcome.best_iteration == expected.best_iteration
    pd.testing.assert_frame_equal(
        outcome.history.drop(columns="images_per_s"), expected.history.drop(columns="images_per_s")
    )


def test_checkpoint_has_a_checksum_and_damage_is_named(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"iteration": 3, "model": {"w": torch.arange(4.0)}})
    digest, name = checksum_path(path).read_text().split()
    assert name == "last.pt" and len(digest) == 64
    assert torch.equal(load_checkpoint(path, torch.device("cpu"))["model"]["w"], torch.arange(4.0))

    intact = path.read_bytes()
    flip_middle_byte(path)
    with pytest.raises(CoosDataError, match=r"last\.pt: checksum mismatch"):
        load_checkpoint(path, torch.device("cpu"))

    path.write_bytes(intact[: len(intact) // 2])  # truncated, with a checksum that matches it
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    checksum_path(path).write_text(f"{digest}  last.pt\n")
    with pytest.raises(CoosDataError, match=r"last\.pt: torch\.load cannot read it"):
        load_checkpoint(path, torch.device("cpu"))

    path.write_bytes(intact)
    checksum_path(path).unlink()
    with pytest.raises(CoosDataError, match=r"last\.pt: its checksum file last\.pt\.sha256"):
        load_checkpoint(path, torch.device("cpu"))


def test_flipped_byte_in_last_pt_restarts_training_from_scratch(tmp_path: Path) -> None:
    expected, expected_weights = clean_run(tmp_path / "clean")

    task, optimizer, scheduler = deeploc_task()
    interrupt_after(task, 7)  # checkpoints at iterations 3 and 6
    with pytest.raises(Interrupted):
        training.train(task, optimizer, PLAN, tmp_path / "cut", scheduler, progress=False)
    last = tmp_path / "cut" / "last.pt"
    flip_middle_byte(last)

    task, optimizer, scheduler = deeploc_task()  # the state a clean run starts from
    steps = count_steps(task)
    with pytest.warns(UserWarning, match=r"last\.pt: checksum mismatch.*from scratch"):
        outcome = training.train(task, optimizer, PLAN, tmp_path / "cut", scheduler, progress=False)
    assert outcome.resumed_from == 0 and steps[0] == PLAN.iterations
    assert_same_run(outcome, expected)
    assert all(torch.equal(task.model.state_dict()[k], v) for k, v in expected_weights.items())
    assert (tmp_path / "cut" / "last.pt.damaged").exists()
    assert load_checkpoint(last, torch.device("cpu"))["iteration"] == PLAN.iterations


def test_flipped_byte_in_best_pt_of_a_finished_fit_is_not_used(tmp_path: Path) -> None:
    expected, expected_weights = clean_run(tmp_path)
    flip_middle_byte(tmp_path / "best.pt")

    task, optimizer, scheduler = deeploc_task(init_seed=0)
    steps = count_steps(task)
    with pytest.warns(UserWarning, match=r"best\.pt: checksum mismatch") as caught:
        assert training.reuse_finished(task.model, PLAN, tmp_path) is None
        outcome = training.train(task, optimizer, PLAN, tmp_path, scheduler, progress=False)
    assert len(caught) == 1  # set aside once, not reported again by train()
    assert not outcome.reused and steps[0] == PLAN.iterations  # the fit was redone
    assert_same_run(outcome, expected)
    assert all(torch.equal(task.model.state_dict()[k], v) for k, v in expected_weights.items())


@pytest.fixture(scope="module")
def tiny_train(tiny_data: Path) -> CoosSplit:
    return load_split(tiny_data, "train")


def head(split: CoosSplit, n: int = 16) -> CoosSplit:
    """The first ``n`` images of ``split``, in memory."""
    return dataclasses.replace(
        split,
        images=np.asarray(split.images[:n]),
        labels=split.labels[:n],
        meta=split.meta.iloc[:n],
    )


def test_features_never_come_from_a_damaged_best_pt(tiny_train: CoosSplit, tmp_path: Path) -> None:
    def fit() -> DeepLocRepresentation:
        return DeepLocRepresentation(
            iterations=4, batch_size=16, eval_every=2, width=1 / 16, fc_units=16,
            progress=False, device="cpu", n_jobs=1, seed=0, work_dir=tmp_path,
        ).fit(tiny_train)  # fmt: skip

    test = head(tiny_train)
    clean = fit().transform(test)["fc2"]
    flip_middle_byte(tmp_path / "best.pt")
    with pytest.warns(UserWarning, match=r"best\.pt: checksum mismatch"):
        refit = fit()
    np.testing.assert_array_equal(refit.transform(test)["fc2"], clean)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the refit wrote intact checkpoints: reused quietly
        np.testing.assert_array_equal(fit().transform(test)["fc2"], clean)
