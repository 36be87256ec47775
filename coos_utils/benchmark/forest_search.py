"""The random-forest search and its nested estimate of error, from one set of fits.

Table 3's forest is chosen by a random search (``search_draws`` draws of the paper's grid,
each scored by ``cv_folds``-fold stratified, shuffled cross-validation on ``train``, balanced
accuracy) and refitted on all of ``train``. Its cross-validated error (``cv_error``) must
come from the whole procedure, choice included, run without each outer fold: nested.

Until 2026-12-03 the nested choice was the same cross-validated search run again inside each
outer fold (scikit-learn's ``RandomizedSearchCV`` inside ``cross_val_predict``): ``draws x
folds`` fits per outer fold on top of the main search's ``draws x folds``, four times the
main search's fits at ``default``. Now the choice inside outer fold *k* is made by each
draw's **out-of-bag** balanced accuracy on fold *k*'s training part: every tree of a forest
leaves about a third of its bootstrap sample out, and those rows score it without any
further split. The forests it needs -- each draw fitted on each outer fold's training part,
same rows, same seed -- are exactly the main search's fits, so the nested estimate costs no
extra forest: per output ``draws x folds`` fits and one refit, instead of ``draws x folds x
(1 + folds)`` and one. The held-out fold *k* is still never seen by the choice made for it.

What stays as it was: the main search's folds, scores, choice, refit and therefore every
test-set number of the forest rows. What changed: the forest rows' ``cv_error`` (an
out-of-bag inner choice instead of a cross-validated one; ``bench/bench_rf_search.py``
prints both, with the choices they make), listed on the book's departures page.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import ParameterSampler, StratifiedKFold

Folds = list[tuple[np.ndarray, np.ndarray]]


def _oob_balanced_accuracy(forest: Any, y: np.ndarray) -> float:
    """Balanced accuracy of ``forest``'s out-of-bag votes on its training labels ``y`` (rows
    no tree left out, rare with 20 or more trees, are not scored)."""
    votes = forest.oob_decision_function_
    scored = votes.sum(axis=1) > 0
    return balanced_accuracy_score(y[scored], forest.classes_[votes[scored].argmax(axis=1)])


def _fit_predict_fold(
    estimator: Any, params: Mapping[str, Any], x: np.ndarray, y: np.ndarray, fold: tuple
) -> tuple[np.ndarray, float]:
    """Fit a copy of ``estimator`` (a pipeline ending in a forest) with ``params`` on
    ``fold``'s training rows; its predictions of the held-out rows and its out-of-bag balanced
    accuracy (computing it changes no tree)."""
    train, test = fold
    model = clone(estimator).set_params(**params, model__oob_score=True)
    with warnings.catch_warnings():  # "some inputs do not have OOB scores": not scored
        warnings.filterwarnings("ignore", message=".*OOB scores", category=UserWarning)
        model.fit(x[train], y[train])
    return model.predict(x[test]), _oob_balanced_accuracy(model[-1], y[train])


def _best_draw(scores: np.ndarray) -> int:
    """The draw with the highest mean fold score (ties: the first), as the search picks it."""
    return int(np.nanargmax(scores.mean(axis=1)))


class NestedForestSearch(ClassifierMixin, BaseEstimator):
    """A random search over ``param_distributions`` for ``estimator`` (a pipeline whose last
    step, ``model``, is a bagged forest), with nested out-of-fold predictions whose inner
    choice is made out of bag (module docstring).

    After :meth:`fit`: ``best_params_``, ``best_score_`` (mean fold balanced accuracy of the
    chosen draw), ``best_estimator_`` (refitted on all rows), ``cv_results_`` (draws, their
    mean fold scores and, per outer fold, their out-of-bag scores), ``nested_draws_`` (the
    draw chosen out of bag in each outer fold) and ``oof_predictions_`` (each row predicted
    by that fold's choice, fitted without the row's fold).
    """

    def __init__(
        self,
        estimator: Any,
        param_distributions: Mapping[str, list[Any]],
        n_iter: int = 10,
        cv_folds: int = 5,
        seed: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.cv_folds = cv_folds
        self.seed = seed
        self.n_jobs = n_jobs

    def folds(self, x: np.ndarray, y: np.ndarray) -> Folds:
        """The seeded stratified folds of ``(x, y)`` (those of every model's ``cv_error``)."""
        splitter = StratifiedKFold(n_splits=self.cv_folds, shuffle=True, random_state=self.seed)
        return list(splitter.split(x, y))

    def draws(self) -> list[dict[str, Any]]:
        """The searched parameter draws, in the sampler's order."""
        return list(ParameterSampler(self.param_distributions, self.n_iter, random_state=self.seed))

    def fit(self, x: np.ndarray, y: np.ndarray) -> NestedForestSearch:
        """Fit every draw on every fold in one pool, choose, then refit the chosen draw."""
        x, y = np.asarray(x), np.asarray(y)
        draws, folds = self.draws(), self.folds(x, y)
        jobs = [(k, d) for k in range(len(folds)) for d in range(len(draws))]
        cost = [len(folds[k][0]) * draws[d].get("model__n_estimators", 1) for k, d in jobs]
        order = np.argsort(cost, kind="stable")[::-1]
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_predict_fold)(self.estimator, draws[jobs[i][1]], x, y, folds[jobs[i][0]])
            for i in order
        )
        scores = np.full((len(draws), len(folds)), np.nan)
        oob = np.full((len(draws), len(folds)), np.nan)
        held_out: dict[tuple[int, int], np.ndarray] = {}
        for i, (prediction, oob_score) in zip(order, fitted, strict=True):
            k, d = jobs[i]
            scores[d, k] = balanced_accuracy_score(y[folds[k][1]], prediction)
            oob[d, k], held_out[k, d] = oob_score, prediction
        self.nested_draws_ = [int(np.nanargmax(oob[:, k])) for k in range(len(folds))]
        self.oof_predictions_ = np.empty_like(y)
        for k, (_, test) in enumerate(folds):
            self.oof_predictions_[test] = held_out[k, self.nested_draws_[k]]
        best = _best_draw(scores)
        self.cv_results_ = {
            "params": draws,
            "mean_test_score": scores.mean(axis=1),
            "oob_score_per_fold": oob,
        }
        self.best_params_ = draws[best]
        self.best_score_ = float(self.cv_results_["mean_test_score"][best])
        refit = clone(self.estimator).set_params(**self.best_params_)
        self.best_estimator_ = refit.set_params(model__n_jobs=self.n_jobs).fit(x, y)
        self.classes_ = self.best_estimator_.classes_
        return self

    def out_of_fold(self, cv_folds: int, seed: int) -> np.ndarray:
        """The nested out-of-fold predictions, for the folds ``(cv_folds, seed)`` they were made
        on."""
        if (cv_folds, seed) != (self.cv_folds, self.seed):
            raise RuntimeError(f"the search ran on ({self.cv_folds}, {self.seed}) folds")
        return self.oof_predictions_

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The refitted best draw's predictions."""
        return self.best_estimator_.predict(x)
