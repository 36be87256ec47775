"""Methods and representations from outside the package: entry points and ``module:Class`` specs.

A plug-in is named in one of three ways, wherever a built-in name is accepted:

* a spec ``package.module:Class``: the class is imported from an importable module;
* a spec ``path/to/file.py:Class``: the file is loaded as a module of its own (its name
  derived from the file's path and content, so an edited file is loaded afresh);
* an entry point in the group ``coos_utils.algorithms`` (DG methods) or
  ``coos_utils.representations`` (representations) of an installed distribution, under its
  entry-point name (``[project.entry-points."coos_utils.algorithms"] MyDG = "pkg.mod:MyDG"``).

Specs are strings, so they travel to worker processes, which resolve them again there. A bad
spec raises a one-line ``ValueError`` that names it. :func:`source_digest` hashes the file
a plug-in class is defined in, so that rerun keys see an edited plug-in.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from coos_utils.registry import lookup

ALGORITHM_GROUP = "coos_utils.algorithms"
REPRESENTATION_GROUP = "coos_utils.representations"
SEPARATOR = ":"


def is_spec(text: str) -> bool:
    """Whether ``text`` is a ``module:Class`` or ``file.py:Class`` spec (not a plain name)."""
    return SEPARATOR in text


def _split(spec: str) -> tuple[str, str]:
    where, _, name = spec.rpartition(SEPARATOR)
    if not where or not name.isidentifier():
        raise ValueError(f"plug-in spec {spec!r}: expected module:Class or path/to/file.py:Class")
    return where, name


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def normalise(spec: str) -> str:
    """``spec`` with a file path made absolute (so it means the same file in any process)."""
    where, name = _split(spec)
    if not _is_file(where):
        return spec
    return f"{Path(where).expanduser().resolve()}{SEPARATOR}{name}"


def _load_file(spec: str, path: Path) -> ModuleType:
    """The module of the file ``path``, loaded once per content (edited: loaded again)."""
    if not path.is_file():
        raise ValueError(f"plug-in spec {spec!r}: no such file {path}")
    source = path.read_bytes()
    key = hashlib.blake2b(str(path).encode() + b"\0" + source, digest_size=8).hexdigest()
    name = f"coos_plugin_{path.stem}_{key}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ValueError(f"plug-in spec {spec!r}: {path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # before running it: dataclasses and pickle look it up
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ValueError(f"plug-in spec {spec!r}: {path} failed to run ({_short(exc)})") from exc
    return module


def _import(spec: str, where: str) -> ModuleType:
    try:
        return importlib.import_module(where)
    except Exception as exc:
        raise ValueError(f"plug-in spec {spec!r}: cannot import {where} ({_short(exc)})") from exc


def _short(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def load_object(spec: str) -> Any:
    """The object a ``module:Class`` or ``file.py:Class`` spec names."""
    where, name = _split(spec)
    if _is_file(where):
        module = _load_file(spec, Path(where).expanduser().resolve())
    else:
        module = _import(spec, where)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ValueError(f"plug-in spec {spec!r}: {where} defines no {name}") from None


def load_class(spec: str, base: type, kind: str) -> type:
    """The class ``spec`` names, checked to be a subclass of ``base`` (``kind`` names it)."""
    found = load_object(spec)
    if not (inspect.isclass(found) and issubclass(found, base)):
        raise ValueError(
            f"plug-in spec {spec!r}: {found!r} is not a {kind} "
            f"(a subclass of {base.__module__}.{base.__qualname__})"
        )
    return found


def resolve(name: str, builtins: Mapping[str, type], base: type, group: str, kind: str) -> type:
    """The class ``name`` stands for: a built-in name, a ``module:Class`` / ``file.py:Class``
    spec, or an entry point of ``group``; else a one-line error naming ``name`` and the
    valid names. ``kind`` names what is looked up in messages ("DG method", ...)."""
    if name in builtins:
        return builtins[name]
    if is_spec(name):
        return load_class(name, base, kind)
    installed = entry_points(group)
    if name in installed:
        return load_class(installed[name], base, f"{kind} (entry point {name})")
    return lookup({**builtins, **installed}, name, kind)


def entry_points(group: str) -> dict[str, str]:
    """Entry-point name -> ``module:Class`` of every installed plug-in of ``group``."""
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=group)}


def source_digest(cls: type) -> str:
    """A hash of the source file that defines ``cls`` (its name and qualified name if the
    source cannot be found)."""
    digest = hashlib.blake2b(f"{cls.__module__}:{cls.__qualname__}".encode(), digest_size=8)
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    if path and Path(path).is_file():
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()
