"""Tables for reading: intervals inline, no index column, words for booleans, rows marked."""

import numpy as np
import pandas as pd

from coos_utils.presentation.tables import (
    dg_vs_erm_readable,
    folded_table,
    interval_text,
    mark_cut_short,
    paper_side_by_side,
    readable,
    table3_readable,
)
from coos_utils.reference import SPLIT_NAMES, TEST_SPLITS


def _table() -> pd.DataFrame:
    rows = []
    for features, model in [("Texture", "L1 LR"), ("PCI Conv3", "kNN"), ("New", "kNN")]:
        row = {"features": features, "model": model}
        for split in SPLIT_NAMES:
            row |= {split: 13.32, f"{split}_ci_low": 12.3, f"{split}_ci_high": 14.44}
        rows.append(row)
    return pd.DataFrame(rows)


def test_interval_text() -> None:
    assert interval_text(13.32, 12.3, 14.44) == "13.3 (12.3–14.4)"
    assert interval_text(-5.41, -8.1, -2.7) == "-5.4 (-8.1 to -2.7)"
    assert interval_text(2.0) == "2.0" and interval_text(np.nan) == "–"


def test_table3_readable_inlines_intervals_and_marks_rows_cut_short() -> None:
    shown, note = table3_readable(_table(), cut_short={"pci": "stopped at 200 iterations"})
    assert list(shown.columns) == ["representation", "classifier", *SPLIT_NAMES]
    assert shown.loc[0, "test3"] == "13.3 (12.3–14.4)"
    assert list(shown["representation"]) == ["Texture", "PCI Conv3 †", "New"]
    assert "† PCI: stopped at 200 iterations." in note


def test_paper_side_by_side_has_two_short_columns_per_split() -> None:
    wide, note = paper_side_by_side(_table())
    assert [c for c in wide.columns if c[0]] == [
        (s, w) for s in TEST_SPLITS for w in ("ours", "paper")
    ]
    assert wide.loc[0, ("test3", "paper")] == "12.0" and wide.loc[0, ("test3", "ours")] == "13.3"
    assert wide.loc[2, ("test4", "paper")] == "–" and "real COOS-7" in note


def test_readable_hides_the_index_and_writes_booleans_as_words() -> None:
    frame = pd.DataFrame({"x": [1.234, 2.0], "ok": [True, False]}).set_index(pd.Index(["a", "b"]))
    html = readable(frame).to_html()
    assert "yes" in html and "no" in html and "True" not in html and "1.2" in html
    assert ">a<" not in html  # the unnamed index is gone


def test_dg_vs_erm_readable_and_folded_table() -> None:
    paired = pd.DataFrame(
        {
            "method": ["A", "A"],
            "split": ["test3", "test4"],
            "metric": "balanced_error",
            "mean_diff": [-5.4, 1.0],
            "ci_low": [-8.1, -1.0],
            "ci_high": [-2.7, 3.0],
            "seeds": 3,
            "helps": [True, False],
            "hurts": [False, False],
        }
    )
    shown = dg_vs_erm_readable(paired)
    assert list(shown.columns) == ["method", "test3", "test4"]
    assert shown.loc[0, "test3"] == "-5.4 (-8.1 to -2.7) better"
    html = folded_table(paired, "Full table", "../../results/x/dg_vs_erm.csv")
    assert html.startswith("<details") and '<a href="../../results/x/dg_vs_erm.csv">' in html


def test_mark_cut_short_gives_each_reason_its_own_mark() -> None:
    frame = pd.DataFrame({"features": ["DeepLoc", "PCI Conv1", "Texture"]})
    marked, note = mark_cut_short(frame, {"deeploc": "a", "pci": "b"})
    assert list(marked["features"]) == ["DeepLoc †", "PCI Conv1 ‡", "Texture"]
    assert note == "† DeepLoc: a. ‡ PCI: b."
