"""Check the paper's claims 1 and 3 (SPEC section 3) on a Table 3, in words made from the numbers.

A Table 3 here is a DataFrame with columns ``features, model, train, test1 .. test4``
(balanced error in percent), like ``results/<profile>/table3.csv`` or the paper's table.
Each check returns whether the claim holds on that table (``None`` when the table lacks the
rows the claim is about) and a sentence that states the numbers behind the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

IN_DISTRIBUTION = ("test1", "test2")
SHIFTED = ("test3", "test4")
TEST_SPLITS = IN_DISTRIBUTION + SHIFTED
SHARP_DROP_RATIO = 1.5
"""Claim 1's "drops sharply": mean error on test3/test4 at least this multiple of test1/test2."""
SAME_ERROR_POINTS = 1.0
"""Claim 3a's "about as good": mean absolute difference over the test sets, in points."""


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one claim of the paper for one table."""

    claim: str
    statement: str
    holds: bool | None
    sentence: str


def _label(row: pd.Series) -> str:
    return f"{row['features']} + {row['model']}"


def verdict(holds: bool | None) -> str:
    """The verdict on a claim in words: holds, does not hold, or cannot be checked."""
    return {True: "holds", False: "does not hold", None: "cannot be checked"}[holds]


def check_claim1(table: pd.DataFrame) -> ClaimCheck:
    """Every classifier: low error on test1/test2, a sharp rise on test3/test4."""
    statement = (
        "Every method does well on test1 and test2 and drops sharply on test3 and test4 "
        f"(read as: each classifier's error on both test3 and test4 exceeds its error on both "
        f"test1 and test2, and on average it is at least {SHARP_DROP_RATIO:g} times as high)."
    )
    inside = table[list(IN_DISTRIBUTION)].mean(axis=1)
    outside = table[list(SHIFTED)].mean(axis=1)
    drops = table[list(SHIFTED)].min(axis=1) > table[list(IN_DISTRIBUTION)].max(axis=1)
    mean_in, mean_out = float(inside.mean()), float(outside.mean())
    ratio = mean_out / mean_in if mean_in > 0 else np.inf
    holds = bool(drops.all() and ratio >= SHARP_DROP_RATIO)
    times = f"{ratio:.1f} times as high" if np.isfinite(ratio) else "up from zero"
    sentence = (
        f"Claim 1 {verdict(holds)} on this table: averaged over its {len(table)} classifiers "
        f"the balanced error is {mean_in:.1f}% on test1/test2 and {mean_out:.1f}% on "
        f"test3/test4 ({times}); {int(drops.sum())} of {len(table)} classifiers do worse on "
        "both shifted sets than on both in-distribution sets"
    )
    exceptions = [_label(row) for _, row in table[~drops].iterrows()]
    sentence += f" (not {', '.join(exceptions)})." if exceptions else "."
    return ClaimCheck("1", statement, holds, sentence)


def _row(table: pd.DataFrame, features: str, model: str) -> pd.Series | None:
    found = table[(table["features"] == features) & (table["model"] == model)]
    return None if found.empty else found.iloc[0]


def check_claim3_deeploc(table: pd.DataFrame) -> ClaimCheck:
    """kNN on DeepLoc FC2 is about as good as DeepLoc end to end."""
    statement = (
        "kNN on DeepLoc's FC2 features is about as good as DeepLoc end to end (read as: mean "
        f"absolute difference over the four test sets of at most {SAME_ERROR_POINTS:g} point)."
    )
    knn, e2e = _row(table, "DeepLoc (FC2)", "kNN"), _row(table, "DeepLoc", "End-to-End")
    if knn is None or e2e is None:
        return ClaimCheck(
            "3a",
            statement,
            None,
            "Claim 3a cannot be checked on this table: it has no DeepLoc rows "
            "(DeepLoc end to end and kNN on its FC2 features).",
        )
    diff = knn[list(TEST_SPLITS)].astype(float) - e2e[list(TEST_SPLITS)].astype(float)
    gap = float(diff.abs().mean())
    holds = gap <= SAME_ERROR_POINTS
    sentence = (
        f"Claim 3a {verdict(holds)} on this table: kNN on DeepLoc FC2 and DeepLoc end to end "
        f"differ by {gap:.2f} points on average over the test sets "
        f"(kNN {'lower' if diff.mean() < 0 else 'higher'} by {abs(float(diff.mean())):.2f} on "
        "average)."
    )
    return ClaimCheck("3a", statement, holds, sentence)


def lr_gains(table: pd.DataFrame) -> pd.Series:
    """Per representation: mean over the test sets of (kNN error - L1 LR error), in points."""
    gains = {}
    for features, rows in table.groupby("features", sort=False):
        knn, lr = _row(rows, features, "kNN"), _row(rows, features, "L1 LR")
        if knn is not None and lr is not None:
            gains[features] = float(
                (knn[list(TEST_SPLITS)].astype(float) - lr[list(TEST_SPLITS)].astype(float)).mean()
            )
    return pd.Series(gains, name="kNN - L1 LR", dtype=float)


def check_claim3_texture(table: pd.DataFrame) -> ClaimCheck:
    """Texture features gain more from L1 LR over kNN than any other representation."""
    statement = (
        "Texture features gain most from a weighting classifier (read as: the drop in error "
        "from kNN to L1 LR, averaged over the test sets, is positive for texture and larger "
        "than for any other representation in the table)."
    )
    gains = lr_gains(table)
    if "Texture" not in gains:
        return ClaimCheck(
            "3b", statement, None, "Claim 3b cannot be checked: no Texture kNN and L1 LR rows."
        )
    texture = gains["Texture"]
    others = gains.drop("Texture")
    holds = bool(texture > 0 and (others.empty or texture > others.max()))
    direction = "lowers" if texture > 0 else "does not lower"
    sentence = (
        f"Claim 3b {verdict(holds)} on this table: L1 LR {direction} the texture error "
        f"relative to kNN ({texture:+.1f} points on average over the test sets)"
    )
    if others.empty:
        sentence += "; no other representation is in the table, so only the direction is checked."
    else:
        best = others.idxmax()
        sentence += (
            f"; the largest gain among the other representations is {best} ({others.max():+.1f})."
        )
    return ClaimCheck("3b", statement, holds, sentence)


def check_claim3_spread(table: pd.DataFrame) -> ClaimCheck:
    """The representation changes the error more than the classifier does."""
    statement = (
        "The representation matters more than the classifier (read as: on the test sets, the "
        "error range across representations for a fixed classifier is on average wider than "
        "the range across classifiers for a fixed representation)."
    )
    common = table[table["model"].isin(["kNN", "L1 LR", "RF"])]
    if common["features"].nunique() < 2:
        return ClaimCheck(
            "3c",
            statement,
            None,
            "Claim 3c cannot be checked on this table: it has only one representation.",
        )
    long = common.melt(["features", "model"], list(TEST_SPLITS), "split", "error")
    across_rep = long.groupby(["model", "split"])["error"].agg(np.ptp).mean()
    across_model = long.groupby(["features", "split"])["error"].agg(np.ptp).mean()
    holds = bool(across_rep > across_model)
    sentence = (
        f"Claim 3c {verdict(holds)} on this table: changing the representation moves the error "
        f"by {across_rep:.1f} points on average (range over {common['features'].nunique()} "
        f"representations), changing the classifier by {across_model:.1f} points."
    )
    return ClaimCheck("3c", statement, holds, sentence)


def check_claims(table: pd.DataFrame) -> list[ClaimCheck]:
    """Claims 1 and 3 (in three parts) of SPEC section 3, checked on ``table``."""
    return [
        check_claim1(table),
        check_claim3_deeploc(table),
        check_claim3_texture(table),
        check_claim3_spread(table),
    ]


def claims_markdown(checks: list[ClaimCheck]) -> str:
    """The checks as a Markdown list: each claim as tested, then the verdict in words."""
    return "\n".join(f"- **Claim {c.claim}.** {c.statement}\n  *{c.sentence}*" for c in checks)
