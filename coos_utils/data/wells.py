"""Which well each image comes from: the unit the well-level intervals resample."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def well_clusters(meta: pd.DataFrame | Mapping[str, Any] | None) -> np.ndarray | None:
    """One id per image for its well (plate + well when both are known); None without wells."""
    if meta is None:
        return None
    meta = meta if isinstance(meta, pd.DataFrame) else pd.DataFrame(dict(meta))
    if "well" not in meta:
        return None
    keys = meta[["plate", "well"]] if "plate" in meta else meta[["well"]]
    return pd.MultiIndex.from_frame(keys.astype(str)).factorize()[0]
