"""The one hyperparameter table of the DG methods, DomainBed-style.

Each hyperparameter is declared once: its name, its default, the random draw of the search,
and the methods it applies to (``None``: every method). Draw 0 of a search is the defaults;
draw ``k > 0`` draws each hyperparameter from a random stream seeded by ``(k, name)`` alone,
so adding a hyperparameter to the table never changes the values drawn for the others, and
every method gets the same learning rate in the same draw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Draw = Callable[[np.random.Generator], Any]


@dataclass(frozen=True)
class HParam:
    """One hyperparameter: name, default, random draw, and the methods that use it."""

    name: str
    default: Any
    draw: Draw
    methods: tuple[str, ...] | None = None

    def applies_to(self, method: str) -> bool:
        return self.methods is None or method in self.methods


def _log_uniform(low: float, high: float) -> Draw:
    return lambda rng: float(10 ** rng.uniform(low, high))


def _uniform(low: float, high: float) -> Draw:
    return lambda rng: float(rng.uniform(low, high))


def _one_minus_log_uniform(low: float, high: float) -> Draw:
    return lambda rng: float(1 - 10 ** rng.uniform(low, high))


def _choice(*values: int) -> Draw:
    return lambda rng: int(rng.choice(values))


HPARAMS: tuple[HParam, ...] = (
    HParam("lr", 1e-3, _log_uniform(-4.0, -2.5)),
    HParam("weight_decay", 0.0, _log_uniform(-6.0, -3.0)),
    HParam("focal_gamma", 2.0, _uniform(0.5, 4.0), ("FocalLoss",)),
    HParam("cb_beta", 0.999, _one_minus_log_uniform(-4.0, -2.0), ("ClassBalanced",)),
    HParam("coral_weight", 1.0, _log_uniform(-1.0, 1.0), ("CORAL",)),
    HParam("mixstyle_p", 0.5, _uniform(0.2, 0.8), ("MixStyle",)),
    HParam("mixstyle_alpha", 0.1, _log_uniform(-2.0, 0.0), ("MixStyle",)),
    HParam("mixstyle_layers", 2, _choice(1, 2), ("MixStyle",)),
    # ContriMix: the defaults of the authors' ContriMix class (num_attr_vectors=4,
    # num_mixing_per_image=5) and the cross-entropy weight of their Camelyon17 script (0.5)
    HParam("contrimix_attributes", 4, _choice(2, 4, 8), ("ContriMix",)),
    HParam("contrimix_mixings", 5, _choice(2, 3, 4, 5), ("ContriMix",)),
    HParam("contrimix_ce_weight", 0.5, _uniform(0.3, 0.7), ("ContriMix",)),
)


def _stream(hparams_seed: int, name: str) -> np.random.Generator:
    """A random stream fixed by the draw number and the hyperparameter's name only."""
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng([hparams_seed, key])


def draw_hparams(
    method: str, hparams_seed: int, table: tuple[HParam, ...] = HPARAMS
) -> dict[str, Any]:
    """The hyperparameters of ``method`` in draw ``hparams_seed`` (0: the defaults)."""
    if hparams_seed < 0:
        raise ValueError("hparams_seed must be >= 0")
    return {
        p.name: p.default if hparams_seed == 0 else p.draw(_stream(hparams_seed, p.name))
        for p in table
        if p.applies_to(method)
    }
