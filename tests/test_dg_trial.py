"""One DG trial on the tiny synthetic data: the record, the done marker, and the rule that no
test split is read before model selection is final."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import pytest
import torch

from coos_utils.data import CoosDataError, CoosSplit, load_split
from coos_utils.dg.guard import EVALUATE, SELECT, SplitAccessError, SplitGuard
from coos_utils.dg.trial import TrialSpec, run_trial, trial_folder
from coos_utils.models.checkpoints import load_checkpoint
from coos_utils.reference import TEST_SPLITS

TINY = {"steps": 3, "batch_size": 16, "eval_every": 2, "max_val_images": 40}


def test_guard_refuses_test_splits_until_selection_is_final(tiny_data: Path) -> None:
    guard = SplitGuard(lambda name: load_split(tiny_data, name))
    assert guard.open("train").name == "train"
    with pytest.raises(SplitAccessError, match="test3"):
        guard.open("test3")
    guard.finalise()
    assert guard.open("test3").name == "test3"
    assert guard.log == [(SELECT, "train"), (EVALUATE, "test3")]


def test_trial_reads_test_splits_only_in_the_final_evaluation(
    tiny_data: Path, tmp_path: Path
) -> None:
    opened: list[str] = []

    def opener(name: str) -> CoosSplit:
        opened.append(name)
        return load_split(tiny_data, name)

    spec = TrialSpec("ERM", 0, 0, str(tiny_data), backbone="small_cnn", width=0.5, **TINY)
    record = run_trial(spec, tmp_path, opener=opener)
    assert opened == ["train", *TEST_SPLITS]
    assert [tuple(x) for x in record["split_access"]] == [
        (SELECT, "train"),
        *((EVALUATE, name) for name in TEST_SPLITS),
    ]
    folder = trial_folder(tmp_path, spec)
    assert (folder / "done").read_text().strip() == spec.trial_id
    saved = json.loads((folder / "record.json").read_text())
    assert saved["selected_step"] in (2, 3)
    assert saved["n_domains"] == 8  # the tiny data's plates
    assert saved["validation"]["images"] == 40  # the validation subset
    for name in TEST_SPLITS:
        result = saved["test"][name]
        assert 0 <= result["balanced_error"] <= 100 and 0 <= result["macro_f1"] <= 100
        full = len(load_split(tiny_data, name))  # test sets are scored in full
        assert sum(map(sum, result["confusion"])) == result["images"] == full > 40


def test_test_time_bn_trains_exactly_like_erm(tiny_data: Path, tmp_path: Path) -> None:
    common = {"backbone": "small_cnn", "width": 0.5, **TINY}
    erm = run_trial(TrialSpec("ERM", 1, 0, str(tiny_data), **common), tmp_path)
    ttbn = run_trial(TrialSpec("TestTimeBN", 1, 0, str(tiny_data), **common), tmp_path)
    assert ttbn["validation_history"] == erm["validation_history"]
    assert ttbn["test"] != erm["test"]  # only the test-time statistics differ


def test_trial_id_changes_with_any_setting_the_data_and_the_code(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coos_utils import codehash
    from coos_utils.dg import trial as trial_module

    spec = TrialSpec("ERM", 0, 0, str(tiny_data))
    original = spec.trial_id
    assert original.startswith("ERM-h0-s0-")
    assert TrialSpec("ERM", 0, 0, str(tiny_data), steps=301).trial_id != spec.trial_id
    copy = tmp_path / "data"
    shutil.copytree(tiny_data, copy)
    before = TrialSpec("ERM", 0, 0, str(copy)).trial_id
    (train_file,) = copy.glob("*_train.hdf5")
    with h5py.File(train_file, "r+") as handle:
        handle["labels"][0] = (handle["labels"][0] + 1) % 7
    trial_module.inputs_tag.cache_clear()
    assert TrialSpec("ERM", 0, 0, str(copy)).trial_id != before
    package = tmp_path / "package"
    shutil.copytree(codehash.package_dir(), package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(codehash, "package_dir", lambda: package)
    trial_module.inputs_tag.cache_clear()
    source = package / "dg" / "algorithms.py"
    source.write_text(source.read_text() + "\n# edited\n")
    assert TrialSpec("ERM", 0, 0, str(tiny_data)).trial_id != original
    trial_module.inputs_tag.cache_clear()
    with pytest.raises(ValueError, match="ContriMix"):
        TrialSpec("SWAD", 0, 0, "/data")


def test_a_tiny_deeploc_trial_runs(tiny_data: Path, tmp_path: Path) -> None:
    spec = TrialSpec("MixStyle", 0, 0, str(tiny_data), backbone="deeploc", width=0.0625, **TINY)
    record = run_trial(spec, tmp_path, keep_model=True)
    assert set(record["test"]) == set(TEST_SPLITS)
    weights = trial_folder(tmp_path, spec) / "model.pt"
    assert load_checkpoint(weights, torch.device("cpu"))  # kept with its checksum
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CoosDataError, match="model.pt.*checksum"):
        load_checkpoint(weights, torch.device("cpu"))
