"""The paper's three classifiers on fixed features, and the Table 3 protocol around them.

Every model is a scikit-learn ``Pipeline``: ``StandardScaler`` (centred and scaled with the
mean and standard deviation of the training features only, as the paper does) followed by

* ``kNN``: 11 nearest neighbours, Euclidean, uniform vote;
* ``L1 LR``: L1-penalised logistic regression, ``C = 1``, one-vs-rest with liblinear. These
  are what scikit-learn 0.20/0.21 (current when the paper was written) ran for
  ``LogisticRegression(penalty="l1")`` with every other setting at its default. From
  scikit-learn 1.8 on, ``l1_ratio=1.0`` alone selects the L1 penalty (before 1.8 it was
  ignored without ``penalty="elasticnet"``), hence the requirement ``scikit-learn>=1.8``;
* ``RF``: a random forest chosen by a random search of ``search_draws`` draws (the paper: 100)
  over :data:`RF_PARAM_GRID` (the paper's grid), each draw scored by ``cv_folds``-fold
  (the paper: 5) stratified, shuffled cross-validation on the training features. The score is
  balanced accuracy, the complement of the metric the paper reports, so that the search
  optimises what the table measures despite the unequal class sizes; the best draw is refitted
  on all training features. Draws, folds, the forest and the search are seeded by ``seed``.

Each fitted model also gets a cross-validated balanced error on ``train``, computed the same
way for all three: the ``cv_folds``-fold out-of-fold predictions (stratified, shuffled,
seeded by ``seed``, the same folds for every model) of the whole fitting procedure. For the
forest that procedure includes its choice of draw, so the choice is made again inside each
outer fold on that fold's training part (nested); the search's own ``best_score_``, the best of
many draws on the folds it chose with, is optimistic and is not used. This is the only score
any choice between classifiers may use. The nested choice is made by each draw's out-of-bag
balanced accuracy, from the very forests the main search fitted on each outer fold's training
part, so nesting fits no extra forest
(:class:`~coos_utils.benchmark.forest_search.NestedForestSearch`; until 2026-12-03 it reran
the whole cross-validated search in each outer fold, about ``cv_folds`` times the forests).
The search runs through joblib on ``n_jobs`` local processes or, given a Dask scheduler
address, on that cluster; the result is the same either way.

The intervals: ``<split>_ci_low/_ci_high`` resample images within class;
``<split>_well_ci_low/_well_ci_high`` resample wells (plate + well) within class when the
data have well ids, NaN otherwise; ``<split>_accuracy`` is the accuracy (%), beside the
balanced error for comparison with results published in accuracy (:data:`TABLE3_COLUMNS`
describes every column). Rows are scored by :mod:`coos_utils.benchmark.scoring`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from coos_utils.benchmark.forest_search import NestedForestSearch
from coos_utils.benchmark.scoring import score_labels
from coos_utils.metrics import balanced_error
from coos_utils.parallel import joblib_backend
from coos_utils.reference import SPLIT_NAMES
from coos_utils.registry import lookup
from coos_utils.stages import stage

RF_PARAM_GRID: dict[str, list[Any]] = {
    "n_estimators": [20, 40, 60, 80, 120, 140, 160, 180, 200],
    "max_features": ["log2", "sqrt"],
    "max_depth": [1, 13, 25, 37, 50, None],
    "min_samples_split": [2, 5, 10, 20, 40],
    "min_samples_leaf": [1, 2, 4, 8, 16],
}
TABLE3_COLUMNS: dict[str, str] = {
    "features": "the representation (and layer) the classifier was trained on",
    "model": "the classifier (End-to-End: the network's own predictions)",
    "cv_error": (
        "balanced error (%) of out-of-fold predictions on train, cv_folds-fold, the same "
        "folds for every classifier; for RF the choice of draw is nested in each outer fold "
        "(made there by out-of-bag balanced accuracy on the fold's training part); for "
        "DeepLoc end to end, the error on the part of train held out to pick the checkpoint. "
        "The only score used to choose between classifiers or layers"
    ),
    "<split>": "balanced error (%) on the split (train: on the training images themselves)",
    "<split>_ci_low/_ci_high": "95% bootstrap interval, images resampled within class",
    "<split>_well_ci_low/_well_ci_high": (
        "95% bootstrap interval, wells (plate + well) resampled within class; NaN when the "
        "data have no well ids or a class has fewer than two wells"
    ),
    "<split>_accuracy": (
        "accuracy (%): the share of the split's images predicted correctly, for comparison "
        "with results published in accuracy (it favours the large classes)"
    ),
    "chosen_by_cv": (
        "for representations with several outputs (layers): one of the rf_top_outputs "
        "outputs with the lowest L1 LR cv_error, the rows that stand for the paper's"
    ),
}
"""What each column of ``table3.csv`` holds."""
KNN_NEIGHBOURS = 11
LR_C = 1.0
LR_MAX_ITER = 1000


def _scaled(model: Any) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def make_knn(seed: int, search_draws: int, cv_folds: int, n_jobs: int | None) -> Pipeline:
    """Standardise, then 11-nearest-neighbour vote."""
    return _scaled(KNeighborsClassifier(n_neighbors=KNN_NEIGHBOURS, n_jobs=n_jobs))


def make_l1_lr(seed: int, search_draws: int, cv_folds: int, n_jobs: int | None) -> Pipeline:
    """Standardise, then one-vs-rest L1 logistic regression (liblinear, C = 1)."""
    lr = LogisticRegression(
        C=LR_C, l1_ratio=1.0, solver="liblinear", max_iter=LR_MAX_ITER, random_state=seed
    )
    return _scaled(OneVsRestClassifier(lr, n_jobs=n_jobs))


def make_rf_search(
    seed: int, search_draws: int, cv_folds: int, n_jobs: int | None
) -> NestedForestSearch:
    """Standardise + random forest, tuned by the paper's random search on the training data
    (with nested out-of-fold predictions chosen out of bag from the same fits)."""
    return NestedForestSearch(
        _scaled(RandomForestClassifier(random_state=seed)),
        param_distributions={f"model__{k}": v for k, v in RF_PARAM_GRID.items()},
        n_iter=search_draws,
        cv_folds=cv_folds,
        seed=seed,
        n_jobs=n_jobs,
    )


ModelFactory = Callable[[int, int, int, "int | None"], Any]
MODELS: dict[str, ModelFactory] = {"kNN": make_knn, "L1 LR": make_l1_lr, "RF": make_rf_search}


def make_model(
    name: str, seed: int = 0, search_draws: int = 100, cv_folds: int = 5, n_jobs: int | None = -1
) -> Any:
    """An unfitted model of :data:`MODELS` by its Table 3 name."""
    return lookup(MODELS, name, "model")(seed, search_draws, cv_folds, n_jobs)


def _ordered_splits(splits: Sequence[str]) -> list[str]:
    if "train" not in splits:
        raise ValueError("the features of the 'train' split are needed to fit the classifiers")
    known = [s for s in SPLIT_NAMES if s in splits]
    return known + sorted(set(splits) - set(known))


def cv_error(
    estimator: Any, x_train: np.ndarray, y_train: np.ndarray, cv_folds: int, seed: int
) -> float:
    """Balanced error (%) of ``cv_folds``-fold out-of-fold predictions on ``train`` of a fresh
    copy of ``estimator`` (a fitted :class:`NestedForestSearch` already holds its nested
    ones, chosen out of bag in each fold); NaN, with a warning,
    when the training set is too small to cross-validate (e.g. fewer images per fold than
    kNN's k)."""
    folds = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    try:
        if isinstance(estimator, NestedForestSearch):  # fitted: nested on these very folds
            predicted = estimator.out_of_fold(cv_folds, seed)
        else:
            predicted = cross_val_predict(clone(estimator), x_train, y_train, cv=folds)
    except ValueError as exc:
        warnings.warn(
            f"no cross-validated error on {len(y_train)} training images: {exc}", stacklevel=2
        )
        return float("nan")
    return balanced_error(y_train, predicted)


def fit_predict(
    features_by_split: Mapping[str, np.ndarray],
    y_train: np.ndarray,
    model: str,
    seed: int = 0,
    search_draws: int = 100,
    cv_folds: int = 5,
    n_jobs: int | None = -1,
    scheduler: str | None = None,
) -> tuple[Any, dict[str, np.ndarray], float]:
    """Fit ``model`` on the ``train`` features, predict every split (train included) and
    score it by cross-validation on ``train``."""
    splits = _ordered_splits(list(features_by_split))
    estimator = make_model(model, seed, search_draws, cv_folds, n_jobs)
    x_train = features_by_split["train"]
    with joblib_backend(scheduler):
        estimator.fit(x_train, y_train)
        score = cv_error(estimator, x_train, y_train, cv_folds, seed)
    predictions = {split: estimator.predict(features_by_split[split]) for split in splits}
    return estimator, predictions, score


def score_row(
    features: str,
    model: str,
    predicted: Mapping[str, np.ndarray],
    labels_by_split: Mapping[str, np.ndarray],
    cv_score: float,
    seed: int = 0,
    bootstrap_samples: int = 1000,
    clusters_by_split: Mapping[str, np.ndarray | None] | None = None,
) -> dict[str, Any]:
    """One Table 3 row: per split, the columns of
    :func:`~coos_utils.benchmark.scoring.score_labels` (balanced error (%) with its
    within-class bootstrap interval, the well-level one where ``clusters_by_split`` gives the
    split's well ids, and accuracy), the errors first."""
    row: dict[str, Any] = {"features": features, "model": model, "cv_error": cv_score}
    splits = _ordered_splits(list(predicted))
    clusters = clusters_by_split or {}
    scores = {
        split: score_labels(
            labels_by_split[split], predicted[split], clusters.get(split), seed, bootstrap_samples
        )
        for split in splits
    }
    row.update({split: score.balanced_error for split, score in scores.items()})
    for split, score in scores.items():
        row.update(score.columns(split))
    return row


def fit_table3(
    features_by_split: Mapping[str, np.ndarray],
    labels_by_split: Mapping[str, np.ndarray],
    features_name: str = "Texture",
    models: Sequence[str] = tuple(MODELS),
    search_draws: int = 100,
    cv_folds: int = 5,
    seed: int = 0,
    n_jobs: int | None = -1,
    scheduler: str | None = None,
    bootstrap_samples: int = 1000,
    progress: bool = True,
    clusters_by_split: Mapping[str, np.ndarray | None] | None = None,
) -> tuple[pd.DataFrame, dict[tuple[str, str, str], np.ndarray]]:
    """Table 3 rows of one representation: balanced error (%) of each model on each split.

    Returns the table (the columns of :data:`TABLE3_COLUMNS`: ``features, model, cv_error,
    <split>..., <split>_ci_low, <split>_ci_high, <split>_well_ci_low, <split>_well_ci_high,
    <split>_accuracy...``,
    intervals from ``bootstrap_samples`` replicates, the well-level ones where
    ``clusters_by_split`` gives a split's well ids) and the predictions keyed by
    ``(features_name, model, split)``.
    """
    rows, predictions = [], {}
    for model in tqdm(models, desc=f"classifiers on {features_name}", disable=not progress):
        with stage(f"classifier {model}", features_name):
            _, predicted, score = fit_predict(
                features_by_split,
                labels_by_split["train"],
                model,
                seed=seed,
                search_draws=search_draws,
                cv_folds=cv_folds,
                n_jobs=n_jobs,
                scheduler=scheduler,
            )
        with stage("bootstrap", f"{features_name} {model}"):
            row = score_row(
                features_name,
                model,
                predicted,
                labels_by_split,
                score,
                seed,
                bootstrap_samples,
                clusters_by_split,
            )
        rows.append(row)
        predictions.update({(features_name, model, s): p for s, p in predicted.items()})
    return pd.DataFrame(rows), predictions
