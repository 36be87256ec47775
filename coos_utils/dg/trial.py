"""One trial of a sweep: one method, one hyperparameter draw, one seed, trained and scored.

The protocol, in order:

1. Open ``train`` (the only split readable during selection, see :mod:`~coos_utils.dg.guard`).
   Domains are its plate ids when the data have them (the loader gives the usual spellings
   the name ``plate``), else one domain. A method that needs domains (CORAL) is not run on
   data with fewer than two: its record says "not run" and why, and holds no scores.
2. Hold out a class- and plate-stratified 20% of ``train`` (fixed by the seed) as the
   training-domain validation set; train on the other 80% with one minibatch per plate
   (CORAL: ``domain_batch`` images of each of a few plates per step, see
   :class:`~coos_utils.dg.data.DomainBatches`), DeepLoc's input stretch and augmentation
   (random crops, flips, 90-degree rotations).
3. Every ``eval_every`` steps (and at the end) score the validation set; keep the weights
   with the lowest validation balanced error. Selection is then final.
4. Only now open the test splits and score the kept weights on each: balanced error and
   macro F1 (both in percent) and the confusion counts.

The trial's folder gets ``record.json`` and then a ``done`` marker, each written atomically,
so a sweep that is interrupted resumes by skipping the trials that have a marker.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from coos_utils.atomic import atomic_write_text
from coos_utils.codehash import code_hash
from coos_utils.data import CoosSplit, dataset_fingerprint, holdout, load_split, load_splits
from coos_utils.dg.algorithms import (
    Algorithm,
    TaskInfo,
    get_algorithm,
    method_digest,
    method_hparams,
)
from coos_utils.dg.backbones import build_backbone
from coos_utils.dg.data import DomainBatches, augment, centre_crop, evaluation_rows, to_input
from coos_utils.dg.guard import SplitGuard
from coos_utils.dg.hparams import draw_hparams
from coos_utils.metrics import balanced_error, confusion, macro_f1
from coos_utils.models.checkpoints import save_checkpoint
from coos_utils.models.runtime import (
    autocast,
    cpu_threads,
    prepare_input,
    prepare_module,
    resolve_device,
    seed_everything,
)
from coos_utils.reference import TEST_SPLITS

EVAL_BATCH = 256


@functools.cache
def inputs_tag(data_dir: str) -> str:
    """The data's fingerprint and the hash of the trial code (computed once per process)."""
    return dataset_fingerprint(load_splits(data_dir)) + code_hash([__name__])


@dataclass(frozen=True)
class TrialSpec:
    """Everything that determines a trial's result (where it runs is not part of it)."""

    method: str
    hparams_seed: int
    seed: int
    data_dir: str
    steps: int = 300
    batch_size: int = 32
    eval_every: int = 100
    width: float = 0.125
    backbone: str = "deeploc"
    max_eval_images: int | None = None
    val_fraction: float = 0.2
    hparams_overrides: tuple[tuple[str, Any], ...] = ()
    """(name, value) pairs that replace the drawn values of the method's hyperparameters of
    those names (a CPU profile's smaller ContriMix, say); names the method lacks are ignored."""
    plugin: str = ""
    """A plug-in method's ``module:Class`` or ``/abs/file.py:Class`` spec, resolved again in the
    process that runs the trial; "" for built-in and entry-point methods (found by ``method``)."""

    def __post_init__(self) -> None:
        get_algorithm(self.plugin or self.method)  # fails early, naming the valid methods
        if self.steps < 1 or self.eval_every < 1 or self.batch_size < 2:
            raise ValueError("steps and eval_every must be >= 1 and batch_size >= 2")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

    @property
    def trial_id(self) -> str:
        """``<method>-h<draw>-s<seed>-<digest>``: readable and unique; the digest covers every
        field, the content of the data (not just its path) and the code a trial runs."""
        text = json.dumps(asdict(self), sort_keys=True) + inputs_tag(self.data_dir)
        text += method_digest(self.plugin or self.method)  # an edited plug-in reruns
        digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        return f"{self.method}-h{self.hparams_seed}-s{self.seed}-{digest}"

    @property
    def algorithm(self) -> type[Algorithm]:
        """The method's class (a plug-in's resolved from its spec)."""
        return get_algorithm(self.plugin or self.method)


def trial_folder(trials_dir: str | Path, spec: TrialSpec) -> Path:
    """The folder holding one trial's record, done marker and (optionally) weights."""
    return Path(trials_dir) / spec.trial_id


def is_done(trials_dir: str | Path, spec: TrialSpec) -> bool:
    """Whether the trial finished (its done marker exists)."""
    return (trial_folder(trials_dir, spec) / "done").exists()


def score(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Balanced error and macro F1 in percent, the number of images and the confusion counts."""
    return {
        "balanced_error": balanced_error(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred),
        "images": len(y_true),
        "confusion": confusion(y_true, y_pred, n_classes).tolist(),
    }


def trial_hparams(spec: TrialSpec) -> dict[str, Any]:
    """The method's hyperparameters in the spec's draw, with the spec's overrides applied."""
    table = method_hparams(spec.plugin or spec.method)
    hparams = draw_hparams(spec.method, spec.hparams_seed, table)
    hparams.update((k, v) for k, v in spec.hparams_overrides if k in hparams)
    return hparams


def plate_ids(split: CoosSplit) -> np.ndarray | None:
    """The split's plate ids, or ``None`` when its metadata has no ``plate`` column."""
    return split.meta["plate"].to_numpy() if "plate" in split.meta.columns else None


def missing_domains(spec: TrialSpec, train: CoosSplit) -> str | None:
    """Why the spec's method cannot run on ``train`` (it needs two domains and the data has
    fewer), or ``None`` when it can."""
    if not spec.algorithm.needs_domains:
        return None
    plates = plate_ids(train)
    if plates is None:
        return f"{spec.method} not run: no domain ids in the data (no plate column)"
    if len(np.unique(plates)) < 2:
        return f"{spec.method} not run: the training data come from a single plate"
    return None


def _batches(images: np.ndarray, device: torch.device) -> Iterator[torch.Tensor]:
    for start in range(0, len(images), EVAL_BATCH):
        yield prepare_input(centre_crop(to_input(images[start : start + EVAL_BATCH])), device)


def predict_images(
    algorithm: Algorithm, images: np.ndarray, device: torch.device, adapt: bool = False
) -> np.ndarray:
    """Predicted labels of raw images (after :meth:`Algorithm.adapt` to them when asked)."""
    algorithm.eval()
    if adapt:
        algorithm.adapt(lambda: _batches(images, device))
    out = []
    with torch.no_grad(), autocast(device):
        for x in _batches(images, device):
            out.append(algorithm.predict(x).argmax(dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


def _train_and_select(
    spec: TrialSpec, train: CoosSplit, device: torch.device
) -> tuple[Algorithm, dict[str, Any]]:
    """Train on 80% of ``train``, keep the weights that score best on the other 20%."""
    images, labels = train.load_images(), train.labels
    n_classes = len(train.class_names)
    plates = plate_ids(train)
    fit, val = holdout(len(labels), spec.val_fraction, spec.seed, labels, plates)
    val = val[evaluation_rows(labels[val], spec.max_eval_images)]
    domains = plates[fit] if plates is not None else np.zeros(len(fit), dtype=np.int64)
    method = spec.algorithm
    per_domain = min(method.domain_batch, spec.batch_size // 2) if method.domain_batch else None
    batches = DomainBatches(domains, spec.batch_size, spec.seed, per_domain)
    task = TaskInfo(
        in_channels=images.shape[1],
        n_classes=n_classes,
        n_domains=len(batches.names),
        class_counts=tuple(int(c) for c in np.bincount(labels[fit], minlength=n_classes)),
    )
    hparams = trial_hparams(spec)
    backbone = build_backbone(spec.backbone, task.in_channels, n_classes, spec.width)
    algorithm = prepare_module(method(task, hparams, backbone), device)
    crops = torch.Generator().manual_seed(spec.seed)

    history, best_error, best_state, best_step, best_val = [], np.inf, None, 0, None
    for step in range(1, spec.steps + 1):
        minibatches = [
            (
                prepare_input(augment(to_input(images[fit[rows]]), crops), device),
                torch.as_tensor(labels[fit[rows]], device=device),
            )
            for rows in next(batches)
        ]
        algorithm.train()
        with autocast(device):
            losses = algorithm.update(minibatches)
        if step % spec.eval_every == 0 or step == spec.steps:
            val_score = score(
                labels[val], predict_images(algorithm, images[val], device), n_classes
            )
            history.append({"step": step, **losses, **_without_confusion(val_score)})
            if val_score["balanced_error"] < best_error:
                best_error, best_step = val_score["balanced_error"], step
                best_state = copy.deepcopy(algorithm.state_dict())
                best_val = val_score
    algorithm.load_state_dict(best_state)
    summary = {
        "hparams": hparams,
        "n_domains": task.n_domains,
        "domains": [str(d) for d in batches.names],
        "per_domain_batch": batches.per_domain,
        "domains_per_step": batches.domains_per_step,
        "class_counts": list(task.class_counts),
        "train_images": len(fit),
        "selected_step": best_step,
        "validation": best_val,
        "validation_history": history,
    }
    return algorithm, summary


def _without_confusion(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "confusion"}


def run_trial(
    spec: TrialSpec,
    trials_dir: str | Path,
    device: str | None = None,
    threads: int | None = None,
    keep_model: bool = False,
    opener: Callable[[str], CoosSplit] | None = None,
) -> dict[str, Any]:
    """Run one trial and write its record (and weights if ``keep_model``); return the record.

    ``opener`` opens a split by name (default: :func:`load_split` on ``spec.data_dir``);
    every opening goes through a :class:`SplitGuard`, whose log is part of the record.
    """
    folder = trial_folder(trials_dir, spec)
    guard = SplitGuard(opener or partial(load_split, spec.data_dir))
    torch_device = resolve_device(device)
    seed_everything(spec.seed)
    train = guard.open("train")
    reason = missing_domains(spec, train)
    if reason is not None:
        return _write_record(folder, spec, {"status": "not run", "reason": reason}, guard)
    with cpu_threads(threads):
        started, cpu_started = time.perf_counter(), time.process_time()
        algorithm, summary = _train_and_select(spec, train, torch_device)
        trained = time.perf_counter()
        guard.finalise()
        test = {}
        for name in TEST_SPLITS:
            split = guard.open(name)
            rows = evaluation_rows(split.labels, spec.max_eval_images)
            predicted = predict_images(algorithm, split.images[rows], torch_device, adapt=True)
            test[name] = score(split.labels[rows], predicted, len(split.class_names))
    outcome = {
        "status": "ran",
        **summary,
        "test": test,
        "seconds": {
            "train": trained - started,
            "evaluate": time.perf_counter() - trained,
            "cpu": time.process_time() - cpu_started,  # all threads of this process
        },
        "device": str(torch_device),
        "torch": torch.__version__,
    }
    if keep_model:
        save_checkpoint(folder / "model.pt", algorithm.state_dict())  # with its checksum
    return _write_record(folder, spec, outcome, guard)


def _write_record(
    folder: Path, spec: TrialSpec, outcome: dict[str, Any], guard: SplitGuard
) -> dict[str, Any]:
    """Write ``record.json`` and then the done marker; return the record."""
    record = {
        "trial_id": spec.trial_id,
        "spec": asdict(spec),
        **outcome,
        "split_access": guard.log,
    }
    atomic_write_text(folder / "record.json", json.dumps(record, indent=1))
    atomic_write_text(folder / "done", spec.trial_id + "\n")
    return record


def read_record(trials_dir: str | Path, spec: TrialSpec) -> dict[str, Any]:
    """The record of a finished trial."""
    return json.loads((trial_folder(trials_dir, spec) / "record.json").read_text("utf-8"))
