"""Check the paper's claims 4 and 5 (SPEC section 3) on confusion matrices, in generated words.

``matrices`` maps (features, model, split) to a confusion-count DataFrame (rows = true class,
class names as index and columns); ``best`` is the table of
:func:`coos_utils.confusion.best_models`.
Each check returns a :class:`~coos_utils.claims.ClaimCheck`: ``holds`` is None when the data
lack what the claim is about (for example the DeepLoc or VGG16 rows).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from coos_utils.claims import ClaimCheck, verdict
from coos_utils.confusion import main_error, row_normalised, top_confusions

Matrices = Mapping[tuple[str, str, str], pd.DataFrame]
SHIFTED = ("test3", "test4")
TEST_SPLITS = ("test1", "test2", "test3", "test4")
ENDOSOME, ER, GOLGI = "Early Endosome", "Endoplasmic Reticulum", "Golgi"
IMM, PEROXISOMES = "Inner Mitochondrial Membrane", "Peroxisomes"
WELL_CLASSIFIED = ("Cytosol", "Nuclear Envelope")
PAPER_COMMON_ERRORS = {(ENDOSOME, ER), (ENDOSOME, GOLGI), (GOLGI, IMM), (GOLGI, PEROXISOMES)}
UNEVEN_SPREAD = 0.10
"""Claim 4a's "not uniform": best minus worst class sensitivity on a shifted set, at least."""
WELL = 0.90
"""Claim 4c's "classified well": sensitivity at least this on every test set."""


def _sensitivities(counts: pd.DataFrame) -> pd.Series:
    rates = row_normalised(counts)
    return pd.Series([rates.iat[i, i] for i in range(len(rates))], index=rates.index)


def _pairs(best: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(best["features"], best["model"], strict=True))


def _pooled(matrices: Matrices, best: pd.DataFrame, splits: tuple[str, ...]) -> pd.DataFrame:
    frames = [matrices[(f, m, s)] for f, m in _pairs(best) for s in splits if (f, m, s) in matrices]
    return sum(frames[1:], frames[0])


def check_claim4_uneven(matrices: Matrices, best: pd.DataFrame) -> ClaimCheck:
    statement = (
        "Errors are not uniform across classes (read as: for the best classifier of each "
        f"representation, the best and worst class sensitivities on test3 and on test4 differ by "
        f"at least {UNEVEN_SPREAD:.2f})."
    )
    parts, spreads = [], []
    for features, model in _pairs(best):
        for split in SHIFTED:
            sens = _sensitivities(matrices[(features, model, split)])
            spreads.append(float(sens.max() - sens.min()))
            parts.append(
                f"{features} + {model} on {split}: {sens.idxmin()} {sens.min():.2f} "
                f"vs {sens.idxmax()} {sens.max():.2f}"
            )
    holds = min(spreads) >= UNEVEN_SPREAD
    sentence = f"Claim 4a {verdict(holds)} here: " + "; ".join(parts) + "."
    return ClaimCheck("4a", statement, holds, sentence)


def check_claim4_common_errors(matrices: Matrices, best: pd.DataFrame) -> ClaimCheck:
    statement = (
        "The commonest errors are early endosome taken for ER or Golgi, and Golgi taken for IMM "
        "or peroxisomes (read as: pooling the best classifiers over the four test sets, the "
        "commonest error is one of these four and so are at least two of the three commonest)."
    )
    top = top_confusions(_pooled(matrices, best, TEST_SPLITS), k=3)
    if top.empty:
        return ClaimCheck(
            "4b", statement, False, "Claim 4b does not hold here: there are no errors."
        )
    pairs = list(zip(top["true class"], top["predicted class"], strict=True))
    matches = [p in PAPER_COMMON_ERRORS for p in pairs]
    holds = bool(matches[0] and sum(matches) >= min(2, len(matches)))
    listed = "; ".join(
        f"{t} taken for {p} ({s:.1%} of its images)"
        for t, p, s in zip(
            top["true class"], top["predicted class"], top["share of true class"], strict=True
        )
    )
    sentence = f"Claim 4b {verdict(holds)} here: the three commonest errors are {listed}."
    return ClaimCheck("4b", statement, holds, sentence)


def check_claim4_well_classified(matrices: Matrices, best: pd.DataFrame) -> ClaimCheck:
    statement = (
        "Cytosol and nuclear envelope are classified well everywhere (read as: sensitivity of "
        f"at least {WELL:.2f} on every test set for the best classifier of each representation)."
    )
    lows = []
    for features, model in _pairs(best):
        for split in TEST_SPLITS:
            sens = _sensitivities(matrices[(features, model, split)])
            lows += [(float(sens[c]), c, features, model, split) for c in WELL_CLASSIFIED]
    worst = min(lows)
    holds = worst[0] >= WELL
    sentence = (
        f"Claim 4c {verdict(holds)} here: the lowest of these sensitivities is {worst[0]:.2f} "
        f"({worst[1]}, {worst[2]} + {worst[3]} on {worst[4]})."
    )
    return ClaimCheck("4c", statement, holds, sentence)


def check_claim4_deeploc(matrices: Matrices) -> ClaimCheck:
    statement = (
        "DeepLoc on test4: every class above 0.97 sensitivity except early endosome (0.684 in "
        "the paper, against 0.989 on test1)."
    )
    key4, key1 = ("DeepLoc", "End-to-End", "test4"), ("DeepLoc", "End-to-End", "test1")
    if key4 not in matrices or key1 not in matrices:
        return ClaimCheck(
            "4d", statement, None, "Claim 4d cannot be checked here: DeepLoc was not run."
        )
    sens4, sens1 = _sensitivities(matrices[key4]), _sensitivities(matrices[key1])
    others = sens4.drop(ENDOSOME)
    holds = bool(others.min() > 0.97 and sens4[ENDOSOME] < others.min())
    sentence = (
        f"Claim 4d {verdict(holds)} here: on test4 early endosome {sens4[ENDOSOME]:.3f} "
        f"(test1 {sens1[ENDOSOME]:.3f}); the lowest other class is {others.idxmin()} "
        f"{others.min():.3f}."
    )
    return ClaimCheck("4d", statement, holds, sentence)


def check_claim5_endosome(matrices: Matrices, best: pd.DataFrame) -> ClaimCheck:
    statement = (
        "Early endosome is mostly confused with ER in test3 and with Golgi in test4 (read as: "
        "for most of the best classifiers, ER is its commonest wrong label on test3 and Golgi "
        "on test4)."
    )
    agree, parts = 0, []
    for features, model in _pairs(best):
        on3 = main_error(matrices[(features, model, "test3")], ENDOSOME)
        on4 = main_error(matrices[(features, model, "test4")], ENDOSOME)
        agree += on3[0] == ER and on4[0] == GOLGI
        parts.append(
            f"{features} + {model}: test3 {on3[0] or 'no error'} ({on3[1]:.1%}), "
            f"test4 {on4[0] or 'no error'} ({on4[1]:.1%})"
        )
    holds = agree > len(parts) / 2
    sentence = (
        f"Claim 5a {verdict(holds)} here ({agree} of {len(parts)} classifiers follow the "
        "pattern); commonest wrong label for early endosome: " + "; ".join(parts) + "."
    )
    return ClaimCheck("5a", statement, holds, sentence)


def check_claim5_golgi(matrices: Matrices) -> ClaimCheck:
    statement = (
        "VGG16 + L1 LR loses Golgi sensitivity on both test3 (0.848) and test4 (0.866); PCI + "
        "L1 LR only on test3 (0.749 against 0.984 on test4)."
    )
    found = {
        features: (
            _sensitivities(matrices[(features, "L1 LR", "test3")])[GOLGI],
            _sensitivities(matrices[(features, "L1 LR", "test4")])[GOLGI],
        )
        for features, _, split in matrices
        if split == "test3"
        and (features.startswith("VGG16") or features.startswith("PCI"))
        and (features, "L1 LR", "test4") in matrices
    }
    if not found:
        return ClaimCheck(
            "5b", statement, None, "Claim 5b cannot be checked here: VGG16 and PCI were not run."
        )
    listed = "; ".join(f"{f} + L1 LR: test3 {a:.3f}, test4 {b:.3f}" for f, (a, b) in found.items())
    vgg = [v for f, v in found.items() if f.startswith("VGG16")]
    pci = [v for f, v in found.items() if f.startswith("PCI")]
    holds = None
    if vgg and pci:
        holds = bool(all(a < 0.9 and b < 0.9 for a, b in vgg) and all(a < b - 0.1 for a, b in pci))
    sentence = f"Claim 5b {verdict(holds)} here: Golgi sensitivity {listed}."
    return ClaimCheck("5b", statement, holds, sentence)


def check_claims_4_5(matrices: Matrices, best: pd.DataFrame) -> list[ClaimCheck]:
    """Claims 4 (four parts) and 5 (two parts) of SPEC section 3."""
    return [
        check_claim4_uneven(matrices, best),
        check_claim4_common_errors(matrices, best),
        check_claim4_well_classified(matrices, best),
        check_claim4_deeploc(matrices),
        check_claim5_endosome(matrices, best),
        check_claim5_golgi(matrices),
    ]
