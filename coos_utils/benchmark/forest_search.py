"""The random-forest search and its nested cross-validation, every forest fitted once.

Table 3's forest is chosen by a random search (``search_draws`` draws of the paper's grid,
each scored by ``cv_folds``-fold stratified, shuffled cross-validation on ``train``, balanced
accuracy) and refitted on all of ``train``; its cross-validated error comes from the same
search nested in each of the same ``cv_folds`` outer folds. Done with scikit-learn's
``RandomizedSearchCV`` inside ``cross_val_predict`` that costs, per output:

* the main search: ``draws x folds`` fits, then one refit on all of ``train``;
* per outer fold, an inner search: ``draws x folds`` fits on that fold's training part, then
  a refit of its best draw on that training part, one after another, each refit on one core.

The outer folds are the main search's folds (same splitter, same seed), so each inner refit
(draw *d* fitted on outer fold *k*'s training part) is a fit the main search already made to
score draw *d* on fold *k*: same parameters, same rows in the same order, same forest seed,
hence the same forest. :class:`NestedForestSearch` therefore keeps the main search's
predictions on each held-out fold, runs the main and all inner fits as one pool of
``draws x folds x (1 + folds)`` independent jobs, largest first, and refits only the chosen
draw on all of ``train`` (its trees spread over ``n_jobs``). The choices, the forests and the
predictions are those of the scikit-learn composition (a test compares them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import ParameterSampler, StratifiedKFold

Folds = list[tuple[np.ndarray, np.ndarray]]


def _fit_predict_fold(
    estimator: Any, params: Mapping[str, Any], x: np.ndarray, y: np.ndarray, fold: tuple
) -> np.ndarray:
    """Fit a copy of ``estimator`` with ``params`` on ``fold``'s training rows; predict its
    held-out rows."""
    train, test = fold
    model = clone(estimator).set_params(**params)
    return model.fit(x[train], y[train]).predict(x[test])


def _best_draw(scores: np.ndarray) -> int:
    """The draw with the highest mean fold score (ties: the first), as the search picks it."""
    return int(np.nanargmax(scores.mean(axis=1)))


class NestedForestSearch(ClassifierMixin, BaseEstimator):
    """A random search over ``param_distributions`` for ``estimator`` (a pipeline ending in a
    forest), with the nested out-of-fold predictions of the whole search on the same folds.

    After :meth:`fit`: ``best_params_``, ``best_score_`` (mean fold balanced accuracy of the
    chosen draw), ``best_estimator_`` (refitted on all rows), ``cv_results_`` (draws and their
    mean scores) and ``oof_predictions_`` (each row predicted by the search run without its
    fold; equal to ``cross_val_predict`` of the same search on the same folds; ``None``, with
    the reason in ``nested_error_``, when a fold's training part is too small to split).
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
        """The seeded stratified folds of ``(x, y)`` (the same for the outer and inner level)."""
        splitter = StratifiedKFold(n_splits=self.cv_folds, shuffle=True, random_state=self.seed)
        return list(splitter.split(x, y))

    def draws(self) -> list[dict[str, Any]]:
        """The searched parameter draws, in the sampler's order."""
        return list(ParameterSampler(self.param_distributions, self.n_iter, random_state=self.seed))

    def fit(self, x: np.ndarray, y: np.ndarray) -> NestedForestSearch:
        """Run the main and the nested searches in one pool, then refit the chosen draw."""
        x, y = np.asarray(x), np.asarray(y)
        draws, outer = self.draws(), self.folds(x, y)
        try:
            inner = [
                [(train[a], train[b]) for a, b in self.folds(x[train], y[train])]
                for train, _ in outer
            ]
            self.nested_error_ = ""
        except ValueError as exc:  # too few images of a class in an outer fold's training part
            inner, self.nested_error_ = [], str(exc)
        jobs = [(None, k, d, fold) for k, fold in enumerate(outer) for d in range(len(draws))]
        jobs += [
            (k, j, d, fold)
            for k, folds in enumerate(inner)
            for j, fold in enumerate(folds)
            for d in range(len(draws))
        ]
        cost = [len(fold[0]) * draws[d].get("model__n_estimators", 1) for *_, d, fold in jobs]
        order = np.argsort(cost, kind="stable")[::-1]
        predicted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_predict_fold)(self.estimator, draws[jobs[i][2]], x, y, jobs[i][3])
            for i in order
        )
        scores = np.full((1 + len(outer), len(draws), self.cv_folds), np.nan)
        held_out: dict[tuple[int, int], np.ndarray] = {}
        for i, prediction in zip(order, predicted, strict=True):
            level, k, d, (_, test) = jobs[i]
            scores[0 if level is None else level + 1, d, k] = balanced_accuracy_score(
                y[test], prediction
            )
            if level is None:
                held_out[k, d] = prediction
        self.oof_predictions_ = None if self.nested_error_ else np.empty_like(y)
        for k, (_, test) in enumerate(outer if inner else []):
            self.oof_predictions_[test] = held_out[k, _best_draw(scores[k + 1])]
        best = _best_draw(scores[0])
        self.cv_results_ = {"params": draws, "mean_test_score": scores[0].mean(axis=1)}
        self.best_params_ = draws[best]
        self.best_score_ = float(self.cv_results_["mean_test_score"][best])
        refit = clone(self.estimator).set_params(**self.best_params_)
        self.best_estimator_ = refit.set_params(model__n_jobs=self.n_jobs).fit(x, y)
        self.classes_ = self.best_estimator_.classes_
        return self

    def out_of_fold(self, cv_folds: int, seed: int) -> np.ndarray:
        """The nested out-of-fold predictions, for the folds ``(cv_folds, seed)`` they were made
        on; ``ValueError`` when the training set was too small to nest the search."""
        if (cv_folds, seed) != (self.cv_folds, self.seed):
            raise RuntimeError(f"the search ran on ({self.cv_folds}, {self.seed}) folds")
        if self.oof_predictions_ is None:
            raise ValueError(self.nested_error_)
        return self.oof_predictions_

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The refitted best draw's predictions."""
        return self.best_estimator_.predict(x)
