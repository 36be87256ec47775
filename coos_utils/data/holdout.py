"""Rows of a split held out for validation: the one hold-out of the package.

DeepLoc and paired cell inpainting keep a part of ``train`` to choose their checkpoint, and
each DG trial keeps one as its training-domain validation set (DomainBed's protocol). All of
them call :func:`holdout`: sorted row indices, fixed by the seed, stratified by whatever is
known (class; class and plate).
"""

from __future__ import annotations

import numpy as np


def holdout(
    n: int,
    fraction: float,
    seed: int,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (fit, held-out) indices of ``range(n)``, ``fraction`` of them held out.

    Without ``labels`` the rows are drawn at random; with them, ``fraction`` of each class is
    held out; with ``groups`` too (plates), of each class within each group, unless some
    class has a single row in some group: then by class only.
    """
    from sklearn.model_selection import train_test_split  # imported when used: see data/__init__

    strata = None if labels is None else np.asarray(labels)
    if strata is not None and groups is not None:
        combined = np.char.add(np.char.add(strata.astype(str), "|"), np.asarray(groups).astype(str))
        if np.unique(combined, return_counts=True)[1].min() >= 2:
            strata = combined
    fit, held = train_test_split(
        np.arange(n), test_size=fraction, random_state=seed, stratify=strata
    )
    return np.sort(fit), np.sort(held)
