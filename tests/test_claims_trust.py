"""The claims read only the rows that stand for the paper's: layers chosen by cross-validation
on train, never a random-init row; claim 5b reads the best layer by cross-validation."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from coos_utils.analysis.claims import CLAIMS, TABLE_CLAIMS, Evidence, Verdict, check_claims
from coos_utils.analysis.confusion import confusion_frame
from coos_utils.analysis.selection import followed_classifiers, reported_outputs
from coos_utils.reference import CLASS_NAMES, TEST_SPLITS, paper_table3

GOLGI, IMM, EE, ER = 2, 0, 4, 1
COLUMNS = ["features", "model", "cv_error", *TEST_SPLITS, "chosen_by_cv"]


def _matrix(errors: dict[tuple[int, int], int], per_class: int = 100) -> pd.DataFrame:
    y_true, y_pred = [], []
    for label in range(7):
        wrong = [(p, n) for (t, p), n in errors.items() if t == label]
        y_true += [label] * per_class
        y_pred += [label] * (per_class - sum(n for _, n in wrong))
        y_pred += [p for p, n in wrong for _ in range(n)]
    return confusion_frame(np.array(y_true), np.array(y_pred), CLASS_NAMES)


def _matrices(features: str, model: str, test3: pd.DataFrame, test4: pd.DataFrame) -> dict:
    clean = _matrix({})
    by_split = {"test1": clean, "test2": clean, "test3": test3, "test4": test4}
    return {(features, model, s): m for s, m in by_split.items()}


# Texture and DeepLoc follow the paper's pattern; PCI has five layers, two not chosen.
PAPERLIKE = [
    ("Texture", "kNN", 12.0, 10, 10, 30, 30, pd.NA),
    ("Texture", "L1 LR", 8.0, 6, 6, 18, 18, pd.NA),
    ("DeepLoc", "End-to-End", 2.0, 1, 1, 7, 5, pd.NA),
    ("DeepLoc (FC2)", "kNN", 2.0, 1, 1, 7, 5, pd.NA),
    ("DeepLoc (FC2)", "L1 LR", 2.0, 1, 1, 7, 5, pd.NA),
    *[(f"PCI Conv{k}", "kNN", 9.0 + k, 5, 5, 20, 20, k > 2) for k in range(1, 6)],
    *[(f"PCI Conv{k}", "L1 LR", 9.0 - k, 5, 5, 19, 19, k > 2) for k in range(1, 6)],
]
# Rows the paper never had and that would break claims 1 and 3b if they were read.
RANDOM = [
    ("VGG16 Conv3_3 (random init)", "kNN", 40.0, 50, 50, 10, 10, pd.NA),
    ("VGG16 Conv3_3 (random init)", "L1 LR", 20.0, 20, 20, 10, 10, pd.NA),
]
UNCHOSEN = [
    ("PCI Conv1", "kNN", 10.0, 50, 50, 10, 10, False),
    ("PCI Conv1", "L1 LR", 8.0, 20, 20, 10, 10, False),
]


def _table(*groups: list[tuple]) -> pd.DataFrame:
    rows = [row for group in groups for row in group]
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["chosen_by_cv"] = table["chosen_by_cv"].astype("boolean")
    return table.drop_duplicates(["features", "model"], keep="last").reset_index(drop=True)


def _without(table: pd.DataFrame, text: str) -> pd.DataFrame:
    renamed = table.copy()
    renamed["features"] = renamed["features"].str.replace(text, "", regex=False).str.strip()
    return renamed


def test_random_init_rows_are_left_out_and_named() -> None:
    table = _table(PAPERLIKE, RANDOM)
    for claim in ("1", "3b"):
        assert CLAIMS[claim](Evidence(_table(PAPERLIKE))).verdict is Verdict.HOLDS, claim
        # Read as if they were ImageNet features, these rows break the claim ...
        assert CLAIMS[claim](Evidence(_without(table, "(random init)"))).verdict is Verdict.FAILS
        # ... but as random-init rows they are left out, and the verdict says so.
        check = CLAIMS[claim](Evidence(table))
        assert check.verdict is Verdict.PARTLY, claim
        assert "Left out: VGG16 Conv3_3 (random init)" in check.sentence
        assert "random weights" in check.sentence


def test_only_layers_chosen_by_cv_are_read() -> None:
    table = _table(PAPERLIKE, UNCHOSEN)
    assert not reported_outputs(table)["features"].eq("PCI Conv1").any()
    assert reported_outputs(table)["features"].eq("Texture").sum() == 2
    for claim in ("1", "3b"):
        assert CLAIMS[claim](Evidence(table)).verdict is Verdict.HOLDS, claim
    every_layer = table.assign(chosen_by_cv=pd.NA)
    assert CLAIMS["1"](Evidence(every_layer)).verdict is Verdict.FAILS
    assert CLAIMS["3b"](Evidence(every_layer)).verdict is Verdict.FAILS


def test_chosen_flags_survive_a_csv_round_trip() -> None:
    table = _table(PAPERLIKE, UNCHOSEN)
    text = table.to_csv(index=False)
    read = pd.read_csv(io.StringIO(text))
    assert list(reported_outputs(read)["features"]) == list(reported_outputs(table)["features"])
    assert CLAIMS["1"](Evidence(read)).verdict is Verdict.HOLDS


def test_followed_classifiers_skip_unchosen_layers() -> None:
    table = _table(PAPERLIKE, UNCHOSEN)
    followed = followed_classifiers(table)
    assert "PCI Conv1" not in set(followed["features"])
    assert {"PCI Conv3", "PCI Conv4", "PCI Conv5", "Texture"} <= set(followed["features"])


def test_no_verdict_rests_on_a_random_init_row() -> None:
    """Whatever the random-init rows and their matrices say, every verdict and sentence of
    every claim reads the same except for the named left-out rows."""
    table = _table(PAPERLIKE, RANDOM)
    good = _matrix({(EE, ER): 30})
    matrices: dict = {}
    for features, model in zip(table["features"], table["model"], strict=True):
        matrices.update(_matrices(features, model, good, _matrix({(EE, GOLGI): 30})))
    followed = followed_classifiers(table)
    assert "VGG16 Conv3_3 (random init)" in set(followed["features"])
    base = check_claims(Evidence(table, matrices, followed))
    flipped = table.copy()
    random = flipped["features"].str.contains("random init")
    flipped.loc[random, list(TEST_SPLITS)] = flipped.loc[random, list(TEST_SPLITS)].to_numpy()[
        :, ::-1
    ]
    noisy = dict(matrices)
    for key in noisy:
        if "random init" in key[0]:
            noisy[key] = _matrix({(label, (label + 1) % 7): 90 for label in range(7)})
    other = check_claims(Evidence(flipped, noisy, followed))
    assert [(c.verdict, c.sentence) for c in base] == [(c.verdict, c.sentence) for c in other]
    for check in base:
        assert "random init" not in check.sentence.split("Left out:")[0], check.claim


def _golgi(lost: int) -> pd.DataFrame:
    return _matrix({(GOLGI, IMM): lost})


@pytest.mark.parametrize("best_loses_golgi", [True, False])
def test_claim5b_reads_the_best_layer_by_cross_validation(best_loses_golgi: bool) -> None:
    rows = [
        ("VGG16 Conv3_3", "L1 LR", 5.0 if best_loses_golgi else 9.0, 1, 1, 9, 9, True),
        ("VGG16 Conv4_1", "L1 LR", 9.0 if best_loses_golgi else 5.0, 1, 1, 9, 9, True),
        ("PCI Conv3", "L1 LR", 4.0, 1, 1, 9, 9, True),
        ("PCI Conv4", "L1 LR", 6.0, 1, 1, 9, 9, True),
    ]
    matrices = {
        **_matrices("VGG16 Conv3_3", "L1 LR", _golgi(20), _golgi(20)),
        **_matrices("VGG16 Conv4_1", "L1 LR", _golgi(0), _golgi(0)),
        **_matrices("PCI Conv3", "L1 LR", _golgi(25), _golgi(0)),
        **_matrices("PCI Conv4", "L1 LR", _golgi(0), _golgi(0)),
    }
    check = CLAIMS["5b"](Evidence(_table(rows), matrices))
    expected = Verdict.HOLDS if best_loses_golgi else Verdict.FAILS
    assert check.verdict is expected
    best = "VGG16 Conv3_3" if best_loses_golgi else "VGG16 Conv4_1"
    assert f"{best} + L1 LR" in check.sentence and "PCI Conv4" not in check.sentence


def test_claim5b_without_cross_validated_errors_says_it_cannot_choose() -> None:
    rows = [
        ("VGG16 Conv3_3", "L1 LR", np.nan, 1, 1, 9, 9, True),
        ("VGG16 Conv4_1", "L1 LR", np.nan, 1, 1, 9, 9, True),
        ("PCI Conv3", "L1 LR", 4.0, 1, 1, 9, 9, True),
    ]
    matrices = {
        **_matrices("VGG16 Conv3_3", "L1 LR", _golgi(20), _golgi(20)),
        **_matrices("VGG16 Conv4_1", "L1 LR", _golgi(0), _golgi(0)),
        **_matrices("PCI Conv3", "L1 LR", _golgi(25), _golgi(0)),
    }
    check = CLAIMS["5b"](Evidence(_table(rows), matrices))
    assert check.verdict is Verdict.UNCHECKABLE and "choose among the VGG16" in check.sentence


def test_the_papers_table_still_holds() -> None:
    checks = check_claims(Evidence(paper_table3()), TABLE_CLAIMS)
    assert all(c.verdict is Verdict.HOLDS for c in checks), [c.sentence for c in checks]
