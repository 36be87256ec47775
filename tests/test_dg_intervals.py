"""Issue 26, items 2 and 3: DG intervals that respect an error's bounds and name what they
resample, computed from each trial's predictions on the full test sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coos_utils.data import CoosDataError, load_split
from coos_utils.dg.chapter import sweep_settings
from coos_utils.dg.summary import compare_to_erm, summarise
from coos_utils.dg.sweep import TRIALS_FOLDER, make_sweep, run_sweep
from coos_utils.dg.trial import (
    PREDICTIONS,
    SplitPredictions,
    read_predictions,
    trial_folder,
    write_predictions,
)
from coos_utils.metrics import IMAGES, RANGE, WELLS, balanced_error
from coos_utils.presentation.chapter_dg import interval_words, profile_line, sample_words
from coos_utils.presentation.findings import dg_finding
from coos_utils.profiles import PROFILES
from coos_utils.reference import TEST_SPLITS
from tests.helpers import DG_TINY

PER_CLASS = 100


def predictions_with_error(error: float, wells: bool = False) -> SplitPredictions:
    """100 images per class of which the first ``error`` % are taken for the next class (so
    the balanced error is ``error``); with ``wells``, ten wells of ten images per class."""
    labels = np.repeat(np.arange(7), PER_CLASS)
    predicted = labels.copy()
    for label in range(7):
        wrong = np.flatnonzero(labels == label)[: int(round(error))]
        predicted[wrong] = (label + 1) % 7
    clusters = np.arange(len(labels)) // 10 if wells else None
    return SplitPredictions(labels, predicted, clusters)


def fake_records(
    rows: list[tuple[str, int, int, str, float]], folder: Path, wells: bool = False
) -> pd.DataFrame:
    """A records table (as ``sweep.records_table`` makes it) of rows (method, draw, seed,
    split, balanced error), each trial's folder holding test predictions with those errors."""
    frame = pd.DataFrame(rows, columns=["method", "hparams_seed", "seed", "split", "value"])
    frame["metric"] = "balanced_error"
    frame["trial_id"] = (
        frame["method"] + frame["hparams_seed"].astype(str) + frame["seed"].astype(str)
    )
    frame["hparams"] = frame["hparams_seed"].map(lambda h: json.dumps({"lr": h}))
    frame["note"] = ""
    frame["folder"] = [str(folder / t) for t in frame["trial_id"]]
    frame["zero_losses"] = ""
    tests = frame[frame["split"] != "validation"]
    for trial, group in tests.groupby("folder"):
        found = {r.split: predictions_with_error(r.value, wells) for r in group.itertuples()}
        entry = write_predictions(Path(trial), found)
        (Path(trial) / "record.json").write_text(json.dumps({"predictions": entry}))
    return frame


def _two_far_apart_seeds(folder: Path, wells: bool = False) -> pd.DataFrame:
    rows = []
    for seed, error in ((0, 5.0), (1, 60.0)):  # a t-interval over these two leaves [0, 100]
        for method, shift in (("ERM", 0.0), ("MixStyle", 30.0)):
            rows.append((method, 0, seed, "validation", 1.0))
            rows += [(method, 0, seed, s, abs(error - shift)) for s in TEST_SPLITS]
    return fake_records(rows, folder, wells)


def test_dg_intervals_stay_in_range_over_two_seeds_and_name_what_they_resample(
    tmp_path: Path,
) -> None:
    records = _two_far_apart_seeds(tmp_path)
    summary = summarise(records, n_boot=200)
    assert summary[["ci_low", "ci_high"]].notna().all().all()
    assert (summary["ci_low"] >= 0).all() and (summary["ci_high"] <= 100).all()
    assert (summary["ci_low"] <= summary["mean"]).all()
    assert (summary["mean"] <= summary["ci_high"]).all()
    errors = summary[summary["metric"] == "balanced_error"]
    assert set(errors["interval"]) == {IMAGES}
    assert set(summary.loc[summary["metric"] == "macro_f1", "interval"]) == {RANGE}
    erm = errors.set_index(["method", "split"]).loc[("ERM", "test3")]
    assert erm["mean"] == pytest.approx(32.5) and erm["seeds"] == 2
    paired = compare_to_erm(records, n_boot=200)
    assert (paired["ci_low"] >= -100).all() and (paired["ci_high"] <= 100).all()
    assert set(paired.loc[paired["metric"] == "balanced_error", "interval"]) == {IMAGES}
    assert "images" in interval_words(summary) and "images" in interval_words(paired)
    assert "nan" not in dg_finding(paired, summary, "L", True)


def test_dg_intervals_resample_wells_where_the_data_have_them(tmp_path: Path) -> None:
    records = _two_far_apart_seeds(tmp_path, wells=True)
    summary = summarise(records, n_boot=200)
    errors = summary[summary["metric"] == "balanced_error"]
    assert set(errors["interval"]) == {WELLS}
    assert (errors["ci_low"] >= 0).all() and (errors["ci_high"] <= 100).all()
    assert "wells" in interval_words(summary)


def test_a_sweep_scores_every_test_image_and_keeps_each_prediction(
    tiny_data: Path, tmp_path: Path
) -> None:
    settings = {**DG_TINY, "max_val_images": 30}
    (spec,) = make_sweep(tiny_data, ["ERM"], n_draws=1, seeds=[0], **settings)
    records = run_sweep([spec], tmp_path, serial=True, progress=False)
    folder = trial_folder(tmp_path / TRIALS_FOLDER, spec)
    record = json.loads((folder / "record.json").read_text())
    assert record["validation"]["images"] == 30  # only validation is subsampled
    predictions = read_predictions(folder)
    for name in TEST_SPLITS:
        split = load_split(tiny_data, name)
        kept = predictions[name]
        assert record["test"][name]["images"] == len(split) > 30
        assert np.array_equal(kept.labels, split.labels)
        assert kept.wells is not None and len(kept.wells) == len(split)
        scored = balanced_error(kept.labels, kept.predicted)
        assert scored == pytest.approx(record["test"][name]["balanced_error"])
    summary = summarise(records, n_boot=50)
    assert set(summary.loc[summary["metric"] == "balanced_error", "interval"]) == {WELLS}
    altered = bytearray((folder / PREDICTIONS).read_bytes())
    altered[len(altered) // 2] ^= 0xFF
    (folder / PREDICTIONS).write_bytes(bytes(altered))
    with pytest.raises(CoosDataError, match=f"{PREDICTIONS}.*checksum"):
        summarise(records)


def test_every_profile_subsamples_only_validation_and_shift_images_and_says_how_many() -> None:
    for profile in PROFILES.values():
        dg = profile.dg
        assert "max_eval_images" not in dg and "max_val_images" in sweep_settings(dg)
        line = profile_line(dg)
        assert "every test set is scored on all its images" in line
        assert sample_words(dg["max_val_images"]) in line
    smoke = PROFILES["smoke"].dg
    assert "at most 100 images" in sample_words(smoke["max_shift_images"])
    assert sample_words(None) == "all images"
