"""ContriMix (Nguyen et al., arXiv 2306.04527), following the authors' code.

Sources compared (github:Cristian-Mattace/ContriMix): ``ip_drit/algorithms/_contrimix.py``
(the algorithm, ``num_mixing_per_image=5``, ``num_attr_vectors=4``, random mixing targets),
``ip_drit/loss/_contrimix_loss.py`` (the losses, joint training), ``ip_drit/models/
_encoder_decoder.py`` and ``_contrimix_core.py`` (the networks, at the algorithm's
downsampling factor 1) and ``camelyon_17_do_all_contrimix.py`` (the loss weights).

An image of ``C`` channels is modelled, pixel by pixel, as ``x[c] = sum_k A[c, k] * Z[k]``:
the content encoder gives ``K`` maps ``Z`` (what is where: the biology), the attribute
encoder a (C, K) matrix ``A`` per image (how each content looks in each channel: exposure,
background). The generator multiplies them; giving one image's content another image's
attributes synthesises the same cells as if imaged under the other's conditions. As in the
authors' fluorescence (RxRx1) runs there is no absorbance conversion.
"""

from __future__ import annotations

import torch
from torch import nn

LOSS_SHARES = {"self_recon": 0.1, "attr_cons": 0.1, "cont_cons": 0.3}
"""The authors' weights of the encoder terms (Camelyon17 script; cross-entropy 0.5)."""


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """A reflect-padded convolution (kernel 3 or 4, padding 1), as in the authors' blocks."""
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=1, padding_mode="reflect")


class _Residual(nn.Module):
    """Two 3 x 3 convolutions with instance norm, added to the input (``ResInstNorm2dConv2d``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.LeakyReLU(),
            _conv(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Down(nn.Module):
    """Halve the resolution with a skip path (``Downsampling2xkWithSkipConnection``)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            _conv(cin, cin, 3), nn.LeakyReLU(0.2), _conv(cin, cout, 3), nn.AvgPool2d(2)
        )
        self.skip = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.skip(x)


class ContentEncoder(nn.Module):
    """(N, C, H, W) -> (N, K, H, W) non-negative-leaning content maps (the authors' ``k = 1``
    branch: conv, conv + instance norm, two residual blocks, leaky ReLU)."""

    def __init__(self, in_channels: int, n_attributes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _conv(in_channels, 8, 3),
            nn.LeakyReLU(),
            _conv(8, n_attributes, 3),
            nn.InstanceNorm2d(n_attributes),
            nn.LeakyReLU(),
            _Residual(n_attributes),
            _Residual(n_attributes),
            nn.LeakyReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AttributeEncoder(nn.Module):
    """(N, C, H, W) -> (N, C, K) attribute matrices: a strided conv, downsampling blocks of
    16 -> 256 channels, global pooling, a 1 x 1 conv, layer norm and leaky ReLU.

    The authors use five downsampling blocks (to 512 channels) on 96-pixel and larger
    patches; a 60-pixel crop is 1 pixel wide after four, so four are used here (inputs need
    at least 32 pixels a side).
    """

    def __init__(self, in_channels: int, n_attributes: int) -> None:
        super().__init__()
        self.shape = (in_channels, n_attributes)
        out = in_channels * n_attributes
        self.net = nn.Sequential(
            _conv(in_channels, 16, 4, stride=2),
            _Down(16, 32),
            _Down(32, 64),
            _Down(64, 128),
            _Down(128, 256),
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(256, out, 1),
            nn.LayerNorm([out, 1, 1]),
            nn.LeakyReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(len(x), *self.shape)


def generate(content: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """Images from (N, K, H, W) content and (N, C, K) attributes: ``A @ Z`` at every pixel,
    clipped to the input range [0, 1] as the authors clip their generated images."""
    return torch.einsum("nck,nkhw->nchw", attributes, content).clamp(0.0, 1.0)


def self_reconstruction_loss(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The authors' self-reconstruction loss: per image ``0.2 * q90(|G - x|) + 0.8 * mean
    |G - x|`` (the batch's mean absolute error), and the worst image of the batch."""
    diff = (recon - x).abs().flatten(1)
    return (0.2 * torch.quantile(diff.float(), 0.9, dim=1) + 0.8 * diff.mean()).max()
