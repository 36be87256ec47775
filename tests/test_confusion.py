"""Ranking and comparison of confusions, and the followed classifier, on hand-made predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coos_utils.analysis.confusion import (
    compare_shifts,
    confusion_frame,
    main_error,
    paper_sensitivities_beside,
    row_normalised,
    sensitivity_intervals,
    top_confusions,
)
from coos_utils.analysis.selection import followed_classifiers
from coos_utils.reference import CLASS_NAMES

EE, ER, GOLGI, IMM = (
    "Early Endosome",
    "Endoplasmic Reticulum",
    "Golgi",
    "Inner Mitochondrial Membrane",
)


def _counts(errors: dict[tuple[str, str], int], per_class: int = 100) -> pd.DataFrame:
    """A confusion matrix with ``per_class`` images a class and the given errors."""
    y_true, y_pred = [], []
    for i, name in enumerate(CLASS_NAMES):
        wrong = [(CLASS_NAMES.index(p), n) for (t, p), n in errors.items() if t == name]
        n_wrong = sum(n for _, n in wrong)
        y_true += [i] * per_class
        y_pred += [i] * (per_class - n_wrong) + [p for p, n in wrong for _ in range(n)]
    return confusion_frame(np.array(y_true), np.array(y_pred), CLASS_NAMES)


def test_top_confusions_are_ranked_by_share_of_true_class() -> None:
    counts = _counts({(EE, ER): 30, (GOLGI, IMM): 10, (EE, GOLGI): 20})
    top = top_confusions(counts, k=2)
    assert list(zip(top["true class"], top["predicted class"], strict=True)) == [
        (EE, ER),
        (EE, GOLGI),
    ]
    assert top["share of true class"].tolist() == [0.3, 0.2]
    assert top_confusions(_counts({}), k=3).empty


def test_compare_shifts_labels_errors_by_where_they_occur() -> None:
    test3 = _counts({(EE, ER): 30, (GOLGI, IMM): 10})
    test4 = _counts({(EE, GOLGI): 25, (GOLGI, IMM): 12, (ER, IMM): 2})
    table = compare_shifts(test3, test4, min_share=0.05).set_index(
        ["true class", "predicted class"]
    )
    assert table.loc[(EE, ER), "where"] == "test3 only"
    assert table.loc[(EE, GOLGI), "where"] == "test4 only"
    assert table.loc[(GOLGI, IMM), "where"] == "both"
    assert (ER, IMM) not in table.index
    assert table.loc[(EE, ER), "difference"] == pytest.approx(0.30)
    assert table.index[0] == (EE, ER)


def test_sensitivity_intervals_cover_the_estimate_and_shrink_with_more_images() -> None:
    small = sensitivity_intervals(_counts({(EE, ER): 3}, per_class=10), n_boot=2000).set_index(
        "class"
    )
    large = sensitivity_intervals(_counts({(EE, ER): 300}, per_class=1000), n_boot=2000).set_index(
        "class"
    )
    assert small.loc[EE, "sensitivity"] == pytest.approx(0.7)
    assert small.loc[EE, "ci_low"] < 0.7 < small.loc[EE, "ci_high"]
    width = lambda t: t.loc[EE, "ci_high"] - t.loc[EE, "ci_low"]  # noqa: E731
    assert width(large) < width(small) / 3
    assert small.loc[ER, "ci_low"] == small.loc[ER, "ci_high"] == 1.0


def test_main_error_and_row_normalisation() -> None:
    counts = _counts({(EE, GOLGI): 7, (EE, ER): 2})
    assert main_error(counts, EE) == (GOLGI, pytest.approx(0.07))
    assert main_error(counts, ER) == (None, 0.0)
    assert np.allclose(row_normalised(counts).sum(axis=1), 1.0)


def test_followed_classifier_is_chosen_on_train_cv_only() -> None:
    table = pd.DataFrame(
        {
            "features": ["T", "T", "T", "U"],
            "model": ["kNN", "L1 LR", "RF", "kNN"],
            "cv_error": [9.0, 5.0, 6.0, 3.0],
            "test1": [1.0, 30.0, 2.0, 4.0],
            "test4": [1.0, 30.0, 2.0, 4.0],
        }
    )
    chosen = followed_classifiers(table)
    assert chosen["model"].tolist() == ["L1 LR", "kNN"]
    shuffled = table.assign(test1=table["test1"][::-1].to_numpy(), test4=0.0)
    pd.testing.assert_frame_equal(followed_classifiers(shuffled), chosen)
    assert "test1" not in chosen.columns


def test_paper_sensitivities_are_matched_to_ours() -> None:
    sens = pd.DataFrame(
        {
            "features": ["VGG16 Conv4_2", "Texture"],
            "model": ["L1 LR", "L1 LR"],
            "split": ["test3", "test3"],
            "class": [GOLGI, GOLGI],
            "sensitivity": [0.9, 0.8],
        }
    )
    table = paper_sensitivities_beside(sens).set_index(["paper's classifier", "split", "class"])
    vgg = table.loc[("VGG16 + L1 LR", "test3", GOLGI)]
    assert vgg["our classifier"] == "VGG16 Conv4_2 + L1 LR" and vgg["this run"] == 0.9
    assert vgg["paper"] == 0.848
    assert pd.isna(table.loc[("PCI + L1 LR", "test3", GOLGI), "our classifier"])
