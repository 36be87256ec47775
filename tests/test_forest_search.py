"""The forest search fits every forest once and chooses and predicts as scikit-learn's
``RandomizedSearchCV`` nested in ``cross_val_predict`` does on the same folds."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold, cross_val_predict

from coos_utils.benchmark.classifiers import fit_predict, make_model
from coos_utils.benchmark.forest_search import NestedForestSearch
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
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    nested = cross_val_predict(_sklearn_search(), x, y, cv=folds)
    assert np.array_equal(ours.out_of_fold(FOLDS, SEED), nested)
    _, _, score = fit_predict({"train": x}, y, "RF", SEED, DRAWS, FOLDS, n_jobs=1)
    assert score == pytest.approx(balanced_error(y, nested))


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
    assert len(fits) == len(set(fits)) == DRAWS * FOLDS * (1 + FOLDS) + 1
    fits.clear()  # scikit-learn's composition repeats the inner refits
    cross_val_predict(_sklearn_search(), x, y, cv=FOLDS)
    assert len(fits) == FOLDS * (DRAWS * FOLDS + 1)


def test_a_training_set_too_small_to_nest_gives_no_cv_error(
    xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = xy
    keep = np.concatenate([np.flatnonzero(y == c)[:3] for c in range(7)])
    search = NestedForestSearch(
        make_model("RF", seed=SEED, n_jobs=1).estimator,
        make_model("RF").param_distributions,
        n_iter=2,
        cv_folds=3,
        seed=SEED,
        n_jobs=1,
    )
    with pytest.warns(UserWarning, match="no cross-validated error"):
        _, _, score = fit_predict({"train": x[keep]}, y[keep], "RF", SEED, 2, 3, n_jobs=1)
    assert np.isnan(score)
    search.fit(x[keep], y[keep])
    with pytest.raises(ValueError):
        search.out_of_fold(3, SEED)
