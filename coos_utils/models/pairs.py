"""Cell pairs for paired cell inpainting: which cells may be paired, and drawing partners.

PCI needs, for each source cell, a second cell that shows the same protein. The authors'
code (github.com/alexxijielu/paired_cell_inpainting, ``yeast_model/dataset.py``,
``sample_pair_equally``) keeps one folder per image of one tagged protein and draws the
partner from the same folder. In COOS-7 each class *is* one fluorescent protein (the
paper: "predict which fluorescent protein a cell has been stained with"), so the class
label is the protein's identity, the very thing the original's folders encode; two cells
of different classes never show the same protein. :func:`pairing_groups` therefore always
groups by class and refines by the finest metadata the split has (the canonical columns
``plate``, ``well``, ``field``; the loader maps other spellings onto them):

* ``"field"``: plate + well + field (+ class) -> partners from the same image, the original's;
* ``"well"``: plate + well (+ class) -> the same well, i.e. the same protein, plate and day;
* ``"plate + class"``: plate only -> the same protein on the same plate, other wells;
* ``"class"``: none of these (e.g. TIFF folders without metadata) -> the same protein anywhere
  in the split.

The class stays in every grouping as a guard: a well or field whose cells carry two labels
(a mislabelled or merged well) never pairs across them. Coarser groupings keep the pretext
task's meaning (the partner shows the same protein) but let the partner come from another
well or plate, so imaging conditions differ within a pair, which same-image pairs avoid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

GROUPINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("field", ("plate", "well", "field")),
    ("well", ("plate", "well")),
    ("plate + class", ("plate",)),
    ("class", ()),
)
"""(name, metadata columns) from finest to coarsest; the class label is added to each."""
ACROSS_WELLS = frozenset({"plate + class", "class"})
"""Groupings whose pairs may join cells of different wells."""
_CLASS = "__class__"

_DESCRIPTIONS = {
    "field": "the same field (plate, well and field ids) and class",
    "well": "the same well (plate and well ids) and class",
    "plate + class": "the same plate and class (the data have no well ids)",
    "class": "the same class, anywhere in the split (the data have no plate or well ids)",
}


def pairing_groups(meta: pd.DataFrame, labels: np.ndarray) -> tuple[np.ndarray, str]:
    """(group id of every row, name of the grouping used), never joining two labels."""
    labels = np.asarray(labels)
    if len(labels) != len(meta):
        raise ValueError(f"{len(labels)} labels for {len(meta)} metadata rows")
    name, columns = next((n, c) for n, c in GROUPINGS if set(c) <= set(meta.columns))
    keys = meta[list(columns)].reset_index(drop=True).assign(**{_CLASS: labels})
    ids = keys.groupby([*columns, _CLASS], sort=True, dropna=False).ngroup()
    return ids.to_numpy(dtype=np.int64), name


def describe_pairing(grouping: str) -> str:
    """One sentence for a chapter: where PCI drew each cell's partner from."""
    sentence = f"PCI paired each cell with another cell of {_DESCRIPTIONS[grouping]}"
    if grouping in ACROSS_WELLS:
        sentence += (
            "; the paper paired cells of one image, so pairs here may join cells imaged "
            "under different conditions"
        )
    return sentence + "."


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
