"""A simulated stand-in for COOS-7: fluorescence micrographs of cells in the same HDF5 format.

``simulate_dataset`` writes the five splits; ``ensure_synthetic`` keeps one generated copy
per scale and seed; ``SimulationParams`` holds every shift factor, each of which can be
switched off; ``Simulation`` (read back from a file's attributes) makes the same data again
with some shifts off. Modules: ``params`` (knobs), ``design`` (plates, wells, fields, splits),
``cells`` (geometry), ``compartments`` (what each class looks like), ``textures``,
``optics`` (blur, illumination, camera), ``render`` (cells to crops) and ``simulate``
(workers and files).
"""

from typing import Any

from coos_utils.synthetic.design import SCALES, Design, make_design, split_sizes
from coos_utils.synthetic.optics import Microscope
from coos_utils.synthetic.params import CLASS_DRIFTS, MAX_SEED, SHIFTS, SWITCHES, SimulationParams

_LAZY = (
    "GENERATOR_VERSION",
    "Simulation",
    "check_seed",
    "ensure_synthetic",
    "file_name",
    "folder_name",
    "simulate_dataset",
)
"""Names of :mod:`~coos_utils.synthetic.simulate`, which imports the data package (and
scikit-learn): imported on first use, so that reading a profile or a parameter stays quick."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from coos_utils.synthetic import simulate

        return getattr(simulate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CLASS_DRIFTS",
    "GENERATOR_VERSION",
    "MAX_SEED",
    "SCALES",
    "SHIFTS",
    "SWITCHES",
    "Design",
    "Microscope",
    "Simulation",
    "SimulationParams",
    "check_seed",
    "ensure_synthetic",
    "file_name",
    "folder_name",
    "make_design",
    "simulate_dataset",
    "split_sizes",
]
