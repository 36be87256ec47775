"""Every representation by name: texture features and the three CNNs of Table 3.

The registry sits above both packages it names: :mod:`coos_utils.features` defines the
protocol (and the texture features), :mod:`coos_utils.models` the CNNs that implement it, and
neither imports this module. A plug-in runs exactly like them, but under names of its own: one
whose name or rows are named like a built-in's is refused (its rows, confusion files and cache
folder would merge with the built-in's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from coos_utils.features.base import Representation
from coos_utils.features.texture import TextureRepresentation
from coos_utils.models.deeploc import DeepLocRepresentation
from coos_utils.models.pci import PciRepresentation
from coos_utils.models.vgg import Vgg16Representation
from coos_utils.plugins import REPRESENTATION_GROUP, refuse_builtin_name, resolve

REPRESENTATIONS: dict[str, type[Representation]] = {
    "texture": TextureRepresentation,
    "deeploc": DeepLocRepresentation,
    "vgg16": Vgg16Representation,
    "pci": PciRepresentation,
}


def get_representation(name: str) -> type[Representation]:
    """The representation class ``name``: a built-in name, an entry point of the group
    ``coos_utils.representations``, or a ``module:Class`` / ``file.py:Class`` spec naming a
    subclass of :class:`Representation` (see :mod:`coos_utils.plugins`); else a one-line error
    naming ``name`` and the valid names."""
    return resolve(
        name,
        REPRESENTATIONS,
        Representation,
        REPRESENTATION_GROUP,
        "representation",
        calls=("fit", "transform", "predict"),
    )


def row_names(rep: Representation) -> list[str]:
    """The names ``rep`` puts on rows, files and cache folders: its name, its outputs' display
    names and, for a direct predictor, its row's features name."""
    predictor = getattr(rep, "predictor_row", None)
    named = [getattr(rep, "name", None), *([predictor[0]] if predictor else [])]
    return [*(n for n in named if n), *rep.outputs().values()]


def builtin_row_names() -> list[str]:
    """Every name a built-in representation (with its defaults) puts on rows and files."""
    return [*REPRESENTATIONS, *(n for c in REPRESENTATIONS.values() for n in row_names(c()))]


def make_representation(
    name: str, params: Mapping[str, Any] | None = None, **execution: Any
) -> Representation:
    """An instance of representation ``name`` with ``params`` and execution settings; a
    plug-in named like a built-in is refused in one line."""
    cls = get_representation(name)
    rep = cls(**dict(params or {}), **execution)
    if cls not in REPRESENTATIONS.values():
        refuse_builtin_name(name, row_names(rep), builtin_row_names(), "representation")
    return rep


def make_representations(
    names: Sequence[str], overrides: Mapping[str, Mapping[str, Any]], **execution: Any
) -> list[Representation]:
    """One instance per name, each with its ``overrides`` (a profile's parameters)."""
    return [make_representation(name, overrides.get(name), **execution) for name in names]
