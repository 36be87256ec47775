"""Paired cell inpainting (PCI; Lu et al., PLoS Comput. Biol. 2019), self-supervised on ``train``.

Pretext task: given both channels of a source cell and the nucleus channel of a target cell
that shows the same protein, predict the target's protein channel (mean squared error).
The loss never sees a label; the label only says which cells show the same protein (in
COOS-7 a class is one protein), the role the original's one-folder-per-image layout plays.
The network (SPEC section 2; the authors' Keras code, github.com/alexxijielu/
paired_cell_inpainting, ``human_model/pair_model.py``):

* source-cell encoder on the 2-channel source: conv 96, pool, conv 256, pool, conv 384,
  conv 384, conv 256;
* target-marker encoder on the target's nucleus: conv 16, pool, conv 32, pool, conv 32;
* the two 16 x 16 maps concatenated; decoder: conv 256, 384, 384, upsample x2, conv 256,
  upsample x2, conv 96, then a 1 x 1 convolution to one channel (no activation).

All convolutions are 3 x 3 with ReLU; in both encoders each is followed by batch norm (the
original's order: convolution, ReLU, batch norm); the decoder has none. Features (the
original ``yeast_model/extract_features.py``): the ReLU output of each of the source
encoder's five convolutions, conv1 to conv5 (before their batch norm), reduced to one value
per channel by global max pooling. The paper reported its best three layers (conv3, conv4,
conv5 on COOS-7); here all five are Table 3 outputs and the benchmark picks the three for
the random forest by cross-validated error on ``train``, as for VGG16's layers.

Training, from the authors' yeast training script (github.com/BooneAndrewsLab/
paired_cell_inpainting, ``yeast_model/train.py`` and ``opts.py``):
each channel of each image min-max rescaled to [0, 1]; source and target flipped left-right
and up-down at random, independently; Adam with learning rate 1e-4 and beta1 = 0.5; batch
64; 30 epochs of ``len(images) // 64`` steps. Here one iteration is one batch, so
``iterations = epochs * (n_fit // batch_size)``, and the fit set is 80% of ``train``: the
other 20% (a random part, paired like the rest) gives a validation loss on fixed pairs every
``eval_every`` iterations (default: once per epoch), and the checkpoint with the lowest
validation loss is kept (the original kept the last weights; the COOS protocol selects
checkpoints on held-out training data). Batch norm: epsilon 1e-3 as in Keras, torch's
momentum 0.1 rather than Keras's 0.01, so that short (smoke) runs have usable running
statistics. Partners show the same protein: the same class, within the same field, well
or plate where the metadata allow (see :mod:`coos_utils.models.pairs`).

``width`` multiplies every convolution width (each rounded, at least 1; the output stays
one channel); ``width=1`` is the paper's network.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from coos_utils.data.holdout import holdout
from coos_utils.data.split import CoosSplit
from coos_utils.features.base import EXECUTION_SETTINGS, Representation
from coos_utils.models import training
from coos_utils.models.augment import random_flips
from coos_utils.models.deeploc import scaled
from coos_utils.models.device_data import ShuffledRows, load_to_device, stream_batches
from coos_utils.models.extract import extract
from coos_utils.models.pairs import (
    ACROSS_WELLS,
    GroupPartners,
    describe_pairing,
    pairing_groups,
)
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

FEATURE_LAYERS: dict[str, str] = {
    f"conv{k}": f"source.conv{k}.relu" for k in range(1, 6)
}  # the original's conv1_1 ... conv5_1
BN_EPS = 1e-3


def min_max(x: torch.Tensor) -> torch.Tensor:
    """Each channel of each image of an (N, C, H, W) batch rescaled to [0, 1] (constant: 0)."""
    low = x.amin(dim=(2, 3), keepdim=True)
    span = x.amax(dim=(2, 3), keepdim=True) - low
    return torch.where(span > 0, (x - low) / span.clamp_min(1e-12), torch.zeros_like(x))


def _encoder_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(cin, cout, 3, padding=1),
            relu=nn.ReLU(),
            norm=nn.BatchNorm2d(cout, eps=BN_EPS),
        )
    )


def _decoder_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(cin, cout, 3, padding=1), relu=nn.ReLU()))


class PairedCellInpainting(nn.Module):
    """The PCI network: ``forward(source (N, 2, H, W), target_nucleus (N, 1, H, W))`` ->
    predicted target protein (N, 1, H, W); H and W divisible by 4."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()

        def w(channels: int) -> int:
            return scaled(channels, width)

        self.source = nn.Sequential(
            OrderedDict(
                conv1=_encoder_conv(2, w(96)),
                pool1=nn.MaxPool2d(2),
                conv2=_encoder_conv(w(96), w(256)),
                pool2=nn.MaxPool2d(2),
                conv3=_encoder_conv(w(256), w(384)),
                conv4=_encoder_conv(w(384), w(384)),
                conv5=_encoder_conv(w(384), w(256)),
            )
        )
        self.target = nn.Sequential(
            OrderedDict(
                conv1=_encoder_conv(1, w(16)),
                pool1=nn.MaxPool2d(2),
                conv2=_encoder_conv(w(16), w(32)),
                pool2=nn.MaxPool2d(2),
                conv3=_encoder_conv(w(32), w(32)),
            )
        )
        self.decoder = nn.Sequential(
            OrderedDict(
                conv6=_decoder_conv(w(256) + w(32), w(256)),
                conv7=_decoder_conv(w(256), w(384)),
                conv8=_decoder_conv(w(384), w(384)),
                up1=nn.Upsample(scale_factor=2, mode="nearest"),
                conv9=_decoder_conv(w(384), w(256)),
                up2=nn.Upsample(scale_factor=2, mode="nearest"),
                conv10=_decoder_conv(w(256), w(96)),
                out=nn.Conv2d(w(96), 1, 1),
            )
        )

    def forward(self, source: torch.Tensor, target_nucleus: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([self.source(source), self.target(target_nucleus)], dim=1)
        return self.decoder(joined)


class _PciTask(TrainingTask):
    """MSE of the inpainted target protein; validation: MSE on fixed held-out pairs."""

    def __init__(
        self,
        model: PairedCellInpainting,
        images: torch.Tensor,
        partners: GroupPartners,
        val_images: torch.Tensor,
        val_pairs: tuple[torch.Tensor, torch.Tensor],
        batch_size: int,
        generator: torch.Generator,
    ) -> None:
        self.model, self.images, self.partners = model, images, partners
        self.val_images, self.val_pairs = val_images, val_pairs
        self.batch_size, self.generator = batch_size, generator
        self.rows = ShuffledRows(len(partners.sources), generator)

    def _loss(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        layout = memory_format(source.device)
        with autocast(source.device):
            predicted = self.model(
                source.contiguous(memory_format=layout),
                target[:, 1:2].contiguous(memory_format=layout),
            )
        return F.mse_loss(predicted.float(), target[:, 0:1])

    def training_loss(self) -> torch.Tensor:
        rows = self.partners.sources[self.rows.next(self.batch_size)]
        partners = self.partners.draw(rows, self.generator)
        source = random_flips(self.images[rows], self.generator)
        target = random_flips(self.images[partners], self.generator)
        return self._loss(source, target)

    def validation_score(self) -> float:
        sources, targets = self.val_pairs
        total = 0.0
        for i in range(0, len(sources), 256):
            s, t = sources[i : i + 256], targets[i : i + 256]
            total += self._loss(self.val_images[s], self.val_images[t]).item() * len(s)
        return total / len(sources)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "rows": self.rows.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"].cpu())
        self.rows.load_state_dict(state["rows"])


class PciRepresentation(Representation):
    """PCI trained on ``train`` (self-supervised): max-pooled source-encoder conv1 ... conv5.

    After ``fit``: ``grouping_`` (where partners came from: "field", "well", "plate + class"
    or "class"; :func:`~coos_utils.models.pairs.describe_pairing` words it),
    ``iterations_`` (as run), ``history_`` (iteration, train_loss, val_score = held-out
    MSE, images_per_s, and ``pairs``: the grouping), ``best_iteration_`` and ``model_``.

    ``train_threads`` fixes the torch CPU threads of the training (``None``: every core this
    process may use). The count decides how the gradients' sums are split, so the weights'
    last bits depend on it: it is part of the cache key, resolved to the count used (and to
    ``None`` on a GPU, where it does not apply); a fixed count gives the same weights on any
    CPU and lets several trainings run side by side on one core each.
    """

    name: ClassVar[str] = "pci"
    learns: ClassVar[bool] = True
    execution_settings: ClassVar[frozenset[str]] = EXECUTION_SETTINGS | {"extract_batch_size"}
    """``extract_batch_size`` only chunks the eval-mode pass of ``transform`` (batch norm
    then uses its running statistics, so each image's features do not depend on its batch)."""

    def __init__(
        self,
        epochs: float = 30,
        iterations: int | None = None,
        batch_size: int = 64,
        eval_every: int | None = None,
        width: float = 1.0,
        learning_rate: float = 1e-4,
        beta1: float = 0.5,
        validation_fraction: float = 0.2,
        seed: int = 0,
        train_threads: int | None = None,
        extract_batch_size: int = 512,
        device: str | None = None,
        n_jobs: int | None = -1,
        progress: bool = True,
        work_dir: str | Path | None = None,
    ) -> None:
        super().__init__(device=device, n_jobs=n_jobs, progress=progress, work_dir=work_dir)
        self.epochs = epochs
        self.iterations = iterations
        self.batch_size = batch_size
        self.eval_every = eval_every
        self.width = width
        self.learning_rate = learning_rate
        self.beta1 = beta1
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.extract_batch_size = extract_batch_size
        check_train_threads(train_threads)
        self.train_threads = train_threads

    def derived_params(self) -> dict[str, Any]:
        """``train_threads`` as the training will use it (see the class docstring)."""
        return {"train_threads": training_threads_used(self.train_threads, self.device)}

    def outputs(self) -> dict[str, str]:
        return {name: f"PCI {name.capitalize()}" for name in FEATURE_LAYERS}

    def schedule(self, n_fit: int) -> tuple[int, int]:
        """(iterations, eval_every) for a fit set of ``n_fit`` images."""
        per_epoch = max(1, n_fit // self.batch_size)
        iterations = self.iterations or max(1, math.ceil(self.epochs * per_epoch))
        return iterations, self.eval_every or per_epoch

    def fit(self, train: CoosSplit) -> Self:
        device = resolve_device(self.device)
        groups, self.grouping_ = pairing_groups(train.meta, train.labels)
        if self.grouping_ in ACROSS_WELLS:
            warnings.warn(
                f"split {train.name!r} has no plate + well ids: {describe_pairing(self.grouping_)}",
                stacklevel=2,
            )
        fit_rows, val_rows = holdout(len(train), self.validation_fraction, self.seed)
        self.iterations_, eval_every = self.schedule(len(fit_rows))
        with training_threads(self.train_threads):
            seed_everything(self.seed)
            model = prepare_module(PairedCellInpainting(self.width), device)
            plan = TrainingPlan(
                self.iterations_,
                eval_every,
                self.batch_size,
                identity={"params": self.params(), "train": train.content_fingerprint()},
            )
            outcome = training.reuse_finished(model, plan, self.work_dir) or self._train(
                model, plan, train, groups, (fit_rows, val_rows), device
            )
        self.model_ = model
        self.history_ = outcome.history.assign(pairs=self.grouping_)
        self.best_iteration_ = outcome.best_iteration
        return self

    def _train(
        self,
        model: PairedCellInpainting,
        plan: TrainingPlan,
        train: CoosSplit,
        groups: np.ndarray,
        rows: tuple[np.ndarray, np.ndarray],
        device: torch.device,
    ) -> TrainingOutcome:
        fit_rows, val_rows = rows
        partners = GroupPartners(groups[fit_rows], device)
        val_partners = GroupPartners(groups[val_rows], device)
        if len(partners.sources) == 0 or len(val_partners.sources) == 0:
            raise ValueError(
                f"PCI: no two cells of one {self.grouping_} in the fit or validation part of "
                f"{train.name!r}; nothing to pair"
            )
        val_generator = torch.Generator(device=device).manual_seed(self.seed + 1)
        val_pairs = (val_partners.sources, val_partners.draw(val_partners.sources, val_generator))
        everything = load_to_device(train, min_max, device, progress=self.progress)
        task = _PciTask(
            model,
            everything[torch.as_tensor(fit_rows, device=device)],
            partners,
            everything[torch.as_tensor(val_rows, device=device)],
            val_pairs,
            self.batch_size,
            torch.Generator(device=device).manual_seed(self.seed),
        )
        optimizer = torch.optim.Adam(
            model.parameters(), lr=self.learning_rate, betas=(self.beta1, 0.999)
        )
        return training.train(task, optimizer, plan, self.work_dir, None, self.progress, "PCI")

    def transform(self, split: CoosSplit) -> dict[str, np.ndarray]:
        if not hasattr(self, "model_"):
            raise RuntimeError("PciRepresentation: call fit(train) first")
        device = next(self.model_.parameters()).device
        with cpu_threads(self.n_jobs):
            batches = stream_batches(
                split,
                min_max,
                device,
                self.extract_batch_size,
                progress=self.progress,
                desc=f"PCI {split.name}",
            )
            values = extract(
                self.model_, batches, list(FEATURE_LAYERS.values()), "max", self.model_.source
            )
        return {name: values[module] for name, module in FEATURE_LAYERS.items()}
