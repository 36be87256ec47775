"""Work is keyed by each split's content: an ablation that leaves a split alone reuses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from coos_utils.data import load_splits
from coos_utils.features import TextureRepresentation, features_for
from coos_utils.synthetic import CLASS_DRIFTS
from coos_utils.synthetic.simulate import Simulation


@pytest.fixture(scope="module")
def drifts_off(tiny_data: Path) -> Path:
    """The tiny data simulated again with the class-specific test3 drifts off."""
    simulation = Simulation.from_attrs(load_splits(tiny_data)["train"].attrs)
    return simulation.with_shifts_off(tiny_data.parent, *CLASS_DRIFTS)


def test_only_test3_changes_when_its_drifts_are_off(tiny_data: Path, drifts_off: Path) -> None:
    on, off = load_splits(tiny_data), load_splits(drifts_off)
    changed = {n for n in on if on[n].content_fingerprint() != off[n].content_fingerprint()}
    assert changed == {"test3"}
    assert all(on[n].fingerprint() != off[n].fingerprint() for n in on)  # attributes differ


def test_the_drift_ablation_extracts_no_feature_of_an_unchanged_split(
    tiny_data: Path, drifts_off: Path, tmp_path: Path
) -> None:
    rep = TextureRepresentation(n_jobs=1, progress=False)
    features_for(rep, load_splits(tiny_data), cache_dir=tmp_path)
    again = features_for(rep, load_splits(drifts_off), cache_dir=tmp_path)
    hits = {split: entry.hit for split, entry in again.entries["texture"].items()}
    assert hits == {"train": True, "test1": True, "test2": True, "test3": False, "test4": True}
