"""The experiment: plates over time, wells on plates, fields in wells, and which cells go where.

COOS-7 kept 7 plates per class (4 for training, 2 later ones for test3, 1 from another site
for test4) and 8 wells per plate. Here the plates are shared between classes, as the real
plates held many tagged proteins in randomised layouts: 8 training-era plates imaged in
different weeks over about 9 months, 3 plates 5 to 8 months after the last of them, and 4
plates at a second site with its own microscope. Each class takes 4, 2 and 1 of them. On
its training plates a class has 6 interior wells (train and test1, a random 80/20 split of
their cells) and 2 border wells (test2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coos_utils.reference import N_CLASSES, SPLITS
from coos_utils.synthetic.params import SimulationParams

SCALES: dict[str, int] = {"tiny": 50, "small": 10, "paper": 1}
"""Each scale's divisor of the paper's split sizes (paper = the exact sizes of COOS-7)."""
PAPER_SIZES: dict[str, int] = {s.name: s.images for s in SPLITS}
SPLIT_ORDER: tuple[str, ...] = tuple(PAPER_SIZES)

PLATE_ROWS, PLATE_COLS = 16, 24
TRAIN_ERA_PLATES, LATE_PLATES, SITE_B_PLATES = 8, 3, 4
PLATES_PER_CLASS = {"train": 4, "late": 2, "site_b": 1}
INTERIOR_WELLS, BORDER_WELLS, WELLS_PER_PLATE = 6, 2, 8
MAX_FIELDS = 20
WELL_DENSITY_SD = 0.2
FIELD_DENSITY_SD = 0.3

META_COLUMNS = ("plate", "well", "field", "day", "microscope", "border_well")
"""Per-image metadata written to every file."""
CONDITION_COLUMNS = (
    "label",
    "site_b",
    "log_expression",
    "size",
    "nucleus_size",
    "log_dye",
    "log_background",
    "defocus",
    "offset_jitter",
    "drift",
    "density",
)
"""What the renderer needs to know about each cell's circumstances."""


def rng_for(seed: int, *key: int) -> np.random.Generator:
    """An independent random stream for one job, fixed by the seed and the job's key."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def split_sizes(scale: str) -> dict[str, int]:
    """Images per split at ``scale``; ``paper`` gives COOS-7's exact sizes."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return {name: round(n / SCALES[scale]) for name, n in PAPER_SIZES.items()}


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder, exact sum)."""
    share = total * np.asarray(weights, dtype=np.float64) / np.sum(weights)
    counts = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def well_name(row: int, col: int) -> str:
    """384-well plate position, e.g. row 0, column 0 -> 'A01'."""
    return f"{chr(ord('A') + row)}{col + 1:02d}"


def _is_border(row: np.ndarray, col: np.ndarray) -> np.ndarray:
    return (row == 0) | (row == PLATE_ROWS - 1) | (col == 0) | (col == PLATE_COLS - 1)


def make_plates(seed: int, params: SimulationParams) -> pd.DataFrame:
    """Every plate of the experiment with its day, site and random effects."""
    rng = rng_for(seed, 0, 0)
    eras = ["train"] * TRAIN_ERA_PLATES + ["late"] * LATE_PLATES + ["site_b"] * SITE_B_PLATES
    days = np.concatenate(
        [
            np.sort(rng.choice(41, TRAIN_ERA_PLATES, replace=False)) * 7,
            np.sort(rng.choice(15, LATE_PLATES, replace=False)) * 7 + 420,
            np.sort(rng.choice(15, SITE_B_PLATES, replace=False)) * 7 + 300,
        ]
    )
    n = len(eras)
    z = rng.standard_normal((n, 4))
    drift_jitter = rng.uniform(0.85, 1.15, n)
    density = rng.normal(0.0, 0.1, n)
    pe = params.plate_effects
    is_late = np.array([e == "late" for e in eras])
    drift = np.where(is_late, params.test3_drift * drift_jitter, 0.0)
    plates = pd.DataFrame(
        {
            "era": eras,
            "day": days.astype(np.int32),
            "site_b": [e == "site_b" for e in eras],
            "log_expression": pe * params.plate_expression_sd * z[:, 0]
            + drift * params.drift_expression,
            "size": 1.0 + pe * params.plate_size_sd * z[:, 1] + drift * params.drift_cell_size,
            "nucleus_size": 1.0
            + 0.5 * pe * params.plate_size_sd * z[:, 1]
            + drift * params.drift_nucleus_size,
            "log_dye": pe * params.plate_dye_sd * z[:, 2],
            "log_background": pe * params.plate_background_sd * z[:, 3],
            "drift": drift,
            "log_density": density,
        }
    )
    plates = plates.sort_values(["day", "era"], kind="stable").reset_index(drop=True)
    plates.insert(0, "plate", [f"P{i + 1:02d}" for i in range(n)])
    plates["microscope"] = np.where(plates["site_b"], "B", "A")
    return plates


def make_wells(seed: int, params: SimulationParams, plates: pd.DataFrame) -> pd.DataFrame:
    """The 8 wells of each class on each of its 7 plates, with the split they feed."""
    rng = rng_for(seed, 0, 1)
    rows, cols = np.divmod(np.arange(PLATE_ROWS * PLATE_COLS), PLATE_COLS)
    border = _is_border(rows, cols)
    free = {p: np.ones(len(rows), dtype=bool) for p in plates["plate"]}
    records = []
    for label in range(N_CLASSES):
        for era, n_plates in PLATES_PER_CLASS.items():
            pool = plates.loc[plates["era"] == era, "plate"].to_numpy()
            for plate in np.sort(rng.choice(pool, n_plates, replace=False)):
                if era == "train":
                    groups = [("pool", ~border, INTERIOR_WELLS), ("test2", border, BORDER_WELLS)]
                else:
                    groups = [
                        (
                            "test3" if era == "late" else "test4",
                            np.ones_like(border),
                            WELLS_PER_PLATE,
                        )
                    ]
                for group, allowed, n_wells in groups:
                    options = np.flatnonzero(allowed & free[plate])
                    for pos in np.sort(rng.choice(options, n_wells, replace=False)):
                        free[plate][pos] = False
                        records.append((label, plate, group, int(rows[pos]), int(cols[pos])))
    wells = pd.DataFrame(records, columns=["label", "plate", "group", "row", "col"])
    wells["well"] = [well_name(r, c) for r, c in zip(wells["row"], wells["col"], strict=True)]
    wells["border_well"] = _is_border(wells["row"].to_numpy(), wells["col"].to_numpy())
    z = rng.standard_normal((len(wells), 3))
    is_border = wells["border_well"].to_numpy()
    sd = params.well_effects * np.where(
        is_border, params.border_sd_factor**params.border_effect, 1.0
    )
    shift = params.border_effect * is_border
    wells["log_expression"] = (
        sd * params.well_expression_sd * z[:, 0] + shift * params.border_expression_shift
    )
    wells["size"] = 1.0 + sd * params.well_size_sd * z[:, 1] + shift * params.border_size_shift
    wells["log_density"] = WELL_DENSITY_SD * z[:, 2]
    return wells


def _fields(
    rng: np.random.Generator, params: SimulationParams, n_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Field index of each of a well's cells, and that field's effects (defocus, bg, bias)."""
    n_fields = int(np.clip(round(n_cells / params.cells_per_field), 1, MAX_FIELDS))
    counts = allocate(n_cells, np.exp(FIELD_DENSITY_SD * rng.standard_normal(n_fields)))
    fe = params.field_effects
    effects = np.stack(
        [
            np.abs(rng.normal(0.0, 1.0, n_fields)) * params.field_defocus_sd * fe,
            rng.normal(0.0, 1.0, n_fields) * params.field_background_sd * fe,
            rng.normal(0.0, 3.0, n_fields) * fe,
        ],
        axis=1,
    )
    field = np.repeat(np.arange(n_fields), counts)
    return field, effects[field]


def _group_cells(
    seed: int,
    params: SimulationParams,
    plates: pd.DataFrame,
    wells: pd.DataFrame,
    group: str,
    total: int,
    key: int,
) -> pd.DataFrame:
    """One row per cell of a group of wells, ordered by well and field."""
    rng = rng_for(seed, 0, 2, key)
    wells = wells[wells["group"] == group].reset_index(drop=True)
    plate = plates.set_index("plate").loc[wells["plate"]].reset_index()
    rates = np.asarray(params.proliferation)[wells["label"]] ** params.class_imbalance
    weights = rates * np.exp(wells["log_density"] + plate["log_density"]).to_numpy()
    counts = allocate(total, weights)
    fields, effects = [], []
    for n in counts:
        f, e = _fields(rng, params, int(n))
        fields.append(f)
        effects.append(e)
    idx = np.repeat(np.arange(len(wells)), counts)
    w, p = wells.iloc[idx].reset_index(drop=True), plate.iloc[idx].reset_index(drop=True)
    eff = np.concatenate(effects) if effects else np.zeros((0, 3))
    return pd.DataFrame(
        {
            "plate": w["plate"],
            "well": w["well"],
            "field": np.concatenate(fields).astype(np.int32) + 1,
            "day": p["day"].astype(np.int32),
            "microscope": p["microscope"],
            "border_well": w["border_well"].astype(bool),
            "label": w["label"].astype(np.int64),
            "site_b": p["site_b"].astype(bool),
            "log_expression": p["log_expression"] + w["log_expression"],
            "size": p["size"] * w["size"],
            "nucleus_size": p["nucleus_size"] * np.sqrt(w["size"]),
            "log_dye": p["log_dye"],
            "log_background": p["log_background"] + eff[:, 1],
            "defocus": eff[:, 0],
            "offset_jitter": eff[:, 2],
            "drift": p["drift"],
            "density": np.exp(w["log_density"] + p["log_density"]),
        }
    )


@dataclass(frozen=True)
class Design:
    """The full experiment at one scale and seed: plates, wells, and each split's cells."""

    scale: str
    seed: int
    params: SimulationParams
    plates: pd.DataFrame
    wells: pd.DataFrame
    cells: dict[str, pd.DataFrame]


def make_design(scale: str, seed: int, params: SimulationParams | None = None) -> Design:
    """Lay out the experiment; each split's cells come in a random (but seeded) order."""
    params = params or SimulationParams()
    sizes = split_sizes(scale)
    plates = make_plates(seed, params)
    wells = make_wells(seed, params, plates)
    pool_size = sizes["train"] + sizes["test1"]
    groups = {
        "pool": pool_size,
        "test2": sizes["test2"],
        "test3": sizes["test3"],
        "test4": sizes["test4"],
    }
    built = {
        g: _group_cells(seed, params, plates, wells, g, n, k)
        for k, (g, n) in enumerate(groups.items())
    }
    rng = rng_for(seed, 0, 3)
    order = rng.permutation(pool_size)
    cells = {
        "train": built["pool"].iloc[order[sizes["test1"] :]],
        "test1": built["pool"].iloc[order[: sizes["test1"]]],
    }
    for name in ("test2", "test3", "test4"):
        cells[name] = built[name].iloc[rng.permutation(len(built[name]))]
    cells = {name: cells[name].reset_index(drop=True) for name in SPLIT_ORDER}
    return Design(scale, seed, params, plates, wells, cells)
