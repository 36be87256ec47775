"""Random textures and point sources: the raw material the compartments are drawn from."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

STAMP_RADIUS = 3


@lru_cache(maxsize=8)
def frequency_grid(size: int) -> np.ndarray:
    """Squared spatial frequency (cycles per pixel) of an ``rfft2`` of a (size, size) image."""
    fy = np.fft.fftfreq(size).astype(np.float32)
    fx = np.fft.rfftfreq(size).astype(np.float32)
    return fy[:, None] ** 2 + fx[None, :] ** 2


@lru_cache(maxsize=32)
def _band_filter(size: int, fine: float, coarse: float) -> np.ndarray:
    """Band-pass transfer function, scaled so that filtered white noise has unit variance."""
    f2 = frequency_grid(size)
    h = np.exp(-2 * np.pi**2 * fine**2 * f2)
    if coarse > 0:
        h = h * (1.0 - np.exp(-2 * np.pi**2 * coarse**2 * f2))
    # Parseval over the full spectrum: the rfft half counts twice except its first/last columns.
    weight = np.full(h.shape[1], 2.0)
    weight[0] = 1.0
    if size % 2 == 0:
        weight[-1] = 1.0
    variance = float((h**2 * weight).sum()) / size**2
    return (h / np.sqrt(variance)).astype(np.float32)


def random_field(
    rng: np.random.Generator, n: int, size: int, fine: float, coarse: float = 0.0
) -> np.ndarray:
    """``n`` Gaussian random fields of unit variance with structure between two length scales.

    ``fine`` (pixels) smooths away detail smaller than itself; ``coarse`` (pixels, 0 = none)
    removes variation on scales larger than itself. The white noise is drawn directly as
    its Fourier transform, which saves one transform.
    """
    shape = (n, size, size // 2 + 1)
    spectrum = np.empty(shape, dtype=np.complex64)
    spectrum.real = rng.standard_normal(shape, dtype=np.float32)
    spectrum.imag = rng.standard_normal(shape, dtype=np.float32)
    spectrum *= _band_filter(size, fine, coarse) * np.float32(size / np.sqrt(2.0))
    return scipy.fft.irfft2(spectrum, s=(size, size), workers=1).astype(np.float32, copy=False)


def splat_gaussians(
    n: int,
    size: int,
    y: np.ndarray,
    x: np.ndarray,
    amplitude: np.ndarray,
    sigma: np.ndarray,
) -> np.ndarray:
    """Sum of small Gaussian spots, each of total brightness ``amplitude``, into (n, size, size).

    ``y``, ``x``, ``amplitude`` and ``sigma`` are (n, P) arrays: P spots per image (set
    the amplitude of unused slots to 0). Spots are cut at 3 pixels from their centre.
    """
    offsets = np.arange(-STAMP_RADIUS, STAMP_RADIUS + 1, dtype=np.float32)
    y0, x0 = np.floor(y), np.floor(x)
    s2 = (2.0 * np.maximum(sigma, 0.3) ** 2).astype(np.float32)[..., None]
    wy = np.exp(-((offsets - (y - y0).astype(np.float32)[..., None]) ** 2) / s2)
    wx = np.exp(-((offsets - (x - x0).astype(np.float32)[..., None]) ** 2) / s2)
    scale = amplitude / (wy.sum(-1) * wx.sum(-1))
    iy = y0.astype(np.int64)[..., None] + offsets.astype(np.int64)
    ix = x0.astype(np.int64)[..., None] + offsets.astype(np.int64)
    wy *= ((iy >= 0) & (iy < size)) * scale[..., None]
    wx *= (ix >= 0) & (ix < size)
    weights = wy[..., :, None] * wx[..., None, :]
    rows = np.clip(iy, 0, size - 1) * size + np.arange(n)[:, None, None] * size * size
    flat = rows[..., :, None] + np.clip(ix, 0, size - 1)[..., None, :]
    out = np.bincount(flat.ravel(), weights=weights.ravel(), minlength=n * size * size)
    return out.reshape(n, size, size).astype(np.float32)
