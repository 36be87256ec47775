"""A hash of the code an output depends on: the package modules a chapter or feature imports.

The version string does not change in an editable install, so rerun and cache keys hash
source files instead. :func:`module_closure` follows ``import`` statements (at any depth of
a module, so imports inside functions count) through the package's own modules, parent
packages included; :func:`code_hash` digests the files it finds. Editing a module that the
closure does not reach leaves the hash unchanged.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "coos_utils"


def package_dir() -> Path:
    """The folder of the package whose source is hashed."""
    return Path(__file__).resolve().parent


def module_file(name: str, root: Path) -> Path | None:
    """The source file of module ``name`` (``coos_utils.x.y``) under ``root``, if any."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{node.module}" if node.module else base


def imported_modules(source: str, module: str = "", is_package: bool = False) -> set[str]:
    """Package modules named by the import statements of ``source`` (names may be modules)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, is_package)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def module_closure(names: Iterable[str], root: Path | None = None) -> dict[str, Path]:
    """Every package module reachable by imports from ``names``, with its file."""
    root = root or package_dir()
    todo = [parent for name in names for parent in _with_parents(name)]
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name, root)
        if path is None:
            continue
        seen[name] = path
        source = path.read_text(encoding="utf-8")
        for found in imported_modules(source, name, path.name == "__init__.py"):
            todo.extend(p for p in _with_parents(found) if p not in seen)
    return seen


def code_hash(names: Iterable[str] | None = None, root: Path | None = None) -> str:
    """Hex digest of the source of ``names`` and everything they import (all modules if None)."""
    root = root or package_dir()
    if names is None:
        files = {str(p.relative_to(root)): p for p in sorted(root.rglob("*.py"))}
    else:
        files = {str(p.relative_to(root)): p for p in module_closure(names, root).values()}
    digest = hashlib.blake2b(digest_size=16)
    for relative in sorted(files):
        digest.update(relative.encode() + b"\0" + files[relative].read_bytes() + b"\0")
    return digest.hexdigest()


_CODE_CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.DOTALL)


def notebook_modules(markdown: str) -> set[str]:
    """Package modules imported by the code cells of a jupytext MyST notebook."""
    found: set[str] = set()
    for cell in _CODE_CELL.findall(markdown):
        code = "\n".join(
            line for line in cell.splitlines() if not line.lstrip().startswith(("%", "!", ":"))
        )
        try:
            found |= imported_modules(code)
        except SyntaxError:
            continue
    return found
