"""Sections 3.3 and 3.4 of the paper: which classes fail, and how the failures differ by shift.

Everything here works on confusion-count matrices (rows = true class, columns = predicted
class), as written to ``confusion/<features>__<model>__<split>.csv`` of a results folder.
Counts are enough for per-class bootstrap intervals: resampling the images of one class with
replacement is the same as drawing that row again from a multinomial with the row's rates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from coos_utils.metrics import confusion, sensitivity_from_counts
from coos_utils.reference import TEST_SPLITS, paper_sensitivities

Matrices = Mapping[tuple[str, str, str], pd.DataFrame]


def confusion_frame(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """Counts with the true class as rows and the predicted class as columns."""
    counts = confusion(y_true, y_pred, len(class_names))
    return pd.DataFrame(
        counts,
        index=pd.Index(class_names, name="true class"),
        columns=pd.Index(class_names, name="predicted class"),
    )


def confusion_frames(
    predictions: Mapping[tuple[str, str, str], np.ndarray],
    labels: Mapping[str, np.ndarray],
    class_names: Sequence[str],
) -> dict[tuple[str, str, str], pd.DataFrame]:
    """:func:`confusion_frame` of every (features, model, split)'s predictions."""
    return {
        key: confusion_frame(labels[key[2]], predicted, class_names)
        for key, predicted in predictions.items()
    }


def class_sensitivities(counts: pd.DataFrame) -> pd.Series:
    """Sensitivity of each class (by position: label order) from a count matrix."""
    return pd.Series(sensitivity_from_counts(counts.to_numpy()), index=counts.index)


def sensitivity_table(
    predictions: Mapping[tuple[str, str, str], np.ndarray],
    labels: Mapping[str, np.ndarray],
    class_names: Sequence[str],
) -> pd.DataFrame:
    """One row per (features, model, split, class) with that class's sensitivity."""
    rows = []
    for (features, model, split), pred in predictions.items():
        counts = confusion(labels[split], pred, len(class_names))
        for name, value in zip(class_names, sensitivity_from_counts(counts), strict=True):
            rows.append(
                {
                    "features": features,
                    "model": model,
                    "split": split,
                    "class": name,
                    "sensitivity": value,
                }
            )
    return pd.DataFrame(rows, columns=["features", "model", "split", "class", "sensitivity"])


def sensitivity_intervals_for(
    matrices: Matrices,
    best: pd.DataFrame,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """Per-class sensitivity with bootstrap intervals for the best classifiers on each test set."""
    frames = []
    for features, model in zip(best["features"], best["model"], strict=True):
        for split in TEST_SPLITS:
            table = sensitivity_intervals(matrices[(features, model, split)], n_boot, seed)
            table.insert(0, "split", split)
            table.insert(0, "model", model)
            table.insert(0, "features", features)
            frames.append(table)
    return pd.concat(frames, ignore_index=True)


def paper_sensitivities_beside(sens: pd.DataFrame) -> pd.DataFrame:
    """The sensitivities the paper quotes (real COOS-7), one row per quote and classifier of
    this run that stands for it (same representation, split and class; the same classifier,
    or any for DeepLoc's end-to-end quote); a quote with none here keeps one row with an
    empty ``our classifier`` and ``this run``."""
    rows = []
    for _, quote in paper_sensitivities().iterrows():
        mine = sens[
            sens["features"].str.startswith(quote["representation"])
            & ((sens["model"] == quote["model"]) | quote["model"].startswith("End-to-End"))
            & (sens["split"] == quote["split"])
            & (sens["class"] == quote["class"])
        ]
        named = f"{quote['representation']} + {quote['model']}"
        paper = [quote["split"], quote["class"], named, quote["sensitivity"]]
        ours = [(f"{r.features} + {r.model}", r.sensitivity) for r in mine.itertuples()]
        rows += [[*paper, *pair] for pair in ours or [(None, float("nan"))]]
    columns = ["split", "class", "paper's classifier", "paper", "our classifier", "this run"]
    return pd.DataFrame(rows, columns=columns)


def row_normalised(counts: pd.DataFrame) -> pd.DataFrame:
    """Each row divided by its total (0 for a class with no images)."""
    totals = counts.sum(axis=1).replace(0, np.nan)
    return counts.div(totals, axis=0).fillna(0.0)


def sensitivity_intervals(
    counts: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """Per-class sensitivity with a bootstrap interval (images resampled within class)."""
    rng = np.random.default_rng(seed)
    sens = class_sensitivities(counts).to_numpy()
    sizes = counts.to_numpy(dtype=np.int64).sum(axis=1)
    rows = []
    for name, n, value in zip(counts.index, sizes, sens, strict=True):
        low = high = np.nan
        if n:
            draws = rng.binomial(n, value, size=n_boot) / n
            low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
        rows.append(
            {
                "class": name,
                "images": int(n),
                "sensitivity": value,
                "ci_low": float(low),
                "ci_high": float(high),
            }
        )
    return pd.DataFrame(rows)


def top_confusions(counts: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """The ``k`` largest off-diagonal errors, as a share of the true class's images."""
    rates = row_normalised(counts)
    rows = [
        {
            "true class": true,
            "predicted class": predicted,
            "images": int(counts.loc[true, predicted]),
            "share of true class": float(rates.loc[true, predicted]),
        }
        for true in counts.index
        for predicted in counts.columns
        if true != predicted and counts.loc[true, predicted] > 0
    ]
    table = pd.DataFrame(
        rows, columns=["true class", "predicted class", "images", "share of true class"]
    )
    table = table.sort_values(["share of true class", "images"], ascending=False, kind="stable")
    return table.head(k).reset_index(drop=True)


def compare_shifts(
    first: pd.DataFrame,
    second: pd.DataFrame,
    names: Sequence[str] = ("test3", "test4"),
    min_share: float = 0.05,
) -> pd.DataFrame:
    """Errors (true -> predicted) that reach ``min_share`` of the true class in either split.

    ``where`` says whether the error is common in one split only or in both; ``difference``
    is the share in the first split minus the share in the second.
    """
    a, b = row_normalised(first), row_normalised(second)
    rows = []
    for true in a.index:
        for predicted in a.columns:
            if true == predicted:
                continue
            share_a, share_b = float(a.loc[true, predicted]), float(b.loc[true, predicted])
            if max(share_a, share_b) < min_share:
                continue
            if share_a >= min_share and share_b >= min_share:
                where = "both"
            else:
                where = f"{names[0]} only" if share_a >= min_share else f"{names[1]} only"
            rows.append(
                {
                    "true class": true,
                    "predicted class": predicted,
                    names[0]: share_a,
                    names[1]: share_b,
                    "difference": share_a - share_b,
                    "where": where,
                }
            )
    table = pd.DataFrame(
        rows, columns=["true class", "predicted class", *names, "difference", "where"]
    )
    order = table["difference"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index(drop=True)


def main_error(counts: pd.DataFrame, true_class: str) -> tuple[str | None, float]:
    """The class ``true_class`` is most often mistaken for, and the share of its images."""
    rates = row_normalised(counts).loc[true_class].drop(true_class)
    if rates.max() <= 0:
        return None, 0.0
    return str(rates.idxmax()), float(rates.max())
