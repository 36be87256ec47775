"""``params()`` (the feature cache key's parameters) is derived from the constructor's
signature: a new constructor parameter enters the key without being listed anywhere, the
execution settings stay out, and a parameter stored under another name is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coos_utils.data import CoosSplit, load_split
from coos_utils.features import TextureRepresentation, features_for
from coos_utils.features.base import Representation
from coos_utils.models.deeploc import DeepLocRepresentation
from coos_utils.models.pci import PciRepresentation
from coos_utils.models.vgg import Vgg16Representation
from tests.handmade import write_handmade

CLASSES: tuple[type[Representation], ...] = (
    TextureRepresentation,
    DeepLocRepresentation,
    PciRepresentation,
    Vgg16Representation,
)


class SharpenedTexture(TextureRepresentation):
    """A representation that grew a feature-changing parameter and forgot about params()."""

    def __init__(self, sharpen: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sharpen = sharpen


class WiderDeepLoc(DeepLocRepresentation):
    def __init__(self, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dropout = dropout


class Misnamed(TextureRepresentation):
    def __init__(self, blur: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._blur = blur


class Variadic(TextureRepresentation):
    def __init__(self, *sizes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sizes = sizes


@pytest.fixture
def split(tmp_path: Path) -> CoosSplit:
    return load_split(write_handmade(tmp_path / "data", per_class=1), "test1")


def test_a_new_constructor_parameter_changes_the_feature_cache_key(
    split: CoosSplit, tmp_path: Path
) -> None:
    def entry(sharpen: float) -> Any:
        rep = SharpenedTexture(sharpen=sharpen, n_jobs=1, progress=False)
        return features_for(rep, {"test1": split}, cache_dir=tmp_path).entries["texture"]["test1"]

    plain, sharp = entry(0.0), entry(1.0)
    assert not sharp.hit and sharp.key != plain.key and sharp.path != plain.path
    assert entry(1.0).hit
    assert SharpenedTexture(sharpen=1.0).params() == {
        "sharpen": 1.0,
        "grey_levels": 64,
        "distances": [1, 2, 3, 4, 5],
    }


def test_a_subclass_parameter_enters_a_cnn_key_too() -> None:
    assert WiderDeepLoc(dropout=0.5).params() == {
        **DeepLocRepresentation().params(),
        "dropout": 0.5,
    }
    assert WiderDeepLoc(dropout=0.5).params() != WiderDeepLoc(dropout=0.0).params()


def test_a_parameter_without_its_attribute_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Misnamed.__init__ takes 'blur' but stores no attribute"):
        Misnamed(blur=2.0).params()
    with pytest.raises(TypeError, match=r"Variadic.__init__ takes \*args"):
        Variadic(1, 2).params()


def test_execution_settings_stay_out_of_the_key() -> None:
    base = DeepLocRepresentation().params()
    busy = DeepLocRepresentation(device="cpu", n_jobs=1, progress=False, extract_batch_size=8)
    assert busy.params() == base
    assert TextureRepresentation(scheduler="tcp://x:8786", n_jobs=1).params() == (
        TextureRepresentation().params()
    )
    assert PciRepresentation(extract_batch_size=8).params() == PciRepresentation().params()
    vgg = Vgg16Representation(weights=None, batch_size=8, n_jobs=1)
    assert vgg.params() == Vgg16Representation(weights=None).params()


@pytest.mark.parametrize("cls", CLASSES)
def test_every_constructor_parameter_is_in_the_key_or_declared_execution(
    cls: type[Representation],
) -> None:
    params = cls(**({"weights": None} if cls is Vgg16Representation else {})).params()
    json.dumps(params)  # JSON-able
    for name in cls.parameter_names():
        assert name in params
    assert not set(params) & cls.execution_settings


def test_the_keys_hold_what_the_hand_kept_lists_held() -> None:
    assert list(DeepLocRepresentation().params()) == [
        "iterations", "batch_size", "eval_every", "width", "fc_units", "learning_rate",
        "lr_decay", "lr_decay_every", "validation_fraction", "test_crops", "seed",
        "train_threads",
    ]  # fmt: skip
    assert list(PciRepresentation().params()) == [
        "epochs", "iterations", "batch_size", "eval_every", "width", "learning_rate",
        "beta1", "validation_fraction", "seed", "train_threads",
    ]  # fmt: skip
    vgg = Vgg16Representation(weights=None, layers=["conv1_1"], seed=3).params()
    assert vgg == {
        "weights": "random-seed3",
        "layers": ["conv1_1"],
        "seed": 3,
        "input_scaling": "authors",
        "input_max": 65535.0,
        "pooling": "global-max",
        "input": "channel0-8bit-grey-rgb-imagenet-norm",
    }
