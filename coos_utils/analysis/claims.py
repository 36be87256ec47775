"""The paper's claims (SPEC section 3), one function each, checked on this run's numbers.

Every check takes the :class:`Evidence` of a run (its Table 3, its confusion matrices, the
classifier followed per representation, and whether the data are synthetic) and returns a
:class:`ClaimCheck`: the claim as the paper makes it with the thresholds used to test it, a
verdict (holds, does not hold, partly checked, cannot be checked) and a sentence generated from
the numbers. On synthetic data every verdict carries :data:`SYNTHETIC_NOTE`: the simulator was
built to show the paper's pattern, so a verdict there tests the code, not cells.

Classes are looked up by label number (the paper's Table 1 order), never by spelled-out names,
so a data file with other class names still gives the right rows.

The claims are about the paper's rows, so every check reads only the rows that stand for them:
of a representation with several outputs (VGG16, PCI layers) the outputs chosen by
cross-validation on ``train`` (:func:`~coos_utils.analysis.selection.reported_outputs`), and
no row computed without the pretrained weights (features named "... (random init)"): those
are left out, the verdict says what it could not check because of that, and a claim that
holds on the other rows is then only partly checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from coos_utils.analysis.confusion import class_sensitivities, main_error, top_confusions
from coos_utils.analysis.selection import reported_outputs
from coos_utils.reference import IN_DISTRIBUTION, SHIFTED, TEST_SPLITS

ER, IMM, GOLGI, PEROXISOMES, ENDOSOME, CYTOSOL, NUCLEAR_ENVELOPE = range(7)
"""Class labels of COOS-7 (the paper's Table 1)."""
SHARP_DROP_RATIO = 1.5
"""Claim 1: mean error on test3/test4 at least this multiple of the mean on test1/test2."""
SAME_ERROR_POINTS = 1.0
"""Claim 3a: mean absolute difference over the test sets, in points, for "about as good"."""
UNEVEN_SPREAD = 0.10
"""Claim 4a: best minus worst class sensitivity on each shifted set, at least."""
WELL = 0.90
"""Claim 4c: sensitivity at least this on every test set counts as "classified well"."""
DEEPLOC_OTHERS = 0.97
"""Claim 4d: every class but early endosome above this sensitivity on test4."""
GOLGI_LOST = 0.90
"""Claim 5b: a Golgi sensitivity below this counts as lost."""
GOLGI_GAP = 0.10
"""Claim 5b: PCI's Golgi sensitivity on test3 at least this much below its test4 value."""
RANDOM_INIT = "random init"
"""Marks the display name of features computed without their pretrained weights."""
SYNTHETIC_NOTE = (
    "These data are synthetic: the simulator was designed to show the paper's pattern (its "
    "test3 drifts copy the paper's confusions), so this verdict tests the code, not cells."
)

Matrices = Mapping[tuple[str, str, str], pd.DataFrame]


class Verdict(StrEnum):
    """The outcome of checking one claim."""

    HOLDS = "holds"
    FAILS = "does not hold"
    PARTLY = "partly checked"
    UNCHECKABLE = "cannot be checked"


@dataclass(frozen=True)
class Evidence:
    """What a run gives the claims to work on."""

    table: pd.DataFrame
    matrices: Matrices = field(default_factory=dict)
    followed: pd.DataFrame | None = None
    synthetic: bool = False


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one claim of the paper for one run."""

    claim: str
    statement: str
    verdict: Verdict
    sentence: str
    note: str = ""


def _check(
    claim: str,
    statement: str,
    verdict: Verdict,
    sentence: str,
    ev: Evidence,
    left_out: tuple[str, ...] = (),
) -> ClaimCheck:
    if left_out:
        verdict = Verdict.PARTLY if verdict is Verdict.HOLDS else verdict
        sentence += " " + _left_out_sentence(left_out)
    note = SYNTHETIC_NOTE if ev.synthetic and verdict is not Verdict.UNCHECKABLE else ""
    return ClaimCheck(claim, statement, verdict, f"Claim {claim} {verdict}: {sentence}", note)


def _left_out_sentence(left_out: tuple[str, ...]) -> str:
    return (
        f"Left out: {', '.join(left_out)}, computed with random weights (no pretrained "
        "weights were found here), so the paper's rows for these features are not checked."
    )


def _is_random(features: pd.Series) -> pd.Series:
    return features.str.contains(RANDOM_INIT, regex=False)


def _reported(table: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The rows that stand for the paper's (see the module docstring), and the names of the
    random-init features left out."""
    rows = reported_outputs(table)
    random = _is_random(rows["features"])
    return rows[~random], tuple(dict.fromkeys(rows.loc[random, "features"]))


def _holds(flag: bool) -> Verdict:
    return Verdict.HOLDS if flag else Verdict.FAILS


def _row(table: pd.DataFrame, features: str, model: str) -> pd.Series | None:
    found = table[(table["features"] == features) & (table["model"] == model)]
    return None if found.empty else found.iloc[0]


def _errors(row: pd.Series, splits: tuple[str, ...] = TEST_SPLITS) -> np.ndarray:
    return row[list(splits)].to_numpy(dtype=float)


def _pairs(ev: Evidence) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """The followed (features, model) pairs among the reported rows, and the random-init
    features left out."""
    table, left_out = _reported(ev.table)
    followed = ev.followed if ev.followed is not None else table[["features", "model"]]
    reported = set(zip(table["features"], table["model"], strict=True))
    pairs = list(zip(followed["features"], followed["model"], strict=True))
    random = tuple(f for f in dict.fromkeys(f for f, _ in pairs) if RANDOM_INIT in f)
    return [p for p in pairs if p in reported], tuple(dict.fromkeys(left_out + random))


def _name(counts: pd.DataFrame, label: int) -> str:
    return str(counts.index[label])


def claim1(ev: Evidence) -> ClaimCheck:
    """Every method does well on test1/test2 and drops sharply on test3 and on test4."""
    statement = (
        "Every method does well on test1 and test2 and drops sharply on test3 and test4 (tested "
        "as: each classifier's error on both test3 and test4 exceeds its error on both test1 and "
        f"test2, and the mean error on test3, and separately on test4, is at least "
        f"{SHARP_DROP_RATIO:g} times the mean over test1/test2)."
    )
    table, left_out = _reported(ev.table)
    if table.empty:
        sentence = "the table has no row that stands for one of the paper's."
        return _check("1", statement, Verdict.UNCHECKABLE, sentence, ev, left_out)
    inside = float(table[list(IN_DISTRIBUTION)].to_numpy(float).mean())
    outside = {split: float(table[split].mean()) for split in SHIFTED}
    ratios = {s: (e / inside if inside > 0 else np.inf) for s, e in outside.items()}
    drops = table[list(SHIFTED)].min(axis=1) > table[list(IN_DISTRIBUTION)].max(axis=1)
    sharp = all(r >= SHARP_DROP_RATIO for r in ratios.values())
    verdict = _holds(bool(drops.all() and sharp))
    shifted = ", ".join(
        f"{outside[s]:.1f}% on {s} ("
        + (f"{ratios[s]:.2f} times as high" if np.isfinite(ratios[s]) else "up from zero")
        + ")"
        for s in SHIFTED
    )
    exceptions = [f"{r.features} + {r.model}" for r in table[~drops].itertuples()]
    sentence = (
        f"averaged over {len(table)} classifiers the error is {inside:.1f}% on test1/test2, "
        f"{shifted}, threshold {SHARP_DROP_RATIO:g}; "
        f"{int(drops.sum())} of {len(table)} do worse on both shifted sets"
        + (f" (not {', '.join(exceptions)})." if exceptions else ".")
    )
    return _check("1", statement, verdict, sentence, ev, left_out)


def claim2(ev: Evidence) -> ClaimCheck:
    """The supervised DeepLoc has the lowest error on test3 and test4."""
    statement = (
        "The supervised DeepLoc has the lowest error on test3 and test4 (tested as: the best "
        "DeepLoc row, end to end or a classifier on its FC2 features, has a lower error than "
        "every row of every other representation, on test3 and on test4 separately)."
    )
    table, left_out = _reported(ev.table)
    deeploc = table["features"].str.startswith("DeepLoc")
    if not deeploc.any() or deeploc.all():
        missing = "DeepLoc rows" if not deeploc.any() else "rows of another representation"
        sentence = f"the table has no {missing}."
        return _check("2", statement, Verdict.UNCHECKABLE, sentence, ev, left_out)
    parts, wins = [], []
    for split in SHIFTED:
        ours = table[deeploc].loc[table[deeploc][split].idxmin()]
        other = table[~deeploc].loc[table[~deeploc][split].idxmin()]
        wins.append(ours[split] < other[split])
        parts.append(
            f"on {split} DeepLoc's best is {ours['features']} + {ours['model']} at "
            f"{ours[split]:.1f}%, the best other is {other['features']} + {other['model']} at "
            f"{other[split]:.1f}%"
        )
    sentence = "; ".join(parts) + "."
    return _check("2", statement, _holds(all(wins)), sentence, ev, left_out)


def claim3a(ev: Evidence) -> ClaimCheck:
    """kNN on DeepLoc's FC2 features is about as good as DeepLoc end to end."""
    statement = (
        "kNN on DeepLoc's FC2 features is about as good as DeepLoc end to end (tested as: mean "
        f"absolute difference over the four test sets of at most {SAME_ERROR_POINTS:g} point)."
    )
    table, _ = _reported(ev.table)
    knn, e2e = _row(table, "DeepLoc (FC2)", "kNN"), _row(table, "DeepLoc", "End-to-End")
    if knn is None or e2e is None:
        sentence = "the table has no DeepLoc end-to-end row or no kNN on DeepLoc FC2."
        return _check("3a", statement, Verdict.UNCHECKABLE, sentence, ev)
    diff = _errors(knn) - _errors(e2e)
    gap = float(np.abs(diff).mean())
    sentence = (
        f"they differ by {gap:.2f} points on average over the test sets (threshold "
        f"{SAME_ERROR_POINTS:g}); kNN is {'lower' if diff.mean() < 0 else 'higher'} by "
        f"{abs(float(diff.mean())):.2f} on average."
    )
    return _check("3a", statement, _holds(gap <= SAME_ERROR_POINTS), sentence, ev)


def lr_gains(table: pd.DataFrame) -> pd.Series:
    """Per representation: mean over the test sets of (kNN error - L1 LR error), in points."""
    gains = {}
    for features, rows in table.groupby("features", sort=False):
        knn, lr = _row(rows, features, "kNN"), _row(rows, features, "L1 LR")
        if knn is not None and lr is not None:
            gains[features] = float((_errors(knn) - _errors(lr)).mean())
    return pd.Series(gains, name="kNN - L1 LR", dtype=float)


def claim3b(ev: Evidence) -> ClaimCheck:
    """Texture features gain most from a weighting classifier (L1 LR over kNN)."""
    statement = (
        "Texture features gain most from a weighting classifier (tested as: the drop in error "
        "from kNN to L1 LR, averaged over the test sets, is positive for texture and larger than "
        "for every other representation)."
    )
    table, left_out = _reported(ev.table)
    gains = lr_gains(table)
    if "Texture" not in gains:
        sentence = "the table has no texture kNN and L1 LR rows."
        return _check("3b", statement, Verdict.UNCHECKABLE, sentence, ev, left_out)
    texture, others = gains["Texture"], gains.drop("Texture")
    sentence = f"L1 LR changes the texture error by {-texture:+.1f} points relative to kNN"
    if others.empty:
        sentence += "; no other representation is in the table, so only the direction is checked."
        verdict = Verdict.PARTLY if texture > 0 else Verdict.FAILS
        return _check("3b", statement, verdict, sentence, ev, left_out)
    sentence += f"; the largest gain elsewhere is {others.idxmax()} ({others.max():+.1f} points)."
    verdict = _holds(bool(texture > 0 and texture > others.max()))
    return _check("3b", statement, verdict, sentence, ev, left_out)


def claim3c(ev: Evidence) -> ClaimCheck:
    """The representation changes the error more than the classifier does."""
    statement = (
        "The representation matters more than the classifier (tested as: on the test sets, the "
        "error range across representations for a fixed classifier is on average wider than "
        "the range across classifiers for a fixed representation)."
    )
    table, left_out = _reported(ev.table)
    common = table[table["model"].isin(["kNN", "L1 LR", "RF"])]
    n_rep = common["features"].nunique()
    if n_rep < 2:
        sentence = "the table has only one representation."
        return _check("3c", statement, Verdict.UNCHECKABLE, sentence, ev, left_out)
    long = common.melt(["features", "model"], list(TEST_SPLITS), "split", "error")
    across_rep = long.groupby(["model", "split"])["error"].agg(np.ptp).mean()
    across_model = long.groupby(["features", "split"])["error"].agg(np.ptp).mean()
    sentence = (
        f"changing the representation moves the error by {across_rep:.1f} points on average "
        f"(over {n_rep} representations), changing the classifier by {across_model:.1f}."
    )
    verdict = _holds(bool(across_rep > across_model))
    return _check("3c", statement, verdict, sentence, ev, left_out)


def _followed_pairs(
    claim: str, statement: str, ev: Evidence
) -> tuple[list[tuple[str, str]], tuple[str, ...], ClaimCheck | None]:
    """The followed pairs a matrix claim reads, the features left out, and the check to
    return instead when there is nothing to read."""
    pairs, left_out = _pairs(ev)
    if not ev.matrices or not pairs:
        sentence = (
            "no confusion matrices of the followed classifiers were given."
            if not ev.matrices
            else "no followed classifier stands for one of the paper's rows."
        )
        return (
            pairs,
            left_out,
            _check(claim, statement, Verdict.UNCHECKABLE, sentence, ev, left_out),
        )
    return pairs, left_out, None


def claim4a(ev: Evidence) -> ClaimCheck:
    """Errors are not uniform across classes."""
    statement = (
        "Errors are not uniform across classes (tested as: for the followed classifier of each "
        "representation, the best and worst class sensitivities on test3 and on test4 differ by "
        f"at least {UNEVEN_SPREAD:.2f})."
    )
    pairs, left_out, missing = _followed_pairs("4a", statement, ev)
    if missing:
        return missing
    parts, spreads = [], []
    for features, model in pairs:
        for split in SHIFTED:
            sens = class_sensitivities(ev.matrices[(features, model, split)])
            spreads.append(float(sens.max() - sens.min()))
            parts.append(
                f"{features} + {model} on {split}: {sens.idxmin()} {sens.min():.2f} vs "
                f"{sens.idxmax()} {sens.max():.2f}"
            )
    verdict = _holds(min(spreads) >= UNEVEN_SPREAD)
    return _check("4a", statement, verdict, "; ".join(parts) + ".", ev, left_out)


PAPER_COMMON_ERRORS = {(ENDOSOME, ER), (ENDOSOME, GOLGI), (GOLGI, IMM), (GOLGI, PEROXISOMES)}


def claim4b(ev: Evidence) -> ClaimCheck:
    """The commonest errors: early endosome taken for ER or Golgi, Golgi for IMM or peroxisomes."""
    statement = (
        "The commonest errors are early endosome taken for ER or Golgi, and Golgi taken for IMM "
        "or peroxisomes (tested as: pooling the followed classifiers over the four test sets, "
        "the commonest error is one of these four and so are at least two of the three commonest)."
    )
    pairs, left_out, missing = _followed_pairs("4b", statement, ev)
    if missing:
        return missing
    frames = [ev.matrices[(f, m, s)] for f, m in pairs for s in TEST_SPLITS]
    pooled = sum(frames[1:], frames[0])
    top = top_confusions(pooled, k=3)
    if top.empty:
        return _check("4b", statement, Verdict.FAILS, "there are no errors at all.", ev, left_out)
    position = {name: label for label, name in enumerate(pooled.index)}
    named = list(zip(top["true class"], top["predicted class"], strict=True))
    pairs = [(position[t], position[p]) for t, p in named]
    matches = [pair in PAPER_COMMON_ERRORS for pair in pairs]
    listed = "; ".join(
        f"{t} taken for {p} ({s:.1%} of its images)"
        for (t, p), s in zip(named, top["share of true class"], strict=True)
    )
    verdict = _holds(bool(matches[0] and sum(matches) >= min(2, len(matches))))
    sentence = f"the three commonest errors are {listed}."
    return _check("4b", statement, verdict, sentence, ev, left_out)


def claim4c(ev: Evidence) -> ClaimCheck:
    """Cytosol and nuclear envelope are classified well everywhere."""
    statement = (
        "Cytosol and nuclear envelope are classified well everywhere (tested as: sensitivity of "
        f"at least {WELL:.2f} on every test set for the followed classifier of each "
        "representation)."
    )
    pairs, left_out, missing = _followed_pairs("4c", statement, ev)
    if missing:
        return missing
    lows = []
    for features, model in pairs:
        for split in TEST_SPLITS:
            counts = ev.matrices[(features, model, split)]
            sens = class_sensitivities(counts)
            for label in (CYTOSOL, NUCLEAR_ENVELOPE):
                lows.append((float(sens.iloc[label]), _name(counts, label), features, model, split))
    worst = min(lows)
    sentence = (
        f"the lowest of these sensitivities is {worst[0]:.2f} ({worst[1]}, {worst[2]} + "
        f"{worst[3]} on {worst[4]}; threshold {WELL:.2f})."
    )
    return _check("4c", statement, _holds(worst[0] >= WELL), sentence, ev, left_out)


def claim4d(ev: Evidence) -> ClaimCheck:
    """DeepLoc on test4: every class above 0.97 sensitivity except early endosome."""
    statement = (
        f"DeepLoc end to end on test4: every class above {DEEPLOC_OTHERS:.2f} sensitivity except "
        "early endosome, which is the lowest (0.684 in the paper, against 0.989 on test1)."
    )
    key4, key1 = ("DeepLoc", "End-to-End", "test4"), ("DeepLoc", "End-to-End", "test1")
    if key4 not in ev.matrices or key1 not in ev.matrices:
        sentence = "DeepLoc end to end was not run."
        return _check("4d", statement, Verdict.UNCHECKABLE, sentence, ev)
    sens4 = class_sensitivities(ev.matrices[key4])
    sens1 = class_sensitivities(ev.matrices[key1])
    endosome, others = sens4.iloc[ENDOSOME], sens4.drop(sens4.index[ENDOSOME])
    verdict = _holds(bool(others.min() > DEEPLOC_OTHERS and endosome < others.min()))
    sentence = (
        f"on test4 early endosome is at {endosome:.3f} (test1 {sens1.iloc[ENDOSOME]:.3f}); the "
        f"lowest other class is {others.idxmin()} at {others.min():.3f} (threshold "
        f"{DEEPLOC_OTHERS:.2f})."
    )
    return _check("4d", statement, verdict, sentence, ev)


def claim5a(ev: Evidence) -> ClaimCheck:
    """Early endosome is mostly confused with ER in test3 and with Golgi in test4."""
    statement = (
        "Early endosome is mostly confused with ER in test3 and with Golgi in test4 (tested as: "
        "for more than half of the followed classifiers, ER is its commonest wrong label on "
        "test3 and Golgi on test4)."
    )
    pairs, left_out, missing = _followed_pairs("5a", statement, ev)
    if missing:
        return missing
    agree, parts = 0, []
    for features, model in pairs:
        m3, m4 = ev.matrices[(features, model, "test3")], ev.matrices[(features, model, "test4")]
        on3 = main_error(m3, _name(m3, ENDOSOME))
        on4 = main_error(m4, _name(m4, ENDOSOME))
        agree += on3[0] == _name(m3, ER) and on4[0] == _name(m4, GOLGI)
        parts.append(
            f"{features} + {model}: test3 {on3[0] or 'no error'} ({on3[1]:.1%}), "
            f"test4 {on4[0] or 'no error'} ({on4[1]:.1%})"
        )
    sentence = (
        f"{agree} of {len(parts)} classifiers follow the pattern; commonest wrong label for early "
        "endosome: " + "; ".join(parts) + "."
    )
    return _check("5a", statement, _holds(agree > len(parts) / 2), sentence, ev, left_out)


def _best_layer(table: pd.DataFrame, prefix: str, ev: Evidence) -> tuple[str | None, str]:
    """The ``prefix`` layer whose L1 LR row has the lowest ``cv_error`` on ``train`` (among
    the layers with test3/test4 matrices), or None and why not."""
    rows = table[table["features"].str.startswith(prefix) & (table["model"] == "L1 LR")]
    have = [all((f, "L1 LR", s) in ev.matrices for s in SHIFTED) for f in rows["features"]]
    rows = rows[np.asarray(have, dtype=bool)]
    if rows.empty:
        return None, f"{prefix} + L1 LR was not run"
    if len(rows) == 1:
        return str(rows["features"].iloc[0]), ""
    cv = rows["cv_error"] if "cv_error" in rows else pd.Series(np.nan, index=rows.index)
    if cv.isna().all():
        return None, f"no cross-validated error on train to choose among the {prefix} layers"
    return str(rows.loc[cv.idxmin(), "features"]), ""


def _golgi(ev: Evidence, features: str) -> tuple[float, ...]:
    return tuple(
        float(class_sensitivities(ev.matrices[(features, "L1 LR", s)]).iloc[GOLGI]) for s in SHIFTED
    )


def claim5b(ev: Evidence) -> ClaimCheck:
    """VGG16 + L1 LR loses Golgi on test3 and test4; PCI + L1 LR on test3 only."""
    statement = (
        "VGG16 + L1 LR loses Golgi sensitivity on both test3 (0.848) and test4 (0.866); PCI + "
        "L1 LR only on test3 (0.749 against 0.984 on test4) (tested as: the paper quotes one "
        "classifier each, so for each the layer with the lowest cross-validated L1 LR error on "
        f"train is read; VGG16's Golgi sensitivity is below {GOLGI_LOST:.2f} on both sets, "
        f"and PCI's on test3 is at least {GOLGI_GAP:.2f} below its test4 value)."
    )
    table, left_out = _reported(ev.table)
    vgg_left_out = [f for f in left_out if f.startswith("VGG16")]
    if vgg_left_out and not table["features"].str.startswith("VGG16").any():
        sentence = "VGG16 ran with random weights (no ImageNet checkpoint here)."
        return _check("5b", statement, Verdict.UNCHECKABLE, sentence, ev, left_out)
    (vgg, why_vgg), (pci, why_pci) = _best_layer(table, "VGG16", ev), _best_layer(table, "PCI", ev)
    if vgg is None or pci is None:
        sentence = "; ".join(w for w in (why_vgg, why_pci) if w) + "."
        return _check("5b", statement, Verdict.UNCHECKABLE, sentence, ev, left_out)
    found = {vgg: _golgi(ev, vgg), pci: _golgi(ev, pci)}
    listed = "; ".join(f"{f} + L1 LR: test3 {a:.3f}, test4 {b:.3f}" for f, (a, b) in found.items())
    (v3, v4), (p3, p4) = found[vgg], found[pci]
    holds = v3 < GOLGI_LOST and v4 < GOLGI_LOST and p3 <= p4 - GOLGI_GAP
    sentence = f"Golgi sensitivity (layer with the lowest cross-validated error) {listed}."
    return _check("5b", statement, _holds(holds), sentence, ev, left_out)


CLAIMS: dict[str, Callable[[Evidence], ClaimCheck]] = {
    "1": claim1,
    "2": claim2,
    "3a": claim3a,
    "3b": claim3b,
    "3c": claim3c,
    "4a": claim4a,
    "4b": claim4b,
    "4c": claim4c,
    "4d": claim4d,
    "5a": claim5a,
    "5b": claim5b,
}
TABLE_CLAIMS = ("1", "2", "3a", "3b", "3c")
"""The claims that need Table 3 alone."""


def check_claims(ev: Evidence, which: tuple[str, ...] | None = None) -> list[ClaimCheck]:
    """The claims named in ``which`` (all by default), checked on ``ev``."""
    return [CLAIMS[name](ev) for name in which or tuple(CLAIMS)]


def claims_markdown(checks: list[ClaimCheck]) -> str:
    """The checks as a Markdown list: claim as tested, verdict sentence, synthetic note."""
    lines = []
    for c in checks:
        lines.append(f"- **Claim {c.claim}.** {c.statement}\n  *{c.sentence}*")
        if c.note:
            lines.append(f"  ({c.note})")
    return "\n".join(lines)


def verdicts(checks: list[ClaimCheck], column: str) -> pd.Series:
    """Claim -> verdict, as one column of a side-by-side comparison."""
    return pd.Series({c.claim: str(c.verdict) for c in checks}, name=column)
