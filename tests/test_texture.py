"""The texture representation: shapes, names, agreement with mahotas, edge cases, batching."""

from __future__ import annotations

from pathlib import Path

import mahotas
import numpy as np
import pytest
from sklearn.base import clone

from coos_utils.data import load_split
from coos_utils.features.texture import (
    HARALICK_NAMES,
    INTENSITY_NAMES,
    TextureFeatures,
    quantise,
    rescale_unit,
    texture_features,
)
from tests.handmade import textured_images, write_handmade


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return textured_images(np.arange(7).repeat(2), seed=3)


def test_shape_and_names(images: np.ndarray) -> None:
    transformer = TextureFeatures(n_jobs=1, progress=False)
    features = transformer.fit(images).transform(images)
    names = list(transformer.get_feature_names_out())
    assert features.shape == (len(images), 5 * 13 + 4) == (len(images), len(names))
    assert len(set(names)) == len(names)
    assert names[0] == "haralick_d1_angular_second_moment"
    assert names[64] == "haralick_d5_info_correlation_2"
    assert names[65:] == list(INTENSITY_NAMES)
    assert features.dtype == np.float64 and np.isfinite(features).all()


def test_matches_a_direct_mahotas_call(images: np.ndarray) -> None:
    features = texture_features(images, grey_levels=64)
    for i in (0, 5, 13):
        protein = images[i, 0].astype(np.float64)
        unit = (protein - protein.min()) / (protein.max() - protein.min())
        levels = np.minimum(np.floor(unit * 64), 63).astype(np.uint8)
        expected = [
            mahotas.features.haralick(levels, distance=d, return_mean=True) for d in range(1, 6)
        ]
        np.testing.assert_allclose(features[i, :65], np.concatenate(expected), rtol=1e-12)
        np.testing.assert_allclose(features[i, 65:68], [unit.mean(), unit.sum(), unit.std()])
        corr = np.corrcoef(protein.ravel(), images[i, 1].astype(np.float64).ravel())[0, 1]
        assert features[i, 68] == pytest.approx(corr)


def test_haralick_blocks_follow_the_distances(images: np.ndarray) -> None:
    features = texture_features(images[:2], distances=(3,))
    levels = quantise(rescale_unit(images[:2, 0]), 64)
    np.testing.assert_allclose(
        features[1, : len(HARALICK_NAMES)],
        mahotas.features.haralick(levels[1], distance=3, return_mean=True),
    )


def test_rescaling_removes_gain_and_offset(images: np.ndarray) -> None:
    brighter = images.astype(np.int64)
    brighter[:, 0] = brighter[:, 0] * 3 + 500
    np.testing.assert_allclose(
        texture_features(brighter.astype(np.uint16))[:, :-1], texture_features(images)[:, :-1]
    )


def test_constant_and_black_images_give_finite_features() -> None:
    flat = np.zeros((3, 2, 64, 64), dtype=np.uint16)
    flat[1] = 700
    flat[2, 1] = np.arange(64)  # constant protein, varying nucleus
    features = texture_features(flat)
    assert np.isfinite(features).all()
    assert (features[:, 65:] == 0).all()


def test_quantisation_uses_every_level_with_equal_widths() -> None:
    unit = np.linspace(0, 1, 6401)
    levels = quantise(unit, 64)
    assert levels.min() == 0 and levels.max() == 63
    counts = np.bincount(levels)
    assert counts.max() - counts.min() <= 1
    with pytest.raises(ValueError, match="grey_levels"):
        quantise(unit, 300)


def test_rescale_unit_spans_zero_to_one(images: np.ndarray) -> None:
    unit = rescale_unit(images[:, 0])
    assert np.allclose(unit.min(axis=(1, 2)), 0) and np.allclose(unit.max(axis=(1, 2)), 1)


def test_grey_levels_change_the_features(images: np.ndarray) -> None:
    coarse = texture_features(images[:3], grey_levels=16)
    assert not np.allclose(coarse[:, :65], texture_features(images[:3])[:, :65])


def test_lazy_split_in_parallel_batches_equals_in_memory(tmp_path: Path) -> None:
    root = write_handmade(tmp_path / "data", per_class=2)
    split = load_split(root, "train")
    expected = texture_features(split.load_images())
    parallel = TextureFeatures(batch_size=3, n_jobs=2, progress=False).transform(split)
    np.testing.assert_array_equal(parallel, expected)
    in_memory = TextureFeatures(batch_size=4, n_jobs=1, progress=False).transform(
        split.load_images()
    )
    np.testing.assert_array_equal(in_memory, expected)


def test_is_a_scikit_learn_transformer(images: np.ndarray) -> None:
    transformer = clone(TextureFeatures(grey_levels=32, n_jobs=1, progress=False))
    assert transformer.get_params()["grey_levels"] == 32
    assert transformer.fit_transform(images[:2]).shape == (2, 69)


def test_bad_input_is_rejected(images: np.ndarray) -> None:
    with pytest.raises(ValueError, match="shape"):
        TextureFeatures(progress=False).transform(images[:, :1])
    with pytest.raises(ValueError, match="distances"):
        TextureFeatures(distances=(0, 1)).fit(images)
