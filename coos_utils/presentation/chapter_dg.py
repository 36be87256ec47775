"""What the DG chapter shows, made from its tables: the profile line, notes on methods that
did not run, the tables for reading, figure captions, and the ablation section (or why there
is none). The chapter calls these unconditionally; every branch is here.

Functions that display take the chapter's run (``coos_utils.book.context.ChapterRun``, any
object with :class:`ChapterView`'s members), so this module does not import the book layer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from IPython.display import HTML, Markdown, display
from matplotlib.figure import Figure

from coos_utils.dg.ablation import ablation_findings
from coos_utils.dg.summary import IDENTICAL, is_identical, not_run
from coos_utils.metrics import IMAGES, RANGE, WELLS
from coos_utils.presentation.dg_figures import plot_ablation
from coos_utils.presentation.tables import (
    DASH,
    dg_vs_erm_readable,
    folded_table,
    interval_text,
    readable,
)
from coos_utils.reference import TEST_SPLITS

MEASURES = {
    "domain_classifier_accuracy": "domain classifier",
    "mmd_features": "MMD (features)",
    "wasserstein_ch0": "EMD protein",
    "wasserstein_ch1": "EMD nucleus",
}
"""Short column names for the distance measures (``similarity.csv``)."""
PAPER_DEEPLOC = "10,000 steps of 128 at full width"
"""The paper's DeepLoc training, for the profile line."""
NOT_RUN = "not run"


class ChapterView(Protocol):
    """The members of a chapter's run that the display functions use."""

    label: str
    synthetic: bool

    def table_note(self, *paths: Path) -> Markdown: ...

    def site_link(self, path: Path) -> str: ...

    def show_figure(self, fig: Figure, name: str, caption: str) -> None: ...


# --- text -----------------------------------------------------------------------------------


def profile_line(dg: Mapping[str, Any]) -> str:
    """The profile's DG settings in one paragraph (Markdown), with the hyperparameters it
    fixes whatever the draw, when it fixes any."""
    text = (
        f"**This profile:** {_count(len(dg['methods']), 'method')}, "
        f"{_count(dg['n_draws'], 'hyperparameter draw')}, seeds "
        f"{', '.join(str(s) for s in dg['seeds'])}, {dg['steps']} training steps "
        f"of {dg['batch_size']} images, DeepLoc at width {dg['width']} (the paper's DeepLoc: "
        f"{PAPER_DEEPLOC}). Model selection scores {sample_words(dg['max_val_images'])} of "
        "the held-out 20% of `train`; every test set is scored on all its images."
    )
    overrides = dict(dg.get("hparams_overrides", ()))
    if not overrides:
        return text
    fixed = ", ".join(f"`{name}` = {value}" for name, value in overrides.items())
    return (
        f"{text} Fixed here to save CPU time, whatever the draw: {fixed} (ContriMix's authors "
        "make 5 mixes per image; each mix adds a batch to every step)."
    )


def sample_words(max_images: int | None) -> str:
    """How many images of a split a measure used, for a caption: ``all images`` or ``a fixed
    class-stratified sample of at most N images``."""
    if max_images is None:
        return "all images"
    return f"a fixed class-stratified sample of at most {max_images} images"


def _count(n: int, noun: str) -> str:
    """``1 draw``, ``2 draws``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def method_notes(records: pd.DataFrame, summary: pd.DataFrame, confound: str) -> str:
    """Markdown under the methods' table: each method that did not run and why, each method
    with a note (identical to ERM, a loss that was always 0), and the plate/class
    ``confound`` (``dg.data.plate_class_note``) when CORAL ran; "" if none."""
    missing = not_run(records).items()
    lines = [f"**{m}: no numbers.** {why}; `dg.csv` marks it so." for m, why in missing]
    noted = summary[(summary["seeds"] > 0) & (summary["note"].fillna("") != "")]
    for method, note in noted[["method", "note"]].drop_duplicates().values:
        shown = "; no difference from ERM is shown for it" if is_identical(note) else ""
        lines.append(f"**{method}:** {note}{shown}.")
    coral = summary[(summary["method"] == "CORAL") & (summary["seeds"] > 0)]
    if confound and len(coral):
        lines.append(f"**CORAL's row:** {confound}; aligning plates also aligns class mixes.")
    return "\n\n".join(lines)


def interval_words(table: pd.DataFrame, metric: str = "balanced_error") -> str:
    """What the intervals of ``metric`` in ``dg.csv`` or ``dg_vs_erm.csv`` are, in words for
    a caption (from their ``interval`` column)."""
    kinds = set(table.loc[table["metric"] == metric, "interval"].fillna("")) - {""}
    if kinds == {WELLS}:
        return "95% bootstrap interval over the test set's wells (within class)"
    if kinds == {IMAGES}:
        return "95% bootstrap interval over the test set's images (within class)"
    if kinds == {WELLS, IMAGES}:
        return (
            "95% bootstrap interval over the test set's wells (within class; over images "
            "where a class has fewer than two wells)"
        )
    if kinds == {RANGE}:
        return "range over seeds (lowest to highest)"
    return "interval (none here: no method has numbers)"


def forest_caption(paired: pd.DataFrame, label: str, metric: str = "balanced_error") -> str:
    """The caption of the forest plot (``plot_dg_forest``): what a point and a bar are, how
    many paired seeds, and how to read the colours."""
    rows = paired[paired["metric"] == metric]
    seeds = int(rows["seeds"].min()) if len(rows) else 0
    return (
        f"Each method's balanced error minus ERM's, seed by seed, per test set ({label}): "
        f"the mean over {seeds} paired seeds (point) and its {interval_words(paired, metric)}, "
        "the trained models held fixed (bar). Left of the line is better than ERM; blue or "
        "vermillion where the interval and every paired seed are on one side of zero (better "
        "or worse), grey otherwise. A method whose predictions equal ERM's is written "
        f'"{IDENTICAL}" instead of a point.'
    )


# --- tables for reading ---------------------------------------------------------------------


def summary_readable(summary: pd.DataFrame, metric: str = "balanced_error") -> pd.DataFrame:
    """``dg.csv`` as one row per method and one column per test set, ``mean (low–high)``
    over seeds; "not run" for methods without numbers; a method identical to ERM is named
    so beside its name."""
    rows = summary[summary["metric"] == metric]
    splits = [s for s in TEST_SPLITS if s in set(rows["split"])]
    cells = {
        (r.method, r.split): _summary_cell(r.mean, r.ci_low, r.ci_high, r.seeds)
        for r in rows.itertuples(index=False)
    }
    methods = list(dict.fromkeys(rows["method"]))
    identical = set(rows.loc[rows["note"].map(is_identical), "method"])
    names = [f"{m} ({IDENTICAL})" if m in identical else m for m in methods]
    table = pd.DataFrame(
        {s: [cells.get((m, s), DASH) for m in methods] for s in splits}, index=names
    )
    return table.rename_axis("method").reset_index()


def paired_readable(
    paired: pd.DataFrame, summary: pd.DataFrame, metric: str = "balanced_error"
) -> pd.DataFrame:
    """``dg_vs_erm.csv`` as one row per method and one column per test set (the mean paired
    difference with its interval, ``better`` / ``worse`` when it resolves), with the note
    instead of numbers for a method identical to ERM and "not run" for a method that could
    not run (from ``dg.csv``)."""
    table = dg_vs_erm_readable(paired, metric)
    splits = list(table.columns.drop("method"))
    rows = paired[paired["metric"] == metric]
    notes = rows.groupby("method", sort=False)["note"].first() if "note" in rows else {}
    for method, note in dict(notes).items():
        if is_identical(note):
            table.loc[table["method"] == method, splits] = IDENTICAL
    missing = summary.loc[summary["seeds"] == 0, "method"].drop_duplicates()
    missing = [m for m in missing if m not in set(table["method"])]
    splits = splits or [s for s in TEST_SPLITS if s in set(summary["split"])]
    extra = pd.DataFrame(
        [[m, *[NOT_RUN] * len(splits)] for m in missing], columns=["method", *splits]
    )
    return pd.concat([table, extra], ignore_index=True) if len(extra) else table


def _summary_cell(mean: float, low: float, high: float, seeds: int) -> str:
    return NOT_RUN if seeds == 0 else interval_text(mean, low, high)


def selection_readable(selection: pd.DataFrame) -> pd.DataFrame:
    """``dg_selection.csv`` with names for reading: the chosen draw and its validation
    error, the only score the choice looked at."""
    return selection.rename(
        columns={
            "hparams_seed": "chosen draw",
            "validation_error": "validation error (%)",
            "seeds": "seeds compared",
        }
    )


def similarity_readable(similarity: pd.DataFrame) -> pd.DataFrame:
    """``similarity.csv`` as one row per test set and one column per distance (three
    significant digits: the MMD is small)."""
    wide = similarity.pivot(index="split", columns="measure", values="value")
    wide = wide.reindex([s for s in TEST_SPLITS if s in wide.index])
    shown = wide.map(lambda v: DASH if pd.isna(v) else f"{v:.3g}")
    return shown.rename(columns=MEASURES).rename_axis(columns=None).reset_index()


def relation_readable(relation: pd.DataFrame) -> pd.DataFrame:
    """``dg_shift_vs_error.csv`` as one row per method and one column per distance:
    Spearman's rho between the distance and the method's error over the test sets, with the
    exact p-value; ERM first."""
    pairs = zip(relation["rho"], relation["p_exact"], strict=True)
    cells = relation.assign(text=[_rho_cell(rho, p) for rho, p in pairs])
    wide = cells.pivot(index="method", columns="measure", values="text")
    wide = wide.reindex(sorted(dict.fromkeys(relation["method"]), key=lambda m: m != "ERM"))
    return wide.rename(columns=MEASURES).rename_axis(columns=None).reset_index()


def _rho_cell(rho: float, p: float) -> str:
    return DASH if pd.isna(rho) else f"{rho:.2f} (p {p:.2f})"


# --- displays -------------------------------------------------------------------------------


def show_table(
    run: ChapterView, frame: pd.DataFrame, caption: str, *paths: Path, decimals: int = 1
) -> None:
    """``frame`` for reading with ``caption`` and the run's label, then the note with its
    CSV links and the command that regenerates them (one cell output)."""
    display(readable(frame, decimals, caption=f"{caption} ({run.label})."))
    display(run.table_note(*paths))


def show_folded(run: ChapterView, frame: pd.DataFrame, summary: str, path: Path) -> None:
    """The full table ``frame`` folded away under ``summary``, with a link to its CSV."""
    display(HTML(folded_table(frame, f"{summary} ({run.label})", _href(run.site_link(path)))))


def _href(link: str) -> str:
    """The target of a Markdown link ``[text](target)``."""
    found = re.search(r"\]\(([^)]*)\)$", link)
    return found.group(1) if found else ""


def show_ablation(run: ChapterView, ablation: pd.DataFrame, path: Path) -> None:
    """The ablation's findings, its figure with a caption and its CSV on simulated data; on
    real data, a sentence saying why there is no ablation."""
    if not run.synthetic:
        display(Markdown("Real data: the shifts cannot be switched off, so there is no ablation."))
        return
    display(Markdown(ablation_findings(ablation)))
    fig = plot_ablation(ablation, f"Change in balanced error, one shift off\n({run.label})")
    caption = (
        "Change in each test set's balanced error when one shift is switched off in the "
        f"simulator (shift off minus all shifts on, points; {run.label}), for ERM and the "
        "method with the lowest validation error. Blue: the shift was costing accuracy. "
        "Changes within the main sweep's seed range are in parentheses."
    )
    run.show_figure(fig, "dg_ablation", caption)
    display(run.table_note(path))
