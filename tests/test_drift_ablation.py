"""The drift ablation's report: one sentence per row, numbers taken from both data sets; on
data the simulator did not make, a reason instead of an ablation."""

from pathlib import Path

import pandas as pd

from coos_utils.analysis.drift_ablation import (
    AS_SIMULATED,
    CLAIMS_FILE,
    DRIFTS_SWITCHED_OFF,
    NOT_SIMULATED,
    TABLE_FILE,
    DriftAblation,
    ablation_summary,
    run_drift_ablation,
)
from coos_utils.data.errors import CoosDataError
from coos_utils.presentation.chapter_table3 import drift_ablation_view
from coos_utils.profiles import PROFILES


def _rows(data: str, test3: float) -> dict:
    return {
        "data": data,
        "features": "Texture",
        "model": "L1 LR",
        "test1": 3.5,
        "test2": 4.4,
        "test3": test3,
        "test4": 17.4,
    }


def test_summary_sets_each_rows_test3_side_by_side() -> None:
    both = pd.DataFrame([_rows(AS_SIMULATED, 13.32), _rows(DRIFTS_SWITCHED_OFF, 4.86)])
    assert ablation_summary(both) == (
        "- Texture + L1 LR: test3 13.3% as simulated, 4.9% with the drifts off "
        "(test1 3.5%, test2 4.4%); test4 17.4% and 17.4%."
    )


def test_summary_skips_rows_missing_on_one_side() -> None:
    both = pd.DataFrame([_rows(AS_SIMULATED, 13.3)])
    assert ablation_summary(both) == ""


def test_data_the_simulator_did_not_make_give_a_skipped_ablation() -> None:
    def refuse(*names: str) -> Path:
        raise CoosDataError("data/real", "not simulated data")

    ablation = run_drift_ablation(refuse, pd.DataFrame(), PROFILES["smoke"])
    assert ablation.skipped == NOT_SIMULATED
    assert ablation.write(lambda frame, name: Path(name)) == []
    assert [item.data for item in drift_ablation_view(ablation, [], "x", str)] == [NOT_SIMULATED]


def test_a_run_ablation_writes_both_tables_and_shows_each_with_its_note() -> None:
    rows = pd.DataFrame([_rows(AS_SIMULATED, 13.3), _rows(DRIFTS_SWITCHED_OFF, 4.9)])
    claims = pd.DataFrame({"claim": ["1"], AS_SIMULATED: ["holds"], "off": ["does not hold"]})
    ablation = DriftAblation(rows, claims)
    written = ablation.write(lambda frame, name: Path(name))
    assert written == [Path(TABLE_FILE), Path(CLAIMS_FILE)]
    shown = drift_ablation_view(ablation, written, "synthetic", lambda p: f"note {p}")
    assert shown.count(f"note {TABLE_FILE}") == 1 and shown[-1] == f"note {CLAIMS_FILE}"
    table = shown[1].data
    assert list(table.columns) == ["data", "classifier", "test1", "test2", "test3", "test4"]
    assert list(table["data"]) == [AS_SIMULATED, DRIFTS_SWITCHED_OFF]
    assert list(table["test3"]) == [13.3, 4.9]
