"""What the chapter "Benchmark your own model" shows: its opening answer, the headline figure
(the model's error per test set beside the book's and the paper's reference rows), the tables
for reading and the lines on training and prediction files. Every branch is here; the chapter
calls these unconditionally.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from coos_utils.dg.summary import is_identical
from coos_utils.plugins import label as plugin_label
from coos_utils.presentation.chapter_dg import ChapterView, paired_readable, show_table
from coos_utils.presentation.findings import data_phrase
from coos_utils.presentation.style import COLUMN_INCHES, OKABE_ITO, styled
from coos_utils.presentation.tables import (
    IMAGE,
    WELL,
    interval_kind,
    interval_text,
    table3_readable,
)
from coos_utils.reference import TEST_SPLITS, paper_table3

REFERENCE_ROWS = (("DeepLoc", "End-to-End"), ("Texture", "L1 LR"))
"""The book's and the paper's rows set beside one's own model: the paper's best and its
classic baseline."""
if TYPE_CHECKING:
    from torch import nn

SOURCE = "source"
SYNTHETIC_NOTE = "The data are synthetic, so these numbers test the code, not a model of cells."


def _references(table: pd.DataFrame | None) -> pd.DataFrame:
    """The :data:`REFERENCE_ROWS` of a Table 3 (in that order; none without a table)."""
    if table is None:
        return pd.DataFrame(columns=["features", "model", *TEST_SPLITS])
    keyed = table.set_index(["features", "model"])
    found = [key for key in REFERENCE_ROWS if key in keyed.index]
    return keyed.loc[found].reset_index()


def _errors(row: pd.Series) -> str:
    return ", ".join(f"{row[s]:.1f}% on {s}" for s in TEST_SPLITS)


# --- text -----------------------------------------------------------------------------------


def your_model_finding(
    table: pd.DataFrame,
    baselines: pd.DataFrame | None,
    paired: pd.DataFrame,
    summary: pd.DataFrame,
    label: str,
    synthetic: bool,
) -> str:
    """The chapter's opening answer: the model's error on each test set and its worst; the
    book's and the paper's DeepLoc on test3 and test4; the DG plug-ins against ERM (or
    that they were identical to it, or not run: ``summary`` is ``dg.csv``)."""
    row = table.iloc[0]
    tests = row[list(TEST_SPLITS)].astype(float)
    sentences = [
        f"On this run ({data_phrase(label, synthetic)}) the {row['features']} has a balanced "
        f"error of {_errors(row)}; its worst test set is {_worst(tests)}.",
        _reference_sentence(baselines),
        _plugin_sentence(paired, summary),
    ]
    if synthetic:
        sentences.append(SYNTHETIC_NOTE)
    return " ".join(s for s in sentences if s)


def _worst(tests: pd.Series) -> str:
    """The worst test set and its distance from the random hold-out (test1)."""
    worst = str(tests.idxmax())
    if worst == "test1":
        return "test1, the random hold-out itself"
    return f"{worst}, {tests[worst] - tests['test1']:+.1f} points from the random hold-out (test1)"


def _reference_sentence(baselines: pd.DataFrame | None) -> str:
    paper = _references(paper_table3()).iloc[0]
    theirs = f"the paper's, on the real COOS-7: {paper['test3']:.1f}% and {paper['test4']:.1f}%"
    book = _references(baselines)
    if book.empty or tuple(book.iloc[0][["features", "model"]]) != REFERENCE_ROWS[0]:
        return (
            "The book's own DeepLoc is missing (chapter 03 has not written its Table 3 for "
            f"this data and profile); {theirs} on test3 and test4."
        )
    ours = book.iloc[0]
    return (
        f"On the same data the book's DeepLoc (end to end) has {ours['test3']:.1f}% on test3 "
        f"and {ours['test4']:.1f}% on test4 ({theirs})."
    )


def _plugin_sentence(
    paired: pd.DataFrame, summary: pd.DataFrame, metric: str = "balanced_error"
) -> str:
    rows = paired[paired["metric"] == metric]
    notes = rows.groupby("method", sort=False)["note"].first() if "note" in rows else {}
    identical = [m for m, note in dict(notes).items() if is_identical(note)]
    measured = rows[~rows["method"].isin(identical)]
    missing = summary.loc[summary["seeds"] == 0, ["method", "note"]].drop_duplicates()
    sentences = [f"{m}: {notes[m]}, so no difference is shown." for m in identical]
    sentences += [f"{note}." for note in missing["note"]]
    if not measured.empty:
        parts = [
            f"{method} {_listed_diffs(group)}"
            for method, group in measured.groupby("method", sort=False)
        ]
        seeds = int(measured["seeds"].min())
        caveat = "one seed, so no verdict" if seeds < 2 else f"{seeds} paired seeds"
        sentences.insert(
            0, f"Against ERM (balanced error, method minus ERM; {caveat}): {'; '.join(parts)}."
        )
    if not sentences:
        return "No DG method was compared with ERM (`dg_methods` has no ERM or no other method)."
    return " ".join(sentences)


def _listed_diffs(group: pd.DataFrame) -> str:
    by_split = group.set_index("split")["mean_diff"]
    shown = [s for s in TEST_SPLITS if s in by_split.index]
    return ", ".join(f"{by_split[s]:+.1f} on {s}" for s in shown)


def training_note(model: nn.Module, history: pd.DataFrame, steps: int, batch: int) -> str:
    """The model's size and how its training loss fell (first and last ten steps)."""
    weights = sum(p.numel() for p in model.parameters())
    return (
        f"{weights:,} weights, {steps} steps of {batch} images; training loss "
        f"{history['loss'].head(10).mean():.2f} over the first ten steps, "
        f"{history['loss'].tail(10).mean():.2f} over the last ten."
    )


def backbone_sentence(backbone: str, width: float) -> str:
    """Which network the DG methods train: the chapter's ``backbone``, the one trained above."""
    return (
        f"Every method below trains the network above, `{plugin_label(backbone)}` at width "
        f"{width:g}, as its backbone: from fresh weights in each trial, on 60 x 60 crops."
    )


def file_links(run: ChapterView, files: Sequence[Path]) -> str:
    """Markdown links to the prediction files, as published beside the chapter."""
    return "Prediction files: " + ", ".join(run.site_link(p) for p in files) + "."


# --- tables ---------------------------------------------------------------------------------


def _book_rows(baselines: pd.DataFrame | None, every: bool) -> pd.DataFrame:
    """The book's :data:`REFERENCE_ROWS`, or with ``every`` all its rows that stand for the
    paper's (``chosen_by_cv`` not False)."""
    if baselines is None or not every:
        return _references(baselines)
    if "chosen_by_cv" not in baselines:
        return baselines
    return baselines[baselines["chosen_by_cv"].astype("boolean").fillna(True)]


def comparison_readable(
    table: pd.DataFrame, baselines: pd.DataFrame | None, every: bool = False
) -> tuple[pd.DataFrame, str]:
    """The model's row beside the book's (same data) and the paper's (real COOS-7)
    :data:`REFERENCE_ROWS` (with ``every``: all their rows), per test set, intervals inline
    where there are any; and its note."""
    book = _book_rows(baselines, every)
    paper = paper_table3() if every else _references(paper_table3())
    tables = [table] + ([book] if len(book) else [])
    kind = WELL if all(interval_kind(t) == WELL for t in tables) else IMAGE
    ours, note = table3_readable(table, TEST_SPLITS, kind)
    parts = [ours.assign(**{SOURCE: "yours"})]
    if len(book):
        parts.append(table3_readable(book, TEST_SPLITS, kind)[0].assign(**{SOURCE: "book"}))
    shown = pd.DataFrame({"representation": paper["features"], "classifier": paper["model"]})
    shown = shown.assign(**{s: [interval_text(v) for v in paper[s]] for s in TEST_SPLITS})
    parts.append(shown.assign(**{SOURCE: "paper"}))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[[SOURCE, *frame.columns.drop(SOURCE)]]
    return frame, f"{note} The paper's rows (real COOS-7) have no intervals."


def scores_readable(scores: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per split: balanced error with its interval inline and macro F1 (%). One run: its
    bootstrap interval (over wells when the split has one, else images); several: the mean
    over seeds with the interval of ``summary`` (a bootstrap of the mean over seeds; its
    ``interval`` column names the kind)."""
    if scores["run"].nunique() > 1:
        errors = summary[summary["metric"] == "balanced_error"]
        f1 = summary[summary["metric"] == "macro_f1"].set_index("split")["mean"]
        return _scores_frame(
            errors["split"],
            errors["mean"],
            errors["ci_low"],
            errors["ci_high"],
            f1.reindex(errors["split"]),
        )
    well = scores["well_ci_low"].notna()
    low = scores["well_ci_low"].where(well, scores["ci_low"])
    high = scores["well_ci_high"].where(well, scores["ci_high"])
    return _scores_frame(scores["split"], scores["balanced_error"], low, high, scores["macro_f1"])


def _scores_frame(
    splits: pd.Series, error: pd.Series, low: pd.Series, high: pd.Series, f1: pd.Series
) -> pd.DataFrame:
    columns = (error.to_numpy(float), low.to_numpy(float), high.to_numpy(float))
    return pd.DataFrame(
        {
            "split": splits.to_list(),
            "balanced error": [interval_text(*v) for v in zip(*columns, strict=True)],
            "macro F1": [interval_text(v) for v in f1.to_numpy(float)],
        }
    )


def show_paired(
    run: ChapterView, paired: pd.DataFrame, summary: pd.DataFrame, path: Path, caption: str
) -> None:
    """The DG methods against ERM (one row per method; identical to ERM or not run said in
    words) with its CSV, or why there is none."""
    shown = paired_readable(paired, summary)
    if shown.empty:
        display(Markdown("No paired comparison: `dg_methods` has no ERM or no other method."))
        return
    show_table(run, shown, caption, path)


# --- the headline figure --------------------------------------------------------------------


@styled
def plot_your_model(table: pd.DataFrame, baselines: pd.DataFrame | None, title: str) -> Figure:
    """The model's balanced error per test set with its interval (black), beside the book's
    reference rows on the same data (solid) and the paper's on the real COOS-7 (dashed)."""
    fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 3.8))
    x = np.arange(len(TEST_SPLITS))
    row = table.iloc[0]
    kind = interval_kind(table)
    infix = "_well" if kind == WELL else ""
    values = row[list(TEST_SPLITS)].to_numpy(float)
    low = np.array([row.get(f"{s}{infix}_ci_low", np.nan) for s in TEST_SPLITS], float)
    high = np.array([row.get(f"{s}{infix}_ci_high", np.nan) for s in TEST_SPLITS], float)
    ax.errorbar(
        x,
        values,
        yerr=[values - low, high - values],
        fmt="o-",
        color="black",
        capsize=3,
        label=f"{row['features']} (yours)",
    )
    for k, (features, model) in enumerate(REFERENCE_ROWS):
        colour = OKABE_ITO[k]
        for source, frame, style in (("book", baselines, "-"), ("paper", paper_table3(), "--")):
            found = _references(frame)
            match = found[(found["features"] == features) & (found["model"] == model)]
            if match.empty:
                continue
            ax.plot(
                x,
                match.iloc[0][list(TEST_SPLITS)].to_numpy(float),
                style,
                marker="s",
                color=colour,
                label=f"{features} + {model} ({source})",
            )
    ax.set_xticks(x, TEST_SPLITS)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("balanced error (%)")
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    order = [*range(len(handles))[-1:], *range(len(handles))[:-1]]  # the model first
    ax.legend(
        [handles[k] for k in order],
        [labels[k] for k in order],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=2,
        frameon=False,
    )
    fig.tight_layout()
    return fig


def yours_caption(baselines: pd.DataFrame | None, label: str) -> str:
    """The headline figure's caption (it says when the book's rows are missing)."""
    book = "the book's DeepLoc end to end and texture + L1 LR on the same data (solid) and "
    missing = ""
    if _references(baselines).empty:
        book = ""
        missing = " No book rows: chapter 03 has not written Table 3 for this data and profile."
    return (
        f"The model's balanced error on each test set with its 95% bootstrap interval "
        f"(black; {label}), beside {book}the paper's DeepLoc end to end and texture + L1 LR "
        "on the real COOS-7 (dashed). Lower is better; the rise from test1 to test3 and test4 "
        f"is what a model that generalises would flatten.{missing}"
    )
