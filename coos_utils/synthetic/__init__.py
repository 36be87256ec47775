"""A simulated stand-in for COOS-7: fluorescence micrographs of cells in the same HDF5 format.

``simulate_dataset`` writes the five splits; ``ensure_synthetic`` keeps one generated copy
per scale and seed; ``SimulationParams`` holds every shift factor, each of which can be
switched off. Modules: ``params`` (knobs), ``design`` (plates, wells, fields, splits),
``cells`` (geometry), ``compartments`` (what each class looks like), ``textures``,
``optics`` (blur, illumination, camera), ``render`` (cells to crops) and ``simulate``
(workers and files).
"""

from coos_utils.synthetic.design import SCALES, Design, make_design, split_sizes
from coos_utils.synthetic.optics import Microscope
from coos_utils.synthetic.params import SWITCHES, SimulationParams
from coos_utils.synthetic.simulate import (
    GENERATOR_VERSION,
    MAX_SEED,
    check_seed,
    ensure_synthetic,
    file_name,
    folder_name,
    simulate_dataset,
)

__all__ = [
    "GENERATOR_VERSION",
    "MAX_SEED",
    "SCALES",
    "SWITCHES",
    "Design",
    "Microscope",
    "SimulationParams",
    "check_seed",
    "ensure_synthetic",
    "file_name",
    "folder_name",
    "make_design",
    "simulate_dataset",
    "split_sizes",
]
