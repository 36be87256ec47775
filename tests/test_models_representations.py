"""DeepLoc, PCI and VGG16 through the Representation API on the tiny synthetic COOS-7 (CPU)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coos_utils.data import CoosSplit, load_split
from coos_utils.features.base import DirectPredictor, check_outputs
from coos_utils.models import (
    DeepLocRepresentation,
    PciRepresentation,
    Vgg16Representation,
    training,
)
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse fixture)

SMALL = {"progress": False, "device": "cpu", "n_jobs": 1, "seed": 0}


@pytest.fixture(scope="module")
def splits(tiny_data: Path) -> tuple[CoosSplit, CoosSplit]:
    """The tiny ``train`` split and the first 48 images of ``test1`` (in memory)."""
    test = load_split(tiny_data, "test1")
    head = dataclasses.replace(
        test,
        images=np.asarray(test.images[:48]),
        labels=test.labels[:48],
        meta=test.meta.iloc[:48],
    )
    return load_split(tiny_data, "train"), head


def forbid_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again although work_dir holds a finished run")

    monkeypatch.setattr(training, "train", refuse)


def deeploc(**kwargs: object) -> DeepLocRepresentation:
    return DeepLocRepresentation(
        iterations=6, batch_size=16, eval_every=3, width=1 / 16, fc_units=16, **SMALL, **kwargs
    )


def test_deeploc_fits_transforms_predicts_and_reuses_its_work_dir(
    splits: tuple[CoosSplit, CoosSplit], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, test = splits
    rep = deeploc().fit(train)
    assert isinstance(rep, DirectPredictor) and rep.learns
    assert rep.outputs() == {"fc2": "DeepLoc (FC2)"}
    assert rep.predictor_row == ("DeepLoc", "End-to-End")
    features = rep.transform(test)
    check_outputs(rep, test, features)
    assert features["fc2"].shape == (len(test), 16) and features["fc2"].dtype == np.float32
    predicted = rep.predict(test)
    assert predicted.dtype == np.int64 and predicted.shape == (len(test),)
    assert set(predicted) <= set(range(7))
    assert list(rep.history_["iteration"]) == [3, 6]
    assert rep.best_iteration_ in (3, 6)
    best = rep.history_.set_index("iteration")["val_score"]
    assert best[rep.best_iteration_] == best.min()

    stored = deeploc(work_dir=tmp_path).fit(train)  # same seed: same network
    np.testing.assert_array_equal(stored.transform(test)["fc2"], features["fc2"])
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {"last.pt", "last.pt.sha256", "best.pt", "best.pt.sha256", "history.csv"}

    forbid_training(monkeypatch)
    reused = deeploc(work_dir=tmp_path).fit(train)
    np.testing.assert_array_equal(reused.transform(test)["fc2"], features["fc2"])
    np.testing.assert_array_equal(reused.predict(test), predicted)
    pd.testing.assert_frame_equal(reused.history_, stored.history_)


def test_deeploc_other_seed_other_network(splits: tuple[CoosSplit, CoosSplit]) -> None:
    train, test = splits
    one = deeploc().fit(train).transform(test)["fc2"]
    other = DeepLocRepresentation(
        iterations=6, batch_size=16, eval_every=3, width=1 / 16, fc_units=16,
        **{**SMALL, "seed": 1},
    )  # fmt: skip
    assert not np.array_equal(other.fit(train).transform(test)["fc2"], one)
    with pytest.raises(RuntimeError, match="call fit"):
        deeploc().transform(test)


def pci(**kwargs: object) -> PciRepresentation:
    return PciRepresentation(
        iterations=4, batch_size=8, eval_every=2, width=1 / 16, **SMALL, **kwargs
    )


def test_pci_fits_on_field_pairs_and_is_deterministic(
    splits: tuple[CoosSplit, CoosSplit], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, test = splits
    rep = pci(work_dir=tmp_path).fit(train)
    assert rep.grouping_ == "field" and rep.iterations_ == 4
    assert list(rep.history_["iteration"]) == [2, 4]
    assert set(rep.history_["pairs"]) == {"field"}
    assert rep.outputs() == {f"conv{k}": f"PCI Conv{k}" for k in range(1, 6)}
    features = rep.transform(test)
    check_outputs(rep, test, features)
    assert {k: v.shape for k, v in features.items()} == {
        "conv1": (len(test), 6),
        "conv2": (len(test), 16),
        "conv3": (len(test), 24),
        "conv4": (len(test), 24),
        "conv5": (len(test), 16),
    }
    assert all((v >= 0).all() for v in features.values())  # max of ReLU outputs

    forbid_training(monkeypatch)
    again = pci(work_dir=tmp_path).fit(train).transform(test)
    for name, values in features.items():
        np.testing.assert_array_equal(again[name], values)


def test_pci_without_plate_and_well_pairs_within_each_class(
    splits: tuple[CoosSplit, CoosSplit],
) -> None:
    train, _ = splits
    bare = dataclasses.replace(train, meta=train.meta[["day"]])
    with pytest.warns(UserWarning, match="no plate \\+ well ids: PCI paired each cell"):
        rep = pci().fit(bare)
    assert rep.grouping_ == "class" and set(rep.history_["pairs"]) == {"class"}


def test_pci_epochs_map_to_iterations() -> None:
    # 30 epochs of the 663 images of an 80% part, batch 64: 10 steps per epoch
    assert PciRepresentation().schedule(663) == (300, 10)
    assert PciRepresentation(iterations=7, eval_every=3).schedule(663) == (7, 3)


def test_random_vgg16_features_are_labelled_and_seeded(
    splits: tuple[CoosSplit, CoosSplit],
) -> None:
    _, test = splits
    rep = Vgg16Representation(weights=None, layers=["conv1_2", "conv2_1"], batch_size=64, **SMALL)
    assert not rep.learns
    assert rep.outputs() == {
        "conv1_2": "VGG16 Conv1_2 (random init)",
        "conv2_1": "VGG16 Conv2_1 (random init)",
    }
    assert rep.params()["weights"] == "random-seed0"
    features = rep.transform(test)
    check_outputs(rep, test, features)
    assert features["conv1_2"].shape == (len(test), 64)
    assert features["conv2_1"].shape == (len(test), 128)
    same = Vgg16Representation(weights=None, layers=["conv2_1"], **SMALL).transform(test)
    np.testing.assert_array_equal(same["conv2_1"], features["conv2_1"])
    other = Vgg16Representation(weights=None, layers=["conv2_1"], **{**SMALL, "seed": 1})
    assert other.params()["weights"] == "random-seed1"
    assert not np.array_equal(other.transform(test)["conv2_1"], features["conv2_1"])
    assert len(Vgg16Representation(weights=None).outputs()) == 13
    with pytest.raises(ValueError, match="unknown VGG16 layers"):
        Vgg16Representation(layers=["conv6_1"])
