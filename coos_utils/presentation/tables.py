"""The tables the chapters show: Table 3 with intervals, beside the paper, sensitivities."""

from __future__ import annotations

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


def with_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Table 3 as text, ``error [ci_low, ci_high]`` per split, for display."""
    splits = [s for s in SPLIT_NAMES if s in table.columns]
    shown = table[["features", "model"]].copy()
    for split in splits:
        shown[split] = [
            f"{row[split]:.1f} [{row[f'{split}_ci_low']:.1f}, {row[f'{split}_ci_high']:.1f}]"
            for _, row in table.iterrows()
        ]
    return shown.set_index(["features", "model"])


def sensitivity_wide(sens: pd.DataFrame) -> pd.DataFrame:
    """Sensitivities with one row per (features, model, class) and one column per split."""
    splits = [s for s in SPLIT_NAMES if s in set(sens["split"])]
    wide = sens.pivot_table(
        index=["features", "model", "class"], columns="split", values="sensitivity", sort=False
    )
    return wide[splits]
