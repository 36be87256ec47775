"""Your own network, as the chapter "Benchmark your own model" trains it and as the backbone of
the DG methods: a small two-block CNN, written in plain PyTorch.

The chapter names it as ``notebooks/my_backbone.py:make`` (its ``backbone`` parameter). It
trains ``nn.Sequential(featurizer, classifier)`` end to end on whole images, and every DG
trial (ERM, the V-REx plug-in, any built-in method) builds a fresh pair from ``make`` and
trains it on 60 x 60 crops. To use your network, change ``make`` (or copy this file and name
``your_file.py:make``), keeping the contract of :mod:`coos_utils.dg.backbones`:

* ``make(in_channels, n_classes, width)`` returns ``(featurizer, classifier)``;
* the featurizer maps a batch ``(N, in_channels, H, W)`` to features ``(N, d)``;
* the classifier is an ``nn.Linear(d, n_classes)`` (or starts with one).

``width`` is the profile's network width (0.125 on the CPU profiles, 1.0 in ``paper``): here
the number of channels is ``64 * width`` (at least 4). A trial checks the pair on one batch
before it trains and names this file if the shapes do not fit; editing the file reruns its
trials.
"""

from __future__ import annotations

from torch import nn


def make(in_channels: int, n_classes: int, width: float) -> tuple[nn.Module, nn.Linear]:
    """Two conv/BN/ReLU/max-pool blocks, global average pooling and one hidden layer."""
    channels = max(4, round(64 * width))
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
