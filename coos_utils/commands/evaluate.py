"""``coos evaluate PREDICTIONS``: check a model's prediction files against the data, score
them as Table 3 is scored (:func:`coos_utils.benchmark.evaluation.evaluate`), write a results
folder (:func:`coos_utils.results.evaluation.write_evaluation`) and print the scores beside
the paper's, the book's and every published result.

Bad prediction files end the command with one line per problem (naming the file and the line)
and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coos_utils.commands.common import add_data_options

if TYPE_CHECKING:
    import pandas as pd

    from coos_utils.benchmark.evaluation import Evaluation

PROG = "coos evaluate"
PROFILE_ORDER = ("paper", "default", "smoke")
"""Where the book's baselines are looked for after the profile given: the fullest protocol first."""
FORMAT = """\
Prediction files: one CSV file per split predicted, named after it (test1.csv .. test4.csv,
any of them, and optionally train.csv), with a header and one row per image of the split:

    index,label[,p0,p1,p2,p3,p4,p5,p6]

index is the image's position in the split (0 .. N-1, each once, any order), label the
predicted class id (0..6, in the paper's class order), p0..p6 (all or none) the predicted
probability of each class, summing to 1. Several runs (seeds) are sub-folders, each with the
same splits. The test splits without a file are named in the output and not scored.

Example: two runs that predicted test1 and test3 (test2 and test4 are then named as missing)

    predictions/seed0/test1.csv    predictions/seed0/test3.csv
    predictions/seed1/test1.csv    predictions/seed1/test3.csv

each file beginning

    index,label,p0,p1,p2,p3,p4,p5,p6
    0,3,0.01,0.02,0.03,0.90,0.02,0.01,0.01
    1,0,0.80,0.05,0.05,0.04,0.03,0.02,0.01

and scored with

    coos evaluate predictions --data-dir /path/to/COOS7 --name "my model"
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    p.add_argument(
        "predictions",
        type=Path,
        help="folder of prediction files (test1.csv..test4.csv, any of them), or of one "
        "sub-folder per run (seed)",
    )
    add_data_options(
        p,
        profile_help="the number of bootstrap samples of this profile's Table 3, its "
        "synthetic data without --data-dir, and where the book's baselines are looked for first",
        data_help="the data predicted (default: the profile's synthetic data)",
        seed_help="bootstrap seed, and the synthetic data's seed",
    )
    p.add_argument(
        "--name", default=None, help="the model's name in tables (default: the folder's name)"
    )
    p.add_argument(
        "--results-dir",
        type=Path,
        default=Path("results"),
        help="results folders' root: the book's baselines are read from "
        "<results-dir>/<data-id>/<profile>/ (default: results)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the folder to write (default: <results-dir>/<data-id>/eval-<name>); only an "
        "earlier evaluation of the same model is replaced",
    )
    p.add_argument("--latex", action="store_true", help="print the comparison table in LaTeX")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="check and score prediction files (see the book)",
        description=textwrap.fill(
            "Check a model's prediction files against the data, score them as the book's "
            "Table 3 is scored (balanced error with its bootstrap interval, accuracy, macro "
            "F1, per-class sensitivity, confusion), write a results folder and show the "
            "scores beside the paper's, the book's and every published result.",
            92,
        ),
        epilog=FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The handler: 0 on success, 2 (one line per problem on stderr) on bad prediction files."""
    from coos_utils.benchmark.predictions import PredictionFileError

    try:
        _evaluate(args)
    except PredictionFileError as exc:
        for problem in exc.problems:
            print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:  # data missing, said in the message without a file name
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _evaluate(args: argparse.Namespace) -> None:
    from coos_utils.benchmark.evaluation import evaluate
    from coos_utils.presentation.published import evaluation_comparison
    from coos_utils.profiles import get_profile, resolve_data_dir
    from coos_utils.results.evaluation import evaluation_folder, write_evaluation

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
    print(report(found, profile.bootstrap_samples, args.seed, baselines, args.latex))
    print("\nBeside every published COOS-7 result:\n" + evaluation_comparison(folder))
    print(f"\nwrote {len(written)} files under {folder}")


def _baselines(results_dir: Path, data_id: str, profile: str) -> tuple[Path, pd.DataFrame] | None:
    """The book's ``table3.csv`` for this data (the profile given first), unless marked failed."""
    from coos_utils.results.evaluation import book_baselines

    for name in dict.fromkeys((profile, *PROFILE_ORDER)):
        folder = results_dir / data_id / name
        table = book_baselines(folder)
        if table is not None:
            return folder / "table3.csv", table
    return None


def report(
    found: Evaluation,
    bootstrap_samples: int,
    seed: int,
    baselines: tuple[Path, pd.DataFrame] | None,
    latex: bool,
) -> str:
    """What the command prints: the splits scored and missing, scores per split, worst test
    set, sensitivities, the worst test set's confusion matrix, and the comparison with the
    paper and the book."""
    from coos_utils.presentation.comparison import scores_table, to_markdown

    runs = len(found.table)
    pooled = " (mean over runs)" if runs > 1 else ""
    errors = found.table.set_index("model")
    worst = found.worst_tests()
    shown = worst.mode().iloc[0]
    return "\n".join(
        [
            f"{found.name}: {runs} run(s) on {found.data['data_label']} (data id "
            f"{found.data['data_id']}; {bootstrap_samples} bootstrap samples, seed {seed})",
            splits_note(found) + "\n",
            to_markdown(scores_table(found.scores, found.summary)),
            interval_note(found) + "\n",
            "Worst test set"
            + (" among those scored: " if found.missing else ": ")
            + ", ".join(f"{r} {s} ({errors.loc[r, s]:.1f}%)" for r, s in worst.items())
            + "\n",
            f"Per-class sensitivity{pooled}:",
            to_markdown(found.sensitivities().round(3).reset_index()) + "\n",
            f"Confusion matrix on {shown} (rows: true class){pooled.replace('mean', 'sum')}:",
            to_markdown(found.confusion(shown).reset_index()) + "\n",
            _comparison(found, baselines, latex),
        ]
    )


def splits_note(found: Evaluation) -> str:
    """Which test splits were scored and which had no prediction files."""
    text = f"Scored: {', '.join(found.splits)}."
    if found.missing:
        text += f" Missing (no prediction files, not scored): {', '.join(found.missing)}."
    return text


def interval_note(found: Evaluation) -> str:
    """The footnote of the scores table: the interval each split's error is shown with,
    naming what it resampled there."""
    from coos_utils.benchmark.scoring import UNITS
    from coos_utils.metrics import IMAGES

    by_kind: dict[str, list[str]] = {}
    for split, kind in found.intervals().items():
        by_kind.setdefault(kind, []).append(split)
    units = "; ".join(f"{UNITS[k]} on {', '.join(s)}" for k, s in by_kind.items())
    if IMAGES in by_kind:
        units += " (images where the data have no well ids or a class has fewer than two wells)"
    runs = len(found.table)
    if runs == 1:
        return f"Intervals: 95% percentile bootstrap, resampled within class: {units}"
    return (
        f"Intervals: balanced error, 95% percentile bootstrap of the mean over the {runs} runs, "
        f"every run scored on the same resample, resampled within class: {units}; accuracy, "
        "macro F1 and the worst test set: range over runs (lowest, highest)"
    )


def _comparison(found: Evaluation, baselines: tuple[Path, pd.DataFrame] | None, latex: bool) -> str:
    from coos_utils.presentation.comparison import comparison_table, to_latex, to_markdown

    book_path, book = baselines if baselines else (None, None)
    table, caption = comparison_table(found.table, found.summary, book)
    source = f"the book's baselines from {book_path}" if book_path else "no book baselines here"
    shown = to_latex(table, caption) if latex else f"{to_markdown(table)}\n\n{caption}"
    return f"Beside the paper's Table 3 ({source}):\n{shown}"
