"""Each chapter's opening answer: two to four sentences (Markdown) generated from a run's
numbers, never typed; and the intro's "at a glance" block.

Every function takes the run's tables (as read from its results folder), ``label`` (the data
and profile, e.g. ``ChapterRun.label``) and ``synthetic``; on synthetic data the sentences
call the data synthetic and say that a verdict there tests the code, not cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from coos_utils.analysis.claims import (
    RANDOM_INIT,
    TABLE_CLAIMS,
    ClaimCheck,
    Evidence,
    Verdict,
    check_claims,
)
from coos_utils.analysis.confusion import top_confusions
from coos_utils.analysis.selection import reported_outputs
from coos_utils.reference import SHIFTED, SPLITS, TEST_SPLITS, paper_table3
from coos_utils.reference import SPLIT_NAMES as ALL_SPLITS

CONFUSION_CLAIMS = ("4a", "4b", "4c", "4d", "5a", "5b")
"""The claims checked on confusion matrices (chapter 04)."""
CLAIMS_CHAPTER = "03_classifiers", "the-paper-s-claims-checked-on-these-numbers"
CONFUSION_CHAPTER = "04_confusion", "do-the-paper-s-claims-4-and-5-hold-here"
CLAIM_SECTIONS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(TABLE_CLAIMS, CLAIMS_CHAPTER),
    **dict.fromkeys(CONFUSION_CLAIMS, CONFUSION_CHAPTER),
}
"""Claim -> (chapter, section anchor) of the section that checks it."""
GLANCE_HREF = "_generated/{chapter}.html#{anchor}"
"""Link from the intro page (``book/intro``) to a chapter's section."""
SHORT_SYNTHETIC = (
    "The data are synthetic, simulated to show the paper's pattern, so these verdicts test the "
    "code, not cells."
)
PAPER_ONLY = "stated, not recomputable"
PAPER_ONLY_NOTE = (
    "Claims 4 and 5 rest on the paper's confusion matrices, which are not published; on the "
    "paper's side they are stated, not recomputed."
)


# --- shared wording --------------------------------------------------------------------------


def data_phrase(label: str, synthetic: bool) -> str:
    """The run's data and profile for running text; synthetic data are always called so."""
    text = label.replace("SYNTHETIC", "synthetic")
    text = text.replace(" (", ", ").replace("), ", "; ")  # no brackets inside brackets
    if synthetic and "synthetic" not in text.lower():
        text = f"synthetic data: {text}"
    return text


def _percent(value: float) -> str:
    return f"{value:.1f}%"


def _listed(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _name(row: pd.Series) -> str:
    return f"{row['features']} + {row['model']}"


def _reason(check: ClaimCheck) -> str:
    """The generated part of a check's sentence, after ``Claim X <verdict>:`` and before the
    list of rows left out."""
    text = check.sentence.split(": ", 1)[1] if ": " in check.sentence else check.sentence
    return text.split(" Left out: ", 1)[0]


def _left_out(check: ClaimCheck) -> list[str]:
    """The representations (first word of each features name) a check left out."""
    found = re.search(r"Left out: (.*?), computed with random weights", check.sentence)
    names = found.group(1).split(", ") if found else []
    return list(dict.fromkeys(name.split(" ")[0] for name in names))


def verdict_summary(
    checks: Iterable[ClaimCheck], where: str = "on this run", reasons: bool = True
) -> str:
    """One sentence per kind of verdict: the claims that hold, hold on the rows that could be
    checked, do not hold, or cannot be checked; with ``reasons``, each of the last two with
    its generated reason."""
    checks = list(checks)
    by = {v: [c for c in checks if c.verdict is v] for v in Verdict}
    parts = []
    if by[Verdict.HOLDS]:
        ids = [c.claim for c in by[Verdict.HOLDS]]
        noun = "Claim" if len(ids) == 1 else "Claims"
        parts.append(f"{noun} {_listed(ids)} {'holds' if len(ids) == 1 else 'hold'} {where}.")
    if by[Verdict.PARTLY]:
        ids = [c.claim for c in by[Verdict.PARTLY]]
        left = [n for c in by[Verdict.PARTLY] for n in _left_out(c)]
        parts.append(
            f"{'Claim' if len(ids) == 1 else 'Claims'} {_listed(ids)} "
            f"{'holds' if len(ids) == 1 else 'hold'} on the rows that could be checked "
            f"(the {_listed(list(dict.fromkeys(left)))} rows, computed with random weights, "
            "left out)."
        )
    for verdict, one, many in (
        (Verdict.FAILS, "does not hold", "do not hold"),
        (Verdict.UNCHECKABLE, "cannot be checked", "cannot be checked"),
    ):
        found = by[verdict]
        if found and reasons:
            parts += [
                f"Claim {c.claim} ({_short_claim(c)}) {one} {where}: {_reason(c)}" for c in found
            ]
        elif found:
            noun, said = ("Claim", one) if len(found) == 1 else ("Claims", many)
            ids = _listed([c.claim for c in found])
            parts.append(f"{noun} {ids} {said} {where} (the checks below say why).")
    return " ".join(parts)


# --- chapter 01: the data ------------------------------------------------------------------


def dataset_finding(counts: pd.DataFrame, label: str, synthetic: bool) -> str:
    """Chapter 01: images per split and class (``table2.csv``: split, class, images) and what
    shifts from ``train`` to each test set."""
    per_split = counts.groupby("split", sort=False)["images"].sum()
    train = counts[counts["split"] == "train"]["images"]
    tests = [s for s in TEST_SPLITS if s in per_split.index]
    paper_total = sum(s.images for s in SPLITS)
    first = (
        f"On this run ({data_phrase(label, synthetic)}) there are {per_split.get('train', 0):,} "
        f"training images and {_listed([f'{per_split[s]:,}' for s in tests])} in "
        f"{_listed(tests)} ({int(per_split.sum()):,} in all; the real COOS-7 has "
        f"{paper_total:,}), in {counts['class'].nunique()} classes of {train.min():,} to "
        f"{train.max():,} training images each."
    )
    what = {s.name: s.description for s in SPLITS}
    shifts = "; ".join(f"{s}: {what[s]}" for s in tests if s in what)
    how = "simulated to imitate the paper's design" if synthetic else "as in the paper"
    return f"{first} The test sets drift further and further from `train` ({how}): {shifts}."


# --- chapter 02: the features --------------------------------------------------------------


def cut_short_from_training(
    history: pd.DataFrame, changes: pd.DataFrame | None = None, far_short: float = 0.5
) -> dict[str, str]:
    """Representation -> why its training counts as cut short, from its training record
    (representation, iteration, val_score, chosen): it saw less than ``far_short`` of the
    images of the paper's protocol (iterations x batch size, from ``profile_changes.csv``
    where the paper's protocol is given in iterations), or its best validation score came at
    the last evaluation (still improving when training stopped)."""
    if history.empty:
        return {}
    paper = _paper_schedule(changes)
    reasons = {}
    for name, part in history.groupby("representation", sort=False):
        scored = part.dropna(subset=["val_score"])
        last = int(part["iteration"].max())
        chosen = scored.loc[scored["chosen"].astype(bool), "iteration"]
        improving = not chosen.empty and int(chosen.iloc[-1]) == int(scored["iteration"].max())
        why = []
        if str(name) in paper:
            (iterations, batch), (paper_iterations, paper_batch) = paper[str(name)]
            share = last * batch / (paper_iterations * paper_batch)
            if share < far_short:
                why.append(
                    f"trained on {share:.0%} of the paper's training images ({last:,} "
                    f"iterations of {batch}; the paper: {paper_iterations:,} of {paper_batch})"
                )
        if improving:
            why.append(f"its validation score was still improving at iteration {last:,}")
        if why:
            reasons[str(name)] = "; ".join(why)
    return reasons


def _paper_schedule(changes: pd.DataFrame | None) -> dict[str, tuple[tuple[int, int], ...]]:
    """Representation -> ((iterations, batch) here, (iterations, batch) in the paper), where
    ``profile_changes.csv`` gives all four numbers."""
    if changes is None or changes.empty:
        return {}
    schedules = {}
    for name, rows in changes.groupby("representation", sort=False):
        values = rows.set_index("parameter")
        wanted = [("iterations", "this profile"), ("batch_size", "this profile")]
        wanted += [("iterations", "paper protocol"), ("batch_size", "paper protocol")]
        numbers = [pd.to_numeric(values[col].get(param), errors="coerce") for param, col in wanted]
        if all(pd.notna(n) and n > 0 for n in numbers):
            here_i, here_b, paper_i, paper_b = (int(n) for n in numbers)
            schedules[str(name)] = ((here_i, here_b), (paper_i, paper_b))
    return schedules


def features_finding(
    extracted: pd.DataFrame,
    label: str,
    synthetic: bool,
    cut_short: Mapping[str, str] | None = None,
) -> str:
    """Chapter 02: what was computed (``features_extracted.csv``: representation, output,
    split, images, dimensions), and which networks were cut short (``cut_short``, e.g. from
    :func:`cut_short_from_training`)."""
    parts, shown = [], {}
    for name, rows in extracted.groupby("representation", sort=False):
        outputs = list(dict.fromkeys(rows["output"]))
        dims = rows.drop_duplicates("output")["dimensions"]
        size = f"{dims.min()}" if dims.nunique() == 1 else f"{dims.min()} to {dims.max()}"
        random = " with random weights" if any(RANDOM_INIT in o for o in outputs) else ""
        count = f"{len(outputs)} outputs" if len(outputs) > 1 else "1 output"
        shown[str(name)] = outputs[0].split(" ")[0]
        parts.append(f"{shown[str(name)]} ({count} of {size} dimensions{random})")
    splits = [s for s in ALL_SPLITS if s in set(extracted["split"])]
    text = (
        f"On this run ({data_phrase(label, synthetic)}) the features of {_listed(parts)} were "
        f"computed for {_listed(splits)}, every network fitted on `train` only."
    )
    if cut_short:
        named = [f"{shown.get(name, name)} ({why})" for name, why in cut_short.items()]
        text += (
            f" Cut short of the paper's protocol: {_listed(named)}; their rows are marked in "
            "every table and figure that follows."
        )
    else:
        text += " No network was cut short of its validation optimum."
    return text


# --- chapter 03: Table 3 -------------------------------------------------------------------


def _best(table: pd.DataFrame, split: str) -> pd.Series:
    return table.loc[table[split].astype(float).idxmin()]


def _best_phrase(table: pd.DataFrame, splits: Sequence[str]) -> str:
    """``X (5.1% on test3, 9.0% on test4)``, or ``X on test3 (6.8%) and Y on test4 (4.1%)``."""
    best = {s: _best(table, s) for s in splits}
    names = {s: _name(r) for s, r in best.items()}
    if len(set(names.values())) == 1:
        values = ", ".join(f"{_percent(best[s][s])} on {s}" for s in splits)
        return f"{next(iter(names.values()))} ({values})"
    return _listed([f"{names[s]} on {s} ({_percent(best[s][s])})" for s in splits])


def table3_finding(
    table: pd.DataFrame,
    label: str,
    synthetic: bool,
    cut_short: Mapping[str, str] | None = None,
) -> str:
    """Chapter 03: which classifier has the lowest error on test3 and test4, where texture +
    L1 LR is, the paper's numbers for both, and the verdicts on claims 1 to 3."""
    rows = reported_outputs(table)
    rows = rows[~rows["features"].str.contains(RANDOM_INIT, regex=False)]
    splits = [s for s in SHIFTED if s in table.columns]
    paper = paper_table3()
    sentences = [
        f"On this run ({data_phrase(label, synthetic)}) the lowest error on "
        f"{_listed(splits)} is reached by {_best_phrase(rows, splits)}."
    ]
    texture = rows[(rows["features"] == "Texture") & (rows["model"] == "L1 LR")]
    paper_texture = paper[(paper["features"] == "Texture") & (paper["model"] == "L1 LR")].iloc[0]
    if not texture.empty:
        ours = _listed([_percent(texture.iloc[0][s]) for s in splits])
        theirs = _listed([_percent(paper_texture[s]) for s in splits])
        sentences.append(
            f"Texture + L1 LR is at {ours} (the paper, on the real COOS-7: {theirs}; its "
            f"lowest: {_best_phrase(paper, splits)})."
        )
    checks = check_claims(Evidence(table, synthetic=synthetic), TABLE_CLAIMS)
    sentences.append(verdict_summary(checks))
    sentences.append(_cut_short_sentence(rows, cut_short))
    if synthetic:
        sentences.append(SHORT_SYNTHETIC)
    return " ".join(s for s in sentences if s)


def _cut_short_sentence(rows: pd.DataFrame, cut_short: Mapping[str, str] | None) -> str:
    if not cut_short:
        return ""
    names = [_display(rows["features"], k) for k in cut_short]
    hit = [n for n in names if n]
    if not hit:
        return ""
    return (
        f"Rows of {_listed(hit)} (marked) were trained far short of the paper's protocol and "
        "are not comparable with the paper's."
    )


def _display(features: pd.Series, key: str) -> str:
    """How the rows name the representation ``key`` (first word of the first features name
    starting with it, case-insensitive), or "" when no row does."""
    matched = features[features.str.lower().str.startswith(key.lower())]
    return str(matched.iloc[0]).split(" ")[0] if len(matched) else ""


# --- chapter 04: confusions ----------------------------------------------------------------


def pooled_confusions(
    matrices: Mapping[tuple[str, str, str], pd.DataFrame],
    classifiers: Iterable[tuple[str, str]],
    split: str,
) -> pd.DataFrame:
    """The count matrices of ``classifiers`` on ``split``, summed."""
    frames = [matrices[(f, m, split)] for f, m in classifiers if (f, m, split) in matrices]
    return sum(frames[1:], frames[0])


def confusion_finding(
    table: pd.DataFrame,
    matrices: Mapping[tuple[str, str, str], pd.DataFrame],
    followed: pd.DataFrame,
    label: str,
    synthetic: bool,
) -> str:
    """Chapter 04: the most confused class pair per test split (pooled over the followed
    classifiers) and the verdicts on claims 4 and 5."""
    pairs = list(zip(followed["features"], followed["model"], strict=True))
    found = []
    for split in TEST_SPLITS:
        top = top_confusions(pooled_confusions(matrices, pairs, split), k=1)
        if top.empty:
            found.append(f"none on {split}")
            continue
        row = top.iloc[0]
        found.append(
            f"on {split} {row['true class']} taken for {row['predicted class']} "
            f"({row['share of true class']:.1%})"
        )
    sentences = [
        f"On this run ({data_phrase(label, synthetic)}), pooled over the {len(pairs)} followed "
        "classifiers, the commonest confusion (as a share of the true class's images) is "
        f"{_listed(found)}."
    ]
    evidence = Evidence(table, matrices, followed, synthetic=synthetic)
    checks = check_claims(evidence, CONFUSION_CLAIMS)
    sentences.append(verdict_summary(checks, reasons=False))
    if synthetic:
        sentences.append(SHORT_SYNTHETIC)
    return " ".join(sentences)


# --- chapter 05: domain generalisation -----------------------------------------------------


def dg_finding(
    paired: pd.DataFrame,
    summary: pd.DataFrame,
    label: str,
    synthetic: bool,
    metric: str = "balanced_error",
) -> str:
    """Chapter 05: which methods beat ERM by the paired interval on each test set (from
    ``dg_vs_erm.csv``), the largest difference, the methods shown with a note instead of a
    difference (identical to ERM) and the methods that could not run (from ``dg.csv``)."""
    rows = paired[paired["metric"] == metric]
    notes = rows["note"].fillna("") if "note" in rows else pd.Series("", index=rows.index)
    noted = rows[rows["mean_diff"].isna() & (notes != "")]
    measured = rows.drop(noted.index)
    what = metric.replace("_", " ")
    methods = list(dict.fromkeys(measured["method"]))
    seeds = int(measured["seeds"].min()) if len(measured) else 0
    head = (
        f"On this run ({data_phrase(label, synthetic)}) {len(methods)} methods were compared "
        f"with ERM over {seeds} paired seeds"
    )
    test = "the paired 95% interval, with every paired seed agreeing"
    better = measured[measured["helps"].astype(bool)]
    if better.empty:
        sentences = [f"{head}; none has a lower {what} than ERM by {test}."]
    else:
        sentences = [f"{head}; by {test}, ERM's {what} is beaten by {_methods_by_split(better)}."]
    worse = measured[measured["hurts"].astype(bool)]
    if not worse.empty:
        sentences.append(f"Worse than ERM by the same test: {_methods_by_split(worse)}.")
    if len(measured):
        sentences.append(_largest_sentence(measured, metric))
    shown = pd.DataFrame({"method": noted["method"], "note": notes.loc[noted.index]})
    for method, note in shown.drop_duplicates().values:
        sentences.append(f"{method}: {note}, so no difference from ERM is shown.")
    missing = summary.loc[summary["seeds"] == 0, "method"].drop_duplicates()
    if len(missing):
        sentences.append(f"Not run: {_listed(list(missing))}.")
    return " ".join(sentences)


def _methods_by_split(rows: pd.DataFrame) -> str:
    """``A and B on test2, C on test3`` or ``A on test3 and test4``: the (method, split) pairs
    of ``rows``, grouped by test set or by method, whichever names fewer groups."""
    by_split = [
        f"{_listed(list(dict.fromkeys(g)))} on {split}"
        for split, g in rows.groupby("split", sort=True)["method"]
    ]
    by_method = [
        f"{method} on {_listed(list(g))}"
        for method, g in rows.groupby("method", sort=False)["split"]
    ]
    return _listed(min(by_method, by_split, key=len))


def _largest_sentence(rows: pd.DataFrame, metric: str) -> str:
    sign = 1.0 if metric == "balanced_error" else -1.0
    gains = -sign * rows["mean_diff"].astype(float)
    top = rows.loc[gains.idxmax()]
    change = "lower" if top["mean_diff"] < 0 else "higher"
    bounds = f"{top['ci_low']:.1f} to {top['ci_high']:.1f}"
    return (
        f"The largest gain over ERM is {top['method']} on {top['split']}: "
        f"{abs(top['mean_diff']):.1f} points {change} (paired 95% interval {bounds})."
    )


# --- the intro: at a glance ----------------------------------------------------------------


def paper_table_checks() -> list[ClaimCheck]:
    """Claims 1 to 3 checked on the paper's own Table 3 (real COOS-7)."""
    return check_claims(Evidence(paper_table3()), TABLE_CLAIMS)


def _short_claim(check: ClaimCheck) -> str:
    """The claim as the paper makes it: the statement without its test and parentheses."""
    return re.sub(r" \([^()]*\)", "", check.statement.split(" (tested as", 1)[0]).rstrip(".")


def at_a_glance(
    label: str,
    profile_description: str,
    run_checks: Sequence[ClaimCheck],
    paper_checks: Sequence[ClaimCheck] | None = None,
    href: str = GLANCE_HREF,
    synthetic: bool = False,
) -> str:
    """The intro's block: the run's data and profile, then one row per claim with its verdict
    on this run and on the paper's own Table 3 (claims 4 and 5 need the paper's confusion
    matrices, which are not published), each linking to the section that checks it."""
    paper = {c.claim: str(c.verdict) for c in (paper_checks or paper_table_checks())}
    lines = [
        f"**Data and profile:** {data_phrase(label, synthetic)} ({profile_description}).",
        "",
        "| claim | the paper says | this run | paper's Table 3 | checked in |",
        "|---|---|---|---|---|",
    ]
    for check in run_checks:
        chapter, anchor = CLAIM_SECTIONS.get(check.claim, CLAIMS_CHAPTER)
        link = f"[{chapter[:2]}]({href.format(chapter=chapter, anchor=anchor)})"
        statement = _short_claim(check).replace("|", r"\|")
        lines.append(
            f"| {check.claim} | {statement} | {check.verdict} | "
            f"{paper.get(check.claim, PAPER_ONLY)} | {link} |"
        )
    notes = [PAPER_ONLY_NOTE] if any(c.claim not in paper for c in run_checks) else []
    notes += [SHORT_SYNTHETIC] if synthetic else []
    return "\n".join(lines + ([""] + [" ".join(notes)] if notes else []))


def headline_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Per representation family (DeepLoc, Texture, VGG16, PCI: the first word of
    ``features``), the reported row with the lowest cross-validated error on ``train``
    (no test set takes part), with the paper's value for the same features and classifier
    (random-init suffix dropped) beside it: columns family, features, model, split, ours,
    paper."""
    rows = reported_outputs(table).copy()
    rows["family"] = rows["features"].str.split().str[0]
    score = rows["cv_error"] if "cv_error" in rows else rows["train"]
    rows = rows.loc[score.groupby(rows["family"], sort=False).idxmin()]
    paper = paper_table3().set_index(["features", "model"])
    out = []
    for _, row in rows.iterrows():
        key = (row["features"].replace(f" ({RANDOM_INIT})", ""), row["model"])
        for split in TEST_SPLITS:
            theirs = float(paper.loc[key, split]) if key in paper.index else np.nan
            out.append((row["family"], row["features"], row["model"], split, row[split], theirs))
    return pd.DataFrame(out, columns=["family", "features", "model", "split", "ours", "paper"])
