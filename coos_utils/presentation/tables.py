"""The tables the chapters show: Table 3 with intervals, beside the paper, sensitivities; and
the same made for reading (no index column, intervals inline, long tables folded, rows cut
short marked)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from coos_utils.reference import SPLIT_NAMES, TEST_SPLITS, paper_table3


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


# --- Tables for reading: no index column, intervals inline, words for booleans ------------

DASH = "–"
"""Shown for a missing value, and between the bounds of an interval."""
MARKS = ("†", "‡", "§", "¶")
"""Footnote marks for rows cut short, one per distinct reason (wrapping with a number)."""
WORDS = {True: "yes", False: "no"}


def interval_text(
    value: float, low: float = np.nan, high: float = np.nan, decimals: int = 1
) -> str:
    """``13.3 (12.3–14.4)``; ``13.3`` without bounds; ``–`` without a value. Bounds below
    zero read ``-5.4 (-8.1 to -2.7)`` so that a minus sign is never next to the dash."""
    if pd.isna(value):
        return DASH
    text = f"{value:.{decimals}f}"
    if pd.isna(low) or pd.isna(high):
        return text
    join = " to " if min(low, high) < 0 else DASH
    return f"{text} ({low:.{decimals}f}{join}{high:.{decimals}f})"


def readable(frame: pd.DataFrame, decimals: int = 1, caption: str | None = None) -> Styler:
    """``frame`` for reading: no index column (a named index becomes columns), one number of
    decimals for every float, booleans as yes/no, missing values as a dash."""
    shown = frame.reset_index() if _has_named_index(frame) else frame.reset_index(drop=True)
    shown = shown.copy()
    for column in shown.columns:
        values = shown[column]
        if values.dtype == bool or str(values.dtype) == "boolean":
            shown[column] = values.map(lambda v: DASH if pd.isna(v) else WORDS[bool(v)])
    floats = [c for c in shown.columns if pd.api.types.is_float_dtype(shown[c])]
    styler = shown.style.hide(axis="index").format(precision=decimals, na_rep=DASH)
    styler = styler.format(f"{{:.{decimals}f}}", subset=floats, na_rep=DASH)
    return styler.set_caption(caption) if caption else styler


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)


def table3_readable(
    table: pd.DataFrame,
    splits: Sequence[str] | None = None,
    kind: str | None = None,
    cut_short: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Table 3 as text, one row per classifier (columns representation, classifier, then each
    split as ``error (low–high)``), and the note under it: which interval, and a footnote for
    every row marked as cut short (see :func:`mark_cut_short`)."""
    splits = list(splits or _splits(table))
    kind = kind or interval_kind(table)
    shown = pd.DataFrame({"representation": table["features"], "classifier": table["model"]})
    for split in splits:
        low, high = _bounds(split, kind)
        shown[split] = [
            interval_text(row[split], row.get(low, np.nan), row.get(high, np.nan))
            for _, row in table.iterrows()
        ]
    shown, footnote = mark_cut_short(shown, cut_short or {}, column="representation")
    note = "Balanced error (%), 95% interval in parentheses. " + interval_caption(table, kind)
    return shown.reset_index(drop=True), " ".join(p for p in (note, footnote) if p)


def paper_side_by_side(
    table: pd.DataFrame,
    splits: Sequence[str] = TEST_SPLITS,
    cut_short: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Our balanced error beside the paper's, two short columns per split (``ours``,
    ``paper``; column labels ``(split, source)``), one row per classifier, and its note. The
    paper has no row for features it did not compute (random init): a dash there. Call it
    twice with two groups of splits when the page is narrow."""
    paper = paper_table3().set_index(["features", "model"])
    names = pd.DataFrame({"representation": table["features"], "classifier": table["model"]})
    names, footnote = mark_cut_short(names, cut_short or {}, column="representation")
    columns = {("", name): names[name].to_list() for name in names.columns}
    keys = list(zip(table["features"], table["model"], strict=True))
    for split in splits:
        columns[(split, "ours")] = [interval_text(v) for v in table[split]]
        columns[(split, "paper")] = [
            interval_text(paper.loc[k, split]) if k in paper.index else DASH for k in keys
        ]
    wide = pd.DataFrame(columns).reset_index(drop=True)
    wide.columns = pd.MultiIndex.from_tuples(wide.columns)
    note = (
        "Balanced error (%): ours on this run, the paper's on the real COOS-7 (no intervals "
        f"published; {DASH} where the paper has no such row)."
    )
    return wide, " ".join(p for p in (note, footnote) if p)


def dg_vs_erm_readable(paired: pd.DataFrame, metric: str = "balanced_error") -> pd.DataFrame:
    """The paired differences from ERM (``dg_vs_erm.csv``) as one row per method and one
    column per test set: ``mean (low to high)``, followed by ``better`` or ``worse`` when the
    whole interval is on one side of zero."""
    rows = paired[paired["metric"] == metric]
    splits = [s for s in TEST_SPLITS if s in set(rows["split"])]
    shown = {}
    for method, group in rows.groupby("method", sort=False):
        by_split = group.set_index("split")
        shown[method] = [
            _paired_cell(by_split.loc[s]) if s in by_split.index else DASH for s in splits
        ]
    table = pd.DataFrame.from_dict(shown, orient="index", columns=splits)
    return table.rename_axis("method").reset_index()


def _paired_cell(row: pd.Series) -> str:
    text = interval_text(row["mean_diff"], row["ci_low"], row["ci_high"])
    if bool(row.get("helps", False)):
        return f"{text} better"
    if bool(row.get("hurts", False)):
        return f"{text} worse"
    return text


def folded_table(
    frame: pd.DataFrame | Styler,
    summary: str,
    csv_href: str | None = None,
    decimals: int = 3,
) -> str:
    """HTML for a long table folded away: ``<details>`` with ``summary`` as its line, the table
    (no index column) inside, and a link to the CSV when ``csv_href`` is given. Display it
    with ``IPython.display.HTML``."""
    styler = frame if isinstance(frame, Styler) else readable(frame, decimals)
    link = ""
    if csv_href:
        name = html.escape(csv_href.rsplit("/", 1)[-1])
        link = f'<p>CSV: <a href="{html.escape(csv_href)}">{name}</a></p>'
    return (
        f'<details class="full-table"><summary>{html.escape(summary)}</summary>\n'
        f'<div style="overflow-x:auto">{styler.to_html()}</div>{link}</details>'
    )


# --- Rows cut short ------------------------------------------------------------------------


def cut_short_keys(features: pd.Series, cut_short: Mapping[str, str]) -> pd.Series:
    """For each features name, the first ``cut_short`` key it starts with (case-insensitive,
    so a registry name ``pci`` matches ``PCI Conv3``), else an empty string."""

    def key(name: str) -> str:
        return next((k for k in cut_short if str(name).lower().startswith(k.lower())), "")

    return features.map(key)


def cut_short_marks(features: pd.Series, cut_short: Mapping[str, str]) -> tuple[pd.Series, str]:
    """A mark per row (empty when not cut short; one mark per ``cut_short`` key that matches)
    and the footnote (Markdown) explaining each mark used, named as the rows name it."""
    keys = cut_short_keys(features, cut_short)
    used = [k for k in dict.fromkeys(keys) if k]
    symbol = {k: MARKS[i % len(MARKS)] * (1 + i // len(MARKS)) for i, k in enumerate(used)}
    shown = {k: str(features[keys == k].iloc[0]).split(" ")[0] for k in used}
    footnote = " ".join(f"{symbol[k]} {shown[k]}: {cut_short[k].rstrip('.')}." for k in used)
    return keys.map(lambda k: symbol.get(k, "")), footnote


def mark_cut_short(
    frame: pd.DataFrame, cut_short: Mapping[str, str], column: str = "features"
) -> tuple[pd.DataFrame, str]:
    """``frame`` with a footnote mark after the name in ``column`` of every row whose
    representation is in ``cut_short`` (name -> reason, e.g. ``{"pci": "stopped at 200
    iterations with the validation loss still falling"}``), and the footnote."""
    marks, footnote = cut_short_marks(frame[column], cut_short)
    marked = frame.copy()
    marked[column] = [
        f"{name} {m}" if m else str(name) for name, m in zip(frame[column], marks, strict=True)
    ]
    return marked, footnote
