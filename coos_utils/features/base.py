"""The representation protocol: fit on ``train``, transform any split, one or more outputs.

A representation turns images into feature vectors. Learned ones (DeepLoc, PCI) are fitted
on the ``train`` split only and then applied to every split; fixed ones (texture, VGG16 with
given weights) ignore the fit. One fitted model can give several outputs (VGG16 gives one
feature matrix per convolutional layer, PCI one per source-encoder layer), each a row group
of Table 3 with its own display name. A representation that also classifies (DeepLoc end to
end) implements :class:`DirectPredictor` as well.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from coos_utils.data.split import CoosSplit


class Representation(ABC):
    """A scikit-learn-like feature extractor over whole splits.

    Subclasses set ``name`` (the registry key) and ``learns`` (whether :meth:`fit` looks at
    the training images); their constructor takes the feature-defining parameters (returned
    by :meth:`params`, which go into every cache key) and the execution settings ``device``,
    ``n_jobs``, ``progress`` and ``work_dir`` (which do not). ``work_dir`` is a folder the
    representation may use for its training checkpoints and history, so that an interrupted
    fit resumes and a finished one is reused; it is chosen by the caller under a key that
    covers the code, the parameters and the training data.
    """

    name: ClassVar[str]
    learns: ClassVar[bool] = False

    def __init__(
        self,
        device: str | None = None,
        n_jobs: int | None = -1,
        progress: bool = True,
        work_dir: str | Path | None = None,
    ) -> None:
        self.device = device
        self.n_jobs = n_jobs
        self.progress = progress
        self.work_dir = Path(work_dir) if work_dir is not None else None

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Every parameter that changes the features, as JSON-able values."""

    @abstractmethod
    def outputs(self) -> dict[str, str]:
        """Output id -> Table 3 display name, e.g. ``{"fc2": "DeepLoc (FC2)"}``."""

    def fit(self, train: CoosSplit) -> Self:
        """Learn from the ``train`` split (nothing to learn by default)."""
        return self

    @abstractmethod
    def transform(self, split: CoosSplit) -> dict[str, np.ndarray]:
        """Output id -> (N, D) float32 features of every image of ``split``, in order."""

    def feature_names(self, output: str, n_features: int) -> list[str]:
        """Names of the columns of one output (default: ``<output>_<i>``)."""
        return [f"{output}_{i}" for i in range(n_features)]


class DirectPredictor(ABC):
    """A representation that also predicts classes itself (a Table 3 row without classifier)."""

    predictor_row: ClassVar[tuple[str, str]]
    """(features, model) names of its Table 3 row, e.g. ("DeepLoc", "End-to-End")."""
    validation_error: float
    """After ``fit``: balanced error (%) on the part of ``train`` held out for model selection,
    the score that stands in for the classifiers' cross-validated error."""

    @abstractmethod
    def predict(self, split: CoosSplit) -> np.ndarray:
        """Predicted class label (int64) of every image of ``split``, in order."""


def check_outputs(
    representation: Representation, split: CoosSplit, values: Mapping[str, np.ndarray]
) -> None:
    """Raise if ``transform`` returned other outputs than declared, or wrong row counts."""
    declared = set(representation.outputs())
    if set(values) != declared:
        raise ValueError(
            f"{representation.name} returned outputs {sorted(values)}, declared {sorted(declared)}"
        )
    for output, array in values.items():
        if array.ndim != 2 or len(array) != len(split):
            raise ValueError(
                f"{representation.name}/{output} gave {array.shape} for {len(split)} images "
                f"of split {split.name!r}"
            )
