"""The identity of a data set: one fingerprint over its five splits and the id that names its
results folders (``results/<data-id>/<profile>/``).

Naming a synthetic data set needs the simulator's defaults (an ablation's data get a digest
of their parameters), so this sits above both :mod:`coos_utils.data` and
:mod:`coos_utils.synthetic`; :mod:`coos_utils.results` takes the id as given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from coos_utils.data import CoosSplit, dataset_fingerprint
from coos_utils.reference import SPLIT_NAMES
from coos_utils.synthetic import SimulationParams


def data_fingerprint(splits: Mapping[str, CoosSplit]) -> str:
    """One hash over the fingerprints of the five splits."""
    return dataset_fingerprint({name: splits[name] for name in SPLIT_NAMES})


def data_id(train: CoosSplit, fingerprint: str) -> str:
    """``synthetic-<scale>-seed<N>[-<params digest>]``, ``coos7-<8 hex>`` or ``tiff-<8 hex>``.

    Synthetic data made with non-default simulator parameters (an ablation) get the digest
    of those parameters, so they never share a folder with the default data.
    """
    if train.is_synthetic:
        name = f"synthetic-{train.attrs.get('scale', 'unknown')}-seed{train.attrs.get('seed', 'x')}"
        stored = train.attrs.get("parameters")
        if stored and stored != SimulationParams().to_json():
            name += "-" + hashlib.blake2b(str(stored).encode(), digest_size=4).hexdigest()
        return name
    prefix = "tiff" if train.source == "tiff" else "coos7"
    return f"{prefix}-{fingerprint[:8]}"
