"""Chapter parameters: read from each notebook's ``parameters`` cell, given as papermill does.

Each chapter declares its parameters once, in its cell tagged ``parameters``: one assignment a
line with a trailing comment that explains it. :func:`chapter_parameters` reads them (name,
default, meaning) so that the README table, the command line and the checks of given values
all come from the notebooks themselves. Values given on the command line follow papermill's
conventions: ``-p NAME VALUE`` (VALUE read as YAML: ``3``, ``0.5``, ``true``, ``null``,
``[a, b]``), ``-r NAME VALUE`` (kept as text), ``-f FILE.yaml``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from coos_utils.profiles import PROFILES
from coos_utils.synthetic.params import MAX_SEED


class ParameterError(ValueError):
    """A given parameter is unknown, of the wrong type or out of range (one-line message)."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a chapter."""

    name: str
    default: Any
    meaning: str

    @property
    def kind(self) -> str:
        """The type a given value must have, in words (``any`` when the default is None)."""
        return "any" if self.default is None else type(self.default).__name__


def code_cells(text: str) -> Iterator[tuple[dict[str, Any], str]]:
    """The code cells of a MyST-markdown notebook: (options, source) each. Reads only what a
    chapter's parameters need, without jupytext (which takes seconds to import, and a wrong
    parameter must be refused at once): a cell opens with a ``{code-cell}`` fence, then
    ``:name: value`` option lines or a ``---``-delimited YAML block, and closes with its fence.
    """
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(`{3,})\{code-cell\}", lines[i])
        i += 1
        if not fence:
            continue
        options: dict[str, Any] = {}
        if i < len(lines) and lines[i].strip() == "---":
            end = lines.index("---", i + 1)
            options = yaml.safe_load("\n".join(lines[i + 1 : end])) or {}
            i = end + 1
        while i < len(lines) and re.match(r"^:[\w-]+:", lines[i]):
            key, value = lines[i][1:].split(":", 1)
            options[key] = yaml.safe_load(value)
            i += 1
        body = []
        while i < len(lines) and lines[i].rstrip() != fence.group(1):
            body.append(lines[i])
            i += 1
        i += 1
        while body and not body[0].strip():
            body.pop(0)
        yield options, "\n".join(body)


def chapter_parameters(source: Path) -> list[Parameter]:
    """The parameters declared in the ``parameters`` cell of the notebook ``source``."""
    text = source.read_text(encoding="utf-8")
    cells = [code for options, code in code_cells(text) if "parameters" in options.get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"{source} has {len(cells)} cells tagged 'parameters', not one")
    lines = cells[0].splitlines()
    found = []
    for node in ast.parse(cells[0]).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            continue
        line = lines[node.lineno - 1]
        meaning = line.split("#", 1)[1].strip() if "#" in line else ""
        found.append(Parameter(node.targets[0].id, ast.literal_eval(node.value), meaning))
    return found


def chapter_defaults(root: Path, name: str) -> dict[str, Any]:
    """Name -> default value of the chapter ``name``'s parameters, read from
    ``<root>/notebooks/<name>.md``; empty when the source is not there (a published copy)."""
    source = root / "notebooks" / f"{name}.md"
    if not source.is_file():
        return {}
    return {parameter.name: parameter.default for parameter in chapter_parameters(source)}


def parse_given(
    values: Sequence[tuple[str, str]] = (),
    raw: Sequence[tuple[str, str]] = (),
    files: Sequence[Path] = (),
) -> dict[str, Any]:
    """Parameters given as papermill does: YAML files first, then ``-p`` (YAML), ``-r`` (text)."""
    given: dict[str, Any] = {}
    for path in files:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ParameterError(f"cannot read parameters file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ParameterError(f"parameters file {path} is not YAML ({_one_line(exc)})") from None
        if not isinstance(loaded, dict):
            raise ParameterError(f"parameters file {path} must hold a mapping of name: value")
        given.update(loaded)
    for name, text in values:
        given[name] = _yaml_value(name, text)
    given.update(dict(raw))
    return given


def _one_line(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: its problem and where, without the quoted source."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f" at column {mark.column + 1}" if mark is not None else ""
        return f"{exc.problem}{where}"
    return " ".join(str(exc).split())


def _yaml_value(name: str, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParameterError(
            f"parameter {name!r}: {text!r} is not a YAML value ({_one_line(exc)}); "
            "use -r to pass it as text"
        ) from None


def _fits(value: Any, default: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))


def _int_in(low: int, high: int | None = None) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        is_int = isinstance(value, int) and not isinstance(value, bool)
        return is_int and low <= value and (high is None or value <= high)

    return test


def _text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v != "" for v in value)


def _names_or_none(value: Any) -> bool:
    return value is None or _names(value)


def _or_none(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or test(value)


@dataclass(frozen=True)
class Rule:
    """What a parameter's value must be, beyond the type of its default."""

    test: Callable[[Any], bool]
    wanted: str


RULES: dict[str, Rule] = {
    "seed": Rule(_int_in(0, MAX_SEED), f"an integer from 0 to {MAX_SEED}"),
    "max_images_per_split": Rule(_int_in(1), "a positive integer"),
    "top_k": Rule(_int_in(1), "a positive integer"),
    "n_workers": Rule(_int_in(1), "a positive integer"),
    "n_jobs": Rule(lambda v: v == -1 or _int_in(1)(v), "-1 (all cores) or a positive integer"),
    "min_share": Rule(lambda v: isinstance(v, int | float) and 0 <= v <= 1, "a number in [0, 1]"),
    "results_dir": Rule(lambda v: isinstance(v, str) and v != "", "a folder name"),
    "data_dir": Rule(_text_or_none, "a folder name or null"),
    "cache_dir": Rule(_text_or_none, "a folder name or null"),
    "device": Rule(_text_or_none, "a device name or null"),
    "dask_scheduler": Rule(_text_or_none, "a scheduler address or null"),
    "representations": Rule(_names_or_none, "a list of names or null"),
    "steps": Rule(_or_none(_int_in(1)), "a positive integer or null"),
    "dg_methods": Rule(_names, "a list of method names or plug-ins (file.py:Class)"),
}
"""Value rules by parameter name, applied wherever a chapter declares that name. A parameter
whose default is None has no type to check against: it must have a rule here (a test checks
every chapter), so that a wrong value is refused before any data are made or a kernel starts."""


def _check_value(chapter: str, parameter: Parameter, value: Any) -> None:
    rule = RULES.get(parameter.name)
    if not _fits(value, parameter.default):
        wanted = f"a {parameter.kind}"
    elif rule is not None and not rule.test(value):
        wanted = rule.wanted
    else:
        return
    raise ParameterError(
        f"parameter {parameter.name!r} of chapter {chapter} takes {wanted} "
        f"({parameter.meaning}), not {value!r}"
    )


def check_given(chapter: str, given: Mapping[str, Any], declared: Iterable[Parameter]) -> None:
    """Raise :class:`ParameterError` naming the first unknown, mistyped or invalid parameter."""
    by_name = {p.name: p for p in declared}
    for name, value in given.items():
        if name not in by_name:
            raise ParameterError(
                f"chapter {chapter} has no parameter {name!r}; it has {', '.join(by_name)}"
            )
        _check_value(chapter, by_name[name], value)
    if "profile" in given and given["profile"] not in PROFILES:
        raise ParameterError(
            f"unknown profile {given['profile']!r}; choose one of {', '.join(PROFILES)}"
        )


def parameters_markdown(sources: Sequence[Path]) -> str:
    """One Markdown table of every chapter's parameters: chapter, name, default, meaning."""
    rows = ["| chapter | parameter | default | meaning |", "| --- | --- | --- | --- |"]
    for source in sources:
        for p in chapter_parameters(source):
            rows.append(f"| `{source.stem}` | `{p.name}` | `{p.default!r}` | {p.meaning} |")
    return "\n".join(rows)
