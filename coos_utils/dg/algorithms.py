"""The domain-generalisation methods, one short class each, behind one registry (DomainBed-style).

An algorithm owns a featurizer and a classifier (any backbone, DeepLoc by default) and its
optimiser. Its public interface is :meth:`Algorithm.update`, one training step on a list of
``(x, y)`` minibatches, one per training domain (COOS plates; one element when the data have
no plate ids), returning its losses; :meth:`Algorithm.predict`, the logits; and
:meth:`Algorithm.adapt`, a test-time hook that only test-time BN adaptation uses.

Where each method comes from:

=============  =====  ==========================================================================
method         from   what it does here
=============  =====  ==========================================================================
ERM            peer   the baseline: cross-entropy on all training images (DomainBed's ERM)
ContriMix      seed   content/attribute encoders and a generator; synthetic images that carry
                      other images' attributes train the classifier (Nguyen et al. 2023;
                      the authors' joint training, 5 mixes per image)
FocalLoss      seed*  imbalance-aware loss 1: focal loss (Lin et al. 2017)
ClassBalanced  seed*  imbalance-aware loss 2: class-balanced CE, effective number (Cui et al. 2019)
MixStyle       peer   mixes feature statistics between images in early layers (Zhou et al. 2021)
CORAL          peer   aligns feature means and covariances between plates (Sun & Saenko 2016);
                      not run on data without plate ids
TestTimeBN     peer   ERM, then every batch-norm layer set to the statistics of the whole test
                      set (AdaBN, Li et al. 2016; Schneider et al. 2020)
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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from coos_utils.dg.adabn import Batches, adapt_batch_norms, module_chain
from coos_utils.dg.backbones import Backbone
from coos_utils.dg.contrimix import (
    LOSS_SHARES,
    AttributeEncoder,
    ContentEncoder,
    generate,
    self_reconstruction_loss,
)
from coos_utils.dg.hparams import HPARAMS, HParam
from coos_utils.dg.losses import class_balanced_weights, focal_loss, mean_pairwise_coral
from coos_utils.dg.mixstyle import MixStyle as MixStyleLayer
from coos_utils.dg.mixstyle import attach_after_pools
from coos_utils.plugins import (
    ALGORITHM_GROUP,
    is_spec,
    normalise,
    refuse_builtin_name,
    resolve,
    source_digest,
)

Minibatches = Sequence[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class TaskInfo:
    """What an algorithm may know about the training data: shapes, domains, class counts."""

    in_channels: int
    n_classes: int
    n_domains: int
    class_counts: tuple[int, ...]


class UndeclaredHParam(KeyError, ValueError):
    """A method read a hyperparameter it did not declare; the message names both."""

    def __str__(self) -> str:
        return str(self.args[0])


class DeclaredHParams(Mapping[str, Any]):
    """A method's hyperparameters, read-only; reading one it did not declare raises a
    one-line :class:`UndeclaredHParam` naming the method and the hyperparameter."""

    def __init__(self, method: str, values: Mapping[str, Any]) -> None:
        self._method, self._values = method, dict(values)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            declared = ", ".join(self._values) or "none"
            raise UndeclaredHParam(
                f"DG method {self._method} reads the hyperparameter {name!r}, which it does "
                f"not declare (it has: {declared}); add it to {self._method}.HPARAMS"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._method!r}, {self._values!r})"


class Algorithm(nn.Module):
    """A DG method: a featurizer, a classifier, and an Adam optimiser over every parameter.

    A method (built-in or a plug-in, see :mod:`coos_utils.plugins`) subclasses this class
    and overrides what it changes:

    * ``HPARAMS`` -- its own hyperparameters, a tuple of
      :class:`~coos_utils.dg.hparams.HParam` (or ``(name, default, draw)`` triples), added to
      the entries of the shared table that apply to it (``lr`` and ``weight_decay`` for every
      method; its own declaration wins on a name). ``self.hparams`` holds the values of this
      trial's draw, read-only; reading a name the method did not declare is a one-line error
      naming the method and the name.
    * ``update(minibatches)`` -- one training step: ``minibatches`` holds one ``(x, y)`` pair
      per training domain (COOS plates; one pair when the data have no plate ids), ``x`` the
      augmented crops ``(N, C, 60, 60)``, ``y`` the labels; it computes its loss, calls
      ``self._step(loss)`` and returns its losses as ``{name: float}`` (each watched: a loss
      that is 0 at every step is reported).
    * ``predict(x)`` -- class logits ``(N, n_classes)``; by default
      ``self.classifier(self.featurizer(x))``.
    * ``_step(loss)`` -- backpropagates ``loss`` and takes one Adam step (``lr``,
      ``weight_decay``) over every parameter of the method, its own modules included; the
      optimiser is made at the first step (set ``self._optimizer = None`` to restart it).
    * ``adapt(batches)`` -- a test-time hook called before predicting on each test set
      (nothing by default; TestTimeBN re-estimates batch norm).
    * ``needs_domains`` -- ``True`` when the method needs two or more training domains; on
      data with fewer a trial records "not run" instead of training it.
    * ``domain_batch`` -- images per domain and step the method asks for (``None``: the
      batch split over all domains).
    * ``trains_as`` -- the built-in method whose training it repeats, for a method that
      differs only at test time (see the attribute).

    ``self.task`` (:class:`TaskInfo`) says what the method may know about the data;
    ``self.featurizer`` and ``self.classifier`` are the backbone
    (:mod:`coos_utils.dg.backbones`).
    """

    needs_domains = False
    """Whether the method needs at least two training domains (else a trial does not run it)."""
    domain_batch: int | None = None
    """Images per domain and step the method asks for (``None``: the batch split over all)."""
    trains_as: str | None = None
    """The built-in method whose training this one repeats exactly, when it differs only at
    test time (TestTimeBN: ``"ERM"``); trials then reuse that method's trained models. Read
    from the class's own namespace only (not inherited) and checked before use (a subclass
    of that method defining nothing but ``adapt``); ``None``: it trains as itself."""

    @classmethod
    def step_cost(cls, hparams: Mapping[str, Any]) -> float:
        """A training step's rough cost relative to ERM's under ``hparams``: a sweep starts
        its costliest trials first so that no worker is left idle at the end (1.0: about
        ERM's)."""
        return 1.0

    def __init__(self, task: TaskInfo, hparams: Mapping[str, Any], backbone: Backbone) -> None:
        super().__init__()
        self.task = task
        self.hparams = DeclaredHParams(getattr(self, "name", None) or type(self).__name__, hparams)
        self.featurizer, self.classifier = backbone
        self._optimizer: torch.optim.Optimizer | None = None

    def update(self, minibatches: Minibatches) -> dict[str, float]:
        """One optimisation step on one minibatch per training domain; the losses."""
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, n_classes) of a batch of images."""
        return self.classifier(self.featurizer(x))

    def adapt(self, batches: Batches) -> None:
        """Prepare to predict on the images of one test set (nothing, except TestTimeBN);
        ``batches``: a sequence of image batches, or a function that yields them afresh."""

    def _step(self, loss: torch.Tensor) -> None:
        """Backpropagate ``loss`` and take one Adam step over every parameter."""
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
    """Deep CORAL in DomainBed's form (``domainbed/algorithms.py``, ``AbstractMMD`` with the
    ``mean_cov`` kernel): the mean cross-entropy over the domains' minibatches plus
    ``coral_weight`` times the mean, over pairs of domains, of the squared differences of their
    feature means and covariances. Each domain's minibatch goes through the network on its
    own, as in DomainBed (so batch norm sees one domain at a time).

    It needs domains: a trial on data with fewer than two training domains does not run it
    (``needs_domains``) rather than report plain ERM under its name. ``domain_batch`` is
    DomainBed's images per domain and step (its ``batch_size`` hyperparameter, 32).
    """

    needs_domains = True
    domain_batch = 32

    def update(self, minibatches: Minibatches) -> dict[str, float]:
        if len(minibatches) < 2:
            raise ValueError(f"CORAL needs at least two domains per step, got {len(minibatches)}")
        features = [self.featurizer(x) for x, _ in minibatches]
        labels = [y for _, y in minibatches]
        ce = torch.stack(
            [F.cross_entropy(self.classifier(f), y) for f, y in zip(features, labels, strict=True)]
        ).mean()
        penalty = mean_pairwise_coral(features)
        loss = ce + self.hparams["coral_weight"] * penalty
        self._step(loss)
        return {"loss": loss.item(), "ce": ce.item(), "coral": penalty.item()}


class ContriMix(Algorithm):
    """ContriMix as the authors train it jointly (``ip_drit/algorithms/_contrimix.py``,
    ``ip_drit/loss/_contrimix_loss.py``, see :mod:`coos_utils.dg.contrimix`).

    Per step, on the pooled images ``x`` of all domains (no domain labels): contents ``Z`` and
    attributes ``A``; the self-reconstruction ``G(Z, A)``; for each image
    ``contrimix_mixings`` (5) target images drawn at random from the batch, and the mixes
    ``G(Z, A[target])``. The classifier is trained with cross-entropy on the
    self-reconstruction and every mix (mean over them; nothing detached, so the
    classification loss reaches the encoders), the encoders also by the self-reconstruction
    loss, attribute consistency (``E_a`` of the reconstruction and the mixes against ``A``
    and ``A[target]``) and content consistency (``E_c`` of them against ``Z``). Weights:
    ``contrimix_ce_weight`` (0.5) for cross-entropy, the rest shared 1 : 1 : 3 as the
    authors' 0.1, 0.1, 0.3. Predictions classify the self-reconstruction, as the authors do.
    """

    @classmethod
    def step_cost(cls, hparams: Mapping[str, Any]) -> float:
        """About 4 x ERM's per image the classifier sees (the two encoders and the
        consistency passes: ``bench/bench_layout.py`` times 0.96 s against ERM's 0.07 s with
        2 mixes), and it sees ``1 + contrimix_mixings`` images per image."""
        return 4.0 * (1 + hparams["contrimix_mixings"])

    def __init__(self, task: TaskInfo, hparams: Mapping[str, Any], backbone: Backbone) -> None:
        super().__init__(task, hparams, backbone)
        n_attributes = self.hparams["contrimix_attributes"]
        self.content_encoder = ContentEncoder(task.in_channels, n_attributes)
        self.attribute_encoder = AttributeEncoder(task.in_channels, n_attributes)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        recon = generate(self.content_encoder(x), self.attribute_encoder(x))
        return self.classifier(self.featurizer(recon))

    def update(self, minibatches: Minibatches) -> dict[str, float]:
        x, y = _concat(minibatches)
        n, n_mix = len(x), self.hparams["contrimix_mixings"]
        content, attributes = self.content_encoder(x), self.attribute_encoder(x)
        targets = torch.randint(0, n, (n_mix, n), device=x.device)
        lent = torch.cat([attributes, *(attributes[t] for t in targets)])  # ((M + 1) N, C, K)
        contents = content.repeat(n_mix + 1, 1, 1, 1)
        images = generate(contents, lent)  # self-reconstruction, then the M mixes
        terms = {
            "ce": F.cross_entropy(self.classifier(self.featurizer(images)), y.repeat(n_mix + 1)),
            "self_recon": self_reconstruction_loss(images[:n], x),
            "attr_cons": F.l1_loss(self.attribute_encoder(images), lent),
            "cont_cons": F.l1_loss(self.content_encoder(images), contents),
        }
        ce_weight = self.hparams["contrimix_ce_weight"]
        scale = (1.0 - ce_weight) / sum(LOSS_SHARES.values())
        loss = ce_weight * terms["ce"] + sum(
            scale * share * terms[name] for name, share in LOSS_SHARES.items()
        )
        self._step(loss)
        return {
            "loss": loss.item(),
            "mixings": float(n_mix),
            **{k: v.item() for k, v in terms.items()},
        }


class TestTimeBN(ERM):
    """ERM; before predicting on a test set, every batch-norm layer (the featurizer's and the
    classifier's: DeepLoc normalises its logits) gets the exact mean and variance of its
    input over the whole test set (AdaBN; :mod:`coos_utils.dg.adabn`), so that neither the
    order of the images in the file nor the batch size changes them. Weights are not changed.
    Every layer's statistics are recomputed from the test set alone (the earlier layers
    first), so adapting to one test set leaves nothing behind for the next. When the
    featurizer and classifier form a chain of modules (DeepLoc), each layer's pass starts
    from the inputs the pass before kept, not from the images (same statistics, about one
    forward pass in all).
    """

    trains_as = "ERM"

    def adapt(self, batches: Batches) -> None:
        norms = [m for m in self.modules() if isinstance(m, _BatchNorm)]
        was_training = self.training
        self.eval()
        try:
            chain = module_chain(self.featurizer, self.classifier)
            adapt_batch_norms(self.predict, norms, batches, chain)
        finally:
            self.train(was_training)


# The built-in methods. Adding one touches this file only: its class (with an ``HPARAMS`` class
# attribute for hyperparameters of its own), an entry here and a row in the table of the module
# docstring; the profiles' method lists and the sweep's defaults are read from this registry.
ALGORITHMS: dict[str, type[Algorithm]] = {
    "ERM": ERM,
    "ContriMix": ContriMix,
    "FocalLoss": FocalLoss,
    "ClassBalanced": ClassBalanced,
    "MixStyle": MixStyle,
    "CORAL": CORAL,
    "TestTimeBN": TestTimeBN,
}


def get_algorithm(method: str) -> type[Algorithm]:
    """The algorithm class of ``method``: a built-in name, an entry point of the group
    ``coos_utils.algorithms``, or a ``module:Class`` / ``file.py:Class`` spec (see
    :mod:`coos_utils.plugins`); else a one-line error naming ``method`` and the valid names."""
    calls = ("update", "predict", "adapt")  # a sys.exit in them: a one-line error naming it
    return resolve(method, ALGORITHMS, Algorithm, ALGORITHM_GROUP, "DG method", calls)


def method_name(method: str) -> str:
    """The name a method's rows carry: its registry or entry-point name, a spec's class name
    (or the class's ``name`` attribute when it sets one); a plug-in named like a built-in
    method (case aside) is refused in one line, as its rows would merge with the built-in's."""
    cls = get_algorithm(method)
    name = method if not is_spec(method) else str(getattr(cls, "name", None) or cls.__name__)
    if method not in ALGORITHMS:
        refuse_builtin_name(method, [name], ALGORITHMS, "DG method")
    return name


def method_hparams(method: str) -> tuple[HParam, ...]:
    """The hyperparameter table of ``method``: the shared one, then the method's own ``HPARAMS``
    (a plug-in's; ``HParam``s or ``(name, default, draw)`` triples), which win on a name."""
    own = getattr(get_algorithm(method), "HPARAMS", ())
    try:
        declared = tuple(p if isinstance(p, HParam) else HParam(*p) for p in own)
    except TypeError as exc:
        raise ValueError(f"DG method {method!r}: HPARAMS must hold HParam or triples") from exc
    bad = [p.name for p in declared if not (isinstance(p.name, str) and callable(p.draw))]
    if bad:
        raise ValueError(f"DG method {method!r}: HPARAMS {bad} need a name and a draw function")
    return HPARAMS + declared


def method_digest(method: str) -> str:
    """A hash of a plug-in's code ("" for a built-in, whose code the package hash covers): its
    file and every module it imports from outside the installed packages, the same digest as
    a plug-in representation's features are keyed by (:func:`~coos_utils.plugins.source_digest`),
    so that an edited plug-in, or an edited helper of it, gets new trial ids."""
    return "" if method in ALGORITHMS else source_digest(get_algorithm(method))


def plugin_spec(method: str) -> str:
    """What a trial must carry to find ``method`` in another process: a spec with its file
    path made absolute; "" for built-in and entry-point names (found by name there)."""
    return normalise(method) if is_spec(method) else ""
