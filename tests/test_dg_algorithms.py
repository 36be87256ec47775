"""Every DG method on tiny tensors: finite losses, shapes, gradients; the registry; MixStyle
hooks; test-time batch-norm adaptation; what ``help(Algorithm)`` says, and the one-line error
of a method that reads a hyperparameter it did not declare (issue 27)."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coos_utils.dg.algorithms import (
    ALGORITHMS,
    ERM,
    Algorithm,
    TaskInfo,
    get_algorithm,
)
from coos_utils.dg.backbones import build_backbone
from coos_utils.dg.hparams import draw_hparams
from coos_utils.dg.mixstyle import MixStyle, attach_after_pools

EXPECTED = {"ERM", "ContriMix", "FocalLoss", "ClassBalanced", "MixStyle", "CORAL", "TestTimeBN"}
TASK = TaskInfo(in_channels=2, n_classes=7, n_domains=2, class_counts=(9, 3, 5, 7, 4, 6, 8))


def make(method: str, **overrides: float) -> Algorithm:
    torch.manual_seed(0)
    hparams = {**draw_hparams(method, 0), **overrides}
    return get_algorithm(method)(TASK, hparams, build_backbone("small_cnn", 2, 7, 0.5))


def minibatches(n_domains: int = 2, per_domain: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        (
            torch.rand(per_domain, 2, 32, 32, generator=g) + k,
            torch.randint(0, 7, (per_domain,), generator=g),
        )
        for k in range(n_domains)
    ]


def test_the_registry_lists_every_method() -> None:
    assert set(ALGORITHMS) == EXPECTED
    with pytest.raises(ValueError, match="ContriMix"):
        get_algorithm("IRM")


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_update_gives_finite_losses_and_trains_the_featurizer(method: str) -> None:
    algorithm = make(method)
    before = [p.detach().clone() for p in algorithm.featurizer.parameters()]
    algorithm.train()
    losses = algorithm.update(minibatches())
    assert losses and all(math.isfinite(v) for v in losses.values())
    grads = [p.grad for p in algorithm.featurizer.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    after = list(algorithm.featurizer.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))
    algorithm.eval()
    with torch.no_grad():
        logits = algorithm.predict(torch.rand(5, 2, 32, 32))
    assert logits.shape == (5, 7)


def test_coral_penalty_term_is_reported_and_one_domain_is_refused() -> None:
    two = make("CORAL").update(minibatches(2))
    assert two["coral"] > 0
    with pytest.raises(ValueError, match="two domains"):
        make("CORAL").update(minibatches(1, per_domain=8))


def test_contrimix_losses_cover_the_authors_terms() -> None:
    losses = make("ContriMix", contrimix_mixings=2).update(minibatches())
    for term in ("ce", "self_recon", "attr_cons", "cont_cons"):
        assert losses[term] >= 0
    assert losses["mixings"] == 2


def test_mixstyle_acts_in_training_only() -> None:
    algorithm = make("MixStyle", mixstyle_p=1.0, mixstyle_alpha=0.5)
    plain, _ = build_backbone("small_cnn", 2, 7, 0.5)
    plain.load_state_dict(algorithm.featurizer.state_dict())
    x = torch.rand(6, 2, 24, 24) * torch.arange(1, 7).view(6, 1, 1, 1)
    algorithm.eval()
    plain.eval()
    with torch.no_grad():
        assert torch.allclose(algorithm.featurizer(x), plain(x))
        algorithm.train()
        plain.train()
        assert not torch.allclose(algorithm.featurizer(x), plain(x))


def test_mixstyle_attaches_to_deeplocs_early_pools() -> None:
    from coos_utils.models.deeploc import DeepLoc

    featurizer = DeepLoc(width=0.125).featurizer
    hooks = attach_after_pools(featurizer, MixStyle(0.5, 0.1), 2)
    assert len(hooks) == 2
    assert [name for name, m in featurizer.named_modules() if m._forward_hooks] == [
        "pool1",
        "pool2",
    ]
    with pytest.raises(ValueError, match="pooling layers"):
        attach_after_pools(featurizer, MixStyle(0.5, 0.1), 4)


def test_test_time_bn_recomputes_statistics_on_the_given_images() -> None:
    algorithm = make("TestTimeBN")
    algorithm.update(minibatches())
    first_conv, first_bn = algorithm.featurizer[0], algorithm.featurizer[1]
    assert isinstance(first_bn, nn.BatchNorm2d)
    target = torch.rand(10, 2, 24, 24) * 3 + 5
    with torch.no_grad():
        inputs = first_conv(target)
    algorithm.eval()
    algorithm.adapt([target[:4], target[4:]])  # unequal batches: the mean is still exact
    assert torch.allclose(first_bn.running_mean, inputs.mean(dim=(0, 2, 3)), atol=1e-5)
    algorithm.adapt([target])
    assert torch.allclose(first_bn.running_var, inputs.var(dim=(0, 2, 3)), rtol=1e-4)
    assert not first_bn.training and first_bn.momentum == 0.1
    # adapting to another set starts afresh: nothing of the first set remains
    other = torch.rand(8, 2, 24, 24)
    algorithm.adapt([other])
    fresh = make("TestTimeBN")
    fresh.load_state_dict(algorithm.state_dict())
    fresh.adapt([other])
    assert torch.allclose(first_bn.running_mean, fresh.featurizer[1].running_mean)


def test_adapt_is_a_no_op_for_other_methods() -> None:
    algorithm = make("ERM")
    algorithm.update(minibatches())
    state = {k: v.clone() for k, v in algorithm.state_dict().items()}
    algorithm.adapt([torch.rand(4, 2, 24, 24) + 7])
    assert all(torch.equal(state[k], v) for k, v in algorithm.state_dict().items())


def test_help_of_algorithm_documents_what_a_method_overrides() -> None:
    doc = inspect.getdoc(Algorithm) or ""
    for name in ("HPARAMS", "update", "predict", "_step", "adapt", "needs_domains"):
        assert f"``{name}" in doc, name  # in the class docstring, not only the method list
    assert "domain_batch" in doc and "self.hparams" in doc


class _Sloppy(ERM):
    """ERM that reads a hyperparameter it never declared."""

    def _classification_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, label_smoothing=self.hparams["smoothing"])


def test_reading_an_undeclared_hyperparameter_names_the_method_and_it_in_one_line() -> None:
    algorithm = _Sloppy(TASK, draw_hparams("_Sloppy", 0), build_backbone("small_cnn", 2, 7, 0.5))
    with pytest.raises(ValueError, match="DG method _Sloppy reads the hyperparameter 'smoothing'"):
        algorithm.update(minibatches())
    try:
        algorithm.update(minibatches())
    except KeyError as exc:  # still a KeyError: ``in`` and ``.get`` keep working
        assert "\n" not in str(exc) and "lr" in str(exc) and "HPARAMS" in str(exc)
    assert "lr" in algorithm.hparams and algorithm.hparams.get("smoothing", 0.1) == 0.1
    with pytest.raises(TypeError):
        algorithm.hparams["lr"] = 1.0  # type: ignore[index]
