"""Issue 17, DG part: no silent wrong number. CORAL without domains is reported as not run;
test-time BN gives the whole test set's statistics whatever the file order; ContriMix makes
the authors' five mixes and its classification loss reaches the encoders; methods are
compared with ERM seed by seed."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from coos_utils.dg.algorithms import TaskInfo, get_algorithm
from coos_utils.dg.backbones import build_backbone
from coos_utils.dg.data import DomainBatches
from coos_utils.dg.hparams import draw_hparams
from coos_utils.dg.summary import compare_to_erm, paired_findings, summarise
from coos_utils.dg.sweep import make_sweep, run_sweep
from coos_utils.reference import TEST_SPLITS
from tests.helpers import DG_TINY
from tests.test_dg_intervals import fake_records

TINY = DG_TINY


@pytest.fixture(scope="module")
def no_plates(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic data with the plate ids removed from every split."""
    folder = tmp_path_factory.mktemp("no_plates") / "data"
    shutil.copytree(tiny_data, folder)
    for path in folder.glob("*.hdf5"):
        with h5py.File(path, "r+") as handle:
            del handle["plate"]
    return folder


def test_coral_without_domains_is_reported_not_run(no_plates: Path, tmp_path: Path) -> None:
    specs = make_sweep(no_plates, ["ERM", "CORAL"], n_draws=1, seeds=[0, 1], **TINY)
    records = run_sweep(specs, tmp_path, serial=True, progress=False)
    coral = records[records["method"] == "CORAL"]
    assert coral["value"].isna().all()
    assert coral["note"].str.contains("no domain ids").all()
    summary = summarise(records)
    rows = summary[summary["method"] == "CORAL"]
    assert set(rows["split"]) == set(TEST_SPLITS)
    assert rows["mean"].isna().all() and (rows["seeds"] == 0).all()
    assert rows["note"].str.contains("CORAL not run").all()
    paired = compare_to_erm(records)
    assert "CORAL" not in set(paired["method"])
    assert "CORAL**: CORAL not run" in paired_findings(paired, summary)


def test_coral_gets_domainbeds_images_per_domain_within_the_batch() -> None:
    domains = np.repeat(np.arange(8), 50)
    batches = DomainBatches(domains, batch_size=32, seed=0, per_domain=16)
    step = next(batches)
    assert len(step) == 2 and all(len(rows) == 16 for rows in step)
    assert len({int(domains[rows[0]]) for rows in step}) == 2  # two different plates
    plain = next(DomainBatches(domains, batch_size=32, seed=0))
    assert len(plain) == 8 and all(len(rows) == 4 for rows in plain)
    assert get_algorithm("CORAL").domain_batch == 32 and get_algorithm("CORAL").needs_domains
    with pytest.raises(ValueError, match="two domains"):
        _make("CORAL", "small_cnn").update([(torch.rand(4, 2, 24, 24), torch.zeros(4).long())])


def _make(method: str, backbone: str, **overrides: float):
    torch.manual_seed(0)
    task = TaskInfo(in_channels=2, n_classes=7, n_domains=2, class_counts=(5,) * 7)
    hparams = {**draw_hparams(method, 0), **overrides}
    return get_algorithm(method)(task, hparams, build_backbone(backbone, 2, 7, 0.0625))


def _bn_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items() if "running" in k}


def test_test_time_bn_on_a_class_sorted_file_equals_the_shuffled_one() -> None:
    algorithm = _make("TestTimeBN", "deeploc")
    algorithm.update([(torch.rand(8, 2, 60, 60), torch.arange(8) % 7)] * 2)
    algorithm.eval()
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(7).repeat_interleave(6)  # stored in class order
    images = torch.rand(len(labels), 2, 60, 60, generator=g) * (1 + labels.view(-1, 1, 1, 1))
    order = torch.randperm(len(labels), generator=g)
    trained = _bn_state(algorithm)
    algorithm.adapt(list(images.split(8)))
    sorted_state = _bn_state(algorithm)
    algorithm.adapt(lambda: iter(images[order].split(8)))
    shuffled_state = _bn_state(algorithm)
    for key, value in sorted_state.items():
        assert torch.allclose(value, shuffled_state[key], rtol=1e-4, atol=1e-6), key
    # the first layer holds the directly computed statistics of the whole set
    first_conv, first_bn = algorithm.featurizer.conv1[0], algorithm.featurizer.conv1[1]
    with torch.no_grad():
        inputs = first_conv(images)
    assert torch.allclose(first_bn.running_mean, inputs.mean((0, 2, 3)), rtol=1e-4, atol=1e-6)
    assert torch.allclose(first_bn.running_var, inputs.var((0, 2, 3)), rtol=1e-4, atol=1e-6)
    # the classifier's batch norm (DeepLoc normalises its logits) is adapted too
    linear, norm = algorithm.classifier[0], algorithm.classifier[1]
    assert isinstance(norm, nn.BatchNorm1d)
    with torch.no_grad():
        logits = linear(algorithm.featurizer(images))
    assert torch.allclose(norm.running_mean, logits.mean(0), rtol=1e-4, atol=1e-5)
    assert torch.allclose(norm.running_var, logits.var(0), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(norm.running_var, trained["classifier.norm.running_var"])


def test_contrimix_makes_the_authors_five_mixes_and_ce_reaches_the_encoders() -> None:
    assert draw_hparams("ContriMix", 0)["contrimix_mixings"] == 5
    algorithm = _make("ContriMix", "small_cnn", contrimix_ce_weight=1.0)  # only the CE term
    seen: list[int] = []
    algorithm.featurizer.register_forward_pre_hook(lambda m, inputs: seen.append(len(inputs[0])))
    g = torch.Generator().manual_seed(1)
    batch = [(torch.rand(4, 2, 32, 32, generator=g), torch.arange(4)) for _ in range(2)]
    losses = algorithm.update(batch)
    assert losses["mixings"] == 5 and seen == [8 * (5 + 1)]  # self-reconstruction + 5 mixes
    for encoder in (algorithm.content_encoder, algorithm.attribute_encoder):
        grads = [p.grad for p in encoder.parameters() if p.grad is not None]
        assert grads and sum(float(g.abs().sum()) for g in grads) > 0


def test_methods_are_compared_with_erm_seed_by_seed(tmp_path: Path) -> None:
    rows = []
    shared = (-5.0, 0.0, 5.0, 2.0)  # seed noise both methods share: intervals overlap widely
    for seed, noise in enumerate(shared):
        rows += [("ERM", seed, "validation", 1.0), ("MixStyle", seed, "validation", 1.0)]
        rows += [("ERM", seed, "test3", 20.0 + noise), ("MixStyle", seed, "test3", 19.0 + noise)]
    frame = fake_records([(m, 0, seed, split, v) for m, seed, split, v in rows], tmp_path)
    summary = summarise(frame, n_boot=200)
    summary = summary[summary["metric"] == "balanced_error"].set_index("method")
    assert summary.loc["MixStyle", "ci_high"] > summary.loc["ERM", "ci_low"]  # overlap
    paired = compare_to_erm(frame, n_boot=200).iloc[0]
    assert paired["mean_diff"] == pytest.approx(-1.0) and paired["seeds"] == 4
    assert paired["ci_high"] < 0 and paired["helps"] and not paired["hurts"]
