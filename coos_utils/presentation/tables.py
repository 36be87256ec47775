"""The tables the chapters show: Table 3 with intervals, beside the paper, sensitivities."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from coos_utils.reference import SPLIT_NAMES, paper_table3


def compare_with_paper(table: pd.DataFrame) -> pd.DataFrame:
    """Our balanced errors beside the paper's, per split: columns (split, ours/paper/difference).

    Rows are our (features, model) pairs; ``paper`` is NaN where the paper has no such row.
    ``difference`` is ours minus the paper's, in percentage points.
    """
    splits = [s for s in SPLIT_NAMES if s in table.columns]
    keys = ["features", "model"]
    ours = table[keys + splits].melt(keys, splits, "split", "ours")
    paper = paper_table3().melt(keys, splits, "split", "paper")
    both = ours.merge(paper, on=[*keys, "split"], how="left")
    both["difference"] = both["ours"] - both["paper"]
    wide = both.pivot_table(
        index=keys,
        columns="split",
        values=["ours", "paper", "difference"],
        sort=False,
        dropna=False,
    )
    wide = wide.swaplevel(axis=1).reindex(
        columns=pd.MultiIndex.from_product([splits, ["ours", "paper", "difference"]])
    )
    return wide.reindex(pd.MultiIndex.from_frame(table[keys]))


IMAGE, WELL = "image", "well"
"""The two kinds of interval in ``table3.csv``: images, or wells, resampled within class."""


def _splits(table: pd.DataFrame) -> list[str]:
    return [s for s in SPLIT_NAMES if s in table.columns]


def _bounds(split: str, kind: str) -> tuple[str, str]:
    infix = "_well" if kind == WELL else ""
    return f"{split}{infix}_ci_low", f"{split}{infix}_ci_high"


def interval_kind(table: pd.DataFrame) -> str:
    """:data:`WELL` when every row has a well-level interval on every split, else :data:`IMAGE`."""
    columns = [c for s in _splits(table) for c in _bounds(s, WELL)]
    if all(c in table for c in columns) and table[columns].notna().all().all():
        return WELL
    return IMAGE


def interval_caption(table: pd.DataFrame, kind: str | None = None) -> str:
    """One sentence naming the interval a display of ``table`` shows (``kind``, or the one
    :func:`with_intervals` picks) and what it does and does not cover."""
    available = interval_kind(table)
    kind = kind or available
    if kind == WELL:
        return (
            "95% bootstrap intervals over wells (plate + well resampled within each class), so "
            "they include the spread between wells; table3.csv also holds the narrower "
            "image-level intervals."
        )
    wells = [c for s in _splits(table) for c in _bounds(s, WELL) if c in table]
    if available == WELL:
        why = "table3.csv holds the well-level ones"
    elif wells and table[wells].notna().any().any():
        why = "no well-level interval: some class has fewer than two wells in some split"
    else:
        why = "no well-level interval: the data have no well ids"
    return (
        "95% bootstrap intervals over images within each class; they cover the sampling of "
        "images only, not the spread between wells or plates (test3 has two plates per class, "
        f"test4 one), so they understate the uncertainty about new plates ({why})."
    )


def with_intervals(table: pd.DataFrame, kind: str | None = None) -> pd.DataFrame:
    """Table 3 as text, ``error [ci_low, ci_high]`` per split, for display: the well-level
    interval when every row has one (:func:`interval_kind`), else the image-level one."""
    kind = kind or interval_kind(table)
    shown = table[["features", "model"]].copy()
    for split in _splits(table):
        low, high = _bounds(split, kind)
        shown[split] = [
            f"{row[split]:.1f} [{row[low]:.1f}, {row[high]:.1f}]" for _, row in table.iterrows()
        ]
    return shown.set_index(["features", "model"])


def column_notes(columns: Mapping[str, str]) -> str:
    """A Markdown list of what each column holds (e.g. ``TABLE3_COLUMNS``)."""
    return "\n".join(f"- `{name}`: {text}." for name, text in columns.items())


def sensitivity_wide(sens: pd.DataFrame) -> pd.DataFrame:
    """Sensitivities with one row per (features, model, class) and one column per split."""
    splits = [s for s in SPLIT_NAMES if s in set(sens["split"])]
    wide = sens.pivot_table(
        index=["features", "model", "class"], columns="split", values="sensitivity", sort=False
    )
    return wide[splits]
