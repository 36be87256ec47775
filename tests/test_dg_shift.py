"""Shift measures: known values, the table on tiny data, and their relation to the error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coos_utils.dg.shift import (
    domain_classifier_accuracy,
    intensity_statistics,
    mmd_rbf,
    relate_to_error,
    shift_table,
)
from coos_utils.reference import TEST_SPLITS


def test_mmd_is_zero_for_identical_samples_and_grows_with_shift() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 4))
    assert mmd_rbf(a, a.copy()) == 0.0
    same = mmd_rbf(a, rng.normal(size=(200, 4)))
    shifted = mmd_rbf(a, rng.normal(size=(200, 4)) + 1.5)
    assert same < 0.02 < shifted


def test_domain_classifier_is_at_chance_on_one_distribution_and_sure_on_two() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 5)), rng.normal(size=(300, 5))
    assert abs(domain_classifier_accuracy(a, b) - 0.5) < 0.08
    assert domain_classifier_accuracy(a, b + 4.0) > 0.97


def test_intensity_statistics_shape() -> None:
    images = np.random.default_rng(2).integers(0, 4000, size=(6, 2, 8, 8), dtype=np.uint16)
    assert intensity_statistics(images).shape == (6, 10)


def test_shift_table_on_tiny_data(tiny_data: Path) -> None:
    features = {
        name: np.random.default_rng(3).normal(size=(20, 3)) for name in ("train", *TEST_SPLITS)
    }
    table = shift_table(tiny_data, features=features, max_images=100)
    assert list(table.columns) == ["split", "measure", "value"]
    assert set(table["split"]) == set(TEST_SPLITS)
    assert set(table["measure"]) == {
        "domain_classifier_accuracy",
        "mmd_features",
        "wasserstein_ch0",
        "wasserstein_ch1",
    }
    assert len(table) == 16
    accuracy = table[table["measure"] == "domain_classifier_accuracy"].set_index("split")["value"]
    assert accuracy["test4"] > accuracy["test1"]  # another microscope is easy to tell apart


def test_relate_to_error_ranks_and_exact_p_value() -> None:
    similarity = pd.DataFrame(
        {"split": list(TEST_SPLITS), "measure": "d", "value": [0.1, 0.2, 0.5, 0.9]}
    )
    summary = pd.DataFrame(
        {
            "method": ["ERM"] * 4 + ["CORAL"] * 4,
            "split": list(TEST_SPLITS) * 2,
            "metric": "balanced_error",
            "mean": [1.0, 2.0, 3.0, 4.0, 4.0, 3.0, 2.0, 1.0],
        }
    )
    table = relate_to_error(similarity, summary).set_index("method")
    assert table.loc["ERM", "rho"] == 1.0 and table.loc["CORAL", "rho"] == -1.0
    assert np.isclose(table.loc["ERM", "p_exact"], 2 / 24)
    assert (table["splits"] == 4).all()
