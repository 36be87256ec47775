"""DeepLoc (Kraus et al., Mol. Syst. Biol. 2017), trained end to end on COOS-7 ``train``.

The network (SPEC section 2; the authors' TensorFlow code, github.com/okraus/DeepLoc,
``DeepLoc_train.py`` and ``nn_layers.py``): 8 convolutions 3 x 3 (64, 64, 128, 128, 256,
256, 256, 256), each followed by batch norm and ReLU, 2 x 2 max-pooling after the 2nd, 4th
and 8th; then fully connected 512 ("FC1") and 512 ("FC2"), each with batch norm and ReLU,
and a linear layer to the classes (batch-normalised, as in the original). ``model.featurizer``
is everything up to FC2 (the representation), ``model.classifier`` maps FC2 to the logits.

What we took from the authors' code, and where we differ:

* **Input normalisation** (``preprocess_images.py``, ``stretchBatch``): each channel of each
  64 x 64 image is stretched by its own percentiles: values above the 99.9th percentile are
  clipped to it, the 0.1th percentile is subtracted and the result divided by the
  difference of the two (when it exceeds 1 grey level). Nothing is learnt from other images.
* **Augmentation** (``jitterBatch``, ``randTransformBatch``): a random 60 x 60 crop of the
  64 x 64 image, random up-down and left-right flips and a random 90-degree rotation. The
  original draws the rotation from {0, 90, 180} degrees after the flips; we draw uniformly
  from the 8 flips/rotations of the square, which covers the same set of transforms.
* **Test time** (``DeepLoc_eval.py``, ``extractCrops``): the centre and four corner 60 x 60
  crops; class probabilities are the mean of the five softmax outputs, and FC2 features the
  mean of the five FC2 activations (``test_crops=1`` uses the centre crop only).
* **Optimiser** (``DeepLoc_train.py``): Adam, learning rate 0.1 decayed in steps by a factor
  0.96 every 25 iterations (TensorFlow's staircase ``exponential_decay``), batch 128,
  softmax cross-entropy, no weight decay. **Dropout**: none; the released code has no
  dropout layer (its only regulariser is batch norm plus augmentation).
* **Batch norm** (``batch_norm_conv``/``batch_norm_fc``): epsilon 1e-3 and moving averages
  with decay 0.5, i.e. torch momentum 0.5. As in the original, the logits are batch-
  normalised too (``nn_layer`` for the last layer keeps its default batch norm): with
  Adam at learning rate 0.1 this keeps the logits' scale in check. In eval mode it is a
  fixed per-class affine map, so ``model.classifier`` (linear, then that norm) is still
  a linear map from FC2 to the logits.
* **Initialisation**: torch's defaults instead of TensorFlow's truncated normal (sd 0.1)
  with bias 0.1; batch norm after every hidden layer makes the scale of the initial
  weights irrelevant there.
* **Model selection** (the COOS paper): 10,000 iterations on a stratified 80% of
  ``train``, validation every 500 iterations on the other 20%, the checkpoint with the
  lowest balanced error kept.

``width`` multiplies the 8 convolution widths (each rounded, at least 1) so that the smoke
and default profiles can train on two CPU cores; the fully connected widths stay 512
unless ``fc_units`` says otherwise. ``width=1`` is the paper's network. Shortened runs
(a few hundred iterations) need a smaller learning rate: 0.1 only works because the
original schedule has decayed it below 1e-3 by iteration 2,800 of 10,000; measured on the
tiny synthetic data, 150 iterations at 0.1 ended at 19-29% validation error, at 1e-3 at
5-9%.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from coos_utils.data.holdout import holdout
from coos_utils.data.split import CoosSplit
from coos_utils.features.base import EXECUTION_SETTINGS, DirectPredictor, Representation
from coos_utils.metrics import balanced_error
from coos_utils.models import training
from coos_utils.models.augment import five_crops, random_crop, random_dihedral
from coos_utils.models.device_data import ShuffledRows, load_to_device, stream_batches
from coos_utils.models.flops import FlopSampler
from coos_utils.models.runtime import (
    autocast,
    check_train_threads,
    cpu_threads,
    memory_format,
    prepare_module,
    resolve_device,
    seed_everything,
    training_threads,
    training_threads_used,
)
from coos_utils.models.training import TrainingOutcome, TrainingPlan, TrainingTask

CONV_WIDTHS: tuple[int, ...] = (64, 64, 128, 128, 256, 256, 256, 256)
POOL_AFTER: tuple[int, ...] = (2, 4, 8)
CROP = 60
IMAGE = 64
BN_EPS, BN_MOMENTUM = 1e-3, 0.5


def scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded, at least 1."""
    return max(1, round(channels * width))


def _sorted_value(flat: torch.Tensor, index: int) -> torch.Tensor:
    """The value at 0-based position ``index`` of each row of ``flat`` sorted ascending,
    by a partial sort from the nearer end (``topk``: far faster than a full sort)."""
    n = flat.shape[-1]
    if index < n / 2:
        return flat.topk(index + 1, dim=-1, largest=False).values[..., index]
    return flat.topk(n - index, dim=-1).values[..., n - 1 - index]


def percentile(flat: torch.Tensor, q: float) -> torch.Tensor:
    """Per-row ``q``-th percentile of ``flat`` (..., n), linear interpolation as numpy's."""
    position = q / 100 * (flat.shape[-1] - 1)
    below = math.floor(position)
    value = _sorted_value(flat, below)
    if position == below:
        return value
    return value + (position - below) * (_sorted_value(flat, below + 1) - value)


def stretch(x: torch.Tensor, low: float = 0.1, high: float = 99.9) -> torch.Tensor:
    """DeepLoc's per-image, per-channel percentile stretch of an (N, C, H, W) float batch."""
    flat = x.flatten(2)
    lo = percentile(flat, low)[..., None, None]
    hi = percentile(flat, high)[..., None, None]
    span = hi - lo
    shifted = torch.minimum(x, hi) - lo
    return torch.where(span > 1, shifted / span.clamp_min(1), shifted)


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM),
        nn.ReLU(),
    )


def _dense(din: int, dout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(din, dout),
        nn.BatchNorm1d(dout, eps=BN_EPS, momentum=BN_MOMENTUM),
        nn.ReLU(),
    )


class DeepLoc(nn.Module):
    """The DeepLoc network for (N, 2, 60, 60) crops (64 x 64 inputs give the same shapes).

    Pooling rounds odd sizes up (TensorFlow's 'SAME' pooling): 60 -> 30 -> 15 -> 8, so the
    last pooled map is 8 x 8 as for 64 x 64 inputs. ``logit_norm=False`` makes the
    classifier a plain ``nn.Linear`` (no batch norm of the logits), for methods that want
    one linear layer after the featurizer.
    """

    def __init__(
        self,
        n_classes: int = 7,
        in_channels: int = 2,
        width: float = 1.0,
        fc_units: int = 512,
        input_size: int = CROP,
        logit_norm: bool = True,
    ) -> None:
        super().__init__()
        if not width > 0:
            raise ValueError(f"DeepLoc: width must be > 0, not {width!r}")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        channels, size = in_channels, input_size
        for i, base in enumerate(CONV_WIDTHS, start=1):
            layers[f"conv{i}"] = _conv(channels, scaled(base, width))
            channels = scaled(base, width)
            if i in POOL_AFTER:
                layers[f"pool{POOL_AFTER.index(i) + 1}"] = nn.MaxPool2d(2, ceil_mode=True)
                size = math.ceil(size / 2)
        layers["flatten"] = nn.Flatten()
        layers["fc1"] = _dense(channels * size * size, fc_units)
        layers["fc2"] = _dense(fc_units, fc_units)
        self.featurizer = nn.Sequential(layers)
        linear = nn.Linear(fc_units, n_classes)
        norm = nn.BatchNorm1d(n_classes, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.classifier: nn.Module = (
            nn.Sequential(OrderedDict(linear=linear, norm=norm)) if logit_norm else linear
        )
        self.fc_units, self.n_classes = fc_units, n_classes

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """FC2 activations (after batch norm and ReLU): (N, fc_units)."""
        return self.featurizer(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits: (N, n_classes)."""
        return self.classifier(self.featurizer(x))


def test_time_pass(
    model: DeepLoc, x: torch.Tensor, crops: Literal[1, 5] = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """(FC2, class probabilities) of a preprocessed 64 x 64 batch, averaged over crops."""
    windows = five_crops(x, CROP)[:crops]
    fc2 = torch.zeros(len(x), model.fc_units, device=x.device)
    probs = torch.zeros(len(x), model.n_classes, device=x.device)
    for window in windows:
        window = window.contiguous(memory_format=memory_format(x.device))
        with autocast(x.device):
            embedding = model.embed(window)
            logits = model.classifier(embedding)
        fc2 += embedding.float()
        probs += F.softmax(logits.float(), dim=1)
    return fc2 / len(windows), probs / len(windows)


def _check_arguments(
    counts: dict[str, int], width: float, learning_rate: float, validation_fraction: float
) -> None:
    """A ``ValueError`` naming the first of DeepLoc's settings that cannot work."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"DeepLoc: {name} must be a positive integer, not {value!r}")
    if not width > 0:
        raise ValueError(f"DeepLoc: width must be > 0, not {width!r}")
    if not learning_rate > 0:
        raise ValueError(f"DeepLoc: learning_rate must be > 0, not {learning_rate!r}")
    if not 0 < validation_fraction < 1:
        raise ValueError(
            f"DeepLoc: validation_fraction must be between 0 and 1, not {validation_fraction!r}"
        )


class _DeepLocTask(TrainingTask):
    """Cross-entropy on augmented crops; balanced error (test-time crops) on the held-out part."""

    def __init__(
        self,
        model: DeepLoc,
        images: torch.Tensor,
        labels: torch.Tensor,
        val_images: torch.Tensor,
        val_labels: np.ndarray,
        batch_size: int,
        test_crops: Literal[1, 5],
        generator: torch.Generator,
    ) -> None:
        self.model, self.images, self.labels = model, images, labels
        self.val_images, self.val_labels = val_images, val_labels
        self.batch_size, self.test_crops = batch_size, test_crops
        self.generator = generator
        self.rows = ShuffledRows(len(images), generator)

    def training_loss(self) -> torch.Tensor:
        rows = self.rows.next(self.batch_size)
        x = random_dihedral(random_crop(self.images[rows], CROP, self.generator), self.generator)
        x = x.contiguous(memory_format=memory_format(x.device))
        with autocast(x.device):
            logits = self.model(x)
        return F.cross_entropy(logits.float(), self.labels[rows])

    def validation_score(self) -> float:
        predicted = [
            test_time_pass(self.model, self.val_images[i : i + 512], self.test_crops)[1].argmax(1)
            for i in range(0, len(self.val_images), 512)
        ]
        return balanced_error(self.val_labels, torch.cat(predicted).cpu().numpy())

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "rows": self.rows.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"].cpu())
        self.rows.load_state_dict(state["rows"])


class DeepLocRepresentation(Representation, DirectPredictor):
    """DeepLoc trained on ``train``: FC2 features, and its own end-to-end predictions.

    ``fit`` trains (or, when ``work_dir`` holds the finished training, loads its best
    weights); afterwards ``history_`` (iteration, train_loss, val_score = balanced error %
    on the held-out part, images_per_s) and ``best_iteration_`` describe the training
    curve and the checkpoint kept, ``model_`` is the network (eval mode).

    ``train_threads`` fixes the torch CPU threads of the training (``None``: every core this
    process may use). The count decides how the gradients' sums are split, so the weights'
    last bits depend on it: it is part of the cache key, resolved to the count used (and to
    ``None`` on a GPU, where it does not apply); a fixed count gives the same weights on any
    CPU and lets several trainings run side by side on one core each.
    """

    name: ClassVar[str] = "deeploc"
    learns: ClassVar[bool] = True
    predictor_row: ClassVar[tuple[str, str]] = ("DeepLoc", "End-to-End")
    execution_settings: ClassVar[frozenset[str]] = EXECUTION_SETTINGS | {"extract_batch_size"}
    """``extract_batch_size`` only chunks the eval-mode pass (batch norm then uses its
    running statistics, so each image's FC2 and prediction do not depend on its batch)."""

    def __init__(
        self,
        iterations: int = 10_000,
        batch_size: int = 128,
        eval_every: int = 500,
        width: float = 1.0,
        fc_units: int = 512,
        learning_rate: float = 0.1,
        lr_decay: float = 0.96,
        lr_decay_every: int = 25,
        validation_fraction: float = 0.2,
        test_crops: Literal[1, 5] = 5,
        seed: int = 0,
        train_threads: int | None = None,
        extract_batch_size: int = 512,
        device: str | None = None,
        n_jobs: int | None = -1,
        progress: bool = True,
        work_dir: str | Path | None = None,
    ) -> None:
        super().__init__(device=device, n_jobs=n_jobs, progress=progress, work_dir=work_dir)
        if test_crops not in (1, 5):
            raise ValueError(f"test_crops must be 1 or 5, got {test_crops}")
        counts = {
            "iterations": iterations,
            "batch_size": batch_size,
            "eval_every": eval_every,
            "fc_units": fc_units,
            "lr_decay_every": lr_decay_every,
            "extract_batch_size": extract_batch_size,
        }
        _check_arguments(counts, width, learning_rate, validation_fraction)
        self.iterations = iterations
        self.batch_size = batch_size
        self.eval_every = eval_every
        self.width = width
        self.fc_units = fc_units
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.lr_decay_every = lr_decay_every
        self.validation_fraction = validation_fraction
        self.test_crops = test_crops
        self.seed = seed
        self.extract_batch_size = extract_batch_size
        check_train_threads(train_threads)
        self.train_threads = train_threads
        self._last_pass: tuple[str, np.ndarray, np.ndarray] | None = None

    def derived_params(self) -> dict[str, Any]:
        """``train_threads`` as the training will use it (see the class docstring)."""
        return {"train_threads": training_threads_used(self.train_threads, self.device)}

    def outputs(self) -> dict[str, str]:
        return {"fc2": "DeepLoc (FC2)"}

    def fit(self, train: CoosSplit) -> Self:
        self._check_batch(train)
        device = resolve_device(self.device)
        with training_threads(self.train_threads):
            seed_everything(self.seed)
            model = prepare_module(
                DeepLoc(len(train.class_names), width=self.width, fc_units=self.fc_units),
                device,
            )
            plan = TrainingPlan(
                self.iterations,
                self.eval_every,
                self.batch_size,
                identity={"params": self.params(), "train": train.content_fingerprint()},
            )
            outcome = training.reuse_finished(model, plan, self.work_dir) or self._train(
                model, plan, train, device
            )
        self.model_ = model
        self.history_ = outcome.history
        self.best_iteration_ = outcome.best_iteration
        best = self.history_["iteration"] == self.best_iteration_
        self.validation_error = float(self.history_.loc[best, "val_score"].iloc[0])
        self._last_pass = None
        return self

    def _check_batch(self, train: CoosSplit) -> None:
        """Refuse a batch larger than the part of ``train`` it is drawn from (before any
        image is loaded: such a batch repeats images and can exhaust the memory)."""
        fit_rows, _ = holdout(len(train), self.validation_fraction, self.seed, train.labels)
        if self.batch_size > len(fit_rows):
            raise ValueError(
                f"DeepLoc: batch_size={self.batch_size} is larger than the {len(fit_rows)} "
                f"images it is drawn from (split {train.name!r} has {len(train)} images, "
                f"{len(train) - len(fit_rows)} of them held out for validation); use a "
                f"batch_size of at most {len(fit_rows)}"
            )

    def _train(
        self, model: DeepLoc, plan: TrainingPlan, train_split: CoosSplit, device: torch.device
    ) -> TrainingOutcome:
        fit_rows, val_rows = holdout(
            len(train_split), self.validation_fraction, self.seed, train_split.labels
        )
        everything = load_to_device(train_split, stretch, device, progress=self.progress)
        images = everything[torch.as_tensor(fit_rows, device=device)]
        val_images = everything[torch.as_tensor(val_rows, device=device)]
        del everything
        labels = torch.as_tensor(train_split.labels[fit_rows], device=device)
        generator = torch.Generator(device=device).manual_seed(self.seed)
        task = _DeepLocTask(
            model,
            images,
            labels,
            val_images,
            train_split.labels[val_rows],
            self.batch_size,
            self.test_crops,
            generator,
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        decay, every = self.lr_decay, self.lr_decay_every
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: decay ** (it // every))
        return training.train(
            task, optimizer, plan, self.work_dir, scheduler, self.progress, "DeepLoc"
        )

    def _pass(self, split: CoosSplit) -> tuple[np.ndarray, np.ndarray]:
        """(FC2, predicted labels) of ``split``; the last split's pass is kept for reuse."""
        if not hasattr(self, "model_"):
            raise RuntimeError("DeepLocRepresentation: call fit(train) first")
        key = split.content_fingerprint()
        if self._last_pass is not None and self._last_pass[0] == key:
            return self._last_pass[1], self._last_pass[2]
        device = next(self.model_.parameters()).device
        fc2, predicted, flops = [], [], FlopSampler()
        with cpu_threads(self.n_jobs), torch.no_grad():
            self.model_.eval()
            batches = stream_batches(
                split,
                stretch,
                device,
                self.extract_batch_size,
                progress=self.progress,
                desc=f"DeepLoc {split.name}",
            )
            for x in batches:
                with flops.measure(len(x)):
                    embedding, probs = test_time_pass(self.model_, x, self.test_crops)
                fc2.append(embedding.cpu())
                predicted.append(probs.argmax(1).cpu())
        result = torch.cat(fc2).numpy(), torch.cat(predicted).numpy().astype(np.int64)
        self._last_pass = (key, *result)
        return result

    def transform(self, split: CoosSplit) -> dict[str, np.ndarray]:
        return {"fc2": self._pass(split)[0]}

    def predict(self, split: CoosSplit) -> np.ndarray:
        return self._pass(split)[1]
