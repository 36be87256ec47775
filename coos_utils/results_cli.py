"""``coos results``: list the results folders; ``coos results collect A B ...``: one table.

``coos results`` prints one row per folder under ``--results-dir`` (data id, profile, code
hash, date, status, what it holds). ``coos results collect`` reads the chosen folders
(:func:`coos_utils.results.collect.collect`) and prints their balanced errors side by side,
mean and interval per split, in Markdown or (``--latex``) as a booktabs table; ``--csv FILE``
also writes the long table. Bad input ends with one line and exit code 2 (``coos``'s rule).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

CAPTION = (
    "Balanced error (%), mean [95% interval]. Table 3 rows: bootstrap over wells (plate + well) "
    "or, where a row has no well interval, over images, resampled within each class; "
    "dg.csv rows and evaluations over several seeds: t-interval over seeds."
)


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
        print(collected_text(args.folders, args.results_dir, args.latex, args.csv))
    else:
        print(listing_text(args.results_dir))
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


def collected_text(
    folders: list[str], results_dir: Path, latex: bool = False, csv: Path | None = None
) -> str:
    """The chosen folders' comparison table, Markdown or LaTeX, with its caption."""
    from coos_utils.presentation.comparison import to_latex, to_markdown
    from coos_utils.results.collect import collect, wide
    from coos_utils.results.store import write_csv

    long = collect(folders, results_dir)
    table = wide(long)
    text = to_latex(table, CAPTION) if latex else f"{to_markdown(table)}\n\n{CAPTION}"
    if csv is not None:
        text += f"\n\nwrote {write_csv(long, csv)}"
    return text
