"""Device choice, preprocessing, on-device augmentation, samplers and activation extraction."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from coos_utils.data import holdout
from coos_utils.models.augment import five_crops, random_crop, random_dihedral, random_flips
from coos_utils.models.deeploc import percentile, stretch
from coos_utils.models.device_data import ShuffledRows
from coos_utils.models.extract import extract, pool
from coos_utils.models.pci import min_max
from coos_utils.models.runtime import autocast, cpu_threads, memory_format, resolve_device
from coos_utils.models.vgg import IMAGENET_MEAN, IMAGENET_STD, vgg_input
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse fixture)


def test_device_choice() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert memory_format(torch.device("cpu")) == torch.channels_last
    assert isinstance(autocast(torch.device("cpu")), contextlib.nullcontext)
    with pytest.raises(ValueError, match="unsupported device"):
        resolve_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="no CUDA GPU.*device='cpu'"):
        resolve_device("cuda")


def test_cpu_threads_restores_the_setting() -> None:
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def dihedral(image: torch.Tensor) -> list[torch.Tensor]:
    """The 8 flips/rotations of a (C, H, W) image."""
    turns = [torch.rot90(image, k, dims=(-2, -1)) for k in range(4)]
    return turns + [t.flip(-1) for t in turns]


def test_random_dihedral_gives_every_symmetry_of_the_square() -> None:
    x = torch.arange(2 * 5 * 5, dtype=torch.float32).view(1, 2, 5, 5).repeat(400, 1, 1, 1)
    out = random_dihedral(x, torch.Generator().manual_seed(0))
    candidates = dihedral(x[0])
    seen = [next(i for i, c in enumerate(candidates) if torch.equal(o, c)) for o in out]
    counts = np.bincount(seen, minlength=8)
    assert (counts > 20).all()  # all 8, roughly evenly (50 expected each)
    flipped = random_flips(x, torch.Generator().manual_seed(0))
    only_flips = {0, 2, 4, 6}  # identity, rot180 = both flips, left-right, up-down
    assert {next(i for i, c in enumerate(candidates) if torch.equal(o, c)) for o in flipped} == (
        only_flips
    )


def test_random_crop_cuts_windows_of_each_image() -> None:
    x = torch.randn(50, 2, 8, 8)
    out = random_crop(x, 5, torch.Generator().manual_seed(0))
    assert out.shape == (50, 2, 5, 5)
    offsets = set()
    for image, crop in zip(x, out, strict=True):
        found = [
            (t, left)
            for t in range(4)
            for left in range(4)
            if torch.equal(image[:, t : t + 5, left : left + 5], crop)
        ]
        assert found
        offsets.add(found[0])
    assert len(offsets) > 8
    centre, top_left, *_ = five_crops(x, 6)
    assert torch.equal(centre, x[..., 1:7, 1:7]) and torch.equal(top_left, x[..., :6, :6])


def test_shuffled_rows_visit_every_row_once_per_epoch_and_resume() -> None:
    rows = ShuffledRows(10, torch.Generator().manual_seed(0))
    first = torch.cat([rows.next(4) for _ in range(5)])  # 20 rows = 2 epochs
    assert sorted(first[:10].tolist()) == list(range(10))
    assert sorted(first[10:].tolist()) == list(range(10))
    state = rows.state_dict()
    generator_state = rows.generator.get_state()
    ahead = torch.cat([rows.next(3) for _ in range(5)])
    again = ShuffledRows(10, torch.Generator())
    again.generator.set_state(generator_state)
    again.load_state_dict(state)
    assert torch.equal(torch.cat([again.next(3) for _ in range(5)]), ahead)


def test_the_one_holdout_is_seeded_and_stratified_by_what_is_known() -> None:
    labels = np.repeat(np.arange(4), [50, 30, 20, 100])
    fit, held = holdout(200, 0.2, seed=3, labels=labels)
    assert sorted(np.concatenate([fit, held]).tolist()) == list(range(200))
    assert np.bincount(labels[held]).tolist() == [10, 6, 4, 20]
    assert np.array_equal(held, holdout(200, 0.2, seed=3, labels=labels)[1])
    assert not np.array_equal(held, holdout(200, 0.2, seed=4, labels=labels)[1])
    fit, held = holdout(200, 0.2, seed=0)
    assert len(held) == 40 and not set(fit) & set(held)
    plates = np.tile([0, 0, 0, 0, 1], 40)  # a fifth of every class on plate 1
    _, held = holdout(200, 0.2, seed=0, labels=labels, groups=plates)
    per_plate = [np.bincount(labels[held][plates[held] == p], minlength=4) for p in (0, 1)]
    assert [c.tolist() for c in per_plate] == [[8, 5, 3, 16], [2, 1, 1, 4]]
    lonely = plates.copy()
    lonely[0] = 7  # one image alone on its plate: stratified by class only, not an error
    _, held = holdout(200, 0.2, seed=0, labels=labels, groups=lonely)
    assert np.bincount(labels[held]).tolist() == [10, 6, 4, 20]


class Boom(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("computed a layer after the last one asked for")


def test_extract_pools_hooked_layers_and_stops_after_the_deepest() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 4, 3), Boom())
    batches = [torch.randn(5, 1, 6, 6), torch.randn(2, 1, 6, 6)]
    values = extract(net, batches, ["1", "2"], pooling="max")
    assert values["1"].shape == (7, 3) and values["2"].shape == (7, 4)
    with torch.no_grad():
        direct = torch.cat([net[2](net[1](net[0](b))) for b in batches])
    np.testing.assert_allclose(values["2"], direct.amax(dim=(2, 3)).numpy(), rtol=1e-6)
    means = extract(net, batches, ["2"], pooling="mean")["2"]
    np.testing.assert_allclose(means, direct.mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(KeyError, match="no submodules"):
        extract(net, batches, ["9"])
    assert pool(torch.ones(2, 3), "max").shape == (2, 3)
    assert pool(torch.ones(2, 3, 4, 4), "flatten").shape == (2, 48)


def test_deeploc_stretch_matches_the_original_recipe() -> None:
    rng = np.random.default_rng(0)
    raw = rng.gamma(2.0, 300.0, size=(3, 2, 64, 64)).astype(np.float32)
    raw[2, 1] = 7.0  # a constant channel: only shifted, never divided by zero
    out = stretch(torch.from_numpy(raw)).numpy()
    for image, result in zip(raw, out, strict=True):
        for channel, got in zip(image, result, strict=True):
            low, high = np.percentile(channel, [0.1, 99.9])
            expected = np.minimum(channel, high) - low
            if high - low > 1:
                expected = expected / (high - low)
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    flat = torch.from_numpy(raw[:, 0].reshape(3, -1))
    for q in (0.0, 0.1, 50.0, 99.9, 100.0):
        np.testing.assert_allclose(percentile(flat, q).numpy(), np.percentile(flat, q, axis=1))


def test_pci_and_vgg_inputs() -> None:
    x = torch.rand(4, 2, 8, 8) * 1000
    x[3] = 5.0
    unit = min_max(x)
    assert torch.allclose(unit.amin(dim=(2, 3))[:3], torch.zeros(3, 2))
    assert torch.allclose(unit.amax(dim=(2, 3))[:3], torch.ones(3, 2))
    assert (unit[3] == 0).all()
    rgb = vgg_input(x, "per_image")  # the stretch; the default is tested in test_pci_vgg_trust
    assert rgb.shape == (4, 3, 8, 8)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    grey = (rgb * std + mean) * 255  # back to the 8-bit levels, the same in R, G and B
    assert torch.allclose(grey, grey.round(), atol=1e-3)
    assert torch.allclose(grey[:, 0], grey[:, 2], atol=1e-3)
    assert grey[:3].amax() == pytest.approx(255, abs=1e-3)
    assert torch.allclose(grey[3], torch.zeros(3, 8, 8), atol=1e-3)


def test_usable_cores_follow_affinity_and_the_cgroup_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coos_utils.parallel import usable_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("max 100000\n")
    assert usable_cores(cpu_max) == 4
    cpu_max.write_text("150000 100000\n")  # docker --cpus 1.5
    assert usable_cores(cpu_max) == 2
    assert usable_cores(tmp_path / "missing") == 4


def test_torch_threads_default_to_the_cores_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from coos_utils.models import runtime

    monkeypatch.setattr(runtime, "process_threads", lambda: 1)
    before = torch.get_num_threads()
    with runtime.cpu_threads(-1):
        assert torch.get_num_threads() == 1
    with runtime.cpu_threads(8):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_a_worker_given_its_share_of_the_cores_keeps_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DG sweep worker is started with OMP_NUM_THREADS = cores // workers; its trials must
    not take every core again (two workers x two threads on two cores ran 4x slower)."""
    from coos_utils.models.runtime import cpu_threads
    from coos_utils.parallel import process_threads, usable_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert usable_cores(tmp_path / "missing") == 4
    assert process_threads(tmp_path / "missing") == 1
    with cpu_threads(None):
        assert torch.get_num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "16")  # never more than the process may use
    assert process_threads(tmp_path / "missing") == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    assert process_threads(tmp_path / "missing") == 4
