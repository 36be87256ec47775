"""``coos results``: list the results folders; ``coos results collect A B ...``: one table.

``coos results`` prints one row per folder under ``--results-dir`` (data id, profile, code
hash, date, status, what it holds). ``coos results collect`` reads the chosen folders
(:func:`coos_utils.results.collect.collect`) and prints their balanced errors side by side,
mean and interval per split, in Markdown or (``--latex``) as a booktabs table, each row's
interval named in its ``interval`` column and the caption; ``--csv FILE`` also writes the long
table. Bad input ends with one line and exit code 2 (``coos``'s rule); output cut short by its
reader (``coos results | head``) ends quietly.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from coos_utils.results.collect import IMAGES, OUT_OF_RANGE, RANGE, T_OVER_SEEDS, UNNAMED, WELLS

KIND_TEXT = {
    WELLS: "95% percentile bootstrap, wells (plate + well) resampled within each class",
    IMAGES: "95% percentile bootstrap, images resampled within each class",
    RANGE: "lowest and highest value over the seeds",
    T_OVER_SEEDS: "95% t-interval over the seeds (older files)",
    UNNAMED: "an interval whose kind dg.csv does not name",
}
"""What the caption says of each interval kind (a kind not listed is quoted as written)."""
SEEDS_NOTE = (
    "a bootstrap of a mean over seeds scores every seed on the same resample of the test "
    "images or wells"
)
"""The caption's note for rows that are means over seeds."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``results`` (and its ``collect`` action) to the ``coos`` command's sub-parsers."""
    p = subparsers.add_parser("results", help="list results folders, or collect them in a table")
    p.add_argument("--results-dir", type=Path, default=Path("results"))
    actions = p.add_subparsers(dest="action")
    c = actions.add_parser("collect", help="one comparison table of chosen results folders")
    c.add_argument(
        "folders", nargs="+", help="results folders: paths, or <data-id>/<name> as listed"
    )
    c.add_argument("--latex", action="store_true", help="a LaTeX (booktabs) table")
    c.add_argument("--csv", type=Path, default=None, help="also write the long table here")
    p.set_defaults(handler=run_results)
    return p


def run_results(args: argparse.Namespace) -> int:
    """The handler: list the folders, or collect the chosen ones."""
    if getattr(args, "action", None) == "collect":
        return _print(collected_text(args.folders, args.results_dir, args.latex, args.csv))
    return _print(listing_text(args.results_dir))


def _print(text: str) -> int:
    """Print ``text``; 0 (a reader that stops reading, ``| head``, is handled by ``coos``)."""
    print(text)
    return 0


def listing_text(results_dir: Path) -> str:
    """The folders under ``results_dir`` as a Markdown table (or a sentence when none)."""
    from coos_utils.presentation.comparison import to_markdown
    from coos_utils.results.collect import list_results

    table = list_results(results_dir)
    if table.empty:
        return f"no results folders under {results_dir} (run a chapter, or `coos evaluate`)"
    return (
        to_markdown(table) + f"\n\nCollect some: coos results collect {table['folder'].iloc[0]} ..."
    )


def caption(long: pd.DataFrame) -> str:
    """The table's caption: what each interval kind in the collected rows' ``interval``
    column (one or several joined by ``; ``) is."""
    kinds = long["interval"].astype(str).str.split(";").explode().str.strip()
    named = [k for k in dict.fromkeys(kinds) if k != OUT_OF_RANGE]
    said = "; ".join(f"{k}: {KIND_TEXT.get(k, 'as its file names it')}" for k in named)
    text = f"Balanced error (%), mean [interval]; the interval column names each row's: {said}"
    if (kinds == OUT_OF_RANGE).any():
        text += f"; {OUT_OF_RANGE}: the file's interval leaves the error's range"
    if (long["interval"].isin([WELLS, IMAGES]) & (long["seeds"] > 1)).any():
        text += f". Rows that are means over seeds: {SEEDS_NOTE}"
    return text + "."


def collected_text(
    folders: list[str], results_dir: Path, latex: bool = False, csv: Path | None = None
) -> str:
    """The chosen folders' comparison table, Markdown or LaTeX, with its caption."""
    from coos_utils.presentation.comparison import to_latex, to_markdown
    from coos_utils.results.collect import collect, wide
    from coos_utils.results.store import write_csv

    long = collect(folders, results_dir)
    table = wide(long)
    note = caption(long)
    text = to_latex(table, note) if latex else f"{to_markdown(table)}\n\n{note}"
    if csv is not None:
        text += f"\n\nwrote {write_csv(long, csv)}"
    return text
