"""``coos evaluate PREDICTIONS``: check a model's prediction files against the data, score them
as Table 3 is scored, write a results folder and show the rows beside the paper's and the book's.

Bad prediction files end the command with one line per problem (naming the file and the line)
and exit code 2, never a traceback. ``main(argv)`` runs the command alone (for scripts, tests).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from coos_utils.data.errors import CoosDataError
from coos_utils.profiles import PROFILES

PROG = "coos evaluate"
PROFILE_ORDER = ("paper", "default", "smoke")
"""Where the book's baselines are looked for after the profile given: the fullest protocol first."""


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("predictions", type=Path, help="folder of test1.csv..test4.csv, or of seeds")
    p.add_argument(
        "--data-dir", type=Path, default=None, help="the data predicted (default: synthetic)"
    )
    p.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="default",
        help="bootstrap size of this profile's Table 3; its synthetic data without --data-dir",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (and synthetic data seed)")
    p.add_argument("--name", default=None, help="the model's name (default: the folder's name)")
    p.add_argument("--results-dir", type=Path, default=Path("results"))
    p.add_argument(
        "--out", type=Path, default=None, help="default: <results-dir>/<data-id>/eval-<name>"
    )
    p.add_argument("--latex", action="store_true", help="the comparison table in LaTeX")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``evaluate`` to the ``coos`` command's sub-parsers."""
    p = subparsers.add_parser("evaluate", help="check and score prediction files (see the book)")
    _add_arguments(p)
    p.set_defaults(handler=run_evaluate)
    return p


def run_evaluate(args: argparse.Namespace) -> int:
    """The handler: 0 on success, 2 (one line per problem on stderr) on bad input."""
    from coos_utils.benchmark.predictions import PredictionFileError

    try:
        _evaluate(args)
    except PredictionFileError as exc:
        for problem in exc.problems:
            print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    except (CoosDataError, FileNotFoundError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _evaluate(args: argparse.Namespace) -> None:
    from coos_utils.presentation.published import evaluation_comparison
    from coos_utils.profiles import get_profile, resolve_data_dir
    from coos_utils.scoring import evaluate, evaluation_folder, write_evaluation

    profile = get_profile(args.profile)
    data_dir = resolve_data_dir(args.data_dir, args.profile, args.seed)
    found = evaluate(args.predictions, data_dir, args.name, args.seed, profile.bootstrap_samples)
    folder = args.out or evaluation_folder(args.results_dir, found)
    parameters = {
        "predictions": str(args.predictions),
        "name": found.name,
        "data_dir": str(args.data_dir) if args.data_dir else None,
        "seed": args.seed,
        "bootstrap_samples": profile.bootstrap_samples,
    }
    written = write_evaluation(folder, found, profile.name, parameters)
    baselines = _baselines(args.results_dir, found.data["data_id"], args.profile)
    print(_report(found, profile.bootstrap_samples, args.seed, baselines, args.latex))
    print("\nBeside every published COOS-7 result:\n" + evaluation_comparison(folder))
    print(f"\nwrote {len(written)} files under {folder}")


def _baselines(results_dir: Path, data_id: str, profile: str) -> tuple[Path, pd.DataFrame] | None:
    """The book's ``table3.csv`` for this data (the profile given first), unless marked failed."""
    from coos_utils.scoring import book_baselines

    for name in dict.fromkeys((profile, *PROFILE_ORDER)):
        folder = results_dir / data_id / name
        table = book_baselines(folder)
        if table is not None:
            return folder / "table3.csv", table
    return None


def _report(
    found: Any,
    bootstrap_samples: int,
    seed: int,
    baselines: tuple[Path, pd.DataFrame] | None,
    latex: bool,
) -> str:
    """What the command prints: scores per split, worst test set, sensitivities, the worst
    test set's confusion matrix, and the comparison with the paper and the book."""
    from coos_utils.presentation.comparison import scores_table, to_markdown

    runs = len(found.table)
    pooled = " (mean over runs)" if runs > 1 else ""
    errors = found.table.set_index("model")
    worst = found.worst_tests()
    shown = worst.mode().iloc[0]
    return "\n".join(
        [
            f"{found.name}: {runs} run(s) on {found.data['data_label']} (data id "
            f"{found.data['data_id']}; {bootstrap_samples} bootstrap samples, seed {seed})\n",
            to_markdown(scores_table(found.scores, found.summary)),
            interval_note(found.summary, runs) + "\n",
            "Worst test set: "
            + ", ".join(f"{r} {s} ({errors.loc[r, s]:.1f}%)" for r, s in worst.items())
            + "\n",
            f"Per-class sensitivity{pooled}:",
            to_markdown(found.sensitivities().round(3).reset_index()) + "\n",
            f"Confusion matrix on {shown} (rows: true class){pooled.replace('mean', 'sum')}:",
            to_markdown(found.confusion(shown).reset_index()) + "\n",
            _comparison(found, baselines, latex),
        ]
    )


def interval_note(summary: pd.DataFrame, runs: int) -> str:
    """The footnote of the scores table: which interval each column shows."""
    from coos_utils.reference import SPLIT_NAMES
    from coos_utils.results.collect import IMAGES, WELLS

    if runs == 1:
        return "Intervals: 95% bootstrap, wells resampled within class (images without wells)"
    errors = summary[(summary["metric"] == "balanced_error") & summary["split"].isin(SPLIT_NAMES)]
    kinds = set(errors["interval"])
    over = {
        frozenset({WELLS}): "wells (plate + well)",
        frozenset({IMAGES}): "images",
    }.get(frozenset(kinds), "wells (images on splits without two wells per class)")
    return (
        f"Intervals: balanced error, 95% percentile bootstrap of the mean over the {runs} runs, "
        f"test {over} resampled within class, every run scored on the same resample; "
        "macro F1 and the worst test set: range over runs (lowest, highest)"
    )


def _comparison(found: Any, baselines: tuple[Path, pd.DataFrame] | None, latex: bool) -> str:
    from coos_utils.presentation.comparison import comparison_table, to_latex, to_markdown

    book_path, book = baselines if baselines else (None, None)
    table, caption = comparison_table(found.table, found.summary, book)
    source = f"the book's baselines from {book_path}" if book_path else "no book baselines here"
    shown = to_latex(table, caption) if latex else f"{to_markdown(table)}\n\n{caption}"
    return f"Beside the paper's Table 3 ({source}):\n{shown}"


def main(argv: Sequence[str] | None = None) -> int:
    """``coos evaluate`` alone: ``main(["preds", "--data-dir", "data"])``."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    _add_arguments(parser)
    return run_evaluate(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
