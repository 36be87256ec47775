"""The one training loop of the package: iterations, validation, best checkpoint, resume.

A network's training is described by a :class:`TrainingTask` (how to draw and score one
mini-batch, how to score the validation data) and a :class:`TrainingPlan` (how many
iterations, how often to validate). :func:`train` runs it:

* every ``eval_every`` iterations (and at the last one) the validation score is computed
  and a row (iteration, mean training loss since the last row, validation score, images/s)
  is added to the history;
* the checkpoint kept is the one :func:`~coos_utils.models.checkpoints.best_iteration`
  picks: lowest validation score, ties to the earliest iteration;
* with a ``work_dir``, each validation also writes ``last.pt`` (model, optimiser, learning
  rate schedule, the task's sampler and random generator, torch's global random state,
  iteration, history), ``best.pt`` (the best weights so far) and ``history.csv``, each
  atomically. A run that was interrupted resumes from ``last.pt`` and, on CPU with a
  fixed seed, ends with exactly the weights an uninterrupted run ends with; a run that had
  finished is not repeated: its best weights and history are loaded;
* every checkpoint is checked against its SHA-256 before use (see
  :mod:`~coos_utils.models.checkpoints`). A damaged or unreadable ``last.pt`` or ``best.pt``
  is never used: a warning names it, it is renamed ``<name>.damaged``, the run's other
  checkpoint files are removed, and the training starts again from scratch (a resume needs
  both files, and only the latest ``last.pt`` is kept).
"""

from __future__ import annotations

import copy
import time
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from coos_utils.atomic import atomic_write_text
from coos_utils.data.errors import CoosDataError
from coos_utils.models.checkpoints import (
    best_iteration,
    checksum_path,
    global_rng_state,
    load_checkpoint,
    restore_global_rng_state,
    save_checkpoint,
)
from coos_utils.models.flops import FlopSampler

HISTORY_COLUMNS = ("iteration", "train_loss", "val_score", "images_per_s")
LAST, BEST, HISTORY = "last.pt", "best.pt", "history.csv"
DAMAGED_SUFFIX = ".damaged"
PROGRESS_EVERY = 25  # iterations between updates of the progress bar's loss and images/s


class TrainingTask(ABC):
    """What :func:`train` needs from a network: a batch loss and a validation score."""

    model: torch.nn.Module

    @abstractmethod
    def training_loss(self) -> torch.Tensor:
        """Draw one mini-batch (with the task's own generator) and return its loss."""

    @abstractmethod
    def validation_score(self) -> float:
        """Score of the current model on the validation data; lower is better."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The task's random state (generator, sampler) for an exact resume."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Undo :meth:`state_dict`."""


@dataclass(frozen=True)
class TrainingPlan:
    """How long to train and how often to validate; ``identity`` names the run.

    ``identity`` (JSON-able: the network's parameters, the data's fingerprint, ...) is
    stored in the checkpoints; resuming from a ``work_dir`` written by another run is an
    error rather than a silent mix of two trainings.
    """

    iterations: int
    eval_every: int
    batch_size: int
    identity: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.eval_every < 1 or self.batch_size < 1:
            raise ValueError(f"iterations, eval_every and batch_size must be >= 1: {self}")

    def is_eval_point(self, iteration: int) -> bool:
        return iteration % self.eval_every == 0 or iteration == self.iterations


@dataclass
class TrainingOutcome:
    """The history of a training run and the checkpoint it kept."""

    history: pd.DataFrame
    best_iteration: int
    resumed_from: int = 0
    reused: bool = False


def train(
    task: TrainingTask,
    optimizer: torch.optim.Optimizer,
    plan: TrainingPlan,
    work_dir: str | Path | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    progress: bool = True,
    desc: str = "training",
) -> TrainingOutcome:
    """Train ``task.model`` by ``plan``; leave it holding the best weights, in eval mode."""
    work = Path(work_dir) if work_dir is not None else None
    stored = _stored_run(work, plan, next(task.model.parameters()).device)
    if stored is not None and stored.finished:
        return stored.reuse(task.model)
    run = _Run(task, optimizer, scheduler, plan, work)
    start = run.resume(stored)
    model = task.model
    loss_sum = torch.zeros((), device=next(model.parameters()).device)
    steps, clock = 0, time.perf_counter()
    step_flops, validation_flops = FlopSampler(), FlopSampler()
    model.train()
    with tqdm(
        total=plan.iterations, initial=start, desc=desc, unit="it", disable=not progress
    ) as bar:
        for iteration in range(start + 1, plan.iterations + 1):
            with step_flops.measure(1):
                loss = task.training_loss()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.detach().float()
            steps += 1
            bar.update()
            evaluate = plan.is_eval_point(iteration)
            if not (evaluate or (progress and iteration % PROGRESS_EVERY == 0)):
                continue
            # .item() waits for the device: done only every PROGRESS_EVERY iterations
            train_loss = loss_sum.item() / steps
            speed = steps * plan.batch_size / (time.perf_counter() - clock)
            bar.set_postfix(loss=f"{train_loss:.4g}", img_s=f"{speed:.0f}")
            if evaluate:
                model.eval()
                with torch.no_grad(), validation_flops.measure(1):
                    score = float(task.validation_score())
                model.train()
                run.record(iteration, train_loss, score, speed)
                bar.set_postfix(loss=f"{train_loss:.4g}", val=f"{score:.4g}", img_s=f"{speed:.0f}")
                loss_sum.zero_()
                steps, clock = 0, time.perf_counter()
    return run.finish(start)


def reuse_finished(
    model: torch.nn.Module, plan: TrainingPlan, work_dir: str | Path | None
) -> TrainingOutcome | None:
    """If ``work_dir`` holds a finished run of ``plan`` with intact checkpoints, load its best
    weights into ``model`` (eval mode) and return its outcome; else None (a damaged checkpoint
    is named in a warning and set aside). Callers can skip loading training data."""
    work = Path(work_dir) if work_dir is not None else None
    stored = _stored_run(work, plan, next(model.parameters()).device)
    if stored is None or not stored.finished:
        return None
    return stored.reuse(model)


@dataclass(frozen=True)
class _Stored:
    """The verified ``last.pt`` and ``best.pt`` of a work folder."""

    last: dict[str, Any]
    best: dict[str, Any]
    plan: TrainingPlan

    @property
    def finished(self) -> bool:
        return int(self.last["iteration"]) >= self.plan.iterations

    def reuse(self, model: torch.nn.Module) -> TrainingOutcome:
        """Load the best weights into ``model`` (eval mode); the finished run's outcome."""
        model.load_state_dict(self.best["model"])
        model.eval()
        return TrainingOutcome(
            _frame(self.last["history"]),
            int(self.best["iteration"]),
            int(self.last["iteration"]),
            reused=True,
        )


def _stored_run(work_dir: Path | None, plan: TrainingPlan, device: torch.device) -> _Stored | None:
    """The checkpoints of ``work_dir`` if it has them and both are intact.

    None when there is no ``last.pt``, or (with a warning naming the file and the problem,
    the damaged file set aside) when a checkpoint fails its check. A ``last.pt`` of another
    run is an error.
    """
    if work_dir is None or not (work_dir / LAST).is_file():
        return None
    try:
        last = load_checkpoint(work_dir / LAST, device)
        _check_identity(work_dir / LAST, last, plan)
        best = load_checkpoint(work_dir / BEST, device)
    except CoosDataError as exc:
        _set_aside(work_dir, exc.path)
        warnings.warn(
            f"training checkpoint {exc}; not used: renamed *{DAMAGED_SUFFIX}, training "
            "starts again from scratch",
            stacklevel=3,
        )
        return None
    return _Stored(last, best, plan)


def _check_identity(path: Path, state: dict[str, Any], plan: TrainingPlan) -> None:
    """An error if the checkpoint at ``path`` was written by another training run."""
    if state.get("identity") != plan.identity:
        raise RuntimeError(
            f"{path} belongs to another training run ({state.get('identity')} != "
            f"{plan.identity}); use another work_dir or delete this one"
        )


def _set_aside(work_dir: Path, damaged: Path | None) -> None:
    """Rename the damaged checkpoint (and its checksum) ``*.damaged``; remove the others."""
    for name in (LAST, BEST):
        for path in (work_dir / name, checksum_path(work_dir / name)):
            if damaged is not None and path in (damaged, checksum_path(damaged)):
                if path.exists():
                    path.replace(path.with_name(path.name + DAMAGED_SUFFIX))
            else:
                path.unlink(missing_ok=True)


class _Run:
    """The bookkeeping of one :func:`train` call: history, best weights, files."""

    def __init__(
        self,
        task: TrainingTask,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
        plan: TrainingPlan,
        work_dir: Path | None,
    ) -> None:
        self.task, self.optimizer, self.scheduler = task, optimizer, scheduler
        self.plan, self.work_dir = plan, work_dir
        self.rows: list[dict[str, float]] = []
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_iteration = 0

    def _path(self, name: str) -> Path:
        assert self.work_dir is not None
        return self.work_dir / name

    def resume(self, stored: _Stored | None) -> int:
        """Continue from ``stored`` (an unfinished run's checkpoints); the iteration reached."""
        if stored is None:
            return 0
        last, best = stored.last, stored.best
        self.task.model.load_state_dict(last["model"])
        self.optimizer.load_state_dict(last["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(last["scheduler"])
        self.task.load_state_dict(last["task"])
        restore_global_rng_state(last["rng"])
        self.rows = list(last["history"])
        self.best_state, self.best_iteration = best["model"], int(best["iteration"])
        return int(last["iteration"])

    def record(self, iteration: int, train_loss: float, score: float, speed: float) -> None:
        self.rows.append(
            {
                "iteration": iteration,
                "train_loss": train_loss,
                "val_score": score,
                "images_per_s": speed,
            }
        )
        history = _frame(self.rows)
        best = best_iteration(list(history["iteration"]), list(history["val_score"]))
        if best == iteration:
            self.best_iteration = iteration
            self.best_state = copy.deepcopy(self.task.model.state_dict())
        if self.work_dir is None:
            return
        if best == iteration:
            save_checkpoint(self._path(BEST), {"iteration": iteration, "model": self.best_state})
        save_checkpoint(
            self._path(LAST),
            {
                "identity": self.plan.identity,
                "iteration": iteration,
                "model": self.task.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "task": self.task.state_dict(),
                "rng": global_rng_state(),
                "history": self.rows,
            },
        )
        atomic_write_text(self._path(HISTORY), history.to_csv(index=False))

    def finish(self, start: int) -> TrainingOutcome:
        assert self.best_state is not None
        self.task.model.load_state_dict(self.best_state)
        self.task.model.eval()
        return TrainingOutcome(_frame(self.rows), self.best_iteration, resumed_from=start)


def _frame(rows: list[dict[str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return frame.astype({"iteration": "int64"})
