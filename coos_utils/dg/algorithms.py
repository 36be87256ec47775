"""The domain-generalisation methods, one short class each, behind one registry (DomainBed-style).

An algorithm owns a featurizer and a classifier (any backbone, DeepLoc by default) and its
optimiser. Its public interface is :meth:`Algorithm.update`, one training step on a list of
``(x, y)`` minibatches, one per training domain (COOS plates; one element when the data have
no plate ids), returning its losses; :meth:`Algorithm.predict`, the logits; and
:meth:`Algorithm.adapt`, a test-time hook that only test-time BN adaptation uses.

Where each method comes from (``METHOD_SOURCES`` says the same):

=============  =====  ==========================================================================
method         from   what it does here
=============  =====  ==========================================================================
ERM            peer   the baseline: cross-entropy on all training images (DomainBed's ERM)
ContriMix      seed   content/attribute encoders and a generator; synthetic images that carry
                      another image's attributes train the classifier (Nguyen et al. 2023)
FocalLoss      seed*  imbalance-aware loss 1: focal loss (Lin et al. 2017)
ClassBalanced  seed*  imbalance-aware loss 2: class-balanced CE, effective number (Cui et al. 2019)
MixStyle       peer   mixes feature statistics between images in early layers (Zhou et al. 2021)
CORAL          peer   aligns feature means and covariances between plates (Sun & Saenko 2016)
TestTimeBN     peer   ERM, then batch-norm statistics re-estimated on each test set (AdaBN, Li et
                      al. 2016; Schneider et al. 2020)
=============  =====  ==========================================================================

\\* The white-blood-cell seed (Umer et al. 2023) handles class imbalance with two losses that
our copy of it does not name; these two are well-established choices of ours. They attack
imbalance from the two usual sides and change only the loss (no sampler), so they combine
with the per-plate batches: the focal loss down-weights images that are already easy, whatever
their class, which needs no class counts and so also copes with plates whose class mix
differs from the whole; class-balanced cross-entropy re-weights classes by the training
counts, with ``cb_beta`` moving between no re-weighting (0) and inverse frequency (-> 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from coos_utils.dg.backbones import Backbone
from coos_utils.dg.contrimix import AttributeEncoder, ContentEncoder, generate
from coos_utils.dg.losses import class_balanced_weights, focal_loss, mean_pairwise_coral
from coos_utils.dg.mixstyle import MixStyle as MixStyleLayer
from coos_utils.dg.mixstyle import attach_after_pools
from coos_utils.registry import lookup

Minibatches = Sequence[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class TaskInfo:
    """What an algorithm may know about the training data: shapes, domains, class counts."""

    in_channels: int
    n_classes: int
    n_domains: int
    class_counts: tuple[int, ...]


class Algorithm(nn.Module):
    """A featurizer, a classifier, and an Adam optimiser over every parameter of the method."""

    def __init__(self, task: TaskInfo, hparams: Mapping[str, Any], backbone: Backbone) -> None:
        super().__init__()
        self.task = task
        self.hparams = dict(hparams)
        self.featurizer, self.classifier = backbone
        self._optimizer: torch.optim.Optimizer | None = None

    def update(self, minibatches: Minibatches) -> dict[str, float]:
        """One optimisation step on one minibatch per training domain; the losses."""
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, n_classes) of a batch of images."""
        return self.classifier(self.featurizer(x))

    def adapt(self, batches: Iterable[torch.Tensor]) -> None:
        """Prepare to predict on the images of one test set (nothing, except TestTimeBN)."""

    def _step(self, loss: torch.Tensor) -> None:
        if self._optimizer is None:  # created at first use, once every submodule exists
            self._optimizer = torch.optim.Adam(
                self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"]
            )
        self._optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._optimizer.step()


def _concat(minibatches: Minibatches) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cat([x for x, _ in minibatches]), torch.cat([y for _, y in minibatches])


class ERM(Algorithm):
    """Empirical risk minimisation: the mean classification loss over all domains' images."""

    def update(self, minibatches: Minibatches) -> dict[str, float]:
        x, y = _concat(minibatches)
        loss = self._classification_loss(self.predict(x), y)
        self._step(loss)
        return {"loss": loss.item()}

    def _classification_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y)


class FocalLoss(ERM):
    """ERM with the focal loss: well-classified (mostly majority-class) images weigh less."""

    def _classification_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return focal_loss(logits, y, self.hparams["focal_gamma"])


class ClassBalanced(ERM):
    """ERM with cross-entropy weighted per class by the inverse effective number of samples."""

    def __init__(self, task: TaskInfo, hparams: Mapping[str, Any], backbone: Backbone) -> None:
        super().__init__(task, hparams, backbone)
        weights = class_balanced_weights(task.class_counts, self.hparams["cb_beta"])
        self.register_buffer("class_weights", torch.as_tensor(weights, dtype=torch.float32))

    def _classification_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, weight=self.class_weights)


class MixStyle(ERM):
    """ERM with MixStyle after the featurizer's first ``mixstyle_layers`` pooling layers."""

    def __init__(self, task: TaskInfo, hparams: Mapping[str, Any], backbone: Backbone) -> None:
        super().__init__(task, hparams, backbone)
        self.mixer = MixStyleLayer(self.hparams["mixstyle_p"], self.hparams["mixstyle_alpha"])
        self._hooks = attach_after_pools(
            self.featurizer, self.mixer, self.hparams["mixstyle_layers"]
        )


class CORAL(Algorithm):
    """Cross-entropy plus ``coral_weight`` times the mean CORAL penalty over pairs of domains.

    With a single training domain (data without plate ids) there is no pair, the penalty is
    zero and CORAL trains exactly like ERM.
    """

    def update(self, minibatches: Minibatches) -> dict[str, float]:
        x, y = _concat(minibatches)
        features = self.featurizer(x)
        ce = F.cross_entropy(self.classifier(features), y)
        penalty = mean_pairwise_coral(features.split([len(b) for _, b in minibatches]))
        loss = ce + self.hparams["coral_weight"] * penalty
        self._step(loss)
        return {"loss": loss.item(), "ce": ce.item(), "coral": penalty.item()}


class ContriMix(Algorithm):
    """ContriMix, reduced: encoders, generator and classifier trained jointly from scratch.

    Per step: contents ``Z`` and attributes ``A`` of the batch; ``contrimix_mixings`` times, a
    random permutation of the batch lends every image another image's attributes,
    ``x' = G(Z, A[perm])``. The classifier is trained with cross-entropy on the real images and
    the synthetic ones (same labels; synthetic images detached, so the classifier cannot shape
    the generator). The encoders and generator minimise the paper's self-reconstruction
    (L1 of ``G(Z, A)`` against ``x``), attribute-consistency (``E_a(x')`` against ``A[perm]``)
    and content-consistency (``E_c(x')`` against ``Z``) losses, weighted by
    ``contrimix_weight``. No domain labels are used: all domains' images are pooled.
    """

    def __init__(self, task: TaskInfo, hparams: Mapping[str, Any], backbone: Backbone) -> None:
        super().__init__(task, hparams, backbone)
        n_contents = self.hparams["contrimix_contents"]
        self.content_encoder = ContentEncoder(task.in_channels, n_contents)
        self.attribute_encoder = AttributeEncoder(task.in_channels, n_contents)

    def update(self, minibatches: Minibatches) -> dict[str, float]:
        x, y = _concat(minibatches)
        content, attributes = self.content_encoder(x), self.attribute_encoder(x)
        recon = F.l1_loss(generate(content, attributes), x)
        n_mix = self.hparams["contrimix_mixings"]
        synthetic, attr_cons, content_cons = [], x.new_zeros(()), x.new_zeros(())
        for _ in range(n_mix):
            lent = attributes[torch.randperm(len(x), device=x.device)]
            mixed = generate(content, lent)
            attr_cons = attr_cons + F.l1_loss(self.attribute_encoder(mixed), lent) / n_mix
            content_cons = content_cons + F.l1_loss(self.content_encoder(mixed), content) / n_mix
            synthetic.append(mixed.detach())
        logits = self.classifier(self.featurizer(torch.cat([x, *synthetic])))
        ce = F.cross_entropy(logits, y.repeat(n_mix + 1))
        loss = ce + self.hparams["contrimix_weight"] * (recon + attr_cons + content_cons)
        self._step(loss)
        return {
            "loss": loss.item(),
            "ce": ce.item(),
            "reconstruction": recon.item(),
            "attribute_consistency": attr_cons.item(),
            "content_consistency": content_cons.item(),
        }


class TestTimeBN(ERM):
    """ERM; before predicting on a test set, batch-norm statistics are re-estimated on it.

    :meth:`adapt` replaces every batch-norm layer's running mean and variance by those of the
    given images (means weighted by batch size; variances averaged over the batches, as
    AdaBN does; no weight changes). Each call starts from scratch, so adapting to one test
    set leaves nothing behind for the next.
    """

    def adapt(self, batches: Iterable[torch.Tensor]) -> None:
        norms = [m for m in self.featurizer.modules() if isinstance(m, _BatchNorm)]
        momenta = [m.momentum for m in norms]
        was_training = self.training
        self.eval()
        for m in norms:
            m.reset_running_stats()
            m.train()
        seen = 0
        with torch.no_grad():
            for x in batches:
                seen += len(x)
                for m in norms:  # running mean = image-weighted mean of the batch means
                    m.momentum = len(x) / seen
                self.featurizer(x)
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        self.train(was_training)
        if seen == 0:
            raise ValueError("adapt() needs at least one batch of images")


ALGORITHMS: dict[str, type[Algorithm]] = {
    "ERM": ERM,
    "ContriMix": ContriMix,
    "FocalLoss": FocalLoss,
    "ClassBalanced": ClassBalanced,
    "MixStyle": MixStyle,
    "CORAL": CORAL,
    "TestTimeBN": TestTimeBN,
}

METHOD_SOURCES: dict[str, str] = {
    "ERM": "peer: DomainBed's baseline (Gulrajani and Lopez-Paz 2021)",
    "ContriMix": "seed: ContriMix (Nguyen et al. 2023), reduced",
    "FocalLoss": "seed (Umer et al. 2023, imbalanced DG); loss: focal (Lin et al. 2017)",
    "ClassBalanced": "seed (Umer et al. 2023); loss: class-balanced CE (Cui et al. 2019)",
    "MixStyle": "peer: MixStyle (Zhou et al. 2021)",
    "CORAL": "peer: Deep CORAL (Sun and Saenko 2016), plates as domains",
    "TestTimeBN": "peer: test-time BN adaptation (Li et al. 2016; Schneider et al. 2020)",
}


def get_algorithm(name: str) -> type[Algorithm]:
    """The algorithm class called ``name``, or an error listing every valid name."""
    return lookup(ALGORITHMS, name, "DG method")
