"""Which classifier a chapter follows: chosen on `train` alone, never on a test set."""

from __future__ import annotations

import pandas as pd


def followed_classifiers(table3: pd.DataFrame) -> pd.DataFrame:
    """Per representation (``features``), the model with the lowest cross-validated error on
    ``train`` (the ``cv_error`` column; ties go to the first row). No test column is read."""
    rows = table3[["features", "model", "cv_error"]]
    best = rows.loc[rows.groupby("features", sort=False)["cv_error"].idxmin()]
    return best.reset_index(drop=True)
