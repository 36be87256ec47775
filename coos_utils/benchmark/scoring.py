"""Scoring predictions as Table 3 scores them, in memory: ``score_predictions(y_pred, y_true)``.

As WILDS's ``dataset.eval(y_pred, y_true, metadata)``: one call takes one split's predictions
(class ids, or an ``(n, 7)`` array of class probabilities whose largest entry is the
prediction) with the true labels and, optionally, the images' metadata, and returns a
:class:`SplitScore`: the balanced error (%) with its 95% percentile bootstrap interval,
images resampled within class and, where the metadata give each image's well (``well``, with
``plate`` when present), wells resampled within class; the accuracy (%), the macro F1 (%),
the per-class errors and the confusion counts. :meth:`SplitScore.columns` gives the split's
columns of a Table 3 row; :func:`~coos_utils.benchmark.classifiers.score_row` builds the
book's rows from the same function, so a model scored here and a Table 3 row agree exactly
(same ``seed``, same ``bootstrap_samples``).

:data:`WELLS` and :data:`IMAGES` name the interval an error is shown with (the well-level one
where it exists); results folders store these names in their ``interval`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coos_utils.data.wells import well_clusters
from coos_utils.metrics import (
    IMAGES,
    WELLS,
    balanced_error,
    bootstrap_ci,
    cluster_bootstrap_ci,
    confusion,
    macro_f1,
    sensitivity_from_counts,
)
from coos_utils.reference import CLASS_NAMES

UNITS = {WELLS: "wells (plate + well)", IMAGES: "images"}
"""What each bootstrap kind resamples, in words."""


def predicted_labels(y_pred: np.ndarray | Sequence[int], n_classes: int) -> np.ndarray:
    """Class ids from ``y_pred``: class ids as they are, or the most probable class of each
    row of an ``(n, n_classes)`` probability array; a ``ValueError`` for any other shape."""
    values = np.asarray(y_pred)
    if values.ndim == 2 and values.shape[1] == n_classes:
        return values.argmax(axis=1)
    if values.ndim != 1:
        raise ValueError(
            f"predictions of shape {values.shape}: give class ids (n,) or probabilities "
            f"(n, {n_classes})"
        )
    if len(values) and not np.array_equal(values, np.round(values)):
        raise ValueError("predicted class ids must be whole numbers")
    return values.astype(np.int64)


@dataclass(frozen=True)
class SplitScore:
    """One split's scores (all in percent); see the module docstring."""

    balanced_error: float
    ci_low: float
    """Images resampled within class."""
    ci_high: float
    well_ci_low: float
    """Wells resampled within class; NaN without well ids or with fewer than two wells in a
    class."""
    well_ci_high: float
    accuracy: float
    macro_f1: float
    counts: np.ndarray
    """Confusion counts, rows: true class, columns: predicted class."""
    class_names: tuple[str, ...]

    @property
    def interval(self) -> str:
        """The kind of interval the error is shown with: :data:`WELLS` where it exists."""
        return IMAGES if np.isnan(self.well_ci_low) else WELLS

    @property
    def shown_interval(self) -> tuple[float, float]:
        """(low, high) of :attr:`interval`."""
        if self.interval == WELLS:
            return self.well_ci_low, self.well_ci_high
        return self.ci_low, self.ci_high

    @property
    def class_errors(self) -> pd.Series:
        """Per class: the share (%) of its images predicted as another class (NaN if absent)."""
        errors = 100.0 * (1.0 - sensitivity_from_counts(self.counts))
        return pd.Series(errors, index=pd.Index(self.class_names, name="class"))

    @property
    def images(self) -> int:
        return int(self.counts.sum())

    def columns(self, split: str) -> dict[str, float]:
        """This split's columns of a Table 3 row (see ``TABLE3_COLUMNS``)."""
        return {
            split: self.balanced_error,
            f"{split}_ci_low": self.ci_low,
            f"{split}_ci_high": self.ci_high,
            f"{split}_well_ci_low": self.well_ci_low,
            f"{split}_well_ci_high": self.well_ci_high,
            f"{split}_accuracy": self.accuracy,
        }

    def as_dict(self) -> dict[str, Any]:
        """Flat values, as WILDS's ``eval`` returns them: the error with its shown interval and
        its kind, accuracy, macro F1 and ``error <class>`` for each class."""
        low, high = self.shown_interval
        values: dict[str, Any] = {
            "images": self.images,
            "balanced_error": self.balanced_error,
            "ci_low": low,
            "ci_high": high,
            "interval": self.interval,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
        }
        values.update({f"error {name}": v for name, v in self.class_errors.items()})
        return values


def score_labels(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    clusters: np.ndarray | None = None,
    seed: int = 0,
    bootstrap_samples: int = 1000,
    class_names: Sequence[str] = CLASS_NAMES,
) -> SplitScore:
    """:class:`SplitScore` of predicted class ids ``y_pred`` against ``y_true``, with the
    well-level interval where ``clusters`` gives each image's well id."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_pred)} predictions for {len(y_true)} labels")
    low, high = bootstrap_ci(y_true, y_pred, n_boot=bootstrap_samples, seed=seed)
    well_low = well_high = float("nan")
    if clusters is not None:
        well_low, well_high = cluster_bootstrap_ci(
            y_true, y_pred, clusters, n_boot=bootstrap_samples, seed=seed
        )
    return SplitScore(
        balanced_error=balanced_error(y_true, y_pred),
        ci_low=low,
        ci_high=high,
        well_ci_low=well_low,
        well_ci_high=well_high,
        accuracy=float(100.0 * np.mean(y_true == y_pred)),
        macro_f1=macro_f1(y_true, y_pred),
        counts=confusion(y_true, y_pred, len(class_names)),
        class_names=tuple(class_names),
    )


def score_predictions(
    y_pred: np.ndarray | Sequence[int],
    y_true: np.ndarray | Sequence[int],
    metadata: pd.DataFrame | Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    bootstrap_samples: int = 1000,
    class_names: Sequence[str] = CLASS_NAMES,
) -> SplitScore:
    """Score one split's predictions (class ids or an ``(n, 7)`` probability array) against its
    labels, as Table 3 does; ``metadata`` (a split's ``meta`` frame, or columns ``plate`` and
    ``well``) gives the well-level interval. Module docstring."""
    labels = predicted_labels(y_pred, len(class_names))
    return score_labels(
        np.asarray(y_true),
        labels,
        well_clusters(metadata),
        seed,
        bootstrap_samples,
        class_names,
    )
