"""Issue 26, item 1: a DG method that had no effect is said so, never shown as "+0.0".

On COOS-7 files without plate ids (only ``data`` and ``labels``, the Zenodo file names) the
example V-REx plug-in, which needs domains, is not run; a method that nonetheless trains as
ERM (here V-REx told it needs no domains: its variance penalty is 0 with one domain) is
marked "identical to ERM" in every table, figure and sentence, and its always-zero penalty
is named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import matplotlib
import pandas as pd
import pytest

from coos_utils.dg.summary import IDENTICAL, compare_to_erm, paired_findings, summarise
from coos_utils.dg.sweep import TRIALS_FOLDER, make_sweep, run_sweep
from coos_utils.dg.trial import read_record
from coos_utils.presentation import chapter_dg, chapter_your_model
from coos_utils.presentation.dg_figures import plot_methods
from coos_utils.presentation.dg_forest import plot_dg_forest
from coos_utils.presentation.findings import dg_finding
from coos_utils.reference import TEST_SPLITS
from tests.helpers import DG_TINY

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "notebooks" / "my_dg_method.py"
YOURS = pd.DataFrame(
    [{"features": "small CNN", "test1": 10.0, "test2": 12.0, "test3": 20.0, "test4": 30.0}]
)
"""A scored model of one's own (chapter 06's first table), for the opening sentences."""
ZERO = re.compile(r"(?<![0-9.])[+-]?0\.0(?![0-9])")
"""A difference of zero written as a number ("+0.0", "0.0 points"), not "10.0" or "20.0"."""
ZENODO = {
    "train": "COOS7_v1.1_training.hdf5",
    **{name: f"COOS7_v1.1_{name}.hdf5" for name in TEST_SPLITS},
}


@pytest.fixture(scope="module")
def zenodo_files(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny data as the Zenodo release has it: only ``data`` and ``labels``, no plate ids."""
    folder = tmp_path_factory.mktemp("zenodo")
    for split, name in ZENODO.items():
        (source,) = tiny_data.glob(f"*_{split}.hdf5")
        with h5py.File(source, "r") as old, h5py.File(folder / name, "w") as new:
            new["data"] = old["data"][()]
            new["labels"] = old["labels"][()]
    return folder


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trials folder for the module, so that ERM's trials are run once."""
    return tmp_path_factory.mktemp("trials")


def _ones_own_vrex(folder: Path) -> str:
    """The example V-REx with ``needs_domains`` switched off: on one domain it is ERM."""
    path = folder / "one_domain_vrex.py"
    path.write_text(
        PLUGIN.read_text() + "\n\nclass OneDomainVREx(VREx):\n    needs_domains = False\n",
        encoding="utf-8",
    )
    return f"{path}:OneDomainVREx"


def test_vrex_on_files_without_plate_ids_is_not_run_never_shown_as_zero(
    zenodo_files: Path, out_dir: Path
) -> None:
    methods = ["ERM", f"{PLUGIN}:VREx"]
    specs = make_sweep(zenodo_files, methods, n_draws=1, seeds=[0], **DG_TINY)
    records = run_sweep(specs, out_dir, serial=True, progress=False)
    summary = summarise(records, n_boot=50)
    vrex = summary[summary["method"] == "VREx"]
    assert len(vrex) == 2 * len(TEST_SPLITS) and (vrex["seeds"] == 0).all()
    assert vrex["mean"].isna().all() and vrex["note"].str.contains("VREx not run").all()
    paired = compare_to_erm(records, n_boot=50)
    assert "VREx" not in set(paired["method"])
    text = chapter_your_model.your_model_finding(
        YOURS,
        None,
        paired,
        summary,
        "L",
        True,
    )
    assert "VREx not run: no domain ids" in text and "+0.0" not in text
    table = chapter_dg.paired_readable(paired, summary).set_index("method")
    assert (table.loc["VREx"] == chapter_dg.NOT_RUN).all()


def test_a_method_identical_to_erm_is_marked_everywhere_never_shown_as_a_difference(
    zenodo_files: Path, out_dir: Path, tmp_path: Path
) -> None:
    methods = ["ERM", _ones_own_vrex(tmp_path)]
    specs = make_sweep(zenodo_files, methods, n_draws=1, seeds=[0, 1], **DG_TINY)
    records = run_sweep(specs, out_dir, serial=True, progress=False)
    record = read_record(out_dir / TRIALS_FOLDER, specs[-1])
    assert record["losses_ever_nonzero"] == {"loss": True, "vrex_penalty": False}

    summary = summarise(records, n_boot=50)
    mine = summary[summary["method"] == "OneDomainVREx"].set_index(["split", "metric"])
    erm = summary[summary["method"] == "ERM"].set_index(["split", "metric"])
    assert mine["note"].str.startswith(IDENTICAL).all()
    assert mine["note"].str.contains("`vrex_penalty` was 0 at every training step").all()
    assert (erm["note"] == "").all()
    assert mine["mean"].tolist() == erm["mean"].tolist()  # real numbers, kept in dg.csv

    paired = compare_to_erm(records, n_boot=50)
    assert set(paired["method"]) == {"OneDomainVREx"}
    assert paired[["mean_diff", "ci_low", "ci_high"]].isna().all().all()
    assert paired["note"].str.startswith(IDENTICAL).all()
    assert not paired["helps"].any() and not paired["hurts"].any()

    sentences = [
        paired_findings(paired, summary),
        dg_finding(paired, summary, "L", True),
        chapter_your_model.your_model_finding(
            YOURS,
            None,
            paired,
            summary,
            "L",
            True,
        ),
        chapter_dg.method_notes(records, summary, ""),
    ]
    for text in sentences:
        assert IDENTICAL in text and not ZERO.search(text)
    table = chapter_dg.paired_readable(paired, summary).set_index("method")
    assert (table.loc["OneDomainVREx"] == IDENTICAL).all()
    methods_table = chapter_dg.summary_readable(summary)
    assert f"OneDomainVREx ({IDENTICAL})" in set(methods_table["method"])

    forest = plot_dg_forest(paired, "L")
    assert all(any(t.get_text() == "identical to ERM" for t in ax.texts) for ax in forest.axes[:4])
    assert not [line for ax in forest.axes for line in ax.get_lines() if line.get_marker() == "o"]
    legend = plot_methods(summary, "L").axes[0].get_legend_handles_labels()[1]
    assert "OneDomainVREx (identical to ERM)" in legend
    json.dumps(record)  # the record stays plain JSON
