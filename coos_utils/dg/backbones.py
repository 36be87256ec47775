"""The networks the DG methods train: a featurizer (images -> features) and a classifier.

Every algorithm is written against this pair, DomainBed-style, so any backbone works. The
default is DeepLoc (the paper's supervised CNN; its featurizer ends at FC2). ``small_cnn`` is
a two-block network for tests and quick checks of the machinery, not for results.

A backbone is named by a spec wherever ``backbone`` is given (:class:`~coos_utils.dg.trial.
TrialSpec`, the settings of ``make_sweep`` / ``run_search``, chapter 06's ``backbone``): a
built-in name (:data:`BACKBONES`), ``path/to/file.py:make``, ``package.module:make``, or the
name of an entry point in the group ``coos_utils.backbones`` (found as DG methods are, see
:mod:`coos_utils.plugins`; an entry point named like a built-in is refused).

The contract of a backbone factory, ``make(in_channels, n_classes, width)``:

* ``in_channels``: the data's channels (2 on COOS-7); ``n_classes``: 7; ``width``: the
  profile's network width (1.0 full size, 0.125 on the CPU profiles), to scale the network
  by or to ignore;
* it returns ``(featurizer, classifier)``, two ``torch.nn.Module``: the featurizer maps a
  float batch ``(N, in_channels, 60, 60)`` (the crops the trials train and predict on,
  :data:`~coos_utils.models.deeploc.CROP`, each channel stretched to about [0, 1]) to
  features ``(N, d)``; the classifier is an ``nn.Linear(d, n_classes)``, or a module whose
  first ``nn.Linear`` takes the ``d`` features (DeepLoc's then normalises its logits), and
  maps them to logits ``(N, n_classes)``;
* methods reach into the pair: MixStyle mixes after the featurizer's pooling layers, test-time
  BN re-estimates every batch-norm layer, CORAL aligns the features.

:func:`build_backbone` checks the pair before a trial trains: one batch of two training-size
crops on the data's channels goes through it (in eval mode, without gradients); features of
another size than ``d`` or logits of another number than ``n_classes`` stop it with one line
naming the spec, what was expected and what came. A backbone from a file (and the modules it
imports) is part of the trial id (:func:`backbone_digest`), so editing it reruns the trials.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch
from torch import nn

from coos_utils.models.deeploc import CROP, DeepLoc
from coos_utils.plugins import (
    BACKBONE_GROUP,
    is_spec,
    label,
    normalise,
    resolve_function,
    source_digest,
)

Backbone = tuple[nn.Module, nn.Module]
"""(featurizer, classifier): images -> features -> logits (see the module docstring)."""
BackboneFactory = Callable[[int, int, float], Backbone]
"""``make(in_channels, n_classes, width)``: the factory of a backbone."""
KIND = "backbone"


def deeploc_backbone(in_channels: int, n_classes: int, width: float) -> Backbone:
    """DeepLoc's layers up to FC2 and its output layer (``coos_utils.models.deeploc``)."""
    net = DeepLoc(n_classes=n_classes, in_channels=in_channels, width=width)
    return net.featurizer, net.classifier


def small_cnn_backbone(in_channels: int, n_classes: int, width: float) -> Backbone:
    """Two conv/BN/ReLU/max-pool blocks, global pooling and one hidden layer (tests only)."""
    channels = max(4, round(16 * width))
    featurizer = nn.Sequential(
        nn.Conv2d(in_channels, channels, 3, padding=1),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(channels, channels, 3, padding=1),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, 2 * channels),
        nn.ReLU(),
    )
    return featurizer, nn.Linear(2 * channels, n_classes)


BACKBONES: dict[str, BackboneFactory] = {
    "deeploc": deeploc_backbone,
    "small_cnn": small_cnn_backbone,
}


def backbone_factory(spec: str) -> BackboneFactory:
    """The factory ``spec`` names (see the module docstring); else a one-line error naming
    ``spec`` and the valid names."""
    return resolve_function(spec, BACKBONES, BACKBONE_GROUP, KIND)


def backbone_spec(spec: str) -> str:
    """``spec`` as a trial carries it to other processes: checked to name a factory, a file's
    path made absolute (:func:`~coos_utils.plugins.normalise`)."""
    backbone_factory(spec)
    return normalise(spec) if is_spec(spec) else spec


def backbone_digest(spec: str) -> str:
    """A hash of a plug-in backbone's code: its file and every module that file imports from
    outside the installed packages; "" for a built-in (the package's code hash covers it)."""
    if spec in BACKBONES:
        return ""
    return source_digest(inspect.unwrap(backbone_factory(spec)))


def build_backbone(
    spec: str, in_channels: int, n_classes: int, width: float, input_size: int = CROP
) -> Backbone:
    """The (featurizer, classifier) pair of the backbone ``spec``, checked on one batch of
    ``input_size`` x ``input_size`` images of ``in_channels`` channels (see the module
    docstring); a mismatch is a one-line ``ValueError`` naming the spec."""
    pair = backbone_factory(spec)(in_channels, n_classes, width)
    return check_backbone(spec, pair, in_channels, n_classes, input_size)


def backbone_network(
    spec: str, image_shape: Sequence[int], n_classes: int, width: float
) -> nn.Sequential:
    """The backbone ``spec`` as one module (featurizer, then classifier), checked on images of
    ``image_shape`` (channels, height, width): a network of one's own to train whole."""
    channels, size = int(image_shape[0]), int(image_shape[1])
    return nn.Sequential(*build_backbone(spec, channels, n_classes, width, size))


def feature_size(classifier: nn.Module) -> int | None:
    """The number of features the classifier takes: the inputs of its first ``nn.Linear``."""
    first = next((m for m in classifier.modules() if isinstance(m, nn.Linear)), None)
    return None if first is None else first.in_features


def check_backbone(
    spec: str, pair: object, in_channels: int, n_classes: int, input_size: int = CROP
) -> Backbone:
    """``pair`` if it keeps the factory contract on a batch of two ``input_size`` crops of
    ``in_channels`` channels, else a one-line ``ValueError`` naming ``spec``, the expected and
    the found. The modules' train/eval modes are left as they were."""
    shown = f"{KIND} {label(spec)!r}"
    if not (
        isinstance(pair, tuple)
        and len(pair) == 2
        and all(isinstance(part, nn.Module) for part in pair)
    ):
        raise ValueError(
            f"{shown}: its factory must return (featurizer, classifier), two torch modules; "
            f"got {type(pair).__name__}"
        )
    featurizer, classifier = pair
    size = feature_size(classifier)
    if size is None:
        raise ValueError(f"{shown}: its classifier has no nn.Linear layer to take the features")
    batch = torch.zeros(2, in_channels, input_size, input_size)
    where = f"a batch of shape {tuple(batch.shape)} (the data's training crops)"
    modes = {module: module.training for module in (*featurizer.modules(), *classifier.modules())}
    try:
        featurizer.eval()
        classifier.eval()
        with torch.no_grad():
            features = _forward(shown, "featurizer", featurizer, batch, where)
            why = f"{size} features, the inputs of its classifier's first nn.Linear"
            _expect(shown, f"features of {where}", features, (2, size), why)
            logits = _forward(shown, "classifier", classifier, features, "its features")
            why = f"{n_classes} logits, one per class of the data"
            _expect(shown, f"logits of {where}", logits, (2, n_classes), why)
    finally:
        for module, training in modes.items():
            module.training = training
    return featurizer, classifier


def _forward(shown: str, part: str, module: nn.Module, x: torch.Tensor, what: str) -> object:
    try:
        return module(x)
    except Exception as exc:
        error = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise ValueError(f"{shown}: its {part} failed on {what} ({error})") from exc


def _expect(shown: str, what: str, found: object, wanted: tuple[int, int], why: str) -> None:
    got = tuple(found.shape) if isinstance(found, torch.Tensor) else type(found).__name__
    if got != wanted:
        raise ValueError(f"{shown}: {what} have shape {got}, expected {wanted}: {why}")
