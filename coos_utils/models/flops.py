"""Floating-point operations of the CNN stages, for :mod:`coos_utils.stages`' log.

A :class:`FlopSampler` counts the operations of its first measured call with torch's
``FlopCounterMode`` and credits every later call with the same count per item (an image, an
iteration), so only one call pays the counter's overhead. Nothing is counted unless stages
are being logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch.utils.flop_counter import FlopCounterMode

from coos_utils.stages import add_flop, logging_stages


class FlopSampler:
    """Operations per item, counted on the first call, added to the running stage each call."""

    def __init__(self) -> None:
        self.per_item: float | None = None

    @contextmanager
    def measure(self, items: int) -> Iterator[None]:
        """Count (first call) or credit (later calls) the block's operations for ``items``."""
        if not logging_stages() or items <= 0:
            yield
            return
        if self.per_item is None:
            counter = FlopCounterMode(display=False)
            with counter:
                yield
            self.per_item = counter.get_total_flops() / items
        else:
            yield
        add_flop(self.per_item * items)
