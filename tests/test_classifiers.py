"""The three classifiers and the Table 3 protocol on small made-up feature arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from coos_utils.benchmark.classifiers import (
    MODELS,
    RF_PARAM_GRID,
    TABLE3_COLUMNS,
    fit_predict,
    fit_table3,
    make_model,
)
from coos_utils.metrics import balanced_error
from coos_utils.profiles import get_profile

PAPER_GRID = {
    "n_estimators": [20, 40, 60, 80, 120, 140, 160, 180, 200],
    "max_features": ["log2", "sqrt"],
    "max_depth": [1, 13, 25, 37, 50, None],
    "min_samples_split": [2, 5, 10, 20, 40],
    "min_samples_leaf": [1, 2, 4, 8, 16],
}


def blobs(n_per_class: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """7 Gaussian classes in 6 dimensions, on very different feature scales."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(scale=3.0, size=(7, 6))
    y = np.repeat(np.arange(7), n_per_class)
    x = centres[y] + rng.normal(size=(len(y), 6)) + shift
    return x * np.array([1, 10, 100, 1e3, 1e-2, 1.0]), y


@pytest.fixture(scope="module")
def data() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    features, labels = {}, {}
    for k, split in enumerate(["train", "test1", "test3"]):
        features[split], labels[split] = blobs(20, seed=k, shift=0.8 * (split == "test3"))
    return features, labels


def test_rf_grid_is_the_papers() -> None:
    assert RF_PARAM_GRID == PAPER_GRID
    search = make_model("RF", seed=3, search_draws=100, cv_folds=5)
    assert search.param_distributions == {f"model__{k}": v for k, v in PAPER_GRID.items()}
    assert search.n_iter == 100 and search.seed == 3 and search.cv_folds == 5


def test_paper_profile_uses_the_papers_search() -> None:
    paper = get_profile("paper")
    assert (paper.rf_search_draws, paper.cv_folds) == (100, 5)


def test_models_are_the_papers() -> None:
    assert list(MODELS) == ["kNN", "L1 LR", "RF"]
    knn = make_model("kNN")
    assert knn.named_steps["model"].n_neighbors == 11
    lr = make_model("L1 LR").named_steps["model"].estimator
    assert lr.l1_ratio == 1.0 and lr.solver == "liblinear" and lr.C == 1.0
    with pytest.raises(ValueError, match="unknown model 'SVM'; choose one of kNN, L1 LR, RF"):
        make_model("SVM")


def test_l1_lr_is_sparse(data: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
    """L1 behaviour, not the attribute: with noise features added, many weights are exactly 0
    (an L2 fit leaves none at exactly zero)."""
    features, labels = data
    noise = np.random.default_rng(0).normal(size=(len(labels["train"]), 30))
    x = np.hstack([features["train"], noise])
    fitted = make_model("L1 LR").fit(x, labels["train"])
    weights = np.vstack([m.coef_ for m in fitted.named_steps["model"].estimators_])
    assert (weights == 0).mean() > 0.3


def test_cv_error_comes_from_train_only(
    data: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    features, labels = data
    _, _, score = fit_predict(features, labels["train"], "kNN", cv_folds=3, n_jobs=1)
    shuffled = {**features, "test3": features["test3"][::-1], "test1": features["test1"] * 0}
    _, _, same = fit_predict(shuffled, labels["train"], "kNN", cv_folds=3, n_jobs=1)
    assert score == same and 0 <= score < 20


@pytest.mark.parametrize("model", ["kNN", "L1 LR", "RF"])
def test_every_cv_error_is_out_of_fold_on_the_same_folds(model: str) -> None:
    """All three classifiers are scored alike: out-of-fold predictions of the whole fitting
    procedure on the same seeded folds; for the forest the choice of draw is nested in each
    fold (made out of bag: tests/test_forest_search.py checks it against a written-out one)."""
    rng = np.random.default_rng(5)
    y = np.repeat(np.arange(7), 20)
    x = rng.normal(scale=0.8, size=(7, 6))[y] + rng.normal(size=(len(y), 6))  # overlapping
    kwargs = {"seed": 2, "search_draws": 3, "cv_folds": 3, "n_jobs": 1}
    fitted, _, score = fit_predict({"train": x}, y, model, **kwargs)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=2)
    fresh = make_model(model, seed=2, search_draws=3, cv_folds=3, n_jobs=1)
    if model == "RF":  # nested on these folds; not the search's own (optimistic) best score
        same = zip(fitted.folds(x, y), folds.split(x, y), strict=True)
        assert all(np.array_equal(a[1], b[1]) for a, b in same)
        assert score == pytest.approx(balanced_error(y, fitted.out_of_fold(3, 2)))
        assert score != pytest.approx(100 * (1 - fitted.best_score_))
    else:
        predicted = cross_val_predict(fresh, x, y, cv=folds)
        assert score == pytest.approx(balanced_error(y, predicted))
    assert 5 < score < 80


def test_cv_error_is_described() -> None:
    assert "nested" in TABLE3_COLUMNS["cv_error"] and "out-of-fold" in TABLE3_COLUMNS["cv_error"]


@pytest.mark.parametrize("model", ["kNN", "L1 LR", "RF"])
def test_standardisation_uses_train_only(
    model: str, data: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
) -> None:
    features, labels = data
    fitted, predicted, _ = fit_predict(
        features, labels["train"], model, search_draws=2, cv_folds=2, n_jobs=1
    )
    pipeline = getattr(fitted, "best_estimator_", fitted)
    scaler = pipeline.named_steps["scale"]
    np.testing.assert_allclose(scaler.mean_, features["train"].mean(axis=0))
    np.testing.assert_allclose(scaler.scale_, features["train"].std(axis=0))
    # Leakage check: each test image is scored on its own, so adding far-away images to the
    # test set (which would move test-set statistics) must not change the other predictions.
    test = features["test3"]
    polluted = np.vstack([test, test[:10] * 50 + 1e4])
    assert np.array_equal(pipeline.predict(polluted)[: len(test)], predicted["test3"])


def test_fit_predict_covers_every_split_in_order(
    data: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    features, labels = data
    _, predicted, _ = fit_predict(features, labels["train"], "kNN", n_jobs=1)
    assert list(predicted) == ["train", "test1", "test3"]
    assert balanced_error(labels["test1"], predicted["test1"]) < 20
    with pytest.raises(ValueError, match="train"):
        fit_predict({"test1": features["test1"]}, labels["train"], "kNN")


def test_fit_table3_rows_columns_and_values(
    data: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    features, labels = data
    table, predictions = fit_table3(
        features,
        labels,
        search_draws=3,
        cv_folds=2,
        n_jobs=1,
        bootstrap_samples=50,
        progress=False,
    )
    assert list(table["model"]) == ["kNN", "L1 LR", "RF"]
    assert (table["features"] == "Texture").all()
    assert list(table.columns[:6]) == ["features", "model", "cv_error", "train", "test1", "test3"]
    assert {"test1_ci_low", "test1_ci_high", "test3_ci_low"} <= set(table.columns)
    for _, row in table.iterrows():
        for split in ("train", "test1", "test3"):
            pred = predictions[("Texture", row["model"], split)]
            assert row[split] == pytest.approx(balanced_error(labels[split], pred))
            assert row[f"{split}_ci_low"] <= row[split] + 1e-9 <= row[f"{split}_ci_high"] + 2e-9
    assert (table[["train", "test1", "test3"]] < 40).all().all()
    assert table[["test1_well_ci_low", "test3_well_ci_high"]].isna().all().all()


def test_fit_table3_adds_well_intervals_when_given_wells(
    data: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    features, labels = data
    wells = {split: np.arange(len(y)) % 4 for split, y in labels.items()}
    kwargs = {"models": ["kNN"], "n_jobs": 1, "bootstrap_samples": 200, "progress": False}
    table, _ = fit_table3(features, labels, clusters_by_split=wells, **kwargs)
    row = table.iloc[0]
    for split in ("train", "test1", "test3"):
        assert row[f"{split}_well_ci_low"] <= row[f"{split}_well_ci_high"]
        assert np.isfinite([row[f"{split}_well_ci_low"], row[f"{split}_well_ci_high"]]).all()
    without, _ = fit_table3(features, labels, **kwargs)
    image_columns = [c for c in without.columns if "_well_" not in c]
    pd.testing.assert_frame_equal(table[image_columns], without[image_columns])


def test_fit_table3_is_reproducible(
    data: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    features, labels = data
    kwargs = {"models": ["RF"], "search_draws": 3, "cv_folds": 2, "bootstrap_samples": 20}
    first, _ = fit_table3(features, labels, seed=5, n_jobs=1, progress=False, **kwargs)
    second, _ = fit_table3(features, labels, seed=5, n_jobs=2, progress=False, **kwargs)
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize("name", ["smoke", "default", "paper"])
def test_profiles_name_real_representations_and_methods(name: str) -> None:
    from coos_utils.benchmark.representations import make_representation
    from coos_utils.dg import ALGORITHMS

    profile = get_profile(name)
    for rep in profile.representations:
        make_representation(rep, profile.representation_params.get(rep), progress=False)
    assert set(profile.dg["methods"]) == set(ALGORITHMS)
