"""The rule that no test split takes part in any choice, enforced where splits are opened.

A trial opens every split through a :class:`SplitGuard`. It starts in the ``select`` phase,
in which only ``train`` may be opened (training, validation and checkpoint selection all
happen inside ``train``). :meth:`SplitGuard.finalise` ends selection for good; only then can
test splits be opened, for the final evaluation. Every opening is logged with its phase.

The one other look at the test splits is the data fingerprint in a trial's id (a hash of
their labels, metadata and 64 sampled images, so that changed data give new trials); it
identifies the data and informs no choice.
"""

from __future__ import annotations

from collections.abc import Callable

from coos_utils.data import CoosSplit

SELECT, EVALUATE = "select", "evaluate"


class SplitAccessError(RuntimeError):
    """A test split was asked for before model selection was final."""


class SplitGuard:
    """Opens splits with ``opener`` (e.g. ``lambda name: load_split(root, name)``), by phase."""

    def __init__(self, opener: Callable[[str], CoosSplit], train_name: str = "train") -> None:
        self._opener = opener
        self.train_name = train_name
        self.phase = SELECT
        self.log: list[tuple[str, str]] = []

    def open(self, name: str) -> CoosSplit:
        """The split called ``name``; a test split only after :meth:`finalise`."""
        if name != self.train_name and self.phase != EVALUATE:
            raise SplitAccessError(
                f"split {name!r} asked for during model selection; only {self.train_name!r} "
                "may be read before the final evaluation"
            )
        self.log.append((self.phase, name))
        return self._opener(name)

    def finalise(self) -> None:
        """End model selection; test splits may be opened from now on."""
        self.phase = EVALUATE
