"""``coos results``: list the results folders; ``coos results collect A B ...``: one table.

``coos results`` prints one row per folder under ``--results-dir`` (data id, profile, code
hash, date, status, what it holds). ``coos results collect`` reads the chosen folders
(:func:`coos_utils.results.collect.collect`) and prints their balanced errors side by side,
mean and interval per split, and their accuracy in columns of its own, in Markdown or
(``--latex``) as a booktabs table, each row's interval named in its ``interval`` column and the
caption; ``--out FILE`` writes that table to a file instead, ``--csv FILE`` also writes the
long table (one row per split and metric). ``--results-dir`` may come before or after
``collect``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from coos_utils.commands.common import file


def add_parser(sub: Any) -> None:
    p = sub.add_parser("results", help="list results folders, or collect them in a table")
    p.add_argument(
        "--results-dir",
        type=Path,
        default=Path("results"),
        help="results folders' root (default: results)",
    )
    actions = p.add_subparsers(dest="action")
    c = actions.add_parser("collect", help="one comparison table of chosen results folders")
    c.add_argument(
        "folders", nargs="+", help="results folders: paths, or <data-id>/<name> as listed"
    )
    c.add_argument(
        "--results-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="as before collect: where <data-id>/<name> folders are looked for",
    )
    c.add_argument("--latex", action="store_true", help="a LaTeX (booktabs) table")
    c.add_argument(
        "--out",
        type=file,
        default=None,
        metavar="FILE",
        help="write the table (Markdown, or LaTeX with --latex) to this file, not the screen",
    )
    c.add_argument("--csv", type=Path, default=None, help="also write the long table here")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """List the folders, or collect the chosen ones."""
    if getattr(args, "action", None) == "collect":
        print(collected_text(args.folders, args.results_dir, args.latex, args.csv, args.out))
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
    folders: list[str],
    results_dir: Path,
    latex: bool = False,
    csv: Path | None = None,
    out: Path | None = None,
) -> str:
    """The chosen folders' comparison table, Markdown or LaTeX, with its caption; with
    ``out``, the table is written there (atomically) and the text names the file."""
    from coos_utils.atomic import atomic_write_text
    from coos_utils.presentation.comparison import collected_caption, to_latex, to_markdown
    from coos_utils.results.collect import collect, wide
    from coos_utils.results.store import write_csv

    long = collect(folders, results_dir)
    table = wide(long)
    note = collected_caption(long)
    text = to_latex(table, note) if latex else f"{to_markdown(table)}\n\n{note}"
    if out is not None:
        atomic_write_text(out, text + "\n")
        text = f"wrote {out}"
    if csv is not None:
        text += f"\n\nwrote {write_csv(long, csv)}"
    return text
