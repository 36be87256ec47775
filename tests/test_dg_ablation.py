"""The shift ablation: regenerated data per switch, cached, and the tidy table of changes."""

from __future__ import annotations

from pathlib import Path

from coos_utils.dg.ablation import ablation_data, run_ablation
from coos_utils.reference import TEST_SPLITS

SETTINGS = {
    "steps": 2,
    "batch_size": 16,
    "eval_every": 2,
    "max_eval_images": 30,
    "backbone": "small_cnn",
    "width": 0.25,
}


def test_ablation_regenerates_once_and_reports_changes(tiny_data: Path, tmp_path: Path) -> None:
    root = tiny_data.parent  # the default tiny data are there already
    out = tmp_path / "results"
    table = run_ablation(
        root,
        "tiny",
        0,
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

    folders = ablation_data(root, "tiny", 0, ["test4_microscope"])
    assert folders["none"] == tiny_data
    ablated = sorted(folders["test4_microscope"].glob("*.hdf5"))
    assert folders["test4_microscope"] != tiny_data and len(ablated) == 5
    stamps = [p.stat().st_mtime_ns for p in ablated]
    ablation_data(root, "tiny", 0, ["test4_microscope"])  # cached: nothing is rewritten
    assert [p.stat().st_mtime_ns for p in ablated] == stamps
