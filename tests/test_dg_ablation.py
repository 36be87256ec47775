"""The shift ablation: regenerated data per switch, cached, and the tidy table of changes."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from coos_utils.data import load_split
from coos_utils.dg.ablation import (
    ablation_data,
    ablation_findings,
    against_seed_range,
    run_ablation,
)
from coos_utils.reference import TEST_SPLITS
from coos_utils.synthetic import Simulation
from tests.helpers import DG_TINY

SETTINGS = DG_TINY


def test_ablation_regenerates_once_and_reports_changes(tiny_data: Path, tmp_path: Path) -> None:
    simulation = Simulation.from_attrs(load_split(tiny_data, "train").attrs)
    shifts_off = partial(simulation.with_shifts_off, tmp_path / "synthetic")
    out = tmp_path / "results"
    table = run_ablation(
        tiny_data,
        shifts_off,
        out,
        {"ERM": 0},
        switches=["test4_microscope"],
        serial=True,
        progress=False,
        **SETTINGS,
    )
    assert set(table["switch"]) == {"none", "test4_microscope"}
    assert set(table["split"]) == set(TEST_SPLITS)
    assert (table[table["switch"] == "none"]["change"] == 0).all()
    assert (out / "ablation.csv").exists()

    folders = ablation_data(tiny_data, shifts_off, ["test4_microscope"])
    assert folders["none"] == tiny_data
    ablated = sorted(folders["test4_microscope"].glob("*.hdf5"))
    assert folders["test4_microscope"] != tiny_data and len(ablated) == 5
    stamps = [p.stat().st_mtime_ns for p in ablated]
    ablation_data(tiny_data, shifts_off, ["test4_microscope"])  # cached: nothing is rewritten
    assert [p.stat().st_mtime_ns for p in ablated] == stamps
    with pytest.raises(ValueError, match="unknown shift switch"):
        ablation_data(tiny_data, shifts_off, ["drift_golgi"])  # not one of SWITCHES


def _changes(seed_spread: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    ablation = pd.DataFrame(
        [
            ("none", "ERM", "test3", "balanced_error", 0.0),
            ("test3_drift", "ERM", "test3", "balanced_error", -7.1),
            ("test3_drift", "ERM", "test4", "balanced_error", 1.1),
        ],
        columns=["switch", "method", "split", "metric", "change"],
    )
    ranges = pd.DataFrame(
        [("ERM", split, "balanced_error", seed_spread) for split in ("test3", "test4")],
        columns=["method", "split", "metric", "seed_range"],
    )
    return ablation, ranges


def test_changes_are_read_against_the_seed_range() -> None:
    table = against_seed_range(*_changes(2.0))
    assert table["beyond_seed_range"].tolist() == [False, True, False]
    assert ablation_findings(table) == "- test3_drift off, ERM: test3 -7.1."
    quiet = against_seed_range(*_changes(8.0))
    assert "no test set moved by more than the seed range" in ablation_findings(quiet)
    single = against_seed_range(*_changes(float("nan")))
    assert not single["beyond_seed_range"].any()
    assert "one seed" in ablation_findings(single)
