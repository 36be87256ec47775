"""Every knob of the simulator, with its default; the shifts between splits can be switched off."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from coos_utils.synthetic.optics import Microscope

MAX_SEED = 2**32 - 1
"""The largest seed a simulation accepts."""
SWITCHES = (
    "plate_effects",
    "well_effects",
    "field_effects",
    "border_effect",
    "test3_drift",
    "test4_microscope",
    "class_imbalance",
)
"""The strength factors: 1 is the default amount of each shift, 0 switches it off."""

CLASS_DRIFTS = ("drift_endosome", "drift_golgi")
"""test3's class-specific drifts (1: as designed, 0: off), which copy the paper's test3
confusions; the rest of test3's drift stays when they are off."""

SHIFTS = SWITCHES + CLASS_DRIFTS
"""Everything :meth:`SimulationParams.without` can switch off."""

MICROSCOPE_A = Microscope(
    psf_sigma=0.95,
    halo_weight=0.12,
    halo_sigma=3.0,
    gain=1.6,
    offset=200.0,
    read_noise=5.0,
    background=20.0,
    brightness=300.0,
    vignetting=0.15,
    vignetting_x=0.0,
    vignetting_y=0.0,
)
MICROSCOPE_B = Microscope(
    psf_sigma=1.12,
    halo_weight=0.18,
    halo_sigma=3.5,
    gain=2.6,
    offset=480.0,
    read_noise=8.0,
    background=35.0,
    brightness=280.0,
    vignetting=0.45,
    vignetting_x=0.35,
    vignetting_y=-0.25,
)


@dataclass(frozen=True)
class SimulationParams:
    """Parameters of the synthetic COOS-7 stand-in (all stored in each file as JSON).

    The first seven fields scale whole shifts (see ``SWITCHES``): ``params.without("test3_drift")``
    gives the same design with test3's biological drift switched off. The others set the size
    of each effect. Log effects are natural-log multipliers; sizes are relative changes.
    """

    plate_effects: float = 1.0
    """Scale of plate-to-plate (day-to-day) random effects on every plate."""
    well_effects: float = 1.0
    """Scale of well-to-well random effects."""
    field_effects: float = 1.0
    """Scale of field-to-field effects (focus, background, camera bias)."""
    border_effect: float = 1.0
    """Scale of the extra variation and systematic change of border wells (test2)."""
    test3_drift: float = 1.0
    """Scale of the biological drift of the later plates (test3)."""
    test4_microscope: float = 1.0
    """How far test4's instrument is from the training one (0: same microscope, 1: microscope_b)."""
    class_imbalance: float = 1.0
    """Exponent on the proliferation rates (0: as many cells per field in every class)."""

    plate_expression_sd: float = 0.15
    """SD of a plate's log expression level."""
    plate_size_sd: float = 0.04
    """SD of a plate's relative cell size."""
    plate_dye_sd: float = 0.15
    """SD of a plate's log nuclear-dye brightness."""
    plate_background_sd: float = 0.25
    """SD of a plate's log background."""
    well_expression_sd: float = 0.15
    """SD of a well's log expression level."""
    well_size_sd: float = 0.03
    """SD of a well's relative cell size."""
    field_defocus_sd: float = 0.15
    """SD (pixels) of the extra blur of a field that was imaged slightly out of focus."""
    field_background_sd: float = 0.15
    """SD of a field's log background."""
    border_sd_factor: float = 1.5
    """Border wells: well-effect SDs are multiplied by this (evaporation, temperature)."""
    border_expression_shift: float = -0.1
    """Border wells: mean change of log expression."""
    border_size_shift: float = -0.03
    """Border wells: mean relative change of cell size."""
    drift_cell_size: float = 0.12
    """test3 plates: relative increase of cell size (cells spread more at higher passage)."""
    drift_nucleus_size: float = 0.06
    """test3 plates: relative increase of nucleus size."""
    drift_expression: float = -0.35
    """test3 plates: change of log expression (the tagged protein is partly silenced)."""
    drift_endosome: float = 1.0
    """test3 plates: how far early endosomes turn small, many, dispersed and hazy (ER-like)."""
    drift_golgi: float = 1.0
    """test3 plates: how far the Golgi ribbon fragments into scattered stacks."""
    drift_nucleus_texture: float = 0.3
    """test3 plates: relative change of chromatin texture contrast."""
    proliferation: tuple[float, ...] = (1.0, 0.8, 1.1, 0.9, 0.75, 1.25, 0.95)
    """Relative cells per field of each class (labels 0-6): the source of class imbalance."""
    cells_per_field: float = 22.0
    """Mean number of cells cropped from one field of view."""
    cell_expression_sd: float = 0.55
    """SD of log expression between cells of one well."""
    microscope_a: Microscope = field(default=MICROSCOPE_A)
    """The instrument of the home site (train, test1, test2, test3)."""
    microscope_b: Microscope = field(default=MICROSCOPE_B)
    """The instrument of the collaborating site (test4), reached when test4_microscope is 1."""

    def without(self, *names: str) -> SimulationParams:
        """A copy with the named shifts (from ``SHIFTS``) switched off."""
        unknown = [n for n in names if n not in SHIFTS]
        if unknown:
            raise ValueError(f"unknown shift {unknown}; choose from {', '.join(SHIFTS)}")
        return replace(self, **dict.fromkeys(names, 0.0))

    def scope(self, site_b: bool) -> Microscope:
        """The microscope that images a plate of the home site or of the other site."""
        return self.microscope_a.towards(
            self.microscope_b, self.test4_microscope if site_b else 0.0
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists for tuples), for JSON."""
        values = asdict(self)
        values["proliferation"] = list(self.proliferation)
        return values

    def to_json(self) -> str:
        """Canonical JSON: the same parameters always give the same text."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SimulationParams:
        """Parameters back from :meth:`to_json` (as stored in a file's ``parameters`` attribute)."""
        values = json.loads(text)
        known = {f.name for f in fields(cls)}
        extra = sorted(set(values) - known)
        if extra:
            raise ValueError(f"unknown simulation parameters: {', '.join(extra)}")
        for key in ("microscope_a", "microscope_b"):
            if key in values:
                values[key] = Microscope(**values[key])
        if "proliferation" in values:
            values["proliferation"] = tuple(values["proliferation"])
        return cls(**values)

    def __post_init__(self) -> None:
        if len(self.proliferation) != 7 or min(self.proliferation) <= 0:
            raise ValueError("proliferation needs 7 positive rates, one per class")
        negative = [n for n in SWITCHES if getattr(self, n) < 0]
        if negative:
            raise ValueError(f"shift strengths must be >= 0: {', '.join(negative)}")
