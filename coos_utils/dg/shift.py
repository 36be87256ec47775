"""How far is each test set from ``train``? Distances, and whether they predict the error.

"Cats, not CAT scans" (van den Brandt et al. 2021) found that intuitive similarity between
data sets did not predict which source was best. Here the same question is asked of COOS:
three kinds of distance between ``train`` and each test set, each computed on a fixed,
class-stratified sample of images:

* ``domain_classifier_accuracy`` -- cross-validated accuracy of a logistic regression that
  tells ``train`` images from test images by simple intensity statistics (0.5: cannot tell
  them apart; 1: always can). Both sides are subsampled to the same size.
* ``mmd_features`` -- squared maximum mean discrepancy with an RBF kernel (bandwidth: the
  median pairwise distance of the pooled sample) between feature arrays, e.g. DeepLoc's
  FC2 activations of the ERM model (:func:`selected_features`), or any other
  representation.
* ``wasserstein_ch0`` / ``wasserstein_ch1`` -- earth mover's distance between the
  distributions of per-image mean log intensity of the protein and the nuclear channel.

:func:`relate_to_error` ranks the test sets by each distance and by each method's error and
reports Spearman's rho. With four test sets this is weak evidence: even a perfect rank
agreement (rho = 1) arises by chance in 1 of 24 orderings, so the table carries the exact
permutation p-value.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from scipy.spatial.distance import cdist, pdist
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from coos_utils.data import CoosDataError, CoosSplit, holdout, load_splits
from coos_utils.dg.backbones import build_backbone
from coos_utils.dg.data import centre_crop, evaluation_rows, to_input
from coos_utils.dg.summary import select_draws
from coos_utils.dg.sweep import TRIALS_FOLDER
from coos_utils.dg.trial import TrialSpec, plate_ids
from coos_utils.models.checkpoints import load_checkpoint
from coos_utils.reference import TEST_SPLITS
from coos_utils.stages import stage

SIMILARITY_COLUMNS = ["split", "measure", "value"]


def intensity_statistics(images: np.ndarray) -> np.ndarray:
    """(N, 5 x C) per image and channel: mean, SD and 1st, 50th, 99th percentiles of
    ``log1p`` of the raw intensities."""
    x = np.log1p(np.asarray(images, dtype=np.float64)).reshape(*images.shape[:2], -1)
    parts = [x.mean(axis=2), x.std(axis=2), *np.percentile(x, [1, 50, 99], axis=2)]
    return np.concatenate(parts, axis=1)


def domain_classifier_accuracy(
    a: np.ndarray, b: np.ndarray, folds: int = 5, seed: int = 0
) -> float:
    """Cross-validated accuracy of logistic regression telling rows of ``a`` from ``b``."""
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b))
    x = np.vstack([a[rng.permutation(len(a))[:n]], b[rng.permutation(len(b))[:n]]])
    y = np.repeat([0, 1], n)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(model, x, y, cv=cv, scoring="accuracy").mean())


def mmd_rbf(a: np.ndarray, b: np.ndarray, bandwidth: float | None = None) -> float:
    """Squared MMD (biased V-statistic, so 0 for identical samples) with an RBF kernel."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if bandwidth is None:
        bandwidth = float(np.median(pdist(np.vstack([a, b])))) or 1.0

    def mean_kernel(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.exp(-cdist(x, y, "sqeuclidean") / (2 * bandwidth**2)).mean())

    return max(0.0, mean_kernel(a, a) + mean_kernel(b, b) - 2 * mean_kernel(a, b))


def wasserstein_log_mean(a_images: np.ndarray, b_images: np.ndarray, channel: int) -> float:
    """Earth mover's distance between the per-image mean log1p intensities of one channel."""

    def means(images: np.ndarray) -> np.ndarray:
        return np.log1p(np.asarray(images[:, channel], dtype=np.float64)).mean(axis=(1, 2))

    return float(stats.wasserstein_distance(means(a_images), means(b_images)))


def sample_images(split: CoosSplit, max_images: int | None, seed: int = 0) -> np.ndarray:
    """A fixed class-stratified sample of a split's raw images."""
    return split.images[evaluation_rows(split.labels, max_images, seed)]


@stage("shift measures")
def shift_table(
    data_dir: str | Path,
    features: Mapping[str, np.ndarray] | None = None,
    max_images: int | None = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Distances between ``train`` and each test split, long format (split, measure, value).

    ``features`` maps ``train`` and each test split to an (N, D) array for the MMD measure
    (left out when None). The chapter writes it as ``similarity.csv``.
    """
    splits = load_splits(data_dir)
    train = sample_images(splits["train"], max_images, seed)
    train_stats = intensity_statistics(train)
    rows = []
    for name in TEST_SPLITS:
        test = sample_images(splits[name], max_images, seed)
        accuracy = domain_classifier_accuracy(train_stats, intensity_statistics(test), seed=seed)
        rows.append((name, "domain_classifier_accuracy", accuracy))
        if features is not None:
            rows.append((name, "mmd_features", mmd_rbf(features["train"], features[name])))
        for channel in (0, 1):
            distance = wasserstein_log_mean(train, test, channel)
            rows.append((name, f"wasserstein_ch{channel}", distance))
    return pd.DataFrame(rows, columns=SIMILARITY_COLUMNS)


@stage("shift measures")
def selected_features(
    out_dir: str | Path,
    records: pd.DataFrame,
    method: str = "ERM",
    max_images: int | None = 1000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Features (DeepLoc's FC2) of the model that validation selected for ``method``.

    The trial is the chosen draw's lowest seed; its weights must have been kept
    (``run_sweep(keep_models=...)``, ERM by default). ``train`` gets the features of that
    trial's held-out validation images (which the network never trained on), each test
    split those of a fixed sample (the images :func:`shift_table` uses).
    """
    draw = select_draws(records).set_index("method").loc[method, "hparams_seed"]
    trials = records[(records["method"] == method) & (records["hparams_seed"] == draw)]
    folder = Path(out_dir) / TRIALS_FOLDER / trials.sort_values("seed")["trial_id"].iloc[0]
    spec = TrialSpec(**json.loads((folder / "record.json").read_text("utf-8"))["spec"])
    try:
        weights = load_checkpoint(folder / "model.pt", torch.device("cpu"))
    except CoosDataError as exc:
        raise CoosDataError(
            exc.path, f"{exc.problem}; delete the trial folder {folder} to rerun the trial"
        ) from exc
    splits = load_splits(spec.data_dir)
    train = splits["train"]
    featurizer, _ = build_backbone(
        spec.backbone, train.images.shape[1], len(train.class_names), spec.width
    )
    prefix = "featurizer."
    featurizer.load_state_dict(
        {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
    )
    featurizer.eval()
    _, val = holdout(len(train), spec.val_fraction, spec.seed, train.labels, plate_ids(train))
    val = val[evaluation_rows(train.labels[val], max_images, seed)]
    images = {"train": train.images[val]}
    images.update({name: sample_images(splits[name], max_images, seed) for name in TEST_SPLITS})
    out = {}
    with torch.no_grad():
        for name, raw in images.items():
            parts = [
                featurizer(centre_crop(to_input(raw[i : i + 256]))).numpy()
                for i in range(0, len(raw), 256)
            ]
            out[name] = np.concatenate(parts)
    return out


def _exact_spearman_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided permutation p-value of Spearman's rho over all orderings of ``y``."""
    observed = abs(stats.spearmanr(x, y).statistic)
    rhos = [abs(stats.spearmanr(x, np.asarray(p)).statistic) for p in itertools.permutations(y)]
    return float(np.mean(np.asarray(rhos) >= observed - 1e-12))


def relate_to_error(
    similarity: pd.DataFrame, summary: pd.DataFrame, metric: str = "balanced_error"
) -> pd.DataFrame:
    """Spearman's rho between each distance and each method's mean error over the test splits
    (columns measure, method, rho, p_exact, splits); methods that did not run are left out."""
    errors = (
        summary[summary["metric"] == metric]
        .dropna(subset=["mean"])
        .pivot(index="split", columns="method", values="mean")
    )
    distances = similarity.pivot(index="split", columns="measure", values="value")
    splits = [s for s in distances.index if s in errors.index]
    rows = []
    for measure in distances.columns:
        for method in errors.columns:
            x = distances.loc[splits, measure].to_numpy()
            y = errors.loc[splits, method].to_numpy()
            rho = float(stats.spearmanr(x, y).statistic)
            rows.append((measure, method, rho, _exact_spearman_p(x, y), len(splits)))
    return pd.DataFrame(rows, columns=["measure", "method", "rho", "p_exact", "splits"])
