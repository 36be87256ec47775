"""The feature cache: hit, miss on any change (code included), damaged files recomputed,
atomic writes, and learned representations keyed by the data they were fitted on."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from coos_utils import codehash
from coos_utils.data import CoosSplit, load_split
from coos_utils.features import DirectPredictor, Representation, features_for, texture
from coos_utils.features import cache as cache_module
from coos_utils.features.cache import cache_key, read_entry, write_entry
from tests.handmade import write_handmade


@pytest.fixture
def split(tmp_path: Path) -> CoosSplit:
    return load_split(write_handmade(tmp_path / "data", per_class=1), "test1")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the images whose texture features are actually computed (n_jobs=1: in process)."""
    seen: list[int] = []
    original = texture.texture_features

    def counting(images: np.ndarray, *args: object) -> np.ndarray:
        seen.append(len(images))
        return original(images, *args)

    monkeypatch.setattr(texture, "texture_features", counting)
    return seen


def features(split: CoosSplit, cache_dir: Path, **params: Any) -> cache_module.CacheEntry:
    rep = texture.TextureRepresentation(**params, n_jobs=1, progress=False)
    return features_for(rep, {split.name: split}, cache_dir=cache_dir).entries["texture"][
        split.name
    ]


def _params() -> dict[str, object]:
    return {
        "grey_levels": texture.DEFAULT_GREY_LEVELS,
        "distances": list(texture.DEFAULT_DISTANCES),
    }


def _texture_key(split: CoosSplit) -> str:
    code = codehash.code_hash(["coos_utils.features.texture"])
    return cache_key(split.content_fingerprint(), "texture", _params(), code, None, "texture")


def test_second_run_reads_the_cache(split: CoosSplit, tmp_path: Path, calls: list[int]) -> None:
    first = features(split, tmp_path / "cache")
    second = features(split, tmp_path / "cache")
    assert (first.hit, second.hit) == (False, True)
    assert first.key == second.key == _texture_key(split) and first.key in first.path.name
    assert sum(calls) == len(split)
    np.testing.assert_array_equal(first.values, second.values)
    assert second.names == first.names and len(second.names) == 69
    assert first.path.parent == tmp_path / "cache" / "texture"


def test_changed_parameters_or_data_recompute(
    split: CoosSplit, tmp_path: Path, calls: list[int]
) -> None:
    base = features(split, tmp_path / "cache")
    coarse = features(split, tmp_path / "cache", grey_levels=16)
    assert not coarse.hit and coarse.path != base.path
    other = load_split(split.path.parent, "test2")
    assert not features(other, tmp_path / "cache").hit
    assert sum(calls) == 2 * len(split) + len(other)


def test_an_edited_feature_function_misses_the_cache(
    split: CoosSplit, tmp_path: Path, calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "package"
    shutil.copytree(codehash.package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(codehash, "package_dir", lambda: copy)
    assert not features(split, tmp_path / "cache").hit
    assert features(split, tmp_path / "cache").hit
    unrelated = copy / "dg" / "edited_elsewhere.py"
    unrelated.parent.mkdir(exist_ok=True)
    unrelated.write_text("X = 1\n")
    assert features(split, tmp_path / "cache").hit
    source = copy / "features" / "texture.py"
    source.write_text(source.read_text().replace("    return out\n", "    return out * 1.0\n"))
    assert not features(split, tmp_path / "cache").hit
    assert sum(calls) == 2 * len(split)


def test_key_covers_every_input() -> None:
    base = {"grey_levels": 64, "distances": (1, 2)}
    key = cache_key("abc", "texture", base, "code1")
    assert key == cache_key("abc", "texture", {"distances": [1, 2], "grey_levels": 64}, "code1")
    assert key != cache_key("abd", "texture", base, "code1")
    assert key != cache_key("abc", "texture", {**base, "grey_levels": 32}, "code1")
    assert key != cache_key("abc", "texture", base, "code2")
    assert key != cache_key("abc", "texture", base, "code1", fitted_on="train-a")
    assert key != cache_key("abc", "texture", base, "code1", output="other")


class Memoriser(Representation, DirectPredictor):
    """A learned toy: features are each image's mean minus the training mean."""

    name = "memoriser"
    learns = True
    predictor_row: ClassVar[tuple[str, str]] = ("Memoriser", "End-to-End")
    fits: ClassVar[list[int]] = []

    def outputs(self) -> dict[str, str]:
        return {"mean": "Memoriser (mean)"}

    def fit(self, train: CoosSplit) -> Memoriser:
        self.fits.append(len(train))
        self.centre = float(train.load_images().mean())
        self.validation_error = 50.0
        return self

    def transform(self, split: CoosSplit) -> dict[str, np.ndarray]:
        means = split.load_images().reshape(len(split), -1).mean(axis=1)
        return {"mean": (means - self.centre)[:, None].astype(np.float32)}

    def predict(self, split: CoosSplit) -> np.ndarray:
        return np.zeros(len(split), dtype=np.int64)


def test_learned_features_are_keyed_by_the_training_data(tmp_path: Path) -> None:
    root = write_handmade(tmp_path / "data", per_class=2)
    train, test1, test2 = (load_split(root, name) for name in ("train", "test1", "test2"))
    Memoriser.fits.clear()
    first = features_for(Memoriser(), {"train": train, "test1": test1}, cache_dir=tmp_path / "c")
    again = features_for(Memoriser(), {"train": train, "test1": test1}, cache_dir=tmp_path / "c")
    assert Memoriser.fits == [len(train)]
    assert all(e.hit for e in again.entries["mean"].values())
    np.testing.assert_array_equal(first.predictions["test1"], np.zeros(len(test1)))
    np.testing.assert_array_equal(again.predictions["test1"], first.predictions["test1"])
    other = features_for(Memoriser(), {"test1": test1}, train=test2, cache_dir=tmp_path / "c")
    assert Memoriser.fits == [len(train), len(test2)]
    assert not other.entries["mean"]["test1"].hit
    assert not np.array_equal(other.entries["mean"]["test1"].values, first.values("mean")["test1"])
    with pytest.raises(ValueError, match="learns from the 'train' split"):
        features_for(Memoriser(), {"test1": test1}, cache_dir=tmp_path / "c")


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_damaged_file_is_detected_and_recomputed(
    split: CoosSplit, tmp_path: Path, calls: list[int], damage: str
) -> None:
    good = features(split, tmp_path / "cache")
    raw = good.path.read_bytes()
    if damage == "truncate":
        good.path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        start = raw.index(b"values.npy") + 200  # inside the stored array
        good.path.write_bytes(raw[:start] + bytes([raw[start] ^ 0xFF]) + raw[start + 1 :])
    elif damage == "garbage":
        good.path.write_bytes(b"not a zip file at all")
    else:
        good.path.write_bytes(b"")
    with pytest.warns(UserWarning, match="damaged"):
        again = features(split, tmp_path / "cache")
    assert not again.hit
    np.testing.assert_array_equal(again.values, good.values)
    assert read_entry(good.path, _texture_key(split)) is not None
    assert features(split, tmp_path / "cache").hit


def test_tampered_values_with_valid_zip_fail_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "entry.npz"
    write_entry(path, "k1", np.ones((3, 2)), ["a", "b"], {})
    with np.load(path) as stored:
        record, names = stored["record"], stored["names"]
    with path.open("wb") as handle:
        np.savez(handle, values=np.zeros((3, 2)), names=names, record=record)
    with pytest.warns(UserWarning, match="checksum"):
        assert read_entry(path, "k1") is None


def test_entry_for_another_key_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "entry.npz"
    write_entry(path, "k1", np.ones((3, 2)), ["a", "b"], {})
    with pytest.warns(UserWarning, match="another key"):
        assert read_entry(path, "k2") is None
    assert read_entry(path, "k1") is not None


def test_missing_file_is_a_plain_miss(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    assert read_entry(tmp_path / "absent.npz", "k") is None
    assert not recwarn.list


def test_failed_write_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_savez(handle: object, **arrays: object) -> None:
        handle.write(b"PK\x03\x04 half a file")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(cache_module.np, "savez", broken_savez)
    path = tmp_path / "cache" / "entry.npz"
    with pytest.raises(OSError, match="disk full"):
        write_entry(path, "k", np.ones((2, 2)), ["a", "b"], {})
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def test_failed_computation_writes_nothing(
    split: CoosSplit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object) -> np.ndarray:
        raise RuntimeError("interrupted")

    monkeypatch.setattr(texture, "texture_features", fail)
    with pytest.raises(RuntimeError):
        features(split, tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.npz"))


def test_names_must_match_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names"):
        write_entry(tmp_path / "x.npz", "k", np.ones((2, 3)), ["a"], {})
