"""Methods and representations from outside the package: entry points and ``module:Class`` specs.

A plug-in is named in one of three ways, wherever a built-in name is accepted:

* a spec ``package.module:Class``: the class is imported from an importable module;
* a spec ``path/to/file.py:Class``: the file is loaded as a module of its own (its name
  derived from the file's path and content, so an edited file is loaded afresh, and so is one
  whose helper modules were edited); the file's folder is added to the end of ``sys.path``, so
  it can import modules beside it;
* an entry point in the group ``coos_utils.algorithms`` (DG methods),
  ``coos_utils.representations`` (representations) or ``coos_utils.backbones`` (DG backbone
  factories, :mod:`coos_utils.dg.backbones`) of an installed distribution, under its
  entry-point name (``[project.entry-points."coos_utils.algorithms"] MyDG = "pkg.mod:MyDG"``).

A plug-in is a class (:func:`resolve`), or for a backbone a function (:func:`resolve_function`).

A relative file is found in the book's chapters folder (``notebooks/``), then the project root
(the folder above with ``_toc.yml`` and ``notebooks/``), never in whatever folder the process
runs in; outside a checkout (a published chapter, Colab) there is no project root and the
kernel's folder, the notebook's own, is used. :func:`normalise` makes a file spec absolute
before it travels to worker processes, which resolve it again there. A bad spec raises a
one-line ``ValueError`` that names it, and so does a plug-in that calls ``sys.exit`` while it
is loaded or run. :func:`source_digest` hashes a plug-in's code: its file and every module it
imports, directly or not, from outside the installed packages, so rerun keys see any edit.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import site
import sys
import sysconfig
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from coos_utils.codehash import PACKAGE, package_dir
from coos_utils.registry import lookup

ALGORITHM_GROUP = "coos_utils.algorithms"
REPRESENTATION_GROUP = "coos_utils.representations"
BACKBONE_GROUP = "coos_utils.backbones"
SEPARATOR = ":"
ROOT_MARKERS = ("_toc.yml", "notebooks")
"""What makes a folder the project root (as :func:`coos_utils.book.run_context.project_root`)."""
CHAPTERS = "notebooks"
"""The project root's folder of chapters: the first place a relative plug-in file is sought."""
_IMPORTS_DIGEST = "__coos_imports_digest__"


def is_spec(text: str) -> bool:
    """Whether ``text`` is a ``module:Class`` or ``file.py:Class`` spec (not a plain name)."""
    return SEPARATOR in text


def is_file_spec(text: str) -> bool:
    """Whether ``text`` is a ``path/to/file.py:Class`` spec."""
    where, _, name = text.rpartition(SEPARATOR)
    return bool(where) and name.isidentifier() and _is_file(where)


def split_spec(spec: str) -> tuple[str, str]:
    """(module or file, class name) of a spec; a one-line error if it is not one."""
    where, _, name = spec.rpartition(SEPARATOR)
    if not where or not name.isidentifier():
        raise ValueError(f"plug-in spec {spec!r}: expected module:Class or path/to/file.py:Class")
    return where, name


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def label(spec: str) -> str:
    """``spec`` as messages show it: a file spec by its file name (no machine path)."""
    if not is_spec(spec):
        return spec
    where, name = split_spec(spec)
    return f"{Path(where).name}{SEPARATOR}{name}" if _is_file(where) else spec


def plugin_folders(start: str | Path | None = None) -> list[Path]:
    """Where a relative plug-in file is sought, in order: in a checkout (a folder from
    ``start``, default the current one, upwards holds ``_toc.yml`` and ``notebooks/``) the
    chapters folder, then the project root; outside one (a published chapter, Colab) the
    kernel's folder, which Jupyter, Colab and ``papermill --cwd`` make the notebook's own."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).exists() for marker in ROOT_MARKERS):
            return [folder / CHAPTERS, folder]
    return [here]


def locate(spec: str, folders: Iterable[Path] | None = None) -> Path:
    """The file of the file spec ``spec``: an absolute path as it is, a relative one in the
    first of ``folders`` (default :func:`plugin_folders`) that holds it."""
    where, _ = split_spec(spec)
    path = Path(where).expanduser()
    if path.is_absolute():
        return path.resolve()
    folders = list(plugin_folders() if folders is None else folders)
    for folder in folders:
        if (folder / path).is_file():
            return (folder / path).resolve()
    places = ", ".join(str(folder) for folder in folders)
    raise ValueError(f"plug-in spec {spec!r}: no file {where} in {places}")


def normalise(spec: str) -> str:
    """``spec`` with a file path made absolute (so it means the same file in any process)."""
    where, name = split_spec(spec)
    return f"{locate(spec)}{SEPARATOR}{name}" if _is_file(where) else spec


def _load_file(spec: str, path: Path) -> ModuleType:
    """The module of the file ``path``, loaded once per content of the file and of the modules
    it imports from outside the installed packages (one of them edited: all loaded again)."""
    if not path.is_file():
        raise ValueError(f"plug-in spec {spec!r}: no such file {path}")
    source = path.read_bytes()
    key = hashlib.blake2b(str(path).encode() + b"\0" + source, digest_size=8).hexdigest()
    name = f"coos_plugin_{path.stem}_{key}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        helpers = local_modules(name, path)
        if getattr(loaded, _IMPORTS_DIGEST, None) == _files_digest(helpers):
            return loaded
        for helper in helpers:  # edited since it was loaded: import afresh
            sys.modules.pop(helper, None)
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ValueError(f"plug-in spec {spec!r}: {path} cannot be loaded as a Python module")
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))  # its helpers beside it, in every process
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # before running it: dataclasses and pickle look it up
    try:
        with _no_exit(label(spec), "while loading"):
            module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        if isinstance(exc, PluginExit):
            raise
        raise ValueError(f"plug-in spec {spec!r}: {path} failed to run ({_short(exc)})") from exc
    setattr(module, _IMPORTS_DIGEST, _files_digest(local_modules(name, path)))
    return module


def _import(spec: str, where: str) -> ModuleType:
    try:
        with _no_exit(spec, "while loading"):
            return importlib.import_module(where)
    except PluginExit:
        raise
    except Exception as exc:
        raise ValueError(f"plug-in spec {spec!r}: cannot import {where} ({_short(exc)})") from exc


def _short(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def load_object(spec: str) -> Any:
    """The object a ``module:Class`` or ``file.py:Class`` spec names."""
    where, name = split_spec(spec)
    module = _load_file(spec, locate(spec)) if _is_file(where) else _import(spec, where)
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


def resolve(
    name: str,
    builtins: Mapping[str, type],
    base: type,
    group: str,
    kind: str,
    calls: Iterable[str] = (),
) -> type:
    """The class ``name`` stands for: a built-in name, a ``module:Class`` / ``file.py:Class``
    spec, or an entry point of ``group``; else a one-line error naming ``name`` and the
    valid names. ``kind`` names what is looked up in messages ("DG method", ...). A plug-in's
    methods ``calls`` (and its constructor) turn a ``sys.exit`` into a one-line error."""
    if name in builtins:
        return builtins[name]
    if is_spec(name):
        found, shown = load_class(name, base, kind), label(name)
    else:
        installed = entry_points(group)
        if name not in installed:
            return lookup({**builtins, **installed}, name, kind)
        found = load_class(installed[name], base, f"{kind} (entry point {name})")
        shown = f"{name} ({installed[name]})"
    return _guard_exits(found, shown, ("__init__", *calls))


def resolve_function(
    name: str, builtins: Mapping[str, Callable[..., Any]], group: str, kind: str
) -> Callable[..., Any]:
    """The function ``name`` stands for, found as :func:`resolve` finds a class (a built-in
    name, a ``module:function`` / ``file.py:function`` spec, an entry point of ``group``); an
    entry point named like a built-in (case aside) is refused. A ``sys.exit`` in the function
    is a one-line error naming it; :func:`inspect.unwrap` gives the plug-in's own function."""
    if name in builtins:
        return builtins[name]
    if is_spec(name):
        found, shown = load_object(name), label(name)
    else:
        installed = entry_points(group)
        if name not in installed:
            return lookup({**builtins, **installed}, name, kind)
        refuse_builtin_name(name, [name], builtins, kind)
        found, shown = load_object(installed[name]), f"{name} ({installed[name]})"
    if not callable(found):
        raise ValueError(f"{kind} plug-in {shown!r}: {found!r} is not a function")
    return _guarded(found, shown, getattr(found, "__name__", "its call"))


def entry_points(group: str) -> dict[str, str]:
    """Entry-point name -> ``module:Class`` of every installed plug-in of ``group``."""
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=group)}


def refuse_builtin_name(
    spec: str, names: Iterable[str], builtins: Iterable[str], kind: str
) -> None:
    """A one-line error if a plug-in's row ``names`` match a built-in's (case aside): its rows
    and files would merge with the built-in's."""
    taken = {b.casefold(): b for b in builtins}
    clash = sorted({taken[n.casefold()] for n in names if n.casefold() in taken})
    if clash:
        raise ValueError(
            f"{kind} plug-in {label(spec)!r} is named {', '.join(map(repr, clash))} like a "
            "built-in one, whose rows and files it would merge with: give it another name"
        )


class PluginExit(ValueError):
    """A plug-in called ``sys.exit``; the message names it and the exit code."""


@contextlib.contextmanager
def _no_exit(what: str, when: str) -> Iterator[None]:
    """Turn a ``SystemExit`` raised inside into a one-line :class:`PluginExit` naming ``what``."""
    try:
        yield
    except SystemExit as exc:
        raise PluginExit(f"plug-in {what} called sys.exit({exc.code!r}) {when}") from None


def _guard_exits(cls: type, shown: str, calls: Iterable[str]) -> type:
    """``cls`` with its methods ``calls`` wrapped (once) so that ``sys.exit`` in them raises a
    one-line :class:`PluginExit` naming the plug-in instead of ending the process."""
    if cls.__dict__.get("__coos_exit_guard__"):
        return cls
    for name in calls:
        method = getattr(cls, name, None)
        if callable(method):
            setattr(cls, name, _guarded(method, shown, name))
    cls.__coos_exit_guard__ = True  # type: ignore[attr-defined]
    return cls


def _guarded(method: Callable[..., Any], shown: str, name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _no_exit(shown, f"in {name}"):
            return method(*args, **kwargs)

    return call


@functools.cache
def _installed_roots() -> tuple[Path, ...]:
    """Folders of code that is installed rather than the user's: the standard library, the
    site-packages folders, and this package (which the code hash covers)."""
    paths = sysconfig.get_paths()
    folders = [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths]
    folders += [*site.getsitepackages(), site.getusersitepackages(), str(package_dir())]
    return tuple(Path(folder).resolve() for folder in folders)


def _is_local(file: Path) -> bool:
    """Whether ``file`` is Python source outside the installed packages and this package."""
    return file.suffix == ".py" and not any(file.is_relative_to(r) for r in _installed_roots())


def _imported(source: bytes, module: str, is_package: bool) -> set[str]:
    """Every module name (and its parents) that the import statements of ``source`` name; a
    ``from m import x`` gives ``m`` and ``m.x`` (which may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = module.split(".")
            keep = len(parts) - node.level + (1 if is_package else 0)
            if node.level and keep < 1:
                continue
            base = ".".join(parts[:keep]) if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {".".join(n.split(".")[: i + 1]) for n in found for i in range(n.count(".") + 1)}


def _module_file(name: str) -> Path | None:
    """The source file of module ``name`` (imported or importable), if it has one."""
    module = sys.modules.get(name)
    if module is not None:
        file = getattr(module, "__file__", None)
    else:
        try:
            found = importlib.util.find_spec(name)
        except Exception:  # a name that is no module (from m import a_function), a bad parent
            return None
        file = found.origin if found is not None and found.has_location else None
    return Path(file).resolve() if file else None


def local_modules(module: str, file: Path) -> dict[str, Path]:
    """Every module ``module`` (source ``file``) imports, directly or through one another, from
    outside the standard library, the site-packages folders and this package (whose code the
    code hash covers): name -> source file."""
    local: dict[str, Path] = {}
    todo = [(module, file)]
    while todo:
        current, path = todo.pop()
        for name in _imported(path.read_bytes(), current, path.name == "__init__.py"):
            if name in local or name == module or name.split(".")[0] == PACKAGE:
                continue
            found = _module_file(name)
            if found is not None and _is_local(found) and found != file:
                local[name] = found
                todo.append((name, found))
    return local


def _files_digest(files: Mapping[str, Path]) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].read_bytes() + b"\0")
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """A hash of the plug-in file ``path`` and of every module it imports from outside the
    installed packages, found as when the file is loaded (its folder on ``sys.path``)."""
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    digest = hashlib.blake2b(path.read_bytes(), digest_size=8)
    digest.update(_files_digest(local_modules(path.stem, path)).encode())
    return digest.hexdigest()


def source_digest(cls: type | Callable[..., Any]) -> str:
    """A hash of a plug-in's code: the file that defines ``cls`` (a class, or a function such
    as a backbone factory) and every module that file imports (directly or through one
    another) from outside the installed packages and this package; its name and qualified
    name if the source cannot be found."""
    digest = hashlib.blake2b(cls.__qualname__.encode(), digest_size=8)
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    if not (path and Path(path).is_file()):
        digest.update(cls.__module__.encode())
        return digest.hexdigest()
    file = Path(path).resolve()
    local = local_modules(cls.__module__, file)
    digest.update(file.read_bytes() + b"\0" + _files_digest(local).encode())
    return digest.hexdigest()
