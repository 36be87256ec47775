"""The forest search chooses and predicts as scikit-learn's ``RandomizedSearchCV`` does on the
same folds; its nested out-of-fold predictions choose out of bag on each outer fold's training
part, from the same fits: no forest is fitted beyond the main search and the refit."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold, cross_val_predict

from coos_utils.benchmark.classifiers import fit_predict, make_model
from coos_utils.metrics import balanced_error

DRAWS, FOLDS, SEED = 4, 3, 2


@pytest.fixture(scope="module")
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    y = np.repeat(np.arange(7), 18)
    x = rng.normal(scale=0.9, size=(7, 6))[y] + rng.normal(size=(len(y), 6))
    return x, y


def _sklearn_search() -> RandomizedSearchCV:
    search = make_model("RF", seed=SEED, search_draws=DRAWS, cv_folds=FOLDS, n_jobs=1)
    return RandomizedSearchCV(
        search.estimator,
        search.param_distributions,
        n_iter=DRAWS,
        cv=StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED),
        scoring="balanced_accuracy",
        random_state=SEED,
        n_jobs=1,
    )


def test_choices_and_predictions_are_scikit_learns(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    ours = make_model("RF", seed=SEED, search_draws=DRAWS, cv_folds=FOLDS, n_jobs=1).fit(x, y)
    theirs = _sklearn_search().fit(x, y)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, abs=1e-12)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
    )
    probe = x + 0.3
    assert np.array_equal(ours.predict(probe), theirs.predict(probe))
    nested = _nested_out_of_bag(x, y)
    assert np.array_equal(ours.out_of_fold(FOLDS, SEED), nested)
    _, _, score = fit_predict({"train": x}, y, "RF", SEED, DRAWS, FOLDS, n_jobs=1)
    assert score == pytest.approx(balanced_error(y, nested))


def _nested_out_of_bag(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Written out: in each outer fold, every draw fitted on its training part, the one with
    the best out-of-bag balanced accuracy predicts the held-out part."""
    search = make_model("RF", seed=SEED, search_draws=DRAWS, cv_folds=FOLDS, n_jobs=1)
    predicted = np.empty_like(y)
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y):
        best, best_score = None, -1.0
        for params in search.draws():
            model = clone(search.estimator).set_params(**params, model__oob_score=True)
            forest = model.fit(x[train], y[train])[-1]
            votes = forest.oob_decision_function_
            seen = votes.sum(axis=1) > 0
            score = balanced_accuracy_score(y[train][seen], votes[seen].argmax(axis=1))
            if score > best_score:
                best, best_score = model, score
        predicted[test] = best.predict(x[test])
    return predicted


def test_no_forest_is_fitted_twice(
    xy: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = xy
    fits: list[str] = []
    original = RandomForestClassifier.fit

    def recording_fit(self, features, labels, *args, **kwargs):  # noqa: ANN001, ANN202
        rows = hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest()
        fits.append(f"{sorted(self.get_params().items())!r}{rows}")
        return original(self, features, labels, *args, **kwargs)

    monkeypatch.setattr(RandomForestClassifier, "fit", recording_fit)
    make_model("RF", seed=SEED, search_draws=DRAWS, cv_folds=FOLDS, n_jobs=1).fit(x, y)
    assert len(fits) == len(set(fits)) == DRAWS * FOLDS + 1
    fits.clear()  # a cross-validated search nested in the cross-validation, for scale
    cross_val_predict(_sklearn_search(), x, y, cv=FOLDS)
    assert len(fits) == FOLDS * (DRAWS * FOLDS + 1)


def test_the_out_of_bag_choice_never_sees_the_held_out_fold(
    xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = xy
    search = make_model("RF", seed=SEED, search_draws=DRAWS, cv_folds=FOLDS, n_jobs=1).fit(x, y)
    _, test = search.folds(x, y)[0]
    shuffled = x.copy()
    shuffled[test] = np.random.default_rng(0).permutation(x[test])  # fold 0's images moved
    again = make_model("RF", seed=SEED, search_draws=DRAWS, cv_folds=FOLDS, n_jobs=1)
    again.fit(shuffled, y)
    assert again.nested_draws_[0] == search.nested_draws_[0]
    assert not np.array_equal(again.out_of_fold(FOLDS, SEED)[test], search.oof_predictions_[test])
