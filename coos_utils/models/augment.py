"""Batch augmentations that run on the device holding the batch (GPU or CPU), per sample.

Every random draw comes from an explicit ``torch.Generator`` living on the batch's device,
so a training run is reproducible, and resumable from the generator's saved state.
"""

from __future__ import annotations

import torch


def _coin(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` fair coin flips as a (n, 1, 1, 1) bool mask."""
    return (torch.rand(n, generator=generator, device=device) < 0.5).view(n, 1, 1, 1)


def random_flips(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image of an (N, C, H, W) batch left-right and up-down, each with p = 1/2."""
    x = torch.where(_coin(len(x), generator, x.device), x.flip(-1), x)
    return torch.where(_coin(len(x), generator, x.device), x.flip(-2), x)


def random_dihedral(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Apply one of the 8 flips/90-degree rotations of the square, uniformly, to each image.

    A transpose and two independent flips, each with p = 1/2, give every element of the
    dihedral group exactly once (rotations by 90 degrees are a transpose and a flip).
    """
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"90-degree rotations need square images, got {tuple(x.shape[-2:])}")
    x = torch.where(_coin(len(x), generator, x.device), x.transpose(-1, -2), x)
    return random_flips(x, generator)


def random_crop(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """A ``size`` x ``size`` window at a uniformly random position in each image."""
    n, _, height, width = x.shape
    if size > min(height, width):
        raise ValueError(f"crop {size} is larger than the images ({height} x {width})")
    top = torch.randint(0, height - size + 1, (n, 1), generator=generator, device=x.device)
    left = torch.randint(0, width - size + 1, (n, 1), generator=generator, device=x.device)
    steps = torch.arange(size, device=x.device)
    rows = (top + steps)[:, :, None]  # (N, size, 1)
    cols = (left + steps)[:, None, :]  # (N, 1, size)
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indexing on dims 0, 2, 3 puts the channel dim last: (N, size, size, C).
    return x.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def five_crops(x: torch.Tensor, size: int) -> list[torch.Tensor]:
    """The centre and the four corner windows of ``size`` x ``size`` (DeepLoc's test crops)."""
    height, width = x.shape[-2:]
    dy, dx = height - size, width - size
    offsets = [(dy // 2, dx // 2), (0, 0), (0, dx), (dy, 0), (dy, dx)]
    return [x[..., top : top + size, left : left + size] for top, left in offsets]
