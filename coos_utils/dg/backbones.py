"""The networks the DG methods train: a featurizer (images -> features) and a linear classifier.

Every algorithm is written against this pair, DomainBed-style, so any backbone works. The
default is DeepLoc (the paper's supervised CNN; its featurizer ends at FC2). ``small_cnn`` is
a two-block network for tests and quick checks of the machinery, not for results.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from coos_utils.registry import lookup

Backbone = tuple[nn.Module, nn.Linear]
BackboneFactory = Callable[[int, int, float], Backbone]


def deeploc_backbone(in_channels: int, n_classes: int, width: float) -> Backbone:
    """DeepLoc's layers up to FC2 and its output layer (``coos_utils.models.deeploc``)."""
    from coos_utils.models.deeploc import DeepLoc

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


def build_backbone(name: str, in_channels: int, n_classes: int, width: float) -> Backbone:
    """The (featurizer, classifier) pair of the backbone called ``name``."""
    return lookup(BACKBONES, name, "backbone")(in_channels, n_classes, width)
