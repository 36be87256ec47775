"""Loss terms of the DG methods, as plain functions of tensors (each checked against its formula).

* :func:`focal_loss` -- Lin et al. 2017: cross-entropy scaled by ``(1 - p_true) ** gamma``,
  so that easy, well-classified images weigh less; ``gamma = 0`` is plain cross-entropy.
* :func:`class_balanced_weights` -- Cui et al. 2019: class ``c`` with ``n_c`` training images
  gets weight ``(1 - beta) / (1 - beta ** n_c)`` (one over its "effective number" of
  samples), normalised to sum to the number of classes; ``beta = 0`` gives equal weights,
  ``beta -> 1`` inverse class frequency.
* :func:`coral_penalty` -- Sun and Saenko 2016, in DomainBed's form: the mean squared
  difference of two feature batches' means plus that of their covariance matrices.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, gamma: float, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean focal loss ``-(1 - p_t) ** gamma * log p_t`` (optionally class-weighted)."""
    log_p = F.log_softmax(logits, dim=1)
    log_p_true = log_p.gather(1, target[:, None])[:, 0]
    loss = -((1.0 - log_p_true.exp()) ** gamma) * log_p_true
    if weight is None:
        return loss.mean()
    w = weight[target]
    return (w * loss).sum() / w.sum()


def class_balanced_weights(counts: Sequence[int], beta: float) -> np.ndarray:
    """Per-class weights ``(1 - beta) / (1 - beta ** n_c)``, scaled to sum to the class count.

    A class with no training image gets weight 0 (it never appears in the loss anyway).
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    n = np.asarray(counts, dtype=np.float64)
    present = n > 0
    raw = np.zeros_like(n)
    raw[present] = (1.0 - beta) / (1.0 - np.power(beta, n[present]))
    return raw * present.sum() / raw.sum()


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of an (N, D) batch."""
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / max(len(x) - 1, 1)


def coral_penalty(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the means plus that of the covariances of two (N, D) batches."""
    return mean_pairwise_coral([a, b])


def mean_pairwise_coral(batches: Sequence[torch.Tensor]) -> torch.Tensor:
    """:func:`coral_penalty` averaged over all pairs of batches (0 for fewer than two)."""
    moments = [_moments(x) for x in batches]
    pairs = list(itertools.combinations(moments, 2))
    if not pairs:
        return batches[0].new_zeros(())
    terms = [(ma - mb).pow(2).mean() + (ca - cb).pow(2).mean() for (ma, ca), (mb, cb) in pairs]
    return torch.stack(terms).mean()
