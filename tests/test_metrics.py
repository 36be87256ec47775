"""Balanced error, confusion, sensitivity and the within-class bootstrap."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, recall_score

from coos_utils.metrics import (
    balanced_error,
    bootstrap_ci,
    cluster_bootstrap_ci,
    confusion,
    seeds_bootstrap_ci,
    sensitivity,
)


@pytest.fixture
def labels() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.choice(7, size=500, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.1, 0.05])
    pred = np.where(rng.random(500) < 0.7, y, rng.integers(0, 7, 500))
    return y, pred


def test_balanced_error_is_the_complement_of_sklearn_balanced_accuracy(
    labels: tuple[np.ndarray, np.ndarray],
) -> None:
    y, pred = labels
    expected = 100 * (1 - balanced_accuracy_score(y, pred))
    assert balanced_error(y, pred) == pytest.approx(expected)


def test_balanced_error_with_a_class_missing_from_the_truth() -> None:
    y = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([0, 3, 1, 1, 0, 2])  # class 3 predicted but never true
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = 100 * (1 - balanced_accuracy_score(y, pred))
    assert balanced_error(y, pred) == pytest.approx(expected)


def test_balanced_error_weights_classes_equally() -> None:
    y = np.array([0] * 90 + [1] * 10)
    pred = np.zeros(100, dtype=int)  # all of class 1 wrong: plain error 10 %, balanced 50 %
    assert balanced_error(y, pred) == pytest.approx(50.0)
    assert balanced_error(y, y) == 0.0


def test_confusion_rows_are_true_classes(labels: tuple[np.ndarray, np.ndarray]) -> None:
    y, pred = labels
    np.testing.assert_array_equal(confusion(y, pred), confusion_matrix(y, pred, labels=range(7)))
    counts = confusion(np.array([2, 2]), np.array([5, 5]))
    assert counts.shape == (7, 7) and counts[2, 5] == 2


def test_sensitivity_is_per_class_recall(labels: tuple[np.ndarray, np.ndarray]) -> None:
    y, pred = labels
    np.testing.assert_allclose(sensitivity(y, pred), recall_score(y, pred, average=None))
    absent = sensitivity(np.array([0, 1]), np.array([0, 0]))
    assert absent[0] == 1.0 and absent[1] == 0.0 and np.isnan(absent[2:]).all()


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        balanced_error(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match="outside"):
        confusion(np.array([0, 7]), np.array([0, 1]))
    with pytest.raises(ValueError, match="no labels"):
        balanced_error(np.array([], dtype=int), np.array([], dtype=int))


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded(
    labels: tuple[np.ndarray, np.ndarray],
) -> None:
    y, pred = labels
    low, high = bootstrap_ci(y, pred, n_boot=400, seed=1)
    assert low < balanced_error(y, pred) < high
    assert high - low < 15
    assert bootstrap_ci(y, pred, n_boot=400, seed=1) == (low, high)
    assert bootstrap_ci(y, pred, n_boot=400, seed=2) != (low, high)


def test_bootstrap_resamples_within_class() -> None:
    # Class 0 always right, its single class-1 image wrong: every within-class resample
    # scores 50 %. Resampling regardless of class would drop class 1 from about a third of
    # the replicates (balanced error 0 %) and widen the interval down to 0.
    y = np.array([0] * 34 + [1])
    pred = np.zeros(35, dtype=int)
    assert bootstrap_ci(y, pred, n_boot=200, seed=0) == (50.0, 50.0)


def _wells(wrong_wells: int, n_wells: int = 10, per_well: int = 30) -> tuple[np.ndarray, ...]:
    """7 classes x ``n_wells`` wells; in each class the first ``wrong_wells`` wells are all
    misclassified and the others all right, so errors come in whole wells."""
    y = np.repeat(np.arange(7), n_wells * per_well)
    wells = np.tile(np.repeat(np.arange(n_wells), per_well), 7) + 100 * y
    pred = np.where(wells % 100 < wrong_wells, (y + 1) % 7, y)
    return y, pred, wells


def test_cluster_bootstrap_is_wider_when_errors_come_in_wells() -> None:
    y, pred, wells = _wells(3)
    assert balanced_error(y, pred) == pytest.approx(30.0)
    image = bootstrap_ci(y, pred, n_boot=500, seed=0)
    well = cluster_bootstrap_ci(y, pred, wells, n_boot=500, seed=0)
    assert well[0] < 30.0 < well[1]
    assert well[1] - well[0] > 2 * (image[1] - image[0])
    assert cluster_bootstrap_ci(y, pred, wells, n_boot=500, seed=0) == well
    assert cluster_bootstrap_ci(y, pred, wells, n_boot=500, seed=1) != well


def test_cluster_bootstrap_keeps_classes_and_needs_two_wells_per_class() -> None:
    # Errors spread evenly over wells: every well draw gives the same error.
    y, pred, _ = _wells(3)
    wells = np.arange(len(y)) % 10 + 100 * y
    low, high = cluster_bootstrap_ci(y, pred, wells, n_boot=200, seed=0)
    assert low == pytest.approx(30.0) and high == pytest.approx(30.0)
    single = np.where(y == 0, 0, wells)
    assert np.isnan(cluster_bootstrap_ci(y, pred, single, n_boot=50)).all()
    with pytest.raises(ValueError, match="clusters"):
        cluster_bootstrap_ci(y, pred, wells[:-1])


def _noisy_runs(n_runs: int, accuracy: float, size: int = 400) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, size)
    runs = [
        np.where(rng.random(size) < accuracy, y, rng.integers(0, 7, size)) for _ in range(n_runs)
    ]
    return y, runs


def test_seeds_interval_stays_within_the_error_range_where_a_t_interval_does_not() -> None:
    y, runs = _noisy_runs(2, 0.15)  # two seeds far apart near the top of the range
    runs[1] = y.copy()  # and one perfect seed: a t-interval over 2 values leaves [0, 100]
    mean, low, high = seeds_bootstrap_ci(y, runs, n_boot=300)
    assert mean == pytest.approx(np.mean([balanced_error(y, r) for r in runs]))
    assert 0.0 <= low <= mean <= high <= 100.0
    from coos_utils.metrics import t_interval

    assert t_interval([balanced_error(y, r) for r in runs])[1] < 0.0


def test_seeds_interval_of_one_seed_is_the_image_bootstrap() -> None:
    y, runs = _noisy_runs(1, 0.7)
    mean, low, high = seeds_bootstrap_ci(y, runs, n_boot=200, seed=3)
    assert mean == pytest.approx(balanced_error(y, runs[0]))
    assert (low, high) == pytest.approx(bootstrap_ci(y, runs[0], n_boot=200, seed=3))


def test_paired_seeds_interval_is_zero_for_identical_runs_and_signed_otherwise() -> None:
    y, runs = _noisy_runs(3, 0.6)
    assert seeds_bootstrap_ci(y, runs, baseline=runs, n_boot=100) == pytest.approx((0, 0, 0))
    better = [np.where(np.arange(len(y)) % 2 == 0, y, r) for r in runs]
    mean, low, high = seeds_bootstrap_ci(y, better, baseline=runs, n_boot=300)
    assert high < 0 and -100 <= low <= mean <= high


def test_seeds_interval_by_wells_needs_two_wells_per_class() -> None:
    y, runs = _noisy_runs(2, 0.6)
    wells = np.arange(len(y)) % 10
    _, low, high = seeds_bootstrap_ci(y, runs, clusters=wells, n_boot=100)
    assert 0 <= low <= high <= 100
    assert np.isnan(seeds_bootstrap_ci(y, runs, clusters=y, n_boot=100)[1])
