"""The networks of ContriMix (Nguyen et al., arXiv 2306.04527): content and attribute encoders
and the image generator that recombines them.

An image of ``C`` channels is modelled, pixel by pixel, as a mixture of ``K`` "contents":
the content encoder gives a (K, H, W) map of non-negative shares that sum to one at every
pixel (what is where: the biology), the attribute encoder a (C, K) matrix per image (how
each content looks in each channel: the technical side, such as exposure and background).
The generator multiplies them, ``x[c, h, w] = sum_k A[c, k] * Z[k, h, w]``, as the paper's
generator does for stain and fluorescence images. Giving one image's content another
image's attributes synthesises the same cells as if imaged under the other's conditions.
"""

from __future__ import annotations

import torch
from torch import nn


class ContentEncoder(nn.Module):
    """Full-resolution conv net: (N, C, H, W) -> (N, K, H, W) content shares (softmax over K)."""

    def __init__(self, in_channels: int, n_contents: int, hidden: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, n_contents, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).softmax(dim=1)


class AttributeEncoder(nn.Module):
    """Strided conv net and global pooling: (N, C, H, W) -> (N, C, K) attribute matrices."""

    def __init__(self, in_channels: int, n_contents: int, hidden: int = 8) -> None:
        super().__init__()
        self.shape = (in_channels, n_contents)
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(hidden, in_channels * n_contents),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(len(x), *self.shape)


def generate(content: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """Images from (N, K, H, W) content and (N, C, K) attributes: ``A @ Z`` at every pixel."""
    return torch.einsum("nck,nkhw->nchw", attributes, content)
