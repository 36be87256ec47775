"""Training data for the DG trials: network input, the held-out validation part, domain batches.

* :func:`to_input`, :func:`augment`, :func:`centre_crop` -- DeepLoc's input pipeline
  (``coos_utils.models.deeploc``): each channel of each image stretched between its own
  0.1th and 99.9th percentiles; training on random 60 x 60 crops with random flips and
  90-degree rotations; prediction on the centre 60 x 60 crop (DeepLoc averages five crops;
  one keeps the CPU profiles affordable).
* :class:`DomainBatches` -- an endless stream of one minibatch per plate.
* :func:`evaluation_rows` -- a fixed, class-stratified subset of a split for quick profiles.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from coos_utils.models.augment import five_crops, random_crop, random_dihedral
from coos_utils.models.deeploc import CROP, stretch


def to_input(images: np.ndarray) -> torch.Tensor:
    """(N, C, H, W) raw images -> float32 tensor, stretched per image and channel."""
    return stretch(torch.as_tensor(np.asarray(images, dtype=np.float32)))


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random 60 x 60 crop and one of the 8 flips/rotations of each image."""
    return random_dihedral(random_crop(x, CROP, generator), generator)


def centre_crop(x: torch.Tensor) -> torch.Tensor:
    """The centre 60 x 60 window of each image."""
    return five_crops(x, CROP)[0]


class DomainBatches:
    """Endless minibatches: ``per_domain`` row indices from each domain, every step.

    By default every domain takes part in every step with ``max(2, batch_size // domains)``
    rows. With ``per_domain`` (a method that needs enough images of each domain to estimate
    its statistics, such as CORAL), each step draws ``max(2, batch_size // per_domain)``
    domains at random (all of them if there are fewer) and takes ``per_domain`` rows of
    each, so the step still holds about ``batch_size`` images (WILDS' group sampler does the
    same). Each domain's rows are visited in a fresh random order each pass (sampling
    without replacement within a pass), from a generator fixed by ``seed``.
    """

    def __init__(
        self, domains: np.ndarray, batch_size: int, seed: int, per_domain: int | None = None
    ) -> None:
        self.names, inverse = np.unique(domains, return_inverse=True)
        n = len(self.names)
        self._rows = [np.flatnonzero(inverse == k) for k in range(n)]
        self.per_domain = per_domain or max(2, batch_size // n)
        self.domains_per_step = (
            n if per_domain is None else min(n, max(2, batch_size // per_domain))
        )
        self._rng = np.random.default_rng(seed)
        self._queues = [np.empty(0, dtype=np.int64) for _ in self._rows]

    def __iter__(self) -> DomainBatches:
        return self

    def __next__(self) -> list[np.ndarray]:
        n = len(self._rows)
        chosen = range(n)
        if self.domains_per_step < n:
            chosen = np.sort(self._rng.choice(n, self.domains_per_step, replace=False))
        return [self._take(k) for k in chosen]

    def _take(self, k: int) -> np.ndarray:
        while len(self._queues[k]) < self.per_domain:
            self._queues[k] = np.concatenate(
                [self._queues[k], self._rng.permutation(self._rows[k])]
            )
        rows = np.sort(self._queues[k][: self.per_domain])
        self._queues[k] = self._queues[k][self.per_domain :]
        return rows


def evaluation_rows(labels: np.ndarray, max_images: int | None, seed: int = 0) -> np.ndarray:
    """All rows, or a class-stratified random subset of ``max_images`` of them (sorted).

    The subset depends on ``seed`` only (not on the trial), so every method and seed of a
    sweep is scored on the same images.
    """
    rows = np.arange(len(labels))
    if max_images is None or max_images >= len(labels):
        return rows
    chosen, _ = train_test_split(rows, train_size=max_images, random_state=seed, stratify=labels)
    return np.sort(chosen)


def plate_class_note(labels: np.ndarray, plates: np.ndarray | None, n_classes: int) -> str:
    """How far plates and classes are confounded in a split, in words ("" without plates)."""
    if plates is None:
        return ""
    per_plate = [len(np.unique(labels[plates == p])) for p in np.unique(plates)]
    low, high = min(per_plate), max(per_plate)
    span = str(low) if low == high else f"{low} to {high}"
    return (
        f"each of the {len(per_plate)} training plates holds {span} of the {n_classes} "
        "classes, so plate moments differ by class mix as well as by plate effects"
    )
