"""What the confusion chapter (``04_confusion``) shows, as ready-made display items and the
long tables it writes.

The chapter follows one classifier per representation (``analysis.selection``); its figures
show only the few classifiers the text discusses (:func:`discussed_classifiers`), and every
other matrix is a folded table of links. Long tables (top confusions, test3 against test4)
have one group per followed classifier and one pooled over them all (:data:`POOLED`), which
is what the page shows; the rest is folded.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown
from pandas.io.formats.style import Styler

from coos_utils.analysis.claims import RANDOM_INIT
from coos_utils.analysis.confusion import (
    compare_shifts,
    paper_sensitivities_beside,
    top_confusions,
)
from coos_utils.analysis.selection import reported_outputs
from coos_utils.presentation.chapter_table3 import Link, cut_short_sentence, href
from coos_utils.presentation.findings import pooled_confusions
from coos_utils.presentation.tables import (
    DASH,
    folded_table,
    interval_text,
    mark_cut_short,
    readable,
)
from coos_utils.reference import SHIFTED, SPLIT_NAMES, TEST_SPLITS
from coos_utils.results.store import Matrices, confusion_path

POOLED = "pooled", "followed classifiers"
"""(features, model) of the rows pooled over every followed classifier."""
CLASSIFIER = ["features", "model"]


def _pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["features"], frame["model"], strict=True))


def pretrained(followed: pd.DataFrame) -> pd.DataFrame:
    """The followed classifiers whose features are not computed with random weights ("random
    init"): those the claims read, and the ones pooled here."""
    return followed[~followed["features"].str.contains(RANDOM_INIT, regex=False)]


def discussed_classifiers(table3: pd.DataFrame) -> list[tuple[str, str]]:
    """The classifiers the text discusses, in order and once each: the lowest error on test3
    and on test4 among the rows that stand for the paper's (pretrained, as the chapter's
    opening sentences name them), texture + L1 LR (the paper's reference row) and DeepLoc
    end to end (claim 4d); those that this table has."""
    reported = reported_outputs(table3)
    rows = pretrained(reported)
    rows = rows if len(rows) else reported
    best = [_pairs(rows.loc[[rows[s].astype(float).idxmin()]])[0] for s in SHIFTED if s in rows]
    present = set(_pairs(table3))
    wanted = [*best, ("Texture", "L1 LR"), ("DeepLoc", "End-to-End")]
    return [pair for pair in dict.fromkeys(wanted) if pair in present]


def confusion_caption(
    label: str, classifiers: Sequence[tuple[str, str]], cut_short: Mapping[str, str] | None
) -> str:
    """The caption of the confusion matrices of the discussed classifiers."""
    names = "; ".join(f"{f} + {m}" for f, m in classifiers)
    return (
        f"Confusion matrices on test3 (later plates) and test4 (another microscope) of the "
        f"classifiers the text discusses ({names}; {label}). Rows: true class; columns: "
        "predicted class; each cell and its colour give the % of the true class's images. "
        "Off-diagonal cells are the errors: compare where they sit on test3 and on test4."
        + cut_short_sentence(cut_short, "Marks", [f for f, _ in classifiers])
    )


def followed_view(followed: pd.DataFrame, cut_short: Mapping[str, str] | None) -> list[object]:
    """The followed classifier of each representation with its cross-validated error, rows
    cut short marked, and the footnote."""
    shown = followed.rename(
        columns={"features": "representation", "model": "classifier", "cv_error": "cv error"}
    )
    shown, footnote = mark_cut_short(shown, cut_short or {}, column="representation")
    note = "`cv error`: balanced error (%) of out-of-fold predictions on `train`."
    return [readable(shown), Markdown(f"{note} {footnote}".strip())]


def confusion_links(table3: pd.DataFrame, folder: Path, link: Link) -> HTML:
    """Every confusion matrix of ``table3`` as a folded table of links: one row per
    classifier, one column per split (``link``: the chapter run's ``site_link``)."""
    splits = [s for s in SPLIT_NAMES if s in table3]
    rows = []
    for features, model in _pairs(table3):
        cells = [_anchor(link(confusion_path(folder, features, model, s)), s) for s in splits]
        rows.append([features, model, *cells])
    frame = pd.DataFrame(rows, columns=["representation", "classifier", *splits])
    summary = f"All {len(frame) * len(splits)} confusion matrices (CSV, rows: true class)"
    return HTML(folded_table(readable(frame), summary))


def _anchor(markdown_link: str, text: str) -> str:
    return f'<a href="{html.escape(href(markdown_link))}">{html.escape(text)}</a>'


def followed_sensitivity(sens: pd.DataFrame, followed: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``sens`` (``sensitivity.csv``) of the followed classifiers."""
    return sens.merge(followed[CLASSIFIER], on=CLASSIFIER, sort=False)


def heatmap_caption(label: str) -> str:
    """The caption of the sensitivity heatmap of the followed classifiers."""
    return (
        "Sensitivity (recall) of each class (columns) for the followed classifier of each "
        f"representation (rows) on test1 (close to `train`), test3 and test4 ({label}), from "
        "0 (dark: never recognised) to 1. A column that darkens from test1 to test3 or test4 "
        "is a class a shift hurts; whether test3 and test4 darken the same columns is the "
        "paper's point (section 3.4)."
    )


def intervals_caption(label: str) -> str:
    """The caption of the figure of sensitivities with their intervals."""
    return (
        "Per-class sensitivity with its 95% bootstrap interval (images resampled within "
        f"class), one panel per followed classifier, one colour per test set ({label}). Two "
        "sensitivities whose intervals do not overlap differ by more than the sampling of "
        "images explains; the intervals say nothing about other wells or plates."
    )


def intervals_folded(intervals: pd.DataFrame, label: str) -> HTML:
    """``sensitivity_ci.csv`` folded: one row per classifier and class, one column per test
    set, ``sensitivity (low–high)``."""
    text = [
        interval_text(v, lo, hi, decimals=3)
        for v, lo, hi in zip(
            intervals["sensitivity"], intervals["ci_low"], intervals["ci_high"], strict=True
        )
    ]
    keyed = intervals.assign(shown=text)
    wide = keyed.pivot_table(
        index=[*CLASSIFIER, "class"], columns="split", values="shown", aggfunc="first", sort=False
    )
    wide = wide[[s for s in TEST_SPLITS if s in wide]].reset_index()
    summary = f"Full table: sensitivity with 95% interval, {len(wide)} rows ({label})"
    return HTML(folded_table(readable(wide), summary))


def paper_sensitivities_view(sens: pd.DataFrame) -> Styler:
    """The sensitivities the paper quotes (sections 3.3 and 3.4, real COOS-7) beside this
    run's (:func:`~coos_utils.analysis.confusion.paper_sensitivities_beside`); a dash for
    "not run here"."""
    table = paper_sensitivities_beside(sens)
    table["our classifier"] = table["our classifier"].fillna(DASH)
    return readable(table, decimals=3)


def _groups(matrices: Matrices, followed: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """Per group (:data:`POOLED` first, then each followed classifier), its matrix per test
    set."""
    pairs = _pairs(followed)
    groups = {POOLED: {s: pooled_confusions(matrices, pairs, s) for s in TEST_SPLITS}}
    groups.update({pair: {s: matrices[(*pair, s)] for s in TEST_SPLITS} for pair in pairs})
    return groups


def _first(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return frame[[*columns, *[c for c in frame.columns if c not in columns]]]


def top_confusions_all(matrices: Matrices, followed: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` commonest errors on each test set, pooled over the followed classifiers and
    for each of them: features, model, split, true class, predicted class, images, share."""
    parts = [
        top_confusions(by_split[split], k).assign(features=f, model=m, split=split)
        for (f, m), by_split in _groups(matrices, followed).items()
        for split in TEST_SPLITS
    ]
    return _first(pd.concat(parts, ignore_index=True), [*CLASSIFIER, "split"])


def shift_comparison_all(
    matrices: Matrices, followed: pd.DataFrame, min_share: float
) -> pd.DataFrame:
    """Errors common (at least ``min_share`` of the true class) on test3 or on test4,
    pooled over the followed classifiers and for each of them (``compare_shifts``)."""
    parts = [
        compare_shifts(by_split["test3"], by_split["test4"], min_share=min_share).assign(
            features=f, model=m
        )
        for (f, m), by_split in _groups(matrices, followed).items()
    ]
    return _first(pd.concat(parts, ignore_index=True), CLASSIFIER)


def pooled_view(frame: pd.DataFrame, label: str, what: str) -> list[object]:
    """The pooled rows of a :func:`top_confusions_all` or :func:`shift_comparison_all`
    table, shares in %, with a heading line."""
    rows = frame[(frame["features"] == POOLED[0]) & (frame["model"] == POOLED[1])]
    return [
        Markdown(f"{what}, pooled over the followed classifiers ({label}):"),
        readable(_percent_shares(rows.drop(columns=CLASSIFIER))),
    ]


def full_view(frame: pd.DataFrame, label: str, what: str) -> HTML:
    """A :func:`top_confusions_all` or :func:`shift_comparison_all` table, each followed
    classifier too, folded."""
    summary = f"Full table: {what}, for each followed classifier ({label})"
    return HTML(folded_table(readable(_percent_shares(frame)), summary))


def _percent_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Shares of the true class (0..1) as % with one decimal, the columns renamed."""
    shares = [c for c in frame.columns if c in ("share of true class", *SHIFTED, "difference")]
    shown = frame.copy()
    shown[shares] = 100 * shown[shares].astype(float)
    renamed = {c: f"{c} (%)" for c in shares}
    return shown.rename(columns=renamed).reset_index(drop=True)
