"""Cell pairs for paired cell inpainting: which cells may be paired, and drawing partners.

PCI needs, for each source cell, a second cell that shows the same protein. In COOS-7 each
well expresses one tagged protein, so any two cells of one well qualify; the PCI paper drew
the partner from the same image (field). :func:`pairing_groups` uses the finest grouping
the split's metadata allows:

* ``"field"``: plate + well + field columns present -> partners from the same field;
* ``"well"``: plate + well present -> partners from the same well;
* ``"none"``: no such metadata (e.g. TIFF folders) -> partners from anywhere in the split.

We do not fall back to pairing by class label: that would feed the labels into a method
whose point is to learn without them. The price of ``"none"`` is a weaker pretext task:
most partners then show another protein, so the source cell tells the network little about
the target's protein pattern and the features are expected to be worse than the paper's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

GROUPINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("field", ("plate", "well", "field")),
    ("well", ("plate", "well")),
)


def pairing_groups(meta: pd.DataFrame) -> tuple[np.ndarray, str]:
    """(group id of every row, name of the grouping used: "field", "well" or "none")."""
    for name, columns in GROUPINGS:
        if set(columns) <= set(meta.columns):
            ids = meta.groupby(list(columns), sort=True, dropna=False).ngroup()
            return ids.to_numpy(dtype=np.int64), name
    return np.zeros(len(meta), dtype=np.int64), "none"


class GroupPartners:
    """Draws, for given rows, a partner row of the same group, uniformly, never the row itself.

    Rows alone in their group have no partner and are left out of :attr:`sources`. All
    tables live on ``device`` so that drawing costs no host round trip.
    """

    def __init__(self, groups: np.ndarray, device: torch.device | str = "cpu") -> None:
        groups = np.asarray(groups)
        order = np.argsort(groups, kind="stable")
        _, first, counts = np.unique(groups[order], return_index=True, return_counts=True)
        start_of_run = np.repeat(first, counts)  # for each sorted position, its run's start
        size_of_run = np.repeat(counts, counts)
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        self.order = torch.as_tensor(order, device=device)
        self.position = torch.as_tensor(position, device=device)
        self.start = torch.as_tensor(start_of_run[position], device=device)
        self.size = torch.as_tensor(size_of_run[position], device=device)
        self.sources = torch.nonzero(self.size > 1).flatten()

    def draw(self, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One partner for each of ``rows`` (which must be in :attr:`sources`)."""
        size = self.size[rows]
        start = self.start[rows]
        offset = self.position[rows] - start
        uniform = torch.rand(len(rows), generator=generator, device=rows.device)
        shift = 1 + torch.minimum((uniform * (size - 1)).long(), size - 2)  # 1 .. size-1
        return self.order[start + (offset + shift) % size]
