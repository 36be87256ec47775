"""Every representation by name: texture features and the three CNNs of Table 3.

The registry sits above both packages it names: :mod:`coos_utils.features` defines the
protocol (and the texture features), :mod:`coos_utils.models` the CNNs that implement it, and
neither imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from coos_utils.features.base import Representation
from coos_utils.features.texture import TextureRepresentation
from coos_utils.models.deeploc import DeepLocRepresentation
from coos_utils.models.pci import PciRepresentation
from coos_utils.models.vgg import Vgg16Representation
from coos_utils.plugins import REPRESENTATION_GROUP, resolve

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
    return resolve(name, REPRESENTATIONS, Representation, REPRESENTATION_GROUP, "representation")


def make_representation(
    name: str, params: Mapping[str, Any] | None = None, **execution: Any
) -> Representation:
    """An instance of representation ``name`` with ``params`` and execution settings."""
    return get_representation(name)(**dict(params or {}), **execution)


def make_representations(
    names: Sequence[str], overrides: Mapping[str, Mapping[str, Any]], **execution: Any
) -> list[Representation]:
    """One instance per name, each with its ``overrides`` (a profile's parameters)."""
    return [make_representation(name, overrides.get(name), **execution) for name in names]
