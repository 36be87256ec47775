"""Getting a split onto the device: preprocessed float tensors and batches of rows.

Training keeps the whole (preprocessed) training split on the device as one float32 tensor
(41,456 x 2 x 64 x 64 floats = 1.4 GB at paper scale) and draws mini-batches from it there,
so a GPU never waits for the disk or for Python data loaders. Extraction streams any split
from disk in batches and never holds more than one batch of images at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from coos_utils.data.split import CoosSplit

Preprocess = Callable[[torch.Tensor], torch.Tensor]
"""(N, 2, H, W) float32 raw intensities on the device -> the network's input tensor."""


def stream_batches(
    split: CoosSplit,
    preprocess: Preprocess,
    device: torch.device,
    batch_size: int = 512,
    progress: bool = False,
    desc: str = "",
) -> Iterator[torch.Tensor]:
    """Preprocessed consecutive batches of ``split`` on ``device``, read from disk one by one."""
    with tqdm(total=len(split), desc=desc or split.name, unit="img", disable=not progress) as bar:
        for batch in split.iter_batches(batch_size):
            raw = torch.from_numpy(np.asarray(batch.images, dtype=np.float32)).to(device)
            yield preprocess(raw)
            bar.update(len(raw))


def load_to_device(
    split: CoosSplit,
    preprocess: Preprocess,
    device: torch.device,
    batch_size: int = 512,
    progress: bool = False,
) -> torch.Tensor:
    """Every preprocessed image of ``split`` as one tensor on ``device``.

    The split is read in consecutive batches (fast on HDF5, unlike reading scattered rows);
    callers select their rows on the device.
    """
    parts = list(
        stream_batches(split, preprocess, device, batch_size, progress, f"load {split.name}")
    )
    if not parts:
        raise ValueError(f"split {split.name!r} has no images to load")
    return torch.cat(parts)


class ShuffledRows:
    """Row indices in mini-batches: each epoch a fresh random order of ``range(n)``.

    A batch that runs past the end of an epoch is completed from the next one, so every
    batch has the full size and every row is seen once per epoch. The order lives on the
    device; :meth:`state_dict` / :meth:`load_state_dict` make a run resumable mid-epoch.
    """

    def __init__(self, n: int, generator: torch.Generator) -> None:
        if n < 1:
            raise ValueError("nothing to sample from")
        self.n = n
        self.generator = generator
        self.order = torch.empty(0, dtype=torch.int64, device=generator.device)
        self.position = 0

    def next(self, batch_size: int) -> torch.Tensor:
        """The next ``batch_size`` row indices."""
        parts = []
        while batch_size > 0:
            if self.position >= len(self.order):
                self.order = torch.randperm(
                    self.n, generator=self.generator, device=self.generator.device
                )
                self.position = 0
            part = self.order[self.position : self.position + batch_size]
            self.position += len(part)
            batch_size -= len(part)
            parts.append(part)
        return torch.cat(parts)

    def state_dict(self) -> dict[str, object]:
        return {"order": self.order.cpu(), "position": self.position}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.order = state["order"].to(self.generator.device)
        self.position = int(state["position"])
