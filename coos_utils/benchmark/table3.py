"""Table 3 end to end: splits -> representations (cached) -> classifiers -> predictions.

:func:`run_table3` computes; it writes nothing but the feature cache. Writing the results
folder is :mod:`coos_utils.results.store`'s job, showing them :mod:`coos_utils.presentation`'s.

Representations with several outputs (VGG16 has one per convolutional layer) get kNN and L1
LR on every output and the random-forest search only on the ``rf_top_outputs`` outputs with
the lowest cross-validated L1 LR error on ``train`` (the paper reported its three best VGG16
layers); the ``chosen_by_cv`` column marks those outputs True and the others False (all True
when there are no more than ``rf_top_outputs``), and is empty for one-output representations.
The chosen rows are the ones that stand for the paper's rows (the claims read only them).

When a split's metadata has a ``well`` column (with ``plate``, when present, to tell wells of
different plates apart), every row also gets a well-level bootstrap interval.

Classifier rows are cached too (:mod:`coos_utils.benchmark.classifier_cache`, by default in
``<cache_dir>/classifiers``): a rerun on the same features with the same settings and code
refits nothing; :attr:`Table3Result.classifier_hits` and ``classifier_fits`` count both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from coos_utils.benchmark.classifier_cache import ClassifierCache
from coos_utils.benchmark.classifiers import MODELS, fit_table3, score_row
from coos_utils.data import CoosSplit
from coos_utils.data.wells import well_clusters
from coos_utils.features import (
    DirectPredictor,
    Representation,
    RepresentationFeatures,
    default_cache_dir,
    features_for,
    fit_representation,
)
from coos_utils.stages import stage

Predictions = dict[tuple[str, str, str], np.ndarray]


class Table3Sizes(Protocol):
    """What Table 3 reads of a run profile (a :class:`coos_utils.profiles.Profile`)."""

    @property
    def rf_search_draws(self) -> int: ...
    @property
    def cv_folds(self) -> int: ...
    @property
    def bootstrap_samples(self) -> int: ...
    @property
    def rf_top_outputs(self) -> int: ...


@dataclass
class Table3Result:
    """What one Table 3 run computed."""

    table: pd.DataFrame
    predictions: Predictions
    labels: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    classifier_hits: int = 0
    """Classifier rows read from the classifier cache."""
    classifier_fits: int = 0
    """Classifier rows fitted (and then cached)."""


def classifier_cache(cache_dir: str | Path | None = None) -> ClassifierCache:
    """The classifier cache beside the features: ``<cache_dir>/classifiers``."""
    return ClassifierCache(Path(cache_dir or default_cache_dir()) / "classifiers")


def _chosen_outputs(table: pd.DataFrame, top: int) -> list[str]:
    """The ``top`` outputs with the lowest L1 LR ``cv_error`` (any model's when no L1 LR ran)."""
    rows = table[table["model"] == "L1 LR"] if (table["model"] == "L1 LR").any() else table
    best = rows.groupby("features", sort=False)["cv_error"].min()
    return list(best.sort_values(kind="stable").index[:top])


def _output_rows(
    cache: ClassifierCache | None,
    features: RepresentationFeatures,
    output: str,
    display: str,
    labels: dict[str, np.ndarray],
    models: Sequence[str],
    settings: dict[str, Any],
) -> tuple[pd.DataFrame, Predictions]:
    """The rows of ``models`` on one output: read from ``cache`` where it holds them, the
    others fitted (and added to it); all fitted without a cache."""
    values = features.values(output)

    def fit(missing: Sequence[str]) -> tuple[pd.DataFrame, Predictions]:
        return fit_table3(values, labels, display, missing, **settings)

    if cache is None:
        return fit(models)
    return cache.rows(features.keys(output), labels, display, models, settings, fit)


def representation_rows(
    rep: Representation,
    splits: Mapping[str, CoosSplit],
    profile: Table3Sizes,
    models: Sequence[str] = tuple(MODELS),
    seed: int = 0,
    cache_dir: str | Path | None = None,
    n_jobs: int | None = -1,
    scheduler: str | None = None,
    progress: bool = True,
    cache: ClassifierCache | None = None,
) -> tuple[pd.DataFrame, Predictions]:
    """Table 3 rows of one representation: each classifier on each output, plus the
    representation's own predictions when it classifies directly. Classifier rows are read
    from, and added to, ``cache`` when one is given (:func:`run_table3` always gives one)."""
    labels = {name: split.labels for name, split in splits.items()}
    clusters = {name: well_clusters(split.meta) for name, split in splits.items()}
    if rep.learns:
        fit_representation(rep, splits["train"], cache_dir)
    features = features_for(rep, splits, cache_dir=cache_dir)
    several, many = len(rep.outputs()) > 1, len(rep.outputs()) > profile.rf_top_outputs
    settings: dict[str, Any] = {
        "search_draws": profile.rf_search_draws,
        "cv_folds": profile.cv_folds,
        "seed": seed,
        "n_jobs": n_jobs,
        "scheduler": scheduler,
        "bootstrap_samples": profile.bootstrap_samples,
        "progress": progress,
        "clusters_by_split": clusters,
    }
    tables, predictions = [], {}
    first = [m for m in models if m != "RF"] if many else list(models)
    for output, display in rep.outputs().items():
        table, predicted = _output_rows(cache, features, output, display, labels, first, settings)
        tables.append(table)
        predictions.update(predicted)
    table = pd.concat(tables, ignore_index=True)
    if several:
        chosen = _chosen_outputs(table, profile.rf_top_outputs)
        table["chosen_by_cv"] = table["features"].isin(chosen)
        by_display = {display: output for output, display in rep.outputs().items()}
        for display in chosen if many and "RF" in models else []:
            output = by_display[display]
            rf, predicted = _output_rows(cache, features, output, display, labels, ["RF"], settings)
            rf["chosen_by_cv"] = True
            table = pd.concat([table, rf], ignore_index=True)
            predictions.update(predicted)
    if isinstance(rep, DirectPredictor):
        features_name, model = rep.predictor_row
        with stage("bootstrap", f"{features_name} {model}"):
            row = score_row(
                features_name,
                model,
                features.predictions,
                labels,
                rep.validation_error,
                seed,
                profile.bootstrap_samples,
                clusters,
            )
        table = pd.concat([pd.DataFrame([row]), table], ignore_index=True)
        predictions.update({(features_name, model, s): p for s, p in features.predictions.items()})
    return table, predictions


def run_table3(
    splits: Mapping[str, CoosSplit],
    representations: Sequence[Representation],
    profile: Table3Sizes,
    models: Sequence[str] = tuple(MODELS),
    seed: int = 0,
    cache_dir: str | Path | None = None,
    n_jobs: int | None = -1,
    scheduler: str | None = None,
    progress: bool = True,
) -> Table3Result:
    """Table 3 for ``representations`` on ``splits``, with the profile's search sizes;
    classifier rows are read from, or added to, :func:`classifier_cache` of ``cache_dir``."""
    cache = classifier_cache(cache_dir)
    tables, predictions = [], {}
    for rep in representations:
        table, predicted = representation_rows(
            rep, splits, profile, models, seed, cache_dir, n_jobs, scheduler, progress, cache
        )
        tables.append(table)
        predictions.update(predicted)
    table = pd.concat(tables, ignore_index=True)
    if "chosen_by_cv" in table:
        table["chosen_by_cv"] = table["chosen_by_cv"].astype("boolean")
    return Table3Result(
        table=table,
        predictions=predictions,
        labels={name: split.labels for name, split in splits.items()},
        class_names=splits["train"].class_names,
        classifier_hits=cache.hits,
        classifier_fits=cache.fits,
    )
