"""Which rows stand for the paper's, and which classifier a chapter follows: chosen on `train`
alone, never on a test set."""

from __future__ import annotations

import pandas as pd


def chosen_flags(table3: pd.DataFrame) -> pd.Series:
    """``chosen_by_cv`` as nullable booleans (NA for one-output representations, or for every
    row of a table without the column), also after a CSV round trip."""
    if "chosen_by_cv" not in table3:
        return pd.Series(pd.NA, index=table3.index, dtype="boolean")
    text = table3["chosen_by_cv"].astype("string").str.lower()
    return text.map({"true": True, "false": False}).astype("boolean")


def reported_outputs(table3: pd.DataFrame) -> pd.DataFrame:
    """The rows that stand for the paper's: of a representation with several outputs (VGG16
    and PCI layers) only those chosen by cross-validation on ``train`` (``chosen_by_cv``), as
    the paper reported its three best layers; every row of the others."""
    return table3[chosen_flags(table3).fillna(True).to_numpy(bool)]


def followed_classifiers(table3: pd.DataFrame) -> pd.DataFrame:
    """Per representation (``features``) among :func:`reported_outputs`, the model with the
    lowest cross-validated error on ``train`` (the ``cv_error`` column; ties go to the first
    row). No test column is read."""
    rows = reported_outputs(table3)[["features", "model", "cv_error"]]
    best = rows.loc[rows.groupby("features", sort=False)["cv_error"].idxmin()]
    return best.reset_index(drop=True)
