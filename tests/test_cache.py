"""The feature cache: hit, miss on any change, damaged files recomputed, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import coos_utils
from coos_utils.data import CoosSplit, load_split
from coos_utils.features import cache as cache_module
from coos_utils.features import compute_features, texture
from coos_utils.features.cache import cache_key, cached, read_entry, write_entry
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


def features(split: CoosSplit, cache_dir: Path, **params: object) -> cache_module.CacheEntry:
    return compute_features(split, "texture", cache_dir, n_jobs=1, progress=False, **params)


def _params() -> dict[str, object]:
    return {"grey_levels": texture.DEFAULT_GREY_LEVELS, "distances": texture.DEFAULT_DISTANCES}


def test_second_run_reads_the_cache(split: CoosSplit, tmp_path: Path, calls: list[int]) -> None:
    first = features(split, tmp_path / "cache")
    second = features(split, tmp_path / "cache")
    assert (first.hit, second.hit) == (False, True)
    assert sum(calls) == len(split)
    np.testing.assert_array_equal(first.values, second.values)
    assert second.names == first.names and len(second.names) == 69
    assert first.path.parent == tmp_path / "cache" / "texture"


def test_changed_parameters_data_or_version_recompute(
    split: CoosSplit, tmp_path: Path, calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = features(split, tmp_path / "cache")
    coarse = features(split, tmp_path / "cache", grey_levels=16)
    assert not coarse.hit and coarse.path != base.path
    other = load_split(split.path.parent, "test2")
    assert not features(other, tmp_path / "cache").hit
    monkeypatch.setattr(coos_utils, "__version__", "99.0")
    assert not features(split, tmp_path / "cache").hit
    assert sum(calls) == 3 * len(split) + len(other)


def test_key_covers_fingerprint_parameters_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    key = cache_key("abc", "texture", {"grey_levels": 64, "distances": (1, 2)})
    assert key == cache_key("abc", "texture", {"distances": [1, 2], "grey_levels": 64})
    assert key != cache_key("abd", "texture", {"grey_levels": 64, "distances": (1, 2)})
    assert key != cache_key("abc", "texture", {"grey_levels": 32, "distances": (1, 2)})
    monkeypatch.setattr(coos_utils, "__version__", "99.0")
    assert key != cache_key("abc", "texture", {"grey_levels": 64, "distances": (1, 2)})


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
    assert read_entry(good.path, cache_key(split.fingerprint(), "texture", _params())) is not None
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


def test_failed_computation_writes_nothing(tmp_path: Path) -> None:
    def fail() -> tuple[np.ndarray, list[str]]:
        raise RuntimeError("interrupted")

    path = tmp_path / "entry.npz"
    with pytest.raises(RuntimeError):
        cached(path, "k", fail)
    assert not path.exists()


def test_names_must_match_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names"):
        write_entry(tmp_path / "x.npz", "k", np.ones((2, 3)), ["a"], {})
