"""The representation protocol: fit on ``train``, transform any split, one or more outputs.

A representation turns images into feature vectors. Learned ones (DeepLoc, PCI) are fitted
on the ``train`` split only and then applied to every split; fixed ones (texture, VGG16 with
given weights) ignore the fit. One fitted model can give several outputs (VGG16 gives one
feature matrix per convolutional layer, PCI one per source-encoder layer), each a row group
of Table 3 with its own display name. A representation that also classifies (DeepLoc end to
end) implements :class:`DirectPredictor` as well.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from coos_utils.data.split import CoosSplit

EXECUTION_SETTINGS: frozenset[str] = frozenset({"device", "n_jobs", "progress", "work_dir"})
"""Constructor parameters of every representation that say how, not what, it computes."""


def jsonable(value: Any) -> Any:
    """``value`` as JSON would read it back: tuples as lists, paths as text (recursively)."""
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


class Representation(ABC):
    """A scikit-learn-like feature extractor over whole splits.

    Subclasses set ``name`` (the registry key) and ``learns`` (whether :meth:`fit` looks at
    the training images). Their constructor takes the feature-defining parameters and the
    execution settings named in ``execution_settings`` (``device``, ``n_jobs``, ``progress``,
    ``work_dir`` and any a subclass adds), and stores each parameter under its own name, as
    scikit-learn's estimators do: :meth:`params`, which goes into every cache key, is derived
    from the constructor's signature, so a new parameter enters the key without being listed
    anywhere. ``work_dir`` is a folder the representation may use for its training
    checkpoints and history, so that an interrupted fit resumes and a finished one is reused;
    it is chosen by the caller under a key that covers the code, the parameters and the
    training data.
    """

    name: ClassVar[str]
    learns: ClassVar[bool] = False
    execution_settings: ClassVar[frozenset[str]] = EXECUTION_SETTINGS
    """Constructor parameters left out of :meth:`params`: they cannot change the features
    (where to run, how many workers, progress bars, extraction batch sizes...). When in
    doubt a parameter belongs in the key, not here."""

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

    @classmethod
    def parameter_names(cls) -> list[str]:
        """The constructor parameters that go into :meth:`params`: those of every
        ``__init__`` in the class's hierarchy (a subclass that forwards ``**kwargs`` keeps
        its parents' parameters), the class's own first, without the execution settings.
        ``**kwargs`` itself is not a parameter; ``*args`` is refused (it would hide some)."""
        names: dict[str, None] = {}
        for klass in cls.__mro__:
            if "__init__" in vars(klass) and issubclass(klass, Representation):
                parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
                if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters):
                    raise TypeError(
                        f"{klass.__name__}.__init__ takes *args: name every parameter, so "
                        "that params() can put it in the cache key"
                    )
                kept = (p.name for p in parameters if p.kind != inspect.Parameter.VAR_KEYWORD)
                names.update(dict.fromkeys(kept))
        return [name for name in names if name not in cls.execution_settings]

    def params(self) -> dict[str, Any]:
        """Every parameter that changes the features, as JSON-able values: each constructor
        parameter but the execution settings, read from the attribute of the same name,
        then :meth:`derived_params` (which may replace some of them)."""
        values = {}
        for name in self.parameter_names():
            if not hasattr(self, name):
                raise TypeError(
                    f"{type(self).__name__}.__init__ takes {name!r} but stores no attribute "
                    f"{name!r}: params() reads every constructor parameter from the attribute "
                    "of the same name (add it to execution_settings if it cannot change the "
                    "features)"
                )
            values[name] = jsonable(getattr(self, name))
        return {**values, **jsonable(self.derived_params())}

    def derived_params(self) -> dict[str, Any]:
        """Key entries the constructor's values do not show (e.g. a checksum of the weights
        file a path names); an entry of the same name replaces the constructor's value."""
        return {}

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
    """Raise if ``transform`` returned other outputs than declared, wrong row counts, or NaN
    or infinite values (a diverged fit): such features are never cached nor classified."""
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
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        if bad:
            params = json.dumps(representation.params(), sort_keys=True, default=str)
            raise ValueError(
                f"{representation.name} with parameters {params} gave {bad} NaN or infinite "
                f"values in output {output!r} of split {split.name!r}; they were not cached"
            )
