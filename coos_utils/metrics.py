"""The paper's metric and its companions: balanced error, macro F1, confusion, sensitivity,
and the intervals around them (bootstrap over images or wells, t-interval over seeds).

A base module: every layer that scores predictions (the classifiers, DeepLoc's validation, the
DG trials, the analysis) uses these, so each metric is written once.

Labels are the integer class ids 0..n_classes-1. The balanced error averages the per-class
error rates over the classes present in ``y_true``, like scikit-learn's
``balanced_accuracy_score`` (whose complement it is, in percent).

Two bootstrap intervals: :func:`bootstrap_ci` resamples images within class (how much the
error would move with other images from the same wells), :func:`cluster_bootstrap_ci`
resamples whole wells within class (how much it would move with other wells: test3 has two
plates per class and test4 one, so its images are far from independent draws).
:func:`t_interval` is the interval of a mean over a few seeds (``mean +- t(0.975, n - 1) * sd /
sqrt(n)``; with a handful of seeds a percentile interval would only span the extreme seeds).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from coos_utils.reference import N_CLASSES

WELLS, IMAGES = "bootstrap, wells", "bootstrap, images"
"""Interval kinds: a percentile bootstrap resampling wells (plate + well), or images, within
class; every results file names its intervals with these words (an ``interval`` column)."""
RANGE = "range over seeds"
"""Interval kind: the lowest and highest value over runs (seeds)."""


def _check(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true).astype(np.int64, copy=False)
    y_pred = np.asarray(y_pred).astype(np.int64, copy=False)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"labels {y_true.shape} and predictions {y_pred.shape} differ in shape")
    if len(y_true) == 0:
        raise ValueError("no labels to score")
    return y_true, y_pred


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """(n_classes, n_classes) counts; row = true class, column = predicted class."""
    y_true, y_pred = _check(y_true, y_pred)
    for name, y in (("labels", y_true), ("predictions", y_pred)):
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"{name} outside 0..{n_classes - 1}")
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def sensitivity_from_counts(counts: np.ndarray) -> np.ndarray:
    """Per-class recall from a confusion-count matrix (rows = true class); NaN if absent."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1)
    out = np.full(len(counts), np.nan)
    return np.divide(np.diag(counts), totals, out=out, where=totals > 0)


def sensitivity(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Per-class recall (fraction of each true class predicted correctly); NaN if absent."""
    return sensitivity_from_counts(confusion(y_true, y_pred, n_classes))


def balanced_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """100 x (1 - mean recall over the classes present in ``y_true``), in percent."""
    y_true, y_pred = _check(y_true, y_pred)
    n_classes = int(max(y_true.max(), y_pred.max())) + 1
    return float(100.0 * (1.0 - np.nanmean(sensitivity(y_true, y_pred, n_classes))))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores over the classes present, in percent."""
    y_true, y_pred = _check(y_true, y_pred)
    n_classes = int(max(y_true.max(), y_pred.max())) + 1
    counts = confusion(y_true, y_pred, n_classes).astype(np.float64)
    hits, truths, calls = np.diag(counts), counts.sum(axis=1), counts.sum(axis=0)
    f1 = np.divide(2 * hits, truths + calls, out=np.zeros(n_classes), where=truths + calls > 0)
    return float(100.0 * f1[truths > 0].mean())


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    chunk: int = 100,
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`balanced_error`, resampling images within class.

    Each replicate draws, for every class, as many images of that class as there are, with
    replacement, so class sizes (and hence the weighting of the balanced error) stay fixed.
    Replicates are drawn ``chunk`` at a time to bound memory.
    """
    y_true, y_pred = _check(y_true, y_pred)
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    rng = np.random.default_rng(seed)
    correct = y_true == y_pred
    errors = np.zeros(n_boot)
    classes = np.unique(y_true)
    for label in classes:
        hits = correct[y_true == label]
        for start in range(0, n_boot, chunk):
            stop = min(start + chunk, n_boot)
            draws = rng.integers(0, len(hits), size=(stop - start, len(hits)))
            errors[start:stop] += 1.0 - hits[draws].mean(axis=1)
    errors *= 100.0 / len(classes)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(errors, [alpha, 1.0 - alpha])
    return float(low), float(high)


def cluster_bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    clusters: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`balanced_error`, resampling clusters (wells)
    within class.

    Each replicate draws, for every class, as many of its clusters as it has, with
    replacement, and scores the class on all images of the drawn clusters (a class's error is
    then a ratio of hits to images, so its size varies between replicates). ``clusters`` holds
    one id per image; a cluster spanning two classes counts as one cluster in each. NaN when
    some class has fewer than two clusters: its between-well spread cannot be estimated.
    """
    y_true, y_pred = _check(y_true, y_pred)
    clusters = np.asarray(clusters)
    if clusters.shape != y_true.shape:
        raise ValueError(f"clusters {clusters.shape} and labels {y_true.shape} differ in shape")
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    rng = np.random.default_rng(seed)
    correct = y_true == y_pred
    classes = np.unique(y_true)
    errors = np.zeros(n_boot)
    for label in classes:
        ids, members = np.unique(clusters[y_true == label], return_inverse=True)
        if len(ids) < 2:
            return float("nan"), float("nan")
        sizes = np.bincount(members, minlength=len(ids))
        hits = np.bincount(members, weights=correct[y_true == label], minlength=len(ids))
        draws = rng.integers(0, len(ids), size=(n_boot, len(ids)))
        errors += 1.0 - hits[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    errors *= 100.0 / len(classes)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(errors, [alpha, 1.0 - alpha])
    return float(low), float(high)


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the t-interval of the mean; NaN bounds for fewer than 2 values."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return mean, float(mean - half), float(mean + half)


def seeds_bootstrap_ci(
    y_true: np.ndarray,
    predictions: Sequence[np.ndarray],
    baseline: Sequence[np.ndarray] | None = None,
    clusters: np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    chunk: int = 100,
) -> tuple[float, float, float]:
    """(mean, low, high): the mean balanced error over seeds (or, with ``baseline``, the mean
    paired difference ``predictions[s] - baseline[s]``) and its percentile bootstrap interval.

    All seeds are scored on the same test images, so each replicate draws one resample of the
    test set (images within class, or whole ``clusters`` -- wells -- within class when given)
    and scores every seed on it; the replicate's value is the mean over seeds. The interval
    therefore says how much the mean would move with other test images (or wells), it lies
    within [0, 100] for an error ([-100, 100] for a difference), and it exists for one seed
    too. Unlike a t-interval over 2-3 seed values it cannot leave the metric's range. NaN
    bounds when a class has fewer than two clusters.
    """
    y_true = np.asarray(y_true).astype(np.int64, copy=False)
    preds = [_check(y_true, p)[1] for p in predictions]
    if not preds:
        raise ValueError("no predictions to score")
    base = [_check(y_true, p)[1] for p in baseline] if baseline is not None else None
    if base is not None and len(base) != len(preds):
        raise ValueError(f"{len(preds)} runs and {len(base)} baseline runs differ in number")
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    units = np.arange(len(y_true)) if clusters is None else np.asarray(clusters)
    if units.shape != y_true.shape:
        raise ValueError(f"clusters {units.shape} and labels {y_true.shape} differ in shape")
    sign = np.full(len(preds), 1.0 / len(preds))
    runs = np.stack(preds + (base or []))
    weights = np.concatenate([sign, -sign]) if base is not None else sign
    point = float(weights @ np.array([balanced_error(y_true, r) for r in runs]))
    rng = np.random.default_rng(seed)
    classes = np.unique(y_true)
    values = np.zeros(n_boot)
    for label in classes:
        in_class = y_true == label
        ids, members = np.unique(units[in_class], return_inverse=True)
        if len(ids) < 2 and clusters is not None:
            return point, float("nan"), float("nan")
        sizes = np.bincount(members, minlength=len(ids)).astype(np.float64)
        hits = np.stack(
            [np.bincount(members, weights=r[in_class] == label, minlength=len(ids)) for r in runs]
        )
        for start in range(0, n_boot, chunk):
            stop = min(start + chunk, n_boot)
            draws = rng.integers(0, len(ids), size=(stop - start, len(ids)))
            errors = 1.0 - hits[:, draws].sum(axis=2) / sizes[draws].sum(axis=1)
            values[start:stop] += weights @ errors
    values *= 100.0 / len(classes)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return point, float(low), float(high)
