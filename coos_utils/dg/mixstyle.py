"""MixStyle (Zhou et al., ICLR 2021): mix instance-level feature statistics between images.

The per-channel mean and standard deviation of a convolutional feature map carry much of an
image's "style" (here: exposure, background, blur of a plate or microscope). During training,
MixStyle normalises each image's feature map by its own statistics and re-styles it with a
random convex combination of its statistics and those of another image of the batch.

It is attached to a featurizer from outside, as forward hooks on its early pooling layers,
so the network's code and state dict stay those of the plain backbone (a MixStyle checkpoint
loads into an ERM model and vice versa). The hooks act only in training mode.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


def mix_styles(
    x: torch.Tensor, lam: torch.Tensor, perm: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Re-style each (C, H, W) map of ``x`` with ``lam`` of its statistics and ``1 - lam`` of
    those of image ``perm[i]``; ``lam`` has shape (N,). With ``lam = 1`` this is the identity
    (up to ``eps``). Statistics are detached, as in the paper."""
    mu = x.mean(dim=(2, 3), keepdim=True).detach()
    sigma = (x.var(dim=(2, 3), keepdim=True) + eps).sqrt().detach()
    normed = (x - mu) / sigma
    lam = lam.view(-1, 1, 1, 1).to(x.dtype)
    mu_mix = lam * mu + (1 - lam) * mu[perm]
    sigma_mix = lam * sigma + (1 - lam) * sigma[perm]
    return normed * sigma_mix + mu_mix


class MixStyle(nn.Module):
    """With probability ``p`` per batch (training only), mix styles with Beta(alpha, alpha)
    weights between each image and a randomly chosen other image of the batch."""

    def __init__(self, p: float, alpha: float) -> None:
        super().__init__()
        self.p = p
        self.beta = torch.distributions.Beta(alpha, alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or len(x) < 2 or torch.rand(()) >= self.p:
            return x
        lam = self.beta.sample((len(x),)).to(x.device)
        perm = torch.randperm(len(x), device=x.device)
        return mix_styles(x, lam, perm)


def attach_after_pools(
    featurizer: nn.Module, mixer: MixStyle, n_layers: int
) -> list[RemovableHandle]:
    """Apply ``mixer`` to the outputs of the first ``n_layers`` ``nn.MaxPool2d`` of
    ``featurizer`` (in registration order, i.e. the early conv blocks); return the hooks."""
    pools = [m for m in featurizer.modules() if isinstance(m, nn.MaxPool2d)]
    if len(pools) < n_layers:
        raise ValueError(
            f"MixStyle wants {n_layers} pooling layers but the featurizer has {len(pools)}"
        )

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor):
        return mixer(output) if module.training else output

    return [pool.register_forward_hook(hook) for pool in pools[:n_layers]]
