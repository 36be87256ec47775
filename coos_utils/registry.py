"""One way to look a name up in a registry: the value, or an error listing the valid names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: str, kind: str) -> T:
    """``registry[name]``, or a ``ValueError`` that names ``kind`` and every valid name."""
    try:
        return registry[name]
    except KeyError:
        valid = ", ".join(registry)
        raise ValueError(f"unknown {kind} {name!r}; choose one of {valid}") from None
