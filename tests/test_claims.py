"""The paper's claims: each verdict follows the numbers, can fail, and says when it can't tell."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coos_utils.analysis.claims import (
    CLAIMS,
    SYNTHETIC_NOTE,
    TABLE_CLAIMS,
    Evidence,
    Verdict,
    check_claims,
    claims_markdown,
)
from coos_utils.analysis.confusion import confusion_frame
from coos_utils.reference import CLASS_NAMES, TEST_SPLITS, paper_table3

EE, ER, GOLGI, IMM = (
    "Early Endosome",
    "Endoplasmic Reticulum",
    "Golgi",
    "Inner Mitochondrial Membrane",
)


def _counts(errors: dict[tuple[str, str], int], per_class: int = 100, names=CLASS_NAMES):
    y_true, y_pred = [], []
    for i, name in enumerate(CLASS_NAMES):
        wrong = [(CLASS_NAMES.index(p), n) for (t, p), n in errors.items() if t == name]
        y_true += [i] * per_class
        y_pred += [i] * (per_class - sum(n for _, n in wrong)) + [
            p for p, n in wrong for _ in range(n)
        ]
    return confusion_frame(np.array(y_true), np.array(y_pred), names)


def _matrices(test3, test4, features="Texture", model="L1 LR") -> dict:
    base = _counts({}, names=test3.index)
    return {
        (features, model, s): m
        for s, m in (("test1", base), ("test2", base), ("test3", test3), ("test4", test4))
    }


def _table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["features", "model", *TEST_SPLITS])


FOLLOWED = pd.DataFrame({"features": ["Texture"], "model": ["L1 LR"]})
TABLE = _table([("Texture", "L1 LR", 5, 5, 20, 20)])


def verdict(name: str, ev: Evidence) -> Verdict:
    return CLAIMS[name](ev).verdict


def test_every_claim_is_checked_once() -> None:
    assert list(CLAIMS) == ["1", "2", "3a", "3b", "3c", "4a", "4b", "4c", "4d", "5a", "5b"]
    checks = check_claims(Evidence(TABLE))
    assert [c.claim for c in checks] == list(CLAIMS)
    assert all(c.sentence.startswith(f"Claim {c.claim} {c.verdict}") for c in checks)


def test_table_claims_on_the_papers_table() -> None:
    checks = {c.claim: c for c in check_claims(Evidence(paper_table3()), TABLE_CLAIMS)}
    assert (
        checks["1"].verdict is Verdict.HOLDS
        and "10.5% on test3 (2.31 times as high)" in checks["1"].sentence
    )
    assert checks["2"].verdict is Verdict.HOLDS
    assert checks["3a"].verdict is Verdict.HOLDS
    assert checks["3b"].verdict is Verdict.HOLDS and checks["3c"].verdict is Verdict.HOLDS
    assert not any(c.note for c in checks.values())


def test_claim1_and_3b_follow_the_numbers() -> None:
    table = _table(
        [
            ("Texture", "kNN", 10, 10, 30, 30),
            ("Texture", "L1 LR", 12, 12, 13, 13),
            ("Texture", "RF", 5, 5, 20, 20),
        ]
    )
    one = CLAIMS["1"](Evidence(table))
    assert one.verdict is Verdict.HOLDS
    assert "9.0% on test1/test2, 21.0% on test3 (2.33 times as high)" in one.sentence
    assert "threshold 1.5" in one.sentence
    sharp_on_test4_only = table.assign(test3=[11, 13, 6])
    one = CLAIMS["1"](Evidence(sharp_on_test4_only))
    assert one.verdict is Verdict.FAILS and "3 of 3 do worse on both shifted sets" in one.sentence
    assert "10.0% on test3 (1.11 times as high), 21.0% on test4 (2.33" in one.sentence
    three_b = CLAIMS["3b"](Evidence(table))
    assert three_b.verdict is Verdict.PARTLY and "only the direction" in three_b.sentence
    table.loc[1, ["test3", "test4"]] = [11, 40]
    one = CLAIMS["1"](Evidence(table))
    assert one.verdict is Verdict.FAILS and "(not Texture + L1 LR)" in one.sentence


def test_claim2_needs_deeploc_and_says_when_vgg_is_random() -> None:
    assert verdict("2", Evidence(TABLE)) is Verdict.UNCHECKABLE
    rows = [
        ("DeepLoc", "End-to-End", 1, 1, 7, 5),
        ("VGG16 Conv4_1 (random init)", "L1 LR", 5, 5, 9, 9),
        ("Texture", "L1 LR", 5, 5, 12, 12),
    ]
    check = CLAIMS["2"](Evidence(_table(rows)))
    assert check.verdict is Verdict.PARTLY and "random weights" in check.sentence
    rows[1] = ("VGG16 Conv4_1", "L1 LR", 5, 5, 6, 9)
    assert verdict("2", Evidence(_table(rows))) is Verdict.FAILS


def test_claim3a_threshold() -> None:
    rows = [("DeepLoc", "End-to-End", 1, 1, 7, 5), ("DeepLoc (FC2)", "kNN", 1, 1, 7.5, 5.5)]
    assert verdict("3a", Evidence(_table(rows))) is Verdict.HOLDS
    rows[1] = ("DeepLoc (FC2)", "kNN", 1, 1, 12, 9)
    assert verdict("3a", Evidence(_table(rows))) is Verdict.FAILS


def test_claims_4_and_5_follow_the_numbers() -> None:
    paperlike = Evidence(
        TABLE,
        _matrices(
            _counts({(EE, ER): 30, (GOLGI, IMM): 10}), _counts({(EE, GOLGI): 25, (GOLGI, IMM): 12})
        ),
        FOLLOWED,
    )
    for name in ("4a", "4b", "4c", "5a"):
        assert verdict(name, paperlike) is Verdict.HOLDS, name
    assert "test3 Endoplasmic Reticulum (30.0%)" in CLAIMS["5a"](paperlike).sentence
    other = Evidence(
        TABLE,
        _matrices(_counts({("Cytosol", ER): 40}), _counts({("Nuclear Envelope", IMM): 5})),
        FOLLOWED,
    )
    assert verdict("4b", other) is Verdict.FAILS
    well = CLAIMS["4c"](other)
    assert well.verdict is Verdict.FAILS and "0.60 (Cytosol" in well.sentence
    assert verdict("5a", other) is Verdict.FAILS
    flat = Evidence(TABLE, _matrices(_counts({}), _counts({})), FOLLOWED)
    assert verdict("4a", flat) is Verdict.FAILS


def test_classes_are_found_by_label_not_name() -> None:
    renamed = [f"class {i}" for i in range(7)]
    test3 = _counts({(EE, ER): 30}, names=renamed)
    test4 = _counts({(EE, GOLGI): 25}, names=renamed)
    ev = Evidence(TABLE, _matrices(test3, test4), FOLLOWED)
    assert verdict("5a", ev) is Verdict.HOLDS
    assert "test3 class 0 (30.0%)" in CLAIMS["5a"](ev).sentence


def test_claims_about_unrun_representations_say_so() -> None:
    ev = Evidence(TABLE, _matrices(_counts({}), _counts({})), FOLLOWED)
    assert verdict("4d", ev) is Verdict.UNCHECKABLE
    assert "DeepLoc end to end was not run" in CLAIMS["4d"](ev).sentence
    assert verdict("5b", ev) is Verdict.UNCHECKABLE
    deeploc = _matrices(_counts({}), _counts({(EE, GOLGI): 32}), "DeepLoc", "End-to-End")
    assert verdict("4d", Evidence(TABLE, deeploc)) is Verdict.HOLDS


def test_claim5b_thresholds_and_random_vgg() -> None:
    golgi_lost = _counts({(GOLGI, IMM): 20})
    golgi_kept = _counts({})
    matrices = {
        **_matrices(golgi_lost, golgi_lost, "VGG16 Conv4_1"),
        **_matrices(_counts({(GOLGI, IMM): 25}), golgi_kept, "PCI Conv3"),
    }
    rows = [("VGG16 Conv4_1", "L1 LR", 1, 1, 9, 9), ("PCI Conv3", "L1 LR", 1, 1, 9, 9)]
    check = CLAIMS["5b"](Evidence(_table(rows), matrices))
    assert check.verdict is Verdict.HOLDS and "below 0.90" in check.statement
    matrices.update(_matrices(golgi_kept, golgi_kept, "VGG16 Conv4_1"))
    assert verdict("5b", Evidence(_table(rows), matrices)) is Verdict.FAILS
    rows[0] = ("VGG16 Conv4_1 (random init)", "L1 LR", 1, 1, 9, 9)
    random = CLAIMS["5b"](Evidence(_table(rows), matrices))
    assert random.verdict is Verdict.UNCHECKABLE and "random weights" in random.sentence


def test_synthetic_verdicts_carry_the_note() -> None:
    checks = check_claims(Evidence(TABLE, synthetic=True), ("1", "3a"))
    assert checks[0].note == SYNTHETIC_NOTE
    assert checks[1].verdict is Verdict.UNCHECKABLE and not checks[1].note
    text = claims_markdown(checks)
    assert text.count("- **Claim") == 2 and SYNTHETIC_NOTE in text
