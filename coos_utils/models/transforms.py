"""The baselines' input normalisations as ``CoosDataset`` transforms (one image or a batch).

Each is a thin, picklable wrapper around the function the project's own models use, so a
user's model sees exactly the input the book's DeepLoc or VGG16 sees:

* :class:`DeepLocStretch`: :func:`coos_utils.models.deeploc.stretch`, each channel of each
  image clipped to its own 0.1th..99.9th percentiles and scaled to 0..1;
* :class:`Vgg16Input`: :func:`coos_utils.models.vgg.vgg_input`, the protein channel as 8-bit
  grey in three colour channels, ImageNet-normalised, (2, H, W) -> (3, H, W).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from coos_utils.models.deeploc import stretch
from coos_utils.models.vgg import UINT16_MAX, InputScaling, vgg_input


def _per_image(batch_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Apply a (N, C, H, W) function to one (C, H, W) image or to a batch."""
    if x.ndim == 3:
        return batch_fn(x[None])[0]
    if x.ndim == 4:
        return batch_fn(x)
    raise ValueError(f"expected a (C, H, W) image or an (N, C, H, W) batch, got {tuple(x.shape)}")


class DeepLocStretch:
    """DeepLoc's per-image, per-channel percentile stretch (``low``..``high`` -> 0..1)."""

    def __init__(self, low: float = 0.1, high: float = 99.9) -> None:
        self.low, self.high = low, high

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _per_image(lambda b: stretch(b.float(), self.low, self.high), x)

    def __repr__(self) -> str:
        return f"DeepLocStretch(low={self.low}, high={self.high})"


class Vgg16Input:
    """VGG16's input: channel 0 as 8-bit grey (``scaling`` as in :func:`~coos_utils.models.vgg.
    eight_bit`), copied to RGB and normalised as torchvision's ImageNet weights expect."""

    def __init__(self, scaling: InputScaling = "authors", input_max: float = UINT16_MAX) -> None:
        self.scaling, self.input_max = scaling, input_max

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _per_image(lambda b: vgg_input(b.float(), self.scaling, self.input_max), x)

    def __repr__(self) -> str:
        return f"Vgg16Input(scaling={self.scaling!r}, input_max={self.input_max})"
