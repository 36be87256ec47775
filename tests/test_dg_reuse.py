"""A trained DG model is keyed by what its training reads and does, so it is never trained
twice: an ablation whose ``train`` did not change, and TestTimeBN after ERM, reuse it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from coos_utils.data import CoosDataError, load_split
from coos_utils.dg import sweep as sweep_module
from coos_utils.dg import trial as trial_module
from coos_utils.dg.ablation import run_ablation
from coos_utils.dg.adabn import adapt_batch_norms, module_chain
from coos_utils.dg.algorithms import TaskInfo, get_algorithm
from coos_utils.dg.backbones import build_backbone
from coos_utils.dg.sweep import TRIALS_FOLDER, make_sweep, run_sweep
from coos_utils.dg.trial import (
    TrialSpec,
    read_predictions,
    read_record,
    run_trial,
    training_key,
)
from coos_utils.reference import TEST_SPLITS
from coos_utils.synthetic import Simulation
from tests.helpers import DG_TINY


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The methods of the trainings run in this process, in order."""
    calls: list[str] = []
    train = trial_module._train_and_select

    def counted(spec: TrialSpec, *args: object) -> object:
        calls.append(spec.method)
        return train(spec, *args)

    monkeypatch.setattr(trial_module, "_train_and_select", counted)
    return calls


def test_an_ablation_whose_train_is_unchanged_trains_nothing_new(
    tiny_data: Path, tmp_path: Path, trainings: list[str]
) -> None:
    simulation = Simulation.from_attrs(load_split(tiny_data, "train").attrs)
    shifts_off = partial(simulation.with_shifts_off, tmp_path / "synthetic")
    out = tmp_path / "out"
    options = {"serial": True, "progress": False, "n_boot": 10, **DG_TINY}
    run_ablation(tiny_data, shifts_off, out, {"ERM": 0}, switches=["test4_microscope"], **options)
    assert trainings == ["ERM"]  # the baseline's; test4's microscope leaves train alone
    ablated = TrialSpec("ERM", 0, 0, str(shifts_off("test4_microscope").resolve()), **DG_TINY)
    baseline = TrialSpec("ERM", 0, 0, str(tiny_data.resolve()), **DG_TINY)
    reused = read_record(out / TRIALS_FOLDER, ablated)
    trained = read_record(out / TRIALS_FOLDER, baseline)
    assert reused["model"] == {"key": trained["model"]["key"], "source": "reused"}
    assert trained["model"]["source"] == "trained"
    assert reused["spec"]["data_dir"] == ablated.data_dir  # its record, its test splits

    # the reused model scores exactly as one trained afresh for that data set
    fresh = run_trial(ablated, tmp_path / "fresh")
    assert fresh["model"]["source"] == "trained" and trainings == ["ERM", "ERM"]
    for field in ("validation_history", "selected_step", "hparams", "test"):
        assert reused[field] == fresh[field]


def test_an_ablation_predicts_only_the_test_splits_it_changed(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    predicted: list[int] = []
    predict = trial_module.predict_images

    def counted(algorithm: object, images: object, *args: object, **kwargs: object) -> object:
        predicted.append(len(images))
        return predict(algorithm, images, *args, **kwargs)

    monkeypatch.setattr(trial_module, "predict_images", counted)
    simulation = Simulation.from_attrs(load_split(tiny_data, "train").attrs)
    shifts_off = partial(simulation.with_shifts_off, tmp_path / "synthetic")
    out = tmp_path / "out"
    options = {"serial": True, "progress": False, "n_boot": 10, **DG_TINY}
    run_ablation(
        tiny_data,
        shifts_off,
        out,
        {"ERM": 0, "TestTimeBN": 0},
        switches=["test4_microscope"],
        **options,
    )
    folder = shifts_off("test4_microscope").resolve()
    sizes = {name: len(load_split(folder, name)) for name in TEST_SPLITS}
    validations = [n for n in predicted if n not in sizes.values()]
    tests = [n for n in predicted if n in sizes.values()]
    # the baseline's two trials score all four splits each; the ablated ones test4 only
    # (TestTimeBN predicts otherwise than ERM from the same model: its own predictions)
    assert len(tests) == 4 * 2 + 2 and validations  # ERM's training validated
    for method in ("ERM", "TestTimeBN"):
        ablated = read_record(out / TRIALS_FOLDER, TrialSpec(method, 0, 0, str(folder), **DG_TINY))
        assert ablated["predictions_reused"] == ["test1", "test2", "test3"]
        fresh = run_trial(TrialSpec(method, 0, 0, str(folder), **DG_TINY), tmp_path / method)
        assert fresh["predictions_reused"] == [] and fresh["test"] == ablated["test"]
        assert read_predictions(out / TRIALS_FOLDER / ablated["trial_id"]).keys() == set(sizes)


def test_damaged_stored_predictions_are_predicted_again(tiny_data: Path, tmp_path: Path) -> None:
    spec = TrialSpec("ERM", 0, 0, str(tiny_data), **DG_TINY)
    first = run_trial(spec, tmp_path)
    kept = sorted((tmp_path / "models" / first["model"]["key"] / "predicted").glob("*.npz"))
    assert len(kept) == 4
    kept[0].write_bytes(b"not numpy")
    with np.load(kept[1]) as stored:  # labels changed, the checksum kept
        np.savez(kept[1], predicted=(stored["predicted"] + 1) % 7, sha256=stored["sha256"])
    np.savez(kept[2], predicted=np.zeros(3, np.int16), sha256=np.array(""))
    shutil.rmtree(tmp_path / spec.trial_id)  # the trial itself runs again
    with pytest.warns(UserWarning, match="predicting again") as caught:
        second = run_trial(spec, tmp_path)
    named = sorted(str(w.message).split(":")[0] for w in caught)
    assert named == [str(kept[0]), str(kept[1]), str(kept[2])]
    assert len(second["predictions_reused"]) == 1 and second["test"] == first["test"]


def test_test_time_bn_trains_nothing_erm_has_not(
    tiny_data: Path, tmp_path: Path, trainings: list[str]
) -> None:
    specs = make_sweep(tiny_data, ["ERM", "TestTimeBN"], n_draws=2, seeds=[0], **DG_TINY)
    records = run_sweep(specs, tmp_path, serial=True, progress=False)
    assert trainings == ["ERM", "ERM"]  # draws 0 and 1, each once
    for draw in (0, 1):
        erm, ttbn = (
            read_record(tmp_path / TRIALS_FOLDER, s) for s in specs if s.hparams_seed == draw
        )
        assert ttbn["model"] == {"key": erm["model"]["key"], "source": "reused"}
        assert ttbn["validation_history"] == erm["validation_history"]
        assert ttbn["test"] != erm["test"]  # it differs at test time only
    assert set(records["method"]) == {"ERM", "TestTimeBN"}


def test_test_time_bn_waits_for_erm_on_dask(tiny_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    specs = make_sweep(tiny_data, ["ERM", "TestTimeBN"], n_draws=1, seeds=[0], **DG_TINY)
    assert sweep_module.first_trainers(specs) == {specs[1].trial_id: specs[0]}
    run_sweep(specs, tmp_path, n_workers=2, progress=False)
    erm, ttbn = (read_record(tmp_path / TRIALS_FOLDER, s)["model"] for s in specs)
    assert (erm["source"], ttbn["source"]) == ("trained", "reused")


def test_another_train_split_draw_seed_setting_or_device_trains_anew(tiny_data: Path) -> None:
    spec = TrialSpec("ERM", 1, 0, str(tiny_data), **DG_TINY)
    key = training_key(spec, "train-a", "cpu")
    assert (
        training_key(TrialSpec("TestTimeBN", 1, 0, str(tiny_data), **DG_TINY), "train-a", "cpu")
        == key
    )
    assert training_key(spec, "train-b", "cpu") != key  # another train split
    assert training_key(spec, "train-a", "cuda") != key  # CPU and CUDA differ numerically
    others = [
        TrialSpec("ERM", 2, 0, str(tiny_data), **DG_TINY),  # other hyperparameters
        TrialSpec("ERM", 1, 1, str(tiny_data), **DG_TINY),  # another seed
        TrialSpec("ERM", 1, 0, str(tiny_data), **{**DG_TINY, "steps": 3}),
        TrialSpec("ERM", 1, 0, str(tiny_data), **{**DG_TINY, "max_val_images": 20}),
        TrialSpec("FocalLoss", 1, 0, str(tiny_data), **DG_TINY),
    ]
    assert all(training_key(other, "train-a", "cpu") != key for other in others)
    # the draw counts through its values only: an override that fixes them shares the model
    fixed = (("lr", 1e-3), ("weight_decay", 0.0))
    same = [
        TrialSpec("ERM", d, 0, str(tiny_data), **DG_TINY, hparams_overrides=fixed) for d in (0, 1)
    ]
    assert training_key(same[0], "t", "cpu") == training_key(same[1], "t", "cpu")


def test_another_seed_trains_anew_and_the_same_seed_does_not(
    tiny_data: Path, tmp_path: Path, trainings: list[str]
) -> None:
    records = [
        run_trial(TrialSpec("ERM", 0, seed, str(tiny_data), **DG_TINY), tmp_path)
        for seed in (0, 1, 0)
    ]
    assert trainings == ["ERM", "ERM"]
    assert [r["model"]["source"] for r in records] == ["trained", "trained", "reused"]
    models = sorted(p.name for p in (tmp_path / trial_module.MODELS_FOLDER).iterdir())
    assert [name.split("-")[:2] for name in models] == [["ERM", "s0"], ["ERM", "s1"]]


PLUGIN = """
from coos_utils.dg.algorithms import ERM, TestTimeBN


class Claims(ERM):
    trains_as = "ERM"

    def update(self, minibatches):
        return super().update(minibatches[:1])


class Adapts(TestTimeBN):
    pass
"""


def test_a_method_that_trains_differently_cannot_claim_erm_training(
    tiny_data: Path, tmp_path: Path
) -> None:
    path = tmp_path / "claims.py"
    path.write_text(PLUGIN)
    claims, adapts = make_sweep(tiny_data, [f"{path}:Claims", f"{path}:Adapts"], **DG_TINY)
    with pytest.raises(ValueError, match="Claims.*cannot train as ERM.*'update'"):
        training_key(claims, "t", "cpu")
    # trains_as is not inherited: a subclass of TestTimeBN trains as itself
    assert training_key(adapts, "t", "cpu").startswith("Adapts-s0-")


def _network() -> tuple[torch.nn.Module, list[_BatchNorm]]:
    """TestTimeBN on DeepLoc (batch norm in its featurizer and its classifier), seeded."""
    task = TaskInfo(in_channels=2, n_classes=7, n_domains=1, class_counts=(1,) * 7)
    torch.manual_seed(0)
    backbone = build_backbone("deeploc", 2, 7, 0.125)
    algorithm = get_algorithm("TestTimeBN")(task, {"lr": 1e-3, "weight_decay": 0.0}, backbone)
    return algorithm.eval(), [m for m in algorithm.modules() if isinstance(m, _BatchNorm)]


def _batches() -> Iterator[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    yield from (torch.rand(n, 2, 64, 64, generator=generator) * 3 + 1 for n in (5, 3, 6))


def _adapt_with_whole_passes(network: torch.nn.Module, norms: list[_BatchNorm]) -> None:
    """AdaBN as it was: layer after layer, the whole network run over every batch."""
    order: list[_BatchNorm] = []
    handles = [m.register_forward_pre_hook(lambda m, _: order.append(m)) for m in norms]
    with torch.no_grad():
        network.predict(next(_batches()))
    for handle in handles:
        handle.remove()
    for layer in dict.fromkeys(order):
        seen: list[torch.Tensor] = []
        handle = layer.register_forward_pre_hook(
            lambda m, inputs, seen=seen: seen.append(inputs[0])
        )
        with torch.no_grad():
            for x in _batches():
                network.predict(x)
        handle.remove()
        channels = torch.cat([s.double().transpose(0, 1).reshape(s.shape[1], -1) for s in seen], 1)
        layer.running_mean.copy_(channels.mean(1).float())
        layer.running_var.copy_(channels.var(1).float())


def test_adabn_stops_each_pass_at_its_layer_with_the_same_statistics() -> None:
    reference, norms = _network()
    _adapt_with_whole_passes(reference, norms)
    adapted, adapted_norms = _network()
    entered: list[int] = []
    adapted.classifier.register_forward_pre_hook(lambda module, inputs: entered.append(1))
    adapt_batch_norms(adapted.predict, adapted_norms, _batches)
    for old, new in zip(norms, adapted_norms, strict=True):
        assert torch.allclose(old.running_mean, new.running_mean, rtol=1e-5, atol=1e-6)
        assert torch.allclose(old.running_var, new.running_var, rtol=1e-5, atol=1e-6)
    # only the passes for the classifier's own layers reach it (3 batches each), and the
    # one pass that finds the order of the layers
    in_classifier = sum(isinstance(m, _BatchNorm) for m in adapted.classifier.modules())
    assert 0 < in_classifier < len(adapted_norms)
    assert len(entered) == 1 + 3 * in_classifier


def _first_conv_calls(network: torch.nn.Module) -> list[int]:
    """A list that grows by one each time the network's first convolution runs."""
    calls: list[int] = []
    first = next(m for m in network.modules() if isinstance(m, torch.nn.Conv2d))
    first.register_forward_pre_hook(lambda module, inputs: calls.append(1))
    return calls


@pytest.mark.parametrize("cache_bytes", [1 << 30, 300_000, 0])
def test_adabn_along_a_chain_reruns_no_layer_and_gives_the_same_bits(cache_bytes: int) -> None:
    reference, norms = _network()
    adapt_batch_norms(reference.predict, norms, _batches)  # one pass from the images per layer
    chained, chained_norms = _network()
    runs = _first_conv_calls(chained)
    chain = module_chain(chained.featurizer, chained.classifier)
    adapt_batch_norms(chained.predict, chained_norms, _batches, chain, cache_bytes)
    for old, new in zip(norms, chained_norms, strict=True):
        assert torch.equal(old.running_mean, new.running_mean)
        assert torch.equal(old.running_var, new.running_var)
    # the first batch runs 3 times to find the layers and check the chain; then the first
    # convolution sees each of the 3 batches once when everything is kept, again for each
    # layer whose inputs are not kept (the 300 kB cap keeps only the later, smaller ones)
    passes = (len(runs) - 3) // 3
    assert len(runs) == 3 + 3 * passes
    if cache_bytes == 1 << 30:
        assert passes == 1
    elif cache_bytes == 0:
        assert passes == len(norms)
    else:
        assert 1 < passes < len(norms)


class _Wrapped(torch.nn.Module):
    """A featurizer whose forward is its own: no chain can open it."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def test_a_network_that_is_no_chain_is_adapted_from_the_images_per_layer() -> None:
    reference, norms = _network()
    adapt_batch_norms(reference.predict, norms, _batches)
    wrapped, wrapped_norms = _network()
    wrapped.featurizer = _Wrapped(wrapped.featurizer)
    runs = _first_conv_calls(wrapped)
    wrapped.adapt(_batches)  # TestTimeBN's own adapt: the chain holds an opaque module
    for old, new in zip(norms, wrapped_norms, strict=True):
        assert torch.equal(old.running_mean, new.running_mean)
    assert len(runs) == 1 + 3 * len(norms)


@pytest.mark.parametrize("method", ["ERM", "TestTimeBN"])
def test_the_prediction_batch_changes_no_logit_and_no_prediction(method: str) -> None:
    """EVAL_BATCH on the CPU went from 256 to 64 (faster); no prediction may move. Logits
    are those of each image alone, up to rounding in the last bits (a batch of 7 takes
    other kernels than 64 or 256)."""
    network, _ = _network()
    backbone = (network.featurizer, network.classifier)
    network = get_algorithm(method)(network.task, network.hparams, backbone).eval()
    generator = torch.Generator().manual_seed(2)
    images = (torch.rand(300, 2, 64, 64, generator=generator) * 4000).numpy()
    cpu = torch.device("cpu")
    with torch.no_grad():
        logits = {
            size: torch.cat([network.predict(x) for x in trial_module._batches(images, cpu, size)])
            for size in (256, 64, 7)
        }
    assert torch.equal(logits[256], logits[64])
    assert torch.allclose(logits[256], logits[7], rtol=1e-5, atol=1e-6)
    predicted = {
        size: trial_module.predict_images(network, images, cpu, adapt=True, batch_size=size)
        for size in (256, 64, 7)
    }
    assert np.array_equal(predicted[256], predicted[64])
    assert np.array_equal(predicted[256], predicted[7])
    default = trial_module.predict_images(network, images, cpu, adapt=True)  # the CPU's 64
    assert np.array_equal(default, predicted[64])


def test_a_chain_that_misses_a_layer_or_its_order_is_not_used() -> None:
    reference, norms = _network()
    adapt_batch_norms(reference.predict, norms, _batches)
    for make_chain in (
        lambda n: module_chain(n.featurizer),  # the classifier's batch norm is not in it
        lambda n: module_chain(n.classifier, n.featurizer),  # the wrong order
    ):
        network, network_norms = _network()
        runs = _first_conv_calls(network)
        adapt_batch_norms(network.predict, network_norms, _batches, make_chain(network))
        for old, new in zip(norms, network_norms, strict=True):
            assert torch.equal(old.running_mean, new.running_mean)
            assert torch.equal(old.running_var, new.running_var)
        assert len(runs) == 1 + 3 * len(norms)  # one pass from the images per layer


def test_module_chain_opens_plain_sequentials_only() -> None:
    a, b, c = torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid()
    assert module_chain(torch.nn.Sequential(a, torch.nn.Sequential(b)), c) == [a, b, c]
    assert module_chain(torch.nn.Sequential(a), a) is None  # a module run twice


def test_a_trial_that_leaves_no_record_stops_the_sweep(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = make_sweep(tiny_data, ["ERM"], **DG_TINY)
    monkeypatch.setattr(sweep_module, "run_trial", lambda *args, **kwargs: None)  # writes nothing
    with pytest.raises(CoosDataError, match=f"{TRIALS_FOLDER}: 1 trial.*no record.*ERM-h0-s0-"):
        run_sweep(specs, tmp_path, serial=True, progress=False)
