"""The package's layers: every import points down (or sideways), and no two packages import
each other.

Each module of ``coos_utils`` is parsed (not imported), and every import in it -- at the top,
inside a function, relative or absolute -- becomes an edge between two packages (a subpackage
such as ``data``, or a top-level module such as ``profiles``). A package may import only from its
own layer or a lower one; within a layer the packages must not form a cycle. A new upward
import fails here with the module, its line and the edge.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import coos_utils

PACKAGE = "coos_utils"
ROOT = Path(coos_utils.__file__).parent

LAYERS: tuple[tuple[str, ...], ...] = (
    # base modules: no job of their own in the data flow, usable everywhere
    ("atomic", "codehash", "metrics", "parallel", "plugins", "reference", "registry", "stages"),
    ("data",),
    ("synthetic", "identity"),  # the simulator writes through data; identity names both
    ("features",),  # the representation protocol, texture features, the feature cache
    ("models",),  # the CNNs implement features' protocol; features never import them
    ("benchmark", "dg"),  # running: Table 3, scoring, the DG sweep
    ("profiles",),  # the run profiles: sizes of the above, names read from their registries
    ("analysis",),
    ("results",),
    ("presentation",),
    ("book",),  # the chapters' setup, the papermill pipeline
    ("commands",),  # the application on top: the `coos` command, one module a command
)
LAYER = {package: level for level, packages in enumerate(LAYERS) for package in packages}


@dataclass(frozen=True)
class Edge:
    """One import of ``target`` (a package) by a module of ``source``."""

    source: str
    target: str
    module: str
    line: int
    imported: str

    def __str__(self) -> str:
        return (
            f"{self.module}:{self.line} imports {self.imported}: {self.source} "
            f"(layer {LAYER.get(self.source)}) -> {self.target} (layer {LAYER.get(self.target)})"
        )


def _package(parts: tuple[str, ...]) -> str:
    """The package of a module: its subpackage, or its own name at the top level."""
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imported(node: ast.AST, parts: tuple[str, ...]) -> list[str]:
    """The absolute ``coos_utils.*`` names an import node brings in (none for others)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith(PACKAGE + ".")]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        here = [PACKAGE, *parts[:-1]]
        base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
    elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
        base = node.module
    else:
        return []
    if base == PACKAGE:  # ``from coos_utils import data, cli``
        return [f"{PACKAGE}.{a.name}" for a in node.names]
    return [base]


def package_edges() -> list[Edge]:
    """Every import between two different packages of ``coos_utils``."""
    edges = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts == ("__init__.py",):
            continue
        source = _package(parts)
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            for name in _imported(node, parts):
                target = name.split(".")[1]
                if target != source:
                    module = path.relative_to(ROOT.parent).as_posix()
                    edges.append(Edge(source, target, module, node.lineno, name))
    return edges


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_package_has_a_layer() -> None:
    found = {_package(p.relative_to(ROOT).parts) for p in ROOT.rglob("*.py")} - {"__init__"}
    assert not found - set(LAYER), f"packages without a layer in LAYERS: {found - set(LAYER)}"
    assert not set(LAYER) - found, f"LAYERS names packages that do not exist: {set(LAYER) - found}"


def test_imports_point_down_or_sideways() -> None:
    upward = [e for e in package_edges() if LAYER[e.source] < LAYER[e.target]]
    assert not upward, "imports from a higher layer:\n" + "\n".join(map(str, upward))


def test_no_two_packages_import_each_other() -> None:
    edges = package_edges()
    cycles = _cycles(edges)
    lines = [
        f"cycle {' <-> '.join(group)}:\n"
        + "\n".join(f"  {e}" for e in edges if e.source in group and e.target in group)
        for group in cycles
    ]
    assert not cycles, "\n".join(lines)


def test_results_only_reads_and_writes() -> None:
    """``results/`` computes nothing: it takes frames and names from its callers, so it needs
    no package that scores, simulates or names data."""
    allowed = set(LAYERS[0]) | {"data"}
    found = [e for e in package_edges() if e.source == "results" and e.target not in allowed]
    assert not found, "results/ imports what computes:\n" + "\n".join(map(str, found))


def test_the_scan_sees_local_relative_and_package_imports() -> None:
    source = (
        "from . import sibling\n"
        "from ... import results\n"
        "from coos_utils import cli, data\n"
        "def f():\n"
        "    import coos_utils.presentation.figures\n"
    )
    tree = ast.parse(source)
    parts = ("analysis", "inner", "mod.py")
    names = [n for node in ast.walk(tree) for n in _imported(node, parts)]
    assert sorted(names) == [
        "coos_utils.analysis.inner",
        "coos_utils.cli",
        "coos_utils.data",
        "coos_utils.presentation.figures",
        "coos_utils.results",
    ]
