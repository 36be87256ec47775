"""Optics and camera: point-spread function, flat field, photon and read noise, 16-bit output."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import scipy.fft

from coos_utils.synthetic.textures import frequency_grid

UINT16_MAX = 65535
EXACT_POISSON = 3.0


@dataclass(frozen=True)
class Microscope:
    """One instrument: its blur, illumination and camera. Lengths in pixels, signals in photons."""

    psf_sigma: float
    """Standard deviation of the Gaussian core of the protein channel's point-spread function."""
    halo_weight: float
    """Fraction of the light spread into a wide halo (out-of-focus light, pinhole cross-talk)."""
    halo_sigma: float
    """Standard deviation of that halo."""
    gain: float
    """Camera gain, grey levels per photo-electron."""
    offset: float
    """Camera offset (bias) in grey levels, added to every pixel."""
    read_noise: float
    """Read noise, standard deviation in electrons."""
    background: float
    """Background photons per pixel (autofluorescence, stray light)."""
    brightness: float
    """Photons per unit of dye density (lamp power x exposure x detection efficiency)."""
    vignetting: float
    """Fall-off of illumination from the optical axis to the corner of the field of view."""
    vignetting_x: float
    """Horizontal position of the brightest point of the field, -1..1."""
    vignetting_y: float
    """Vertical position of the brightest point of the field, -1..1."""

    def towards(self, other: Microscope, amount: float) -> Microscope:
        """The instrument a fraction ``amount`` of the way from this one to ``other``."""
        values = {
            f.name: getattr(self, f.name)
            + amount * (getattr(other, f.name) - getattr(self, f.name))
            for f in fields(self)
        }
        return Microscope(**values)


def blur(
    objects: np.ndarray, sigma: np.ndarray, halo_weight: float, halo_sigma: float
) -> np.ndarray:
    """Convolve each (S, S) image with its own PSF: a Gaussian core plus a wide Gaussian halo.

    ``objects`` is (n, S, S) float32, ``sigma`` (n,) the core width of each image. The
    convolution is circular (FFT); callers draw on a canvas larger than the crop they keep.
    """
    size = objects.shape[-1]
    f2 = frequency_grid(size)
    s2 = (sigma.astype(np.float32) ** 2)[:, None, None]
    otf = (1.0 - halo_weight) * np.exp(-2.0 * np.pi**2 * s2 * f2)
    otf += halo_weight * np.exp(-2.0 * np.pi**2 * np.float32(halo_sigma**2) * f2)
    spectrum = scipy.fft.rfft2(objects, workers=1)
    spectrum *= otf
    return scipy.fft.irfft2(spectrum, s=objects.shape[-2:], workers=1).astype(np.float32)


def illumination(rng: np.random.Generator, n: int, size: int, scope: Microscope) -> np.ndarray:
    """Flat-field factor of each crop: where it lay in the field of view sets its brightness.

    The field of view is 1,000 pixels wide; illumination falls off quadratically from the
    scope's brightest point, so a crop also carries a faint linear gradient.
    """
    pos = rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
    cx, cy = np.float32(scope.vignetting_x), np.float32(scope.vignetting_y)
    dx, dy = pos[:, 0] - cx, pos[:, 1] - cy
    v = np.float32(scope.vignetting / 2.0)
    level = 1.0 - v * (dx**2 + dy**2)
    half_fov = 500.0
    coords = (np.arange(size, dtype=np.float32) - (size - 1) / 2) / half_fov
    gx = (-2.0 * v * dx)[:, None, None] * coords[None, None, :]
    gy = (-2.0 * v * dy)[:, None, None] * coords[None, :, None]
    return np.clip(level[:, None, None] + gx + gy, 0.05, None).astype(np.float32)


def electrons(rng: np.random.Generator, photons: np.ndarray, read_noise: float) -> np.ndarray:
    """Photo-electrons plus read noise.

    Photon counts are Poisson; above ``EXACT_POISSON`` photons the normal limit of the
    Poisson distribution is used, merged with the (normal) read noise into one draw.
    """
    lam = np.maximum(photons, 0.0).astype(np.float32)
    z = rng.standard_normal(lam.shape, dtype=np.float32)
    low = lam < EXACT_POISSON
    out = lam + np.sqrt(lam + np.float32(read_noise**2)) * z
    out[low] = rng.poisson(lam[low]) + np.float32(read_noise) * z[low]
    return out


def camera(
    rng: np.random.Generator, photons: np.ndarray, scope: Microscope, offset_jitter: np.ndarray
) -> np.ndarray:
    """Photon (Poisson) noise, read noise, gain and offset; rounded and clipped to uint16.

    ``photons`` is the expected photon count of each pixel; ``offset_jitter`` (n,) shifts
    the offset of each image a little (field-to-field bias drift).
    """
    shape = (-1,) + (1,) * (photons.ndim - 1)
    grey = np.float32(scope.gain) * electrons(rng, photons, scope.read_noise)
    grey += (scope.offset + offset_jitter).astype(np.float32).reshape(shape)
    return np.clip(np.rint(grey), 0, UINT16_MAX).astype(np.uint16)
