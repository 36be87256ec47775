"""Known values of the DG building blocks: focal, class-balanced, CORAL, MixStyle, ContriMix."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from coos_utils.dg.contrimix import (
    AttributeEncoder,
    ContentEncoder,
    generate,
    self_reconstruction_loss,
)
from coos_utils.dg.losses import class_balanced_weights, coral_penalty, focal_loss
from coos_utils.dg.mixstyle import mix_styles


def test_focal_loss_with_gamma_zero_is_cross_entropy() -> None:
    torch.manual_seed(0)
    logits, y = torch.randn(16, 7), torch.randint(0, 7, (16,))
    assert torch.allclose(focal_loss(logits, y, 0.0), F.cross_entropy(logits, y))


def test_focal_loss_down_weights_confident_images() -> None:
    logits = torch.tensor([[4.0, 0.0], [0.2, 0.0]])
    y = torch.tensor([0, 0])
    per_image_ce = F.cross_entropy(logits, y, reduction="none")
    p = torch.softmax(logits, 1)[:, 0]
    expected = ((1 - p) ** 2 * per_image_ce).mean()
    assert torch.allclose(focal_loss(logits, y, 2.0), expected)
    assert focal_loss(logits, y, 2.0) < F.cross_entropy(logits, y)


def test_class_balanced_weights() -> None:
    counts = [100, 10, 1000]
    assert np.allclose(class_balanced_weights(counts, 0.0), 1.0)
    weights = class_balanced_weights(counts, 0.999)
    assert np.isclose(weights.sum(), 3.0)
    assert weights[1] > weights[0] > weights[2]
    effective = (1 - 0.999**100) / (1 - 0.999)
    assert np.isclose(weights[0] / weights[2], ((1 - 0.999**1000) / (1 - 0.999)) / effective)
    assert class_balanced_weights([5, 0], 0.9)[1] == 0.0


def test_coral_penalty_is_zero_for_identical_batches_and_grows_with_shift() -> None:
    torch.manual_seed(0)
    a = torch.randn(32, 5)
    assert coral_penalty(a, a.clone()).item() == 0.0
    shifted = coral_penalty(a, a + 1.0).item()
    assert np.isclose(shifted, 1.0, atol=1e-5)  # means differ by 1 in every dimension
    assert coral_penalty(a, 3 * a).item() > 0.5  # covariances differ by a factor 9


def test_mix_styles_identity_and_full_swap() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 3, 8, 8) * torch.arange(1, 5).view(4, 1, 1, 1) + 2.0
    same = mix_styles(x, torch.ones(4), torch.arange(4))
    assert torch.allclose(same, x, atol=1e-4)
    perm = torch.tensor([1, 0, 3, 2])
    swapped = mix_styles(x, torch.zeros(4), perm)
    assert torch.allclose(swapped.mean(dim=(2, 3)), x.mean(dim=(2, 3))[perm], atol=1e-4)
    assert torch.allclose(swapped.std(dim=(2, 3)), x.std(dim=(2, 3))[perm], atol=1e-3)


def test_contrimix_generator_and_encoder_shapes() -> None:
    content = torch.zeros(1, 2, 3, 3)
    content[0, 0, 0, 0] = 1.0  # pixel (0, 0) is all content 0, the rest all content 1
    content[0, 1] = 1.0 - content[0, 0]
    attributes = torch.tensor([[[0.5, 0.1], [0.0, 2.0]]])  # (C=2, K=2)
    image = generate(content, attributes)
    assert image.shape == (1, 2, 3, 3)
    assert image[0, :, 0, 0].tolist() == [0.5, 0.0]
    assert torch.allclose(image[0, :, 1, 1], torch.tensor([0.1, 1.0]))  # clipped to [0, 1]
    x = torch.rand(3, 2, 32, 32)
    assert ContentEncoder(2, 4)(x).shape == (3, 4, 32, 32)
    assert AttributeEncoder(2, 4)(x).shape == (3, 2, 4)


def test_contrimix_self_reconstruction_loss_is_the_authors_worst_image() -> None:
    x = torch.zeros(2, 1, 1, 10)
    recon = torch.zeros(2, 1, 1, 10)
    recon[1, 0, 0] = torch.arange(10.0)  # image 1 is off by 0..9
    expected = 0.2 * torch.quantile(torch.arange(10.0), 0.9) + 0.8 * 4.5 / 2
    assert torch.isclose(self_reconstruction_loss(recon, x), expected)
