"""The shared training loop: best-checkpoint rule, exact resume, reuse of a finished run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from coos_utils.models import training
from coos_utils.models.checkpoints import best_iteration
from coos_utils.models.deeploc import DeepLoc, _DeepLocTask
from coos_utils.models.pairs import GroupPartners
from coos_utils.models.pci import PairedCellInpainting, _PciTask
from coos_utils.models.runtime import seed_everything
from coos_utils.models.training import TrainingPlan, TrainingTask
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse fixture)


def test_best_iteration_lowest_score_earliest_on_ties() -> None:
    iterations = [500, 1000, 1500, 2000, 2500, 3000, 3500]
    scores = [40.0, 30.0, 25.0, 27.0, math.nan, 25.0, 31.0]
    assert best_iteration(iterations, scores) == 1500
    assert best_iteration(iterations[::-1], scores[::-1]) == 1500  # order of rows is irrelevant
    assert best_iteration([10, 20], [math.nan, math.nan]) == 10
    assert best_iteration([10, 20, 30], [math.nan, 5.0, 4.0]) == 30
    with pytest.raises(ValueError):
        best_iteration([10], [1.0, 2.0])


class ScriptedTask(TrainingTask):
    """A linear model on random data whose validation score follows a script."""

    def __init__(self, script: list[float]) -> None:
        self.model = torch.nn.Linear(3, 1)
        self.script = list(script)
        self.snapshots: list[dict[str, torch.Tensor]] = []
        self.generator = torch.Generator().manual_seed(0)

    def training_loss(self) -> torch.Tensor:
        x = torch.randn(8, 3, generator=self.generator)
        return (self.model(x) - x.sum(1, keepdim=True)).pow(2).mean()

    def validation_score(self) -> float:
        self.snapshots.append({k: v.clone() for k, v in self.model.state_dict().items()})
        return self.script[len(self.snapshots) - 1]

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def test_loop_keeps_the_checkpoint_the_rule_picks(tmp_path: Path) -> None:
    script = [9.0, 4.0, 6.0, 4.0, 5.0]  # iterations 3, 6, 9, 12, 14 (the last one)
    task = ScriptedTask(script)
    optimizer = torch.optim.SGD(task.model.parameters(), lr=0.01)
    plan = TrainingPlan(iterations=14, eval_every=3, batch_size=8)
    outcome = training.train(task, optimizer, plan, tmp_path, progress=True)
    assert list(outcome.history["iteration"]) == [3, 6, 9, 12, 14]
    assert list(outcome.history["val_score"]) == script
    assert outcome.best_iteration == 6
    for key, value in task.model.state_dict().items():
        assert torch.equal(value, task.snapshots[1][key])
    written = pd.read_csv(tmp_path / "history.csv")
    assert list(written.columns) == ["iteration", "train_loss", "val_score", "images_per_s"]
    assert list(written["val_score"]) == script
    assert not task.model.training
    assert not list(tmp_path.glob(".*partial"))


def deeploc_task(init_seed: int = 0) -> tuple[TrainingTask, torch.optim.Optimizer, Any]:
    """A DeepLoc training task on fixed random data; ``init_seed`` seeds the weights."""
    seed_everything(init_seed)
    model = DeepLoc(n_classes=3, width=1 / 16, fc_units=8)
    rng = np.random.default_rng(0)
    images = torch.as_tensor(rng.random((24, 2, 64, 64), dtype=np.float32))
    labels = torch.as_tensor(rng.integers(0, 3, 24))
    val = torch.as_tensor(rng.random((9, 2, 64, 64), dtype=np.float32))
    generator = torch.Generator().manual_seed(0)
    task = _DeepLocTask(model, images, labels, val, np.arange(9) % 3, 8, 5, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 0.9 ** (it // 2))
    return task, optimizer, scheduler


def pci_task(init_seed: int = 0) -> tuple[TrainingTask, torch.optim.Optimizer, Any]:
    """A PCI training task on fixed random data; ``init_seed`` seeds the weights."""
    seed_everything(init_seed)
    model = PairedCellInpainting(width=1 / 16)
    rng = np.random.default_rng(0)
    images = torch.as_tensor(rng.random((20, 2, 16, 16), dtype=np.float32))
    partners = GroupPartners(np.arange(20) % 4)
    val_partners = GroupPartners(np.arange(20) % 4)
    val_pairs = (val_partners.sources, val_partners.draw(val_partners.sources, torch.Generator()))
    task = _PciTask(model, images, partners, images, val_pairs, 6, torch.Generator().manual_seed(1))
    return task, torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999)), None


class Interrupted(Exception):
    pass


def interrupt_after(task: TrainingTask, calls: int) -> None:
    """Make the task's ``calls + 1``-th training batch raise, as a killed run would stop."""
    original = task.training_loss
    count = [0]

    def loss() -> torch.Tensor:
        count[0] += 1
        if count[0] > calls:
            raise Interrupted
        return original()

    task.training_loss = loss  # type: ignore[method-assign]


@pytest.mark.parametrize("make_task", [deeploc_task, pci_task], ids=["deeploc", "pci"])
def test_resumed_run_ends_with_the_uninterrupted_weights(make_task: Any, tmp_path: Path) -> None:
    plan = TrainingPlan(iterations=10, eval_every=3, batch_size=8, identity={"run": "a"})
    task, optimizer, scheduler = make_task()
    whole = training.train(task, optimizer, plan, tmp_path / "whole", scheduler, progress=False)
    expected = {k: v.clone() for k, v in task.model.state_dict().items()}

    task, optimizer, scheduler = make_task()
    interrupt_after(task, 7)  # checkpoints at 3 and 6: the rerun redoes iteration 7
    with pytest.raises(Interrupted):
        training.train(task, optimizer, plan, tmp_path / "cut", scheduler, progress=False)
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["iteration"] == 6

    task, optimizer, scheduler = make_task(init_seed=5)  # other init: the checkpoint must win
    resumed = training.train(task, optimizer, plan, tmp_path / "cut", scheduler, progress=False)
    assert resumed.resumed_from == 6
    assert resumed.best_iteration == whole.best_iteration
    pd.testing.assert_frame_equal(
        resumed.history.drop(columns="images_per_s"), whole.history.drop(columns="images_per_s")
    )
    state = task.model.state_dict()
    assert all(torch.equal(state[k], expected[k]) for k in expected)
    last_whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)["model"]
    last_cut = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(last_whole[k], last_cut[k]) for k in last_whole)


def test_finished_run_is_reused_and_foreign_work_dir_refused(tmp_path: Path) -> None:
    plan = TrainingPlan(iterations=6, eval_every=3, batch_size=8, identity={"run": "a"})
    task, optimizer, scheduler = deeploc_task()
    first = training.train(task, optimizer, plan, tmp_path, scheduler, progress=False)
    expected = {k: v.clone() for k, v in task.model.state_dict().items()}

    task, optimizer, scheduler = deeploc_task(init_seed=3)
    interrupt_after(task, 0)  # any training step would raise
    again = training.train(task, optimizer, plan, tmp_path, scheduler, progress=False)
    assert again.reused and again.best_iteration == first.best_iteration
    pd.testing.assert_frame_equal(again.history, first.history)
    assert all(torch.equal(task.model.state_dict()[k], v) for k, v in expected.items())

    other = TrainingPlan(iterations=6, eval_every=3, batch_size=8, identity={"run": "b"})
    with pytest.raises(RuntimeError, match="belongs to another training run"):
        training.train(task, optimizer, other, tmp_path, scheduler, progress=False)


def test_plan_validates_and_last_iteration_is_always_evaluated() -> None:
    plan = TrainingPlan(iterations=7, eval_every=5, batch_size=1)
    assert [i for i in range(1, 8) if plan.is_eval_point(i)] == [5, 7]
    with pytest.raises(ValueError):
        TrainingPlan(iterations=0, eval_every=5, batch_size=1)
