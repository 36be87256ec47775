"""What the Table 3 chapter (``03_classifiers``) shows, as ready-made display items.

Each function returns what a chapter cell passes to ``display(*...)``: Markdown text and
tables made for reading (no index column, intervals inline, rows cut short marked), so that
the chapter's cells hold no control flow. Rows cut short come from the training records the
features chapter wrote (:func:`run_cut_short`). The functions that link to results files take
the chapter run's ``site_link`` (a Markdown link to a file as published beside the page).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown

from coos_utils.analysis.drift_ablation import DriftAblation, ablation_summary
from coos_utils.analysis.selection import reported_outputs
from coos_utils.presentation.findings import cut_short_from_training, headline_rows
from coos_utils.presentation.tables import (
    column_notes,
    cut_short_keys,
    folded_table,
    interval_text,
    readable,
    sensitivity_wide,
    table3_readable,
)
from coos_utils.profiles import Profile
from coos_utils.reference import IN_DISTRIBUTION, SHIFTED, SPLIT_NAMES
from coos_utils.results.store import read_profile_changes, read_training

HEATMAP_SPLITS = ("test1", *SHIFTED)
"""The splits of the sensitivity heatmaps: one close to ``train`` and the two shifted ones
(test2 reads like test1; four panels leave the class names no room)."""
Link = Callable[[Path], str]
"""A chapter run's ``site_link``: a results file -> a Markdown link to it on the site."""
_HREF = re.compile(r"\]\(([^)]+)\)\s*$")


def representation_names(requested: Sequence[str] | None, profile: Profile) -> list[str]:
    """The representations the chapter runs: those ``requested`` (the ``representations``
    parameter), else the profile's."""
    return list(requested or profile.representations)


def run_cut_short(folder: Path) -> dict[str, str]:
    """Representation -> why its training was cut short of the paper's protocol, from the
    training records of the features chapter in ``folder`` (``training/*.csv`` and
    ``profile_changes.csv``, see :func:`~coos_utils.presentation.findings.cut_short_from_training`);
    empty when no network was trained."""
    history = read_training(folder)
    if history.empty:
        return {}
    return cut_short_from_training(history, read_profile_changes(folder))


def href(link: str) -> str:
    """The target of a Markdown link ``[text](target)`` (as ``site_link`` makes it)."""
    found = _HREF.search(link)
    if found is None:
        raise ValueError(f"not a Markdown link: {link!r}")
    return found.group(1)


def folded_markdown(summary: str, body: str) -> Markdown:
    """``body`` (Markdown) folded away under a one-line ``summary`` (``<details>``, closed)."""
    return Markdown(f"<details><summary>{html.escape(summary)}</summary>\n\n{body}\n\n</details>")


def folded_links(summary: str, paths: Sequence[Path], link: Link) -> Markdown:
    """A folded list of links to ``paths``, one a line (``link``: the run's ``site_link``)."""
    return folded_markdown(summary, "\n".join(f"- {link(path)}" for path in paths))


def files_written(paths: Sequence[Path], link: Link) -> Markdown:
    """The files the chapter wrote, folded; the confusion matrices counted, not listed (the
    confusion chapter links them)."""
    listed = [p for p in paths if p.parent.name != "confusion"]
    matrices = len(paths) - len(listed)
    summary = f"Files written by this chapter ({len(listed)})"
    if matrices:
        summary += f", besides {matrices} confusion matrices (linked in the next chapter)"
    return folded_links(summary, listed, link)


def column_notes_folded(columns: Mapping[str, str]) -> Markdown:
    """What each column of ``table3.csv`` holds (``TABLE3_COLUMNS``), folded."""
    return folded_markdown("The columns of table3.csv", column_notes(columns))


def protocol_note(profile: Profile, names: Sequence[str]) -> Markdown:
    """What this run's profile sets for the search, the folds and the bootstrap."""
    return Markdown(
        f"In this run (profile `{profile.name}`) the representations are "
        f"**{', '.join(names)}**; the search takes **{profile.rf_search_draws} draws** scored "
        f"by **{profile.cv_folds}-fold** cross-validation (the paper: 100 draws, 5 folds) and "
        "its choice is nested in the same outer folds for `cv_error` (made there out of bag), "
        "and each interval comes "
        f"from **{profile.bootstrap_samples}** bootstrap replicates."
    )


def cut_short_sentence(
    cut_short: Mapping[str, str] | None, what: str, features: Sequence[str]
) -> str:
    """The caption's sentence on rows cut short, none when no row of the figure (its
    ``features`` names) is."""
    keys = cut_short_keys(pd.Series(list(features), dtype=object), cut_short or {})
    if not keys.astype(bool).any():
        return ""
    return (
        f" {what} (as in the tables): networks trained far short of the paper's "
        "protocol (the footnote under the figure says how far), not comparable with the paper."
    )


def headline_caption(
    table: pd.DataFrame, label: str, cut_short: Mapping[str, str] | None = None
) -> str:
    """The caption of the chapter's headline figure (``plot_headline`` of ``table``)."""
    shown = headline_rows(table)["features"]
    return (
        "Balanced error (%) on each test set for each representation, with its classifier "
        "of lowest cross-validated error on `train`: this run on the left "
        f"({label}), the paper's numbers for the same features and classifier on the real "
        "COOS-7 on the right, on one scale. The paper's pattern is the rise from test1 and "
        "test2 to test3 and test4 for every representation, with DeepLoc lowest on the "
        "shifted sets." + cut_short_sentence(cut_short, "Dashed lines and marks", shown)
    )


def errors_caption(
    table: pd.DataFrame, label: str, cut_short: Mapping[str, str] | None = None
) -> str:
    """The caption of the figure of the rows of ``table`` (``plot_errors``)."""
    return (
        f"Balanced error (%) of every reported classifier on every split ({label}); error "
        "bars: 95% bootstrap interval over images; black ticks: the paper's value for the "
        "same features and classifier (real COOS-7), where it has one. Compare the bars of "
        "a panel across splits: the gap between test1/test2 and test3/test4 is the shift."
        + cut_short_sentence(cut_short, "Hatched bars and marks", table["features"])
    )


def table3_block(
    table: pd.DataFrame,
    label: str,
    splits: Sequence[str],
    cut_short: Mapping[str, str] | None = None,
) -> list[object]:
    """A heading line, the reported rows of ``table`` (the rows that stand for the paper's)
    on ``splits`` with intervals inline and the cross-validated error on ``train`` first,
    and the note under them (which interval; a footnote per mark)."""
    rows = reported_outputs(table).reset_index(drop=True)
    shown, note = table3_readable(rows, splits, cut_short=cut_short)
    shown.insert(2, "cv error", [interval_text(v) for v in rows["cv_error"]])
    what = ", ".join(splits)
    return [
        Markdown(f"Balanced error (%) on {what} ({label}):"),
        readable(shown),
        Markdown(note + " `cv error`: cross-validated error on `train` (no interval)."),
    ]


def near_block(
    table: pd.DataFrame, label: str, cut_short: Mapping[str, str] | None = None
) -> list[object]:
    """:func:`table3_block` on the test sets close to ``train`` (test1, test2)."""
    return table3_block(table, label, IN_DISTRIBUTION, cut_short)


def shifted_block(
    table: pd.DataFrame, label: str, cut_short: Mapping[str, str] | None = None
) -> list[object]:
    """:func:`table3_block` on the shifted test sets (test3, test4)."""
    return table3_block(table, label, SHIFTED, cut_short)


def full_table3(table: pd.DataFrame, cut_short: Mapping[str, str] | None = None) -> HTML:
    """Every row and split of ``table`` (layers not chosen by cross-validation too, and
    ``train``), folded away; for the CSV link, put the chapter's table note under it."""
    shown, note = table3_readable(table, [s for s in SPLIT_NAMES if s in table], cut_short)
    shown.insert(2, "cv error", [interval_text(v) for v in table["cv_error"]])
    shown["reported"] = _reported_words(table)
    summary = f"Full table: all {len(table)} rows and every split (table3.csv)"
    return HTML(folded_table(readable(shown, caption=note), summary))


def _reported_words(table: pd.DataFrame) -> list[str]:
    reported = set(reported_outputs(table).index)
    return ["yes" if index in reported else "no" for index in table.index]


def side_by_side(frame: pd.DataFrame, note: str) -> list[object]:
    """A ``paper_side_by_side`` table and its note, for reading."""
    return [readable(frame), Markdown(note)]


def sensitivity_caption(
    sens: pd.DataFrame, label: str, cut_short: Mapping[str, str] | None = None
) -> str:
    """The caption of the per-class sensitivity heatmap of ``sens`` (every classifier)."""
    return (
        "Sensitivity of every classifier (rows) for every class (columns) on test1 (close to "
        f"`train`), test3 and test4 ({label}); dark is a class rarely recognised. Look for "
        "the columns that darken from test1 to test3 and test4: the classes the shifts hurt."
        + cut_short_sentence(cut_short, "Marks", sens["features"])
    )


def sensitivity_folded(sens: pd.DataFrame, label: str) -> HTML:
    """The full per-class sensitivity table (one row per classifier and class, one column
    per split), folded away."""
    wide = sensitivity_wide(sens).reset_index()
    summary = f"Full table: sensitivity per class, {len(wide)} rows ({label})"
    return HTML(folded_table(readable(wide, decimals=3), summary))


def drift_ablation_view(
    ablation: DriftAblation, files: Sequence[Path], label: str, note: Callable[..., Markdown]
) -> list[object]:
    """What the chapter shows of the drift ablation: on simulated data the texture rows with
    the drifts as simulated and switched off, one sentence per row, and the verdicts on both,
    each table followed by ``note(file)`` (the chapter's ``table_note``; ``files``: the two
    CSVs ``DriftAblation.write`` wrote); on other data, why there is no ablation."""
    if ablation.skipped:
        return [Markdown(ablation.skipped)]
    rows = ablation.rows.reset_index(drop=True)
    splits = [s for s in SPLIT_NAMES if s in rows and s != "train"]
    shown = rows[["data", "model", *splits]].rename(columns={"model": "classifier"})
    table_file, claims_file = files
    return [
        Markdown(f"Texture rows with the drifts as simulated and switched off ({label}):"),
        readable(shown),
        Markdown(f"Balanced error (%); the 95% intervals are in `{table_file.name}`."),
        note(table_file),
        Markdown(ablation_summary(ablation.rows)),
        Markdown(f"The verdicts on each ({label}):"),
        readable(ablation.claims),
        note(claims_file),
    ]
