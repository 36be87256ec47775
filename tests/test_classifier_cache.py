"""The classifier cache: a rerun of Table 3 refits nothing and gives the same table; a change
to the features, a setting or the classifiers' code refits; damaged entries are refitted."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from coos_utils import codehash
from coos_utils.benchmark import classifier_cache as cache_module
from coos_utils.benchmark import classifiers as classifiers_module
from coos_utils.benchmark import table3 as table3_module
from coos_utils.benchmark.classifier_cache import ClassifierCache, read_rows, write_rows
from coos_utils.benchmark.table3 import Table3Result, run_table3
from coos_utils.data import CoosSplit, load_splits
from coos_utils.features import TextureRepresentation
from coos_utils.profiles import get_profile

SMOKE = get_profile("smoke")


def table3(splits: dict[str, CoosSplit], cache_dir: Path, seed: int = 0) -> Table3Result:
    rep = TextureRepresentation(n_jobs=1, progress=False)
    return run_table3(
        splits, [rep], SMOKE, seed=seed, cache_dir=cache_dir, n_jobs=1, progress=False
    )


@pytest.fixture(scope="module")
def splits(tiny_data: Path) -> dict[str, CoosSplit]:
    return load_splits(tiny_data)


@pytest.fixture(scope="module")
def first(
    splits: dict[str, CoosSplit], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Table3Result]:
    """A cache filled by one run of Table 3 (texture, smoke profile, tiny data), and that run."""
    cache = tmp_path_factory.mktemp("cache")
    result = table3(splits, cache)
    assert (result.classifier_fits, result.classifier_hits) == (3, 0)
    return cache, result


@pytest.fixture
def expected(first: tuple[Path, Table3Result]) -> Table3Result:
    return first[1]


@pytest.fixture
def cache(first: tuple[Path, Table3Result], tmp_path: Path) -> Path:
    """A private copy of the filled cache."""
    return Path(shutil.copytree(first[0], tmp_path / "cache"))


@pytest.fixture
def no_fitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any classifier fit fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a classifier was refitted")

    monkeypatch.setattr(table3_module, "fit_table3", refuse)
    monkeypatch.setattr(classifiers_module, "fit_predict", refuse)


def assert_same(result: Table3Result, expected: Table3Result) -> None:
    pd.testing.assert_frame_equal(result.table, expected.table, check_exact=True)
    assert result.predictions.keys() == expected.predictions.keys()
    for key, predicted in expected.predictions.items():
        np.testing.assert_array_equal(result.predictions[key], predicted)


def test_a_rerun_refits_nothing_and_gives_the_same_table(
    splits: dict[str, CoosSplit], cache: Path, expected: Table3Result, no_fitting: None
) -> None:
    again = table3(splits, cache)
    assert (again.classifier_fits, again.classifier_hits) == (0, 3)
    assert_same(again, expected)
    assert len(list((cache / "classifiers").glob("Texture__*.npz"))) == 3
    assert "from cache" not in again.table.columns


def test_an_edit_to_presentation_code_refits_nothing_one_to_the_classifiers_refits(
    splits: dict[str, CoosSplit],
    cache: Path,
    expected: Table3Result,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy = tmp_path / "package"
    shutil.copytree(codehash.package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(codehash, "package_dir", lambda: copy)
    figures = copy / "presentation" / "figures.py"
    figures.write_text(figures.read_text() + "\nEDITED = True\n")
    again = table3(splits, cache)
    assert (again.classifier_fits, again.classifier_hits) == (0, 3)
    assert_same(again, expected)
    classifiers = copy / "benchmark" / "classifiers.py"
    classifiers.write_text(classifiers.read_text() + "\nEDITED = True\n")
    refitted = table3(splits, cache)
    assert (refitted.classifier_fits, refitted.classifier_hits) == (3, 0)
    assert_same(refitted, expected)


def test_another_seed_refits(splits: dict[str, CoosSplit], cache: Path) -> None:
    assert table3(splits, cache, seed=1).classifier_fits == 3
    assert table3(splits, cache).classifier_hits == 3


@pytest.mark.parametrize("damage", ["flip", "garbage", "empty"])
def test_a_damaged_entry_is_named_and_refitted(
    splits: dict[str, CoosSplit], cache: Path, expected: Table3Result, damage: str
) -> None:
    entry = next((cache / "classifiers").glob("Texture__L1_LR-*.npz"))
    raw = entry.read_bytes()
    if damage == "flip":
        start = raw.index(b"predictions_test2.npy") + 200  # inside the stored array
        entry.write_bytes(raw[:start] + bytes([raw[start] ^ 0x01]) + raw[start + 1 :])
    else:
        entry.write_bytes(b"" if damage == "empty" else b"not a zip file")
    with pytest.warns(UserWarning, match=f"classifier cache {entry} is damaged"):
        again = table3(splits, cache)
    assert (again.classifier_fits, again.classifier_hits) == (1, 2)
    assert_same(again, expected)
    assert table3(splits, cache).classifier_hits == 3


def test_key_covers_every_input_but_the_execution_settings() -> None:
    cache = ClassifierCache(Path("unused"))
    features, labels = {"train": "k1", "test1": "k2"}, {"train": np.array([0, 1])}
    settings = {"seed": 0, "cv_folds": 2, "clusters_by_split": {"train": None}, "n_jobs": 1}
    key = cache.key(features, labels, "Texture", "RF", settings)
    execution = {**settings, "n_jobs": -1, "scheduler": "tcp://x:8786", "progress": False}
    assert key == cache.key(features, labels, "Texture", "RF", execution)
    changed = [
        cache.key({**features, "test1": "k3"}, labels, "Texture", "RF", settings),
        cache.key(features, {"train": np.array([1, 0])}, "Texture", "RF", settings),
        cache.key(features, labels, "VGG16 Conv1_1", "RF", settings),
        cache.key(features, labels, "Texture", "kNN", settings),
        cache.key(features, labels, "Texture", "RF", {**settings, "seed": 1}),
        cache.key(features, labels, "Texture", "RF", {**settings, "search_draws": 5}),
        cache.key(features, labels, "Texture", "RF", {**settings, "bootstrap_samples": 50}),
        cache.key(
            features, labels, "Texture", "RF", {**settings, "clusters_by_split": {"train": [0]}}
        ),
    ]
    assert key not in changed and len(set(changed)) == len(changed)


def test_an_entry_round_trips_with_its_row_order_and_nan(tmp_path: Path) -> None:
    path = tmp_path / "entry.npz"
    row = {"features": "Texture", "model": "kNN", "train": 1.5, "train_well_ci_low": np.nan}
    predictions = {"train": np.array([0, 3, 6], dtype=np.int64)}
    write_rows(path, "k", row, predictions, {})
    read, predicted = read_rows(path, "k", ["train"])
    assert list(read) == list(row) and np.isnan(read["train_well_ci_low"])
    np.testing.assert_array_equal(predicted["train"], predictions["train"])
    with pytest.raises(ValueError, match="another key"):
        read_rows(path, "other", ["train"])
    with pytest.raises(ValueError, match="holds splits"):
        read_rows(path, "k", ["train", "test1"])


def test_a_failed_write_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_savez(handle: Any, **arrays: Any) -> None:
        handle.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(cache_module.np, "savez", broken_savez)
    path = tmp_path / "classifiers" / "entry.npz"
    with pytest.raises(OSError, match="disk full"):
        write_rows(path, "k", {"model": "kNN"}, {"train": np.zeros(2, dtype=np.int64)}, {})
    assert list(path.parent.iterdir()) == []
