"""Turn a table of cells (their circumstances) into raw 16-bit two-channel crops."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from coos_utils.synthetic.cells import CROP, MARGIN, draw_canvas, sample_cells
from coos_utils.synthetic.compartments import COMPARTMENTS, Drift, nuclear_stain
from coos_utils.synthetic.optics import blur, camera, illumination
from coos_utils.synthetic.params import SimulationParams

BATCH = 16
DYE_BRIGHTNESS = 1.6
"""Photons of the nuclear stain per unit DNA, relative to the protein's per unit density."""
NUCLEUS_BLUR = 0.85
"""PSF width of the nuclear channel relative to the protein's (shorter wavelength)."""
AUTOFLUORESCENCE = 0.03
"""Protein-channel signal of an unlabelled cell, relative to a bright structure."""


def render_group(
    rng: np.random.Generator,
    label: int,
    cond: Mapping[str, np.ndarray],
    params: SimulationParams,
) -> np.ndarray:
    """Crops (n, 2, 64, 64) uint16 of cells of one class imaged by one microscope."""
    n = len(cond["size"])
    site_b = bool(cond["site_b"][0])
    scope = params.scope(site_b)
    cells = sample_cells(
        rng, cond["size"], cond["nucleus_size"], cond["density"], params.cell_expression_sd
    )
    order = cells.by_crowding()
    cells = cells.take(order)
    cond = {k: np.asarray(v)[order] for k, v in cond.items()}
    canvas = draw_canvas(cells)
    drift = cond["drift"].astype(np.float32)
    shifts = Drift(endosome=params.drift_endosome * drift, golgi=params.drift_golgi * drift)
    protein = COMPARTMENTS[label](rng, canvas, shifts)
    protein = protein + AUTOFLUORESCENCE * canvas.inside
    dna = nuclear_stain(rng, canvas, params.drift_nucleus_texture * drift)
    sigma = (scope.psf_sigma + cond["defocus"]).astype(np.float32)
    stack = np.concatenate([protein, dna]).astype(np.float32)
    widths = np.concatenate([sigma, NUCLEUS_BLUR * sigma])
    blurred = blur(stack, widths, scope.halo_weight, scope.halo_sigma)
    crop = blurred[:, MARGIN : MARGIN + CROP, MARGIN : MARGIN + CROP].reshape(2, n, CROP, CROP)
    per_unit = np.stack(
        [
            scope.brightness * np.exp(cond["log_expression"]),
            scope.brightness * DYE_BRIGHTNESS * np.exp(cond["log_dye"]),
        ]
    ).astype(np.float32)[:, :, None, None]
    background = (scope.background * np.exp(cond["log_background"])).astype(np.float32)
    flat = illumination(rng, n, CROP, scope)
    photons = flat[None] * (
        crop * per_unit + np.stack([background, 0.5 * background])[:, :, None, None]
    )
    grey = camera(rng, photons.transpose(1, 0, 2, 3), scope, cond["offset_jitter"])
    out = np.empty_like(grey)
    out[order] = grey
    return out


def render_cells(
    rng: np.random.Generator, cond: Mapping[str, np.ndarray], params: SimulationParams
) -> np.ndarray:
    """Crops of any mix of cells, in the order given; drawn class by class in small batches."""
    n = len(cond["label"])
    out = np.empty((n, 2, CROP, CROP), dtype=np.uint16)
    groups = np.stack([cond["label"], cond["site_b"].astype(np.int64)], axis=1)
    for key in np.unique(groups, axis=0):
        rows = np.flatnonzero((groups == key).all(axis=1))
        for start in range(0, len(rows), BATCH):
            part = rows[start : start + BATCH]
            sub = {k: np.asarray(v)[part] for k, v in cond.items()}
            out[part] = render_group(rng, int(key[0]), sub, params)
    return out
