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
3. Every ``eval_every`` steps (and at the end) score the validation set (all of it, or a
   fixed class-stratified ``max_val_images`` of it); keep the weights with the lowest
   validation balanced error. Selection is then final. Each loss that ``update`` returns is
   watched at every step: ``losses_ever_nonzero`` says whether it was ever non-zero (a
   penalty that is 0 on these data leaves the method equal to ERM).
4. Only now open the test splits and score the kept weights on every image of each:
   balanced error and macro F1 (both in percent) and the confusion counts.

The trial's folder gets ``predictions.npz`` (per test split: the labels, the predicted
labels and the well ids when the data have them; its SHA-256 is in the record), then
``record.json`` and then a ``done`` marker, each written atomically, so a sweep that is
interrupted resumes by skipping the trials that have a marker. The summary's intervals and
its test for "identical to ERM" read the predictions (:func:`read_predictions`).

Steps 1-3 (the trained model) are kept in a store shared by every trial under the same
trials folder, ``<trials_dir>/models/<key>/`` (``model.pt`` with its checksum, then
``training.json``), under a key of what training reads and does (:func:`training_key`):
the content of ``train`` (not the data set's name or its file attributes), the method's
training identity (:func:`training_identity`; TestTimeBN trains as ERM), the resolved
hyperparameters, the seed, the training settings, the trial code and the device type. A
trial whose key is in the store scores that model instead of training again (an ablation
whose ``train`` did not change; TestTimeBN after ERM); its record says which
(``model``: key and ``trained`` or ``reused``). The model's predictions on a test split are
kept beside it with their checksum (``predicted/<key>.npz``, :func:`prediction_key`: the
split's content, the method's test-time code and the prediction batch), so an ablation that
leaves a test split alone does not predict it again (the record's ``predictions_reused``
names those splits).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import json
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from coos_utils.atomic import atomic_path, atomic_write_text
from coos_utils.codehash import code_hash
from coos_utils.data import (
    CoosDataError,
    CoosSplit,
    dataset_fingerprint,
    holdout,
    load_split,
    load_splits,
)
from coos_utils.data.wells import well_clusters
from coos_utils.dg.algorithms import (
    ALGORITHMS,
    Algorithm,
    TaskInfo,
    get_algorithm,
    method_digest,
    method_hparams,
)
from coos_utils.dg.backbones import backbone_digest, backbone_spec, build_backbone
from coos_utils.dg.data import DomainBatches, augment, centre_crop, evaluation_rows, to_input
from coos_utils.dg.guard import SplitGuard
from coos_utils.dg.hparams import draw_hparams
from coos_utils.metrics import balanced_error, confusion, macro_f1
from coos_utils.models.checkpoints import load_checkpoint, save_checkpoint
from coos_utils.models.flops import FlopSampler
from coos_utils.models.runtime import (
    autocast,
    cpu_threads,
    prepare_input,
    prepare_module,
    resolve_device,
    seed_everything,
)
from coos_utils.reference import TEST_SPLITS
from coos_utils.stages import stage

EVAL_BATCH = {"cpu": 64, "cuda": 256}
"""Images per prediction batch by device type (others: CUDA's). In evaluation mode an
image's logits do not depend on the other images of its batch (the batch's size may change
kernels, and so the last bits); on the CPU a batch of 64 keeps a DeepLoc layer's activations
in cache and runs about 1.8x as fast as 256 (``bench/bench_dg_predict.py``)."""
PREDICTIONS = "predictions.npz"
MODELS_FOLDER = "models"
"""The trained-model store inside a trials folder (trial folders are named by trial ids)."""
MODEL_FILE, TRAINING_FILE = "model.pt", "training.json"
PREDICTED_FOLDER = "predicted"
"""Inside a stored model's folder: its predictions per test split (:func:`prediction_key`)."""


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
    """The network: a built-in name, ``file.py:make``, ``module:make`` or an entry point (see
    :mod:`coos_utils.dg.backbones`); a file's path is made absolute, its code is in the id."""
    max_val_images: int | None = None
    """At most this many (class-stratified) images of the held-out validation part are scored
    at each evaluation; ``None``: all. Test splits are always scored on every image."""
    val_fraction: float = 0.2
    hparams_overrides: tuple[tuple[str, Any], ...] = ()
    """(name, value) pairs that replace the drawn values of the method's hyperparameters of
    those names (a CPU profile's smaller ContriMix, say); names the method lacks are ignored."""
    plugin: str = ""
    """A plug-in method's ``module:Class`` or ``/abs/file.py:Class`` spec, resolved again in the
    process that runs the trial; "" for built-in and entry-point methods (found by ``method``)."""

    def __post_init__(self) -> None:
        get_algorithm(self.plugin or self.method)  # fails early, naming the valid methods
        object.__setattr__(self, "backbone", backbone_spec(self.backbone))  # in any process
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
        text += backbone_digest(self.backbone)  # and so does an edited backbone file
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


_TEST_TIME_ONLY = frozenset(
    {"adapt", "trains_as", "HPARAMS", "name", "__doc__", "__module__", "__qualname__"}
    | {"__firstlineno__", "__static_attributes__", "__annotations__", "__dict__", "__weakref__"}
)
"""What a class may define and still train exactly as the built-in method it subclasses."""


def training_identity(spec: TrialSpec) -> str:
    """The method whose training ``spec``'s method repeats: the built-in its class names in
    its own ``trains_as`` (checked: the class subclasses it and defines nothing training
    could use, only test-time behaviour), else the method itself (a plug-in with the digest
    of its source)."""
    cls = spec.algorithm
    shared = cls.__dict__.get("trains_as")
    if shared is None:
        return spec.method + method_digest(spec.plugin or spec.method)
    base = ALGORITHMS.get(shared)
    if base is None or not issubclass(cls, base):
        raise ValueError(
            f"DG method {spec.method!r}: trains_as={shared!r} must name a built-in method "
            "that its class subclasses"
        )
    own = {name for c in cls.__mro__[: cls.__mro__.index(base)] for name in vars(c)}
    extra = sorted(own - _TEST_TIME_ONLY)
    if extra:
        raise ValueError(
            f"DG method {spec.method!r} cannot train as {shared}: it defines {extra}, which "
            "training may use (only test-time behaviour, adapt, may differ)"
        )
    return shared


TRAINING_SETTINGS = (
    *("steps", "batch_size", "eval_every", "width", "backbone", "val_fraction"),
    "max_val_images",
)
"""The :class:`TrialSpec` fields that training reads, besides the method, draw and seed."""


@functools.cache
def _trial_code() -> str:
    return code_hash([__name__])


def training_key(spec: TrialSpec, train_fingerprint: str, device_type: str) -> str:
    """``<identity>-s<seed>-<digest>``: the key of the trained model in the store, a digest
    of everything training depends on: ``train``'s content fingerprint, the training
    identity, the resolved hyperparameters (not the draw's number), the seed, the training
    settings, the trial code and the device type (CPU and CUDA differ numerically). The
    data set's name, its other splits and the test-time method are not part of it."""
    identity = training_identity(spec)
    fields = {
        "train": train_fingerprint,
        "trains_as": identity,
        "hparams": trial_hparams(spec),
        "seed": spec.seed,
        **{name: getattr(spec, name) for name in TRAINING_SETTINGS},
        "backbone_code": backbone_digest(spec.backbone),
        "code": _trial_code(),
        "device": device_type,
    }
    text = json.dumps(fields, sort_keys=True, default=repr)
    digest = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
    name = identity if identity in ALGORITHMS else spec.method
    return f"{name}-s{spec.seed}-{digest}"


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


def eval_batch(device: torch.device) -> int:
    """The prediction batch of ``device``'s type (:data:`EVAL_BATCH`; CUDA's for others)."""
    return EVAL_BATCH.get(device.type, EVAL_BATCH["cuda"])


def _batches(
    images: np.ndarray, device: torch.device, size: int | None = None
) -> Iterator[torch.Tensor]:
    size = size or eval_batch(device)
    for start in range(0, len(images), size):
        yield prepare_input(centre_crop(to_input(images[start : start + size])), device)


def predict_images(
    algorithm: Algorithm,
    images: np.ndarray,
    device: torch.device,
    adapt: bool = False,
    batch_size: int | None = None,
) -> np.ndarray:
    """Predicted labels of raw images (after :meth:`Algorithm.adapt` to them when asked), in
    batches of ``batch_size`` (default: :data:`EVAL_BATCH` of the device's type)."""
    algorithm.eval()
    if adapt:
        algorithm.adapt(lambda: _batches(images, device, batch_size))
    out, flops = [], FlopSampler()
    with torch.no_grad(), autocast(device):
        for x in _batches(images, device, batch_size):
            with flops.measure(len(x)):
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
    val = val[evaluation_rows(labels[val], spec.max_val_images)]
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
    ever_nonzero: dict[str, bool] = {}
    step_flops = FlopSampler()
    for step in range(1, spec.steps + 1):
        minibatches = [
            (
                prepare_input(augment(to_input(images[fit[rows]]), crops), device),
                torch.as_tensor(labels[fit[rows]], device=device),
            )
            for rows in next(batches)
        ]
        algorithm.train()
        with autocast(device), step_flops.measure(1):
            losses = algorithm.update(minibatches)
        for name, value in losses.items():
            ever_nonzero[name] = ever_nonzero.get(name, False) or float(value) != 0.0
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
        "losses_ever_nonzero": ever_nonzero,
    }
    return algorithm, summary


def model_folder(trials_dir: str | Path, key: str) -> Path:
    """The store's folder of the trained model ``key`` (see :func:`training_key`)."""
    return Path(trials_dir) / MODELS_FOLDER / key


def _stored_model(
    spec: TrialSpec, train: CoosSplit, device: torch.device, folder: Path
) -> tuple[Algorithm, dict[str, Any]] | None:
    """The stored model of ``folder`` (the algorithm with its selected weights, and the
    training summary), or ``None`` when there is none; a damaged one is named in a warning
    and ``None`` returned, so that the model is trained again."""
    if not (folder / TRAINING_FILE).is_file():
        return None
    try:
        summary = json.loads((folder / TRAINING_FILE).read_text("utf-8"))
        state = load_checkpoint(folder / MODEL_FILE, device)
        task = TaskInfo(
            in_channels=int(train.images.shape[1]),
            n_classes=len(train.class_names),
            n_domains=int(summary["n_domains"]),
            class_counts=tuple(int(c) for c in summary["class_counts"]),
        )
        backbone = build_backbone(spec.backbone, task.in_channels, task.n_classes, spec.width)
        algorithm = prepare_module(spec.algorithm(task, trial_hparams(spec), backbone), device)
        algorithm.load_state_dict(state)
    except (CoosDataError, OSError, ValueError, KeyError, RuntimeError) as exc:
        warnings.warn(f"{folder}: stored model unusable ({exc}); training it again", stacklevel=2)
        return None
    return algorithm, summary


def trained_model(
    spec: TrialSpec, train: CoosSplit, device: torch.device, folder: Path
) -> tuple[Algorithm, dict[str, Any], bool]:
    """The model ``spec`` selects on ``train`` and its training summary: from the store
    folder ``folder`` when this training was done before, else trained and stored there
    (the weights with their checksum, then the summary). The flag: whether it was trained."""
    stored = _stored_model(spec, train, device, folder)
    if stored is not None:
        return *stored, False
    algorithm, summary = _train_and_select(spec, train, device)
    save_checkpoint(folder / MODEL_FILE, algorithm.state_dict())
    atomic_write_text(folder / TRAINING_FILE, json.dumps(summary, indent=1))
    return algorithm, summary, True


def prediction_key(spec: TrialSpec, split: CoosSplit, device: torch.device) -> str:
    """The key of a stored model's predictions on ``split``: the split's content fingerprint,
    the test-time method (its name and a plug-in's code digest: TestTimeBN predicts otherwise
    than ERM from the same model) and the prediction batch of the device's type (it may
    change the last bits of a logit). The model's own key (its folder) covers the rest."""
    fields = {
        "split": [split.name, split.content_fingerprint()],
        "method": spec.method + method_digest(spec.plugin or spec.method),
        "batch": eval_batch(device),
    }
    text = json.dumps(fields, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def stored_prediction(path: Path, n_images: int) -> np.ndarray | None:
    """The predicted labels kept at ``path``, or ``None`` when there are none, or when they
    fail their checksum or are not one label per image (named in a warning, and predicted
    again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as kept:
            predicted, checksum = kept["predicted"], str(kept["sha256"])
    except (OSError, ValueError, KeyError) as exc:
        warnings.warn(
            f"{path}: stored predictions unreadable ({exc}); predicting again", stacklevel=2
        )
        return None
    if hashlib.sha256(predicted.tobytes()).hexdigest() != checksum:
        warnings.warn(
            f"{path}: stored predictions fail their checksum; predicting again", stacklevel=2
        )
        return None
    if predicted.shape != (n_images,) or predicted.dtype != np.int16:
        warnings.warn(
            f"{path}: stored predictions do not fit the split; predicting again", stacklevel=2
        )
        return None
    return predicted.astype(np.int64)


def store_prediction(path: Path, predicted: np.ndarray) -> None:
    """Keep ``predicted`` at ``path`` with its SHA-256 (written atomically)."""
    labels = np.asarray(predicted, dtype=np.int16)
    buffer = io.BytesIO()
    np.savez(
        buffer, predicted=labels, sha256=np.array(hashlib.sha256(labels.tobytes()).hexdigest())
    )
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


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

    The model is taken from the store under ``trials_dir`` when the same training was done
    before (:func:`trained_model`), else trained and stored.

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
    key = training_key(spec, train.content_fingerprint(), torch_device.type)
    with cpu_threads(threads):
        started, cpu_started = time.perf_counter(), time.process_time()
        with stage("DG train", spec.method):
            algorithm, summary, fresh = trained_model(
                spec, train, torch_device, model_folder(trials_dir, key)
            )
        trained = time.perf_counter()
        guard.finalise()
        test, predictions, reused = {}, {}, []
        for name in TEST_SPLITS:
            split = guard.open(name)
            kept = model_folder(trials_dir, key) / PREDICTED_FOLDER
            kept = kept / f"{prediction_key(spec, split, torch_device)}.npz"
            predicted = stored_prediction(kept, len(split))
            if predicted is None:
                with stage("DG test", spec.method):
                    predicted = predict_images(algorithm, split.images, torch_device, adapt=True)
                store_prediction(kept, predicted)
            else:
                reused.append(name)
            test[name] = score(split.labels, predicted, len(split.class_names))
            predictions[name] = SplitPredictions(split.labels, predicted, well_clusters(split.meta))
    outcome = {
        "status": "ran",
        **summary,
        "model": {"key": key, "source": "trained" if fresh else "reused"},
        "test": test,
        "predictions_reused": reused,
        "predictions": write_predictions(folder, predictions),
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


@dataclass(frozen=True)
class SplitPredictions:
    """One test split as a trial scored it: true labels, predicted labels, and one well id
    per image (``None`` when the data have no wells)."""

    labels: np.ndarray
    predicted: np.ndarray
    wells: np.ndarray | None = None


def write_predictions(folder: Path, predictions: Mapping[str, SplitPredictions]) -> dict[str, str]:
    """Write ``predictions.npz`` atomically into ``folder``; its name and SHA-256 (for the
    record, which :func:`read_predictions` checks against)."""
    arrays = {}
    for split, found in predictions.items():
        arrays[f"{split}.labels"] = np.asarray(found.labels, dtype=np.int16)
        arrays[f"{split}.predicted"] = np.asarray(found.predicted, dtype=np.int16)
        if found.wells is not None:
            arrays[f"{split}.wells"] = np.asarray(found.wells, dtype=np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    payload = buffer.getvalue()
    with atomic_path(folder / PREDICTIONS) as tmp:
        tmp.write_bytes(payload)
    return {"file": PREDICTIONS, "sha256": hashlib.sha256(payload).hexdigest()}


def read_predictions(folder: str | Path) -> dict[str, SplitPredictions]:
    """Split -> :class:`SplitPredictions` of a finished trial that ran, after checking the
    file against the SHA-256 in its record; a missing or altered file stops with the trial
    folder to delete (the sweep then runs the trial again)."""
    folder = Path(folder)
    path = folder / PREDICTIONS
    entry = json.loads((folder / "record.json").read_text("utf-8")).get("predictions")
    rerun = f"delete the trial folder {folder.name} to run the trial again"
    if entry is None or not path.is_file():
        raise CoosDataError(path, f"the trial kept no test predictions; {rerun}")
    payload = path.read_bytes()
    if hashlib.sha256(payload).hexdigest() != entry["sha256"]:
        raise CoosDataError(path, f"checksum does not match the trial's record; {rerun}")
    with np.load(io.BytesIO(payload)) as arrays:
        names = dict.fromkeys(key.split(".", 1)[0] for key in arrays.files)
        return {
            split: SplitPredictions(
                arrays[f"{split}.labels"].astype(np.int64),
                arrays[f"{split}.predicted"].astype(np.int64),
                arrays[f"{split}.wells"] if f"{split}.wells" in arrays.files else None,
            )
            for split in names
        }
