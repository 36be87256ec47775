"""Cell geometry: a centred cell and its neighbours, and per-pixel maps of who owns each pixel.

Each crop is drawn on an 80 x 80 canvas (8 pixels of margin so that blurring does not wrap
round) whose centre holds the nucleus of the cell of interest. Up to four neighbouring
cells of the same well sit around it, so parts of them show at the edges of the crop. A
cell is a nucleus (an ellipse) inside an irregular outline given by a few Fourier
harmonics; the first harmonic puts the nucleus off-centre and sets the cell's polarity.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

CANVAS = 80
CROP = 64
MARGIN = (CANVAS - CROP) // 2
CENTRE = (CANVAS - 1) / 2
NEIGHBOURS = 4
HARMONICS = 4
CELL_RADIUS = 22.0
NUCLEUS_RADIUS = 10.0
HARMONIC_RANGE = (0.3, 0.2, 0.1, 0.06)

_YY, _XX = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32)


@dataclass
class Cells:
    """Shape of every cell on a batch of canvases; arrays are (n, 1 + NEIGHBOURS)."""

    y: np.ndarray
    x: np.ndarray
    nucleus_a: np.ndarray
    nucleus_b: np.ndarray
    nucleus_angle: np.ndarray
    radius: np.ndarray
    harmonics: np.ndarray
    """(n, cells, HARMONICS, 2): cos and sin coefficients of the outline, relative to radius."""
    present: np.ndarray
    """Which cells exist: the centred one always, neighbours packed into the first slots."""
    expression: np.ndarray
    """Each cell's own expression relative to its well's."""
    dna: np.ndarray
    """DNA content (1 in G1, rising through S to 1.9 in G2): scales stain and nucleus size."""
    polarity: np.ndarray
    """Angle of the side with most cytoplasm, where the Golgi sits."""

    def take(self, index: np.ndarray) -> Cells:
        """The canvases at ``index``, in that order."""
        return replace(self, **{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def by_crowding(self) -> np.ndarray:
        """Order of canvases by their number of neighbours, most first."""
        return np.argsort(-self.present.sum(axis=1), kind="stable")


def sample_cells(
    rng: np.random.Generator,
    size: np.ndarray,
    nucleus_size: np.ndarray,
    density: np.ndarray,
    expression_sd: float,
) -> Cells:
    """Draw the centred cell and its neighbours for each of ``len(size)`` canvases."""
    n, m = len(size), 1 + NEIGHBOURS
    shape = (n, m)
    radius = CELL_RADIUS * size[:, None] * rng.lognormal(0.0, 0.12, shape)
    phase = rng.uniform(0.0, 1.0, shape)
    dna = np.where(phase < 0.6, 1.0, np.where(phase < 0.8, 1.0 + (phase - 0.6) * 4.0, 1.9))
    nucleus_a = NUCLEUS_RADIUS * nucleus_size[:, None] * rng.lognormal(0.0, 0.09, shape)
    nucleus_a *= dna ** (1 / 3)
    nucleus_b = nucleus_a * rng.uniform(0.7, 1.0, shape)
    nucleus_angle = rng.uniform(0.0, np.pi, shape)
    amplitude = rng.uniform(0.0, 1.0, (*shape, HARMONICS)) * np.asarray(HARMONIC_RANGE)
    amplitude[..., 0] = np.maximum(amplitude[..., 0], 0.08)
    angles = rng.uniform(0.0, 2 * np.pi, (*shape, HARMONICS))
    polarity = angles[..., 0]
    harmonics = np.stack([amplitude * np.cos(angles), amplitude * np.sin(angles)], axis=-1)
    # Keep room for cytoplasm: the narrowest part of the cell is well outside the nucleus.
    narrowest = radius * (1.0 - amplitude.sum(-1))
    radius *= np.maximum(1.0, (1.35 * nucleus_a + 3.0) / np.maximum(narrowest, 1e-3))

    jitter = rng.normal(0.0, 0.7, (n, 2))
    turn = rng.uniform(0.0, 2 * np.pi, (n, 1))
    direction = turn + 2 * np.pi * np.arange(NEIGHBOURS) / NEIGHBOURS
    direction = direction + rng.normal(0.0, 0.35, (n, NEIGHBOURS))
    gap = radius[:, :1] * rng.uniform(0.95, 1.2, (n, NEIGHBOURS))
    gap += radius[:, 1:] * rng.uniform(0.5, 0.85, (n, NEIGHBOURS))
    y = np.concatenate([CENTRE + jitter[:, :1], CENTRE + gap * np.sin(direction)], axis=1)
    x = np.concatenate([CENTRE + jitter[:, 1:], CENTRE + gap * np.cos(direction)], axis=1)
    chance = np.clip(0.55 * density, 0.15, 0.9)[:, None]
    crowd = rng.binomial(NEIGHBOURS, chance[:, 0])
    present = np.concatenate(
        [np.ones((n, 1), bool), np.arange(NEIGHBOURS) < crowd[:, None]], axis=1
    )
    expression = rng.lognormal(0.0, expression_sd, shape)
    f32 = np.float32
    return Cells(
        y=y.astype(f32),
        x=x.astype(f32),
        nucleus_a=nucleus_a.astype(f32),
        nucleus_b=nucleus_b.astype(f32),
        nucleus_angle=nucleus_angle.astype(f32),
        radius=radius.astype(f32),
        harmonics=harmonics.astype(f32),
        present=present,
        expression=expression.astype(f32),
        dna=dna.astype(f32),
        polarity=polarity.astype(f32),
    )


@dataclass
class Canvas:
    """Per-pixel maps, (n, CANVAS, CANVAS), each read from the cell that owns the pixel."""

    cells: Cells
    owner: np.ndarray
    """Index (0 = centred cell) of the cell a pixel belongs to."""
    inside: np.ndarray
    """Soft mask of all cells (1 inside, 0 in the background)."""
    nucleus: np.ndarray
    """Soft mask of the nuclei."""
    rim: np.ndarray
    """Distance in pixels outside the owner's nucleus edge (negative inside the nucleus)."""
    depth: np.ndarray
    """Position between nucleus edge (0) and cell edge (1), clipped to 0..1."""
    unit: np.ndarray
    """Position inside the owner's nucleus: 0 at its centre, 1 at its edge."""
    cos: np.ndarray
    sin: np.ndarray
    """Direction from the owner's nucleus centre."""

    def per_cell(self, values: np.ndarray) -> np.ndarray:
        """Spread a per-cell (n, cells) value over the pixels each cell owns."""
        n, m = values.shape
        index = self.owner + (np.arange(n, dtype=np.int32) * m)[:, None, None]
        return np.asarray(values, dtype=np.float32).reshape(-1)[index]

    @property
    def cytoplasm(self) -> np.ndarray:
        """Soft mask of cytoplasm (cells minus nuclei)."""
        return self.inside * (1.0 - self.nucleus)


def _cell_maps(cells: Cells, j: int, rows: slice) -> list[np.ndarray]:
    """closeness (0 at the nucleus centre, 1 at the cell edge), and the other maps, of cell j."""
    dy = _YY - cells.y[rows, j, None, None]
    dx = _XX - cells.x[rows, j, None, None]
    rho = np.sqrt(dx * dx + dy * dy)
    rho += np.float32(1e-3)
    c, s = dx / rho, dy / rho
    ck, sk = c, s
    shape = np.ones_like(rho)
    for k in range(HARMONICS):
        if k:
            ck, sk = ck * c - sk * s, sk * c + ck * s
        coef = cells.harmonics[rows, j, k]
        shape += coef[:, 0, None, None] * ck
        shape += coef[:, 1, None, None] * sk
    edge = shape
    edge *= cells.radius[rows, j, None, None]
    ca = np.cos(cells.nucleus_angle[rows, j])[:, None, None]
    sa = np.sin(cells.nucleus_angle[rows, j])[:, None, None]
    along = (dx * ca + dy * sa) / cells.nucleus_a[rows, j, None, None]
    across = (dy * ca - dx * sa) / cells.nucleus_b[rows, j, None, None]
    unit = np.sqrt(along * along + across * across)
    return [rho / edge, rho, edge, rho / np.maximum(unit, np.float32(1e-3)), unit, c, s]


def draw_canvas(cells: Cells) -> Canvas:
    """Per-pixel maps of cell ownership and position for a batch of canvases.

    Canvases must come sorted by their number of neighbours, most first (see
    :meth:`Cells.by_crowding`), so that each neighbour slot is drawn only where it is used.
    """
    n, m = cells.y.shape
    maps = _cell_maps(cells, 0, slice(None))
    owner = np.zeros((n, CANVAS, CANVAS), dtype=np.int8)
    for j in range(1, m):
        used = int(cells.present[:, j].sum())
        if used == 0:
            break
        rows = slice(0, used)
        new = _cell_maps(cells, j, rows)
        better = new[0] < maps[0][rows]
        for old, value in zip(maps, new, strict=True):
            np.copyto(old[rows], value, where=better)
        owner[rows][better] = j
    _, rho, edge, nucleus_edge, unit, c, s = maps
    rim = rho - nucleus_edge
    return Canvas(
        cells=cells,
        owner=owner,
        inside=np.clip(edge - rho + 0.5, 0.0, 1.0),
        nucleus=np.clip(0.5 - rim, 0.0, 1.0),
        rim=rim,
        depth=np.clip(rim / np.maximum(edge - nucleus_edge, 1.0), 0.0, 1.0),
        unit=np.minimum(unit, 1.0),
        cos=c,
        sin=s,
    )


def cytoplasm_positions(
    cells: Cells, depth: np.ndarray, angle: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Canvas (y, x) of points at ``depth`` (0 nucleus edge .. 1 cell edge) and ``angle``.

    ``depth`` and ``angle`` are (n, cells, P): P points in each cell of each canvas.
    """
    k = np.arange(1, HARMONICS + 1, dtype=np.float32)
    phase = angle[..., None] * k
    harm = cells.harmonics[:, :, None]
    outline = cells.radius[..., None] * (
        1.0 + (harm[..., 0] * np.cos(phase) + harm[..., 1] * np.sin(phase)).sum(-1)
    )
    rel = angle - cells.nucleus_angle[..., None]
    inner = 1.0 / np.sqrt(
        (np.cos(rel) / cells.nucleus_a[..., None]) ** 2
        + (np.sin(rel) / cells.nucleus_b[..., None]) ** 2
    )
    dist = inner + depth * (outline - inner)
    return cells.y[..., None] + dist * np.sin(angle), cells.x[..., None] + dist * np.cos(angle)
