"""The drift ablation's report: one sentence per row, numbers taken from both data sets."""

import pandas as pd

from coos_utils.benchmark.ablation import AS_SIMULATED, DRIFTS_SWITCHED_OFF, ablation_summary


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
