"""The seven compartments (channel 0) and the nuclear stain (channel 1), before optics.

Each function returns the density of tagged protein on a batch of canvases, in units where a
bright structure of an average cell is about 1. Every cell on a canvas (the centred one and
its neighbours: one well holds one tagged protein) carries the same compartment, with its
own expression level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from coos_utils.synthetic.cells import CANVAS, Canvas, cytoplasm_positions
from coos_utils.synthetic.textures import random_field, splat_gaussians


@dataclass(frozen=True)
class Drift:
    """How far each canvas's plate has drifted (test3), per affected compartment, (n,) each."""

    endosome: np.ndarray
    golgi: np.ndarray


Drawer = Callable[[np.random.Generator, Canvas, Drift], np.ndarray]


def _ridges(field: np.ndarray, width: float) -> np.ndarray:
    """Thin lines along the zero crossings of a random field: a network of tubules."""
    return np.exp(-((field / np.float32(width)) ** 2))


def _expression(canvas: Canvas) -> np.ndarray:
    return canvas.per_cell(canvas.cells.expression)


def _puncta(
    canvas: Canvas,
    count: np.ndarray,
    slots: int,
    depth: np.ndarray,
    angle: np.ndarray,
    amplitude: np.ndarray,
    sigma: np.ndarray,
) -> np.ndarray:
    """Spots in the cytoplasm of every cell: ``count`` (n, cells) of ``slots`` used."""
    cells = canvas.cells
    n, m = cells.y.shape
    used = np.arange(slots) < count[..., None]
    y, x = cytoplasm_positions(cells, depth, angle)
    amp = amplitude * used * (cells.expression * cells.present)[..., None]
    return splat_gaussians(
        n, CANVAS, y.reshape(n, -1), x.reshape(n, -1), amp.reshape(n, -1), sigma.reshape(n, -1)
    )


def endoplasmic_reticulum(rng: np.random.Generator, canvas: Canvas, drift: Drift) -> np.ndarray:
    """A reticular network of tubules, densest around the nucleus and joined to its envelope."""
    n = len(canvas.owner)
    tubules = _ridges(random_field(rng, n, CANVAS, 1.0, 4.0), 0.4)
    sheets = np.clip(random_field(rng, n, CANVAS, 2.5) * 0.4 + 0.2, 0.0, 1.0)
    near = np.exp(-canvas.depth / np.float32(0.4))
    lace = np.maximum(tubules, sheets * near)
    network = canvas.cytoplasm * (0.2 + 0.8 * near) * (0.08 + 0.92 * lace)
    envelope = np.exp(-((canvas.rim / np.float32(1.1)) ** 2))
    return _expression(canvas) * (network + 0.35 * envelope * canvas.inside)


def mitochondria(rng: np.random.Generator, canvas: Canvas, drift: Drift) -> np.ndarray:
    """Tubular filaments (inner mitochondrial membrane) scattered through the cytoplasm."""
    n = len(canvas.owner)
    tubules = _ridges(random_field(rng, n, CANVAS, 2.2, 8.0), 0.3)
    keep = np.clip(random_field(rng, n, CANVAS, 3.0) * 1.5 + 1.5, 0.0, 1.0)
    spread = 0.4 + 0.6 * (1.0 - canvas.depth)
    return _expression(canvas) * canvas.cytoplasm * (0.04 + 1.3 * spread * tubules * keep)


def golgi(rng: np.random.Generator, canvas: Canvas, drift: Drift) -> np.ndarray:
    """A compact ribbon on one side of the nucleus; on drifted plates partly broken into stacks."""
    cells = canvas.cells
    n, m = cells.y.shape
    aim = cells.polarity + rng.normal(0.0, 0.4, (n, m))
    width = rng.uniform(0.15, 0.6, (n, m))
    scattered = np.clip(rng.uniform(0.0, 0.15, (n, m)) + 0.35 * drift.golgi[:, None], 0, 0.9)
    ca, sa, w = (canvas.per_cell(v.astype(np.float32)) for v in (np.cos(aim), np.sin(aim), width))
    facing = canvas.cos * ca + canvas.sin * sa
    side = np.exp((facing - 1.0) / w)
    band = np.exp(-(((canvas.rim - 3.0) / np.float32(2.3)) ** 2))
    stacks = 0.45 + 0.55 * np.clip(random_field(rng, n, CANVAS, 0.9, 3.0) * 0.5 + 0.5, 0.0, 1.0)
    keep = canvas.per_cell((1.0 - scattered).astype(np.float32))
    ribbon = 2.2 * keep * side * band * stacks * canvas.inside
    slots = 30
    depth = np.sqrt(rng.uniform(0.0, 0.9, (n, m, slots)))
    angle = rng.uniform(0.0, 2 * np.pi, (n, m, slots))
    amp = (scattered * 27.0)[..., None] * rng.gamma(6.0, 1 / 6.0, (n, m, slots)) / slots
    sigma = rng.uniform(0.4, 0.8, (n, m, slots))
    count = np.full((n, m), slots)
    pieces = _puncta(canvas, count, slots, depth, angle, amp, sigma)
    return _expression(canvas) * (ribbon + 0.04 * canvas.cytoplasm) + pieces


def peroxisomes(rng: np.random.Generator, canvas: Canvas, drift: Drift) -> np.ndarray:
    """Many small puncta of even brightness spread evenly through the cytoplasm."""
    cells = canvas.cells
    n, m = cells.y.shape
    slots = 80
    count = rng.poisson(40.0 * (cells.radius / 22.0) ** 2)
    depth = np.sqrt(rng.uniform(0.0, 0.93, (n, m, slots)))
    angle = rng.uniform(0.0, 2 * np.pi, (n, m, slots))
    amp = rng.gamma(8.0, 1.0 / 8.0, (n, m, slots)) * 2.2
    sigma = np.full((n, m, slots), 0.45)
    spots = _puncta(canvas, count, slots, depth, angle, amp, sigma)
    return spots + 0.05 * _expression(canvas) * canvas.cytoplasm


def early_endosome(rng: np.random.Generator, canvas: Canvas, drift: Drift) -> np.ndarray:
    """Puncta of varied size and brightness, many in clusters near the nucleus.

    On drifted plates (test3) they become more numerous, smaller and more dispersed, over a
    faint reticular haze, so that they look more like the ER.
    """
    cells = canvas.cells
    n, m = cells.y.shape
    shift = np.clip(drift.endosome, 0.0, 1.5)[:, None]
    slots = 80
    count = rng.poisson(30.0 * (1.0 + 1.2 * shift) * np.ones((n, m)))
    fraction = rng.uniform(0.3, 0.9, (n, m)) * (1.0 - 0.7 * shift)
    clustered = rng.uniform(0.0, 1.0, (n, m, slots)) < fraction[..., None]
    centre = cells.polarity[..., None] + rng.normal(0.0, 0.8, (n, m, 3))
    pick = rng.integers(0, 3, (n, m, slots))
    angle_c = np.take_along_axis(centre, pick, axis=-1) + rng.normal(0.0, 0.3, (n, m, slots))
    depth_c = np.abs(rng.normal(0.12, 0.1, (n, m, slots)))
    angle_d = rng.uniform(0.0, 2 * np.pi, (n, m, slots))
    depth_d = rng.beta(1.3, 2.0, (n, m, slots)) * 0.95
    angle = np.where(clustered, angle_c, angle_d)
    depth = np.where(clustered, depth_c, depth_d)
    amp = rng.lognormal(0.0, 0.7, (n, m, slots)) * 2.0 * (1.0 - 0.5 * shift[..., None])
    sigma = rng.uniform(0.4, 1.6, (n, m, slots)) * (1.0 - 0.35 * shift[..., None])
    spots = _puncta(canvas, count, slots, depth, angle, amp, sigma)
    tubules = _ridges(random_field(rng, n, CANVAS, 1.0, 4.0), 0.4)
    near = np.exp(-canvas.depth / np.float32(0.45))
    haze = (0.06 + 0.45 * shift[..., None] * near * (0.2 + 0.8 * tubules)) * canvas.cytoplasm
    return spots + _expression(canvas) * haze


def cytosol(rng: np.random.Generator, canvas: Canvas, drift: Drift) -> np.ndarray:
    """Diffuse protein filling the cell, brighter where thicker, partly kept out of the nucleus."""
    cells = canvas.cells
    n, m = cells.y.shape
    excluded = canvas.per_cell(rng.uniform(0.25, 0.75, (n, m)).astype(np.float32))
    thickness = 0.35 + 0.65 * (1.0 - canvas.depth) ** 0.8
    lumpy = 1.0 + 0.08 * random_field(rng, n, CANVAS, 3.0)
    return (
        _expression(canvas)
        * canvas.inside
        * thickness
        * (1.0 - excluded * canvas.nucleus)
        * lumpy
        * 0.8
    )


def nuclear_envelope(rng: np.random.Generator, canvas: Canvas, drift: Drift) -> np.ndarray:
    """A thin rim at the edge of the nucleus, with a little protein in the nearby ER."""
    n = len(canvas.owner)
    rim = np.exp(-((canvas.rim / np.float32(0.9)) ** 2)) * canvas.inside
    patchy = 1.0 + 0.3 * random_field(rng, n, CANVAS, 1.5)
    tubules = _ridges(random_field(rng, n, CANVAS, 0.9, 4.0), 0.5)
    er = 0.08 * canvas.cytoplasm * np.exp(-canvas.depth / np.float32(0.3)) * tubules
    return _expression(canvas) * (1.6 * rim * patchy + 0.08 * canvas.nucleus + er)


COMPARTMENTS: tuple[Drawer, ...] = (
    endoplasmic_reticulum,
    mitochondria,
    golgi,
    peroxisomes,
    early_endosome,
    cytosol,
    nuclear_envelope,
)
"""Drawing function of each label, in the order of the paper's Table 1."""


def nuclear_stain(
    rng: np.random.Generator, canvas: Canvas, texture_drift: np.ndarray
) -> np.ndarray:
    """DNA stain: a dome-shaped nucleus with chromatin texture and bright chromocentres.

    ``texture_drift`` (n,) raises the chromatin contrast of drifted plates by that fraction.
    """
    cells = canvas.cells
    n, m = cells.y.shape
    dome = 0.55 + 0.45 * np.sqrt(np.clip(1.0 - canvas.unit**2, 0.0, 1.0))
    contrast = rng.uniform(0.15, 0.35, n) * (1.0 + texture_drift)
    chromatin = 1.0 + contrast[:, None, None].astype(np.float32) * random_field(
        rng, n, CANVAS, 1.2, 5.0
    )
    dna = canvas.per_cell(cells.dna * cells.present)
    body = dna * canvas.nucleus * dome * np.maximum(chromatin, 0.0)
    slots = 14
    used = np.arange(slots) < rng.integers(5, slots + 1, (n, m))[..., None]
    r = 0.8 * np.sqrt(rng.uniform(0.0, 1.0, (n, m, slots)))
    t = rng.uniform(0.0, 2 * np.pi, (n, m, slots))
    a, b = cells.nucleus_a[..., None] * r * np.cos(t), cells.nucleus_b[..., None] * r * np.sin(t)
    ca, sa = np.cos(cells.nucleus_angle)[..., None], np.sin(cells.nucleus_angle)[..., None]
    y = cells.y[..., None] + a * sa + b * ca
    x = cells.x[..., None] + a * ca - b * sa
    amp = used * rng.gamma(4.0, 0.25, (n, m, slots)) * 3.0 * (cells.dna * cells.present)[..., None]
    sigma = rng.uniform(0.8, 1.4, (n, m, slots))
    spots = splat_gaussians(
        n, CANVAS, y.reshape(n, -1), x.reshape(n, -1), amp.reshape(n, -1), sigma.reshape(n, -1)
    )
    return body + spots * canvas.nucleus
