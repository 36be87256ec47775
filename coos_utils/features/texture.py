"""The paper's "Texture" representation: Haralick features at 5 scales plus intensity statistics.

Per image, with channel 0 the protein and channel 1 the nucleus:

* **Rescaling.** Channel 0 is rescaled to [0, 1] by its own minimum and maximum
  (``(x - min) / (max - min)``), as the paper rescales each image. This removes the exposure
  and expression level of the cell, which differ between plates, and keeps only the pattern.
  A constant channel (no contrast at all) becomes all zeros.
* **Grey levels.** Mahotas computes co-occurrence matrices on integer images, so the rescaled
  channel is quantised to ``grey_levels`` equal-width levels: level ``min(floor(x * L), L - 1)``
  for ``L`` levels, so that 0 and 1 fall in the first and last level and every level is equally
  wide. The default is 64 levels. The cost of Haralick features grows with the square of the
  number of levels (the matrices are ``L x L``): measured by ``bench/bench_texture.py`` on
  one core, 5 distances cost about 2 ms per image at 16 levels, 3.4 ms at 64, 7 ms at 128
  and 26 ms at 256, so for the 132,209 images of COOS-7 on 2 cores 256 levels would take
  about half an hour and 64 levels about 4 minutes. Statistics point the same way: a 64 x 64
  crop has only about 4,000 pixel pairs per direction, so a 256 x 256 matrix (65,536 cells)
  is mostly empty and its entropy-type features mostly measure sampling noise, while 64
  levels keep four times the intensity resolution of the 8 or 16 levels of older tools. The
  choice is a parameter, and part of the cache key.
* **Haralick features.** ``mahotas.features.haralick`` (13 features, Haralick's typo not
  reproduced) on the quantised channel at co-occurrence distances 1 to 5 (the paper's
  "5 scales"), each averaged over the 4 directions: 65 features.
* **Intensity features.** Mean, sum and standard deviation (population) of the rescaled,
  unquantised channel 0, and the Pearson correlation between channels 0 and 1 of the raw image
  (0 when either channel is constant): 4 features.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import joblib
import mahotas
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from tqdm import tqdm

from coos_utils.data.lazy import LazyImages
from coos_utils.data.split import CoosSplit
from coos_utils.features.base import EXECUTION_SETTINGS, Representation
from coos_utils.parallel import joblib_backend

HARALICK_NAMES: tuple[str, ...] = (
    "angular_second_moment",
    "contrast",
    "correlation",
    "sum_of_squares_variance",
    "inverse_difference_moment",
    "sum_average",
    "sum_variance",
    "sum_entropy",
    "entropy",
    "difference_variance",
    "difference_entropy",
    "info_correlation_1",
    "info_correlation_2",
)
INTENSITY_NAMES: tuple[str, ...] = ("ch0_mean", "ch0_sum", "ch0_std", "ch0_ch1_correlation")
DEFAULT_GREY_LEVELS = 64
DEFAULT_DISTANCES: tuple[int, ...] = (1, 2, 3, 4, 5)

ImageSource = np.ndarray | LazyImages | CoosSplit


def rescale_unit(channels: np.ndarray) -> np.ndarray:
    """Each (H, W) image of an (N, H, W) stack min-max rescaled to [0, 1]; constant ones -> 0."""
    x = np.asarray(channels, dtype=np.float64)
    low = x.min(axis=(1, 2), keepdims=True)
    span = x.max(axis=(1, 2), keepdims=True) - low
    return np.divide(x - low, span, out=np.zeros_like(x), where=span > 0)


def quantise(unit: np.ndarray, grey_levels: int) -> np.ndarray:
    """Values in [0, 1] as uint8 levels ``0 .. grey_levels - 1`` of equal width."""
    if not 2 <= grey_levels <= 256:
        raise ValueError(f"grey_levels must be between 2 and 256, got {grey_levels}")
    levels = np.floor(np.asarray(unit) * grey_levels).astype(np.int32)
    return np.minimum(levels, grey_levels - 1).astype(np.uint8)


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of two (N, P) arrays; 0 where either row is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.divide((a * b).sum(axis=1), norm, out=np.zeros(len(a)), where=norm > 0)


def texture_features(
    images: np.ndarray,
    grey_levels: int = DEFAULT_GREY_LEVELS,
    distances: Sequence[int] = DEFAULT_DISTANCES,
) -> np.ndarray:
    """Texture features of an in-memory (N, 2, H, W) stack, in this process: (N, F) float64."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] < 2:
        raise ValueError(f"expected images of shape (N, 2, H, W), got {images.shape}")
    n = len(images)
    unit = rescale_unit(images[:, 0])
    levels = quantise(unit, grey_levels)
    out = np.empty((n, len(distances) * len(HARALICK_NAMES) + len(INTENSITY_NAMES)))
    for i in range(n):
        out[i, : -len(INTENSITY_NAMES)] = np.concatenate(
            [mahotas.features.haralick(levels[i], distance=d, return_mean=True) for d in distances]
        )
    flat = unit.reshape(n, -1)
    out[:, -4] = flat.mean(axis=1)
    out[:, -3] = flat.sum(axis=1)
    out[:, -2] = flat.std(axis=1)
    out[:, -1] = _pearson(
        images[:, 0].reshape(n, -1).astype(np.float64),
        images[:, 1].reshape(n, -1).astype(np.float64),
    )
    return out


def _read_and_compute(
    images: LazyImages, start: int, stop: int, grey_levels: int, distances: Sequence[int]
) -> np.ndarray:
    """Read rows ``start:stop`` in the worker and compute their features."""
    return texture_features(images[start:stop], grey_levels, distances)


class TextureFeatures(TransformerMixin, BaseEstimator):
    """Scikit-learn transformer: (N, 2, H, W) images -> (N, 69) texture features.

    ``fit`` learns nothing. ``transform`` accepts an array, a lazy image array or a
    :class:`~coos_utils.data.CoosSplit`; it works through batches of ``batch_size`` images on
    ``n_jobs`` joblib workers (each worker reads its own batch from disk, at most two batches
    per worker are in flight, so memory stays bounded at any data size), or on the Dask
    cluster at ``scheduler`` (whose workers must see the data files at the same path). See
    the module docstring for the definition of the features.
    """

    def __init__(
        self,
        grey_levels: int = DEFAULT_GREY_LEVELS,
        distances: Sequence[int] = DEFAULT_DISTANCES,
        batch_size: int = 256,
        n_jobs: int | None = -1,
        scheduler: str | None = None,
        progress: bool = True,
    ) -> None:
        self.grey_levels = grey_levels
        self.distances = distances
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.scheduler = scheduler
        self.progress = progress

    def _check_params(self) -> None:
        quantise(np.zeros(1), self.grey_levels)
        if not self.distances or min(self.distances) < 1:
            raise ValueError(f"distances must be positive integers, got {self.distances}")

    def fit(self, X: Any = None, y: Any = None) -> TextureFeatures:
        """Nothing to learn; checks the parameters."""
        self._check_params()
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``haralick_d<distance>_<feature>`` for each distance, then the intensity features."""
        names = [f"haralick_d{d}_{name}" for d in self.distances for name in HARALICK_NAMES]
        return np.array([*names, *INTENSITY_NAMES], dtype=object)

    def _tasks(self, images: np.ndarray | LazyImages) -> Iterator[Any]:
        for start in range(0, len(images), self.batch_size):
            stop = min(start + self.batch_size, len(images))
            if isinstance(images, np.ndarray):
                yield joblib.delayed(texture_features)(
                    images[start:stop], self.grey_levels, self.distances
                )
            else:
                yield joblib.delayed(_read_and_compute)(
                    images, start, stop, self.grey_levels, self.distances
                )

    def transform(self, X: ImageSource) -> np.ndarray:
        """Features of every image of ``X``, in order: (N, F) float64."""
        self._check_params()
        images = X.images if isinstance(X, CoosSplit) else X
        if not isinstance(images, LazyImages):
            images = np.asarray(images)
        if images.ndim != 4 or images.shape[1] < 2:
            raise ValueError(f"expected images of shape (N, 2, H, W), got {images.shape}")
        n_features = len(self.get_feature_names_out())
        out = np.empty((len(images), n_features))
        name = f" {X.name}" if isinstance(X, CoosSplit) else ""
        bar = tqdm(total=len(images), desc=f"texture{name}", unit="img", disable=not self.progress)
        with joblib_backend(self.scheduler):
            results = joblib.Parallel(
                n_jobs=self.n_jobs, return_as="generator", pre_dispatch="2*n_jobs"
            )(self._tasks(images))
            start = 0
            for block in results:
                out[start : start + len(block)] = block
                start += len(block)
                bar.update(len(block))
        bar.close()
        return out


class TextureRepresentation(Representation):
    """The texture features as a :class:`~coos_utils.features.base.Representation` (one output).

    Nothing is learned; ``scheduler`` (a dask.distributed address) moves the work to a cluster.
    """

    name = "texture"
    execution_settings = EXECUTION_SETTINGS | {"scheduler"}

    def __init__(
        self,
        grey_levels: int = DEFAULT_GREY_LEVELS,
        distances: Sequence[int] = DEFAULT_DISTANCES,
        scheduler: str | None = None,
        **execution: Any,
    ) -> None:
        super().__init__(**execution)
        self.grey_levels = grey_levels
        self.distances = tuple(distances)
        self.scheduler = scheduler

    @property
    def transformer(self) -> TextureFeatures:
        """The scikit-learn transformer with this representation's settings."""
        return TextureFeatures(
            self.grey_levels,
            self.distances,
            n_jobs=self.n_jobs,
            scheduler=self.scheduler,
            progress=self.progress,
        )

    def outputs(self) -> dict[str, str]:
        return {"texture": "Texture"}

    def transform(self, split: CoosSplit) -> dict[str, np.ndarray]:
        return {"texture": self.transformer.fit(split).transform(split)}

    def feature_names(self, output: str, n_features: int) -> list[str]:
        return [str(n) for n in self.transformer.get_feature_names_out()]
