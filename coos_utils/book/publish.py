"""The repository a published book installs from: named once, in ``_config.yml``.

Every chapter starts with an install cell for Colab or a bare kernel
(``%pip install -q "coos-utils @ git+<url>"``); the unexecuted ``.ipynb`` copies that the
launch buttons open, and their ``requirements.txt``, are written from the same notebooks. A
fork changes ``repository.url`` in ``_config.yml`` and runs ``coos install-cells``.

A plug-in file that a chapter's parameters name (``notebooks/my_dg_method.py:VREx``) is shipped
beside the published notebooks, the spec is rewritten to name the copy (``my_dg_method.py:VREx``,
found in the notebook's own folder), and a hidden cell after the parameters writes the file
there when the notebook runs without it (Colab opens the ``.ipynb`` alone).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import nbformat
import yaml

from coos_utils.atomic import atomic_write_text
from coos_utils.plugins import is_file_spec, locate, split_spec

INSTALL = re.compile(r'((?:%pip|-m pip) install -q "coos-utils(?:\[[^\]]*\])? @ git\+)([^"]+)(")')


def repository_url(root: Path) -> str:
    """``repository.url`` of the book's ``_config.yml``."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    try:
        return str(config["repository"]["url"])
    except (KeyError, TypeError):
        raise ValueError(f"{root / '_config.yml'} names no repository.url") from None


def install_urls(source: Path) -> list[str]:
    """The repository URLs the install cells of one chapter install from."""
    return [m.group(2) for m in INSTALL.finditer(source.read_text(encoding="utf-8"))]


def sync_install_cells(root: Path, sources: list[Path]) -> list[Path]:
    """Point every chapter's install cell at the configured repository; return those changed."""
    url, changed = repository_url(root), []
    for source in sources:
        text = source.read_text(encoding="utf-8")
        new = INSTALL.sub(lambda m: m.group(1) + url + m.group(3), text)
        if new != text:
            atomic_write_text(source, new)
            changed.append(source)
    return changed


def plugin_files(root: Path, source: Path) -> dict[str, Path]:
    """File spec -> file, for every ``file.py:Class`` spec in the parameters cell of chapter
    ``source``, found as the chapter would find it (its folder, then the project ``root``)."""
    notebook = jupytext.read(source)
    found = {}
    for cell in notebook.cells:
        if "parameters" not in cell.metadata.get("tags", []):
            continue
        for node in ast.walk(ast.parse(cell.source)):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and is_file_spec(text):
                found[text] = locate(text, [source.parent, root])
    return found


def _plugin_cell(files: dict[str, Path]) -> nbformat.NotebookNode:
    """A hidden cell that writes the plug-in files beside the notebook unless they are there."""
    texts = {path.name: path.read_text(encoding="utf-8") for path in files.values()}
    code = (
        "# The plug-in files this chapter names, written beside it where they are missing\n"
        "from pathlib import Path\n\n"
        f"for _name, _text in {texts!r}.items():\n"
        "    if not Path(_name).exists():\n"
        "        Path(_name).write_text(_text, encoding='utf-8')"
    )
    return nbformat.v4.new_code_cell(code, metadata={"tags": ["hide-cell"]})


def _published(root: Path, source: Path) -> tuple[nbformat.NotebookNode, dict[str, Path]]:
    """The chapter as a notebook whose plug-in specs name copies beside it, and those files."""
    notebook = jupytext.read(source)
    files = plugin_files(root, source)
    if not files:
        return notebook, {}
    for index, cell in enumerate(notebook.cells):
        if "parameters" in cell.metadata.get("tags", []):
            for spec, path in files.items():
                cell.source = cell.source.replace(spec, f"{path.name}:{split_spec(spec)[1]}")
            notebook.cells.insert(index + 1, _plugin_cell(files))
            break
    return notebook, {path.name: path for path in files.values()}


def publish_notebooks(root: Path, sources: list[Path], dest: Path) -> list[Path]:
    """Unexecuted ``.ipynb`` copies of the chapters under ``dest/book/_generated/``, the
    plug-in files they name beside them, and a ``requirements.txt`` that installs the
    configured repository, for the launch buttons."""
    url = repository_url(root)
    stale = [s for s in sources if any(u != url for u in install_urls(s))]
    if stale:
        names = ", ".join(s.name for s in stale)
        raise ValueError(f"install cells of {names} do not use {url}: run coos install-cells")
    folder = dest / "book" / "_generated"
    published = {source: _published(root, source) for source in sources}
    shipped: dict[str, Path] = {}
    for source, (_, files) in published.items():
        for name, path in files.items():
            if shipped.setdefault(name, path) != path:
                raise ValueError(f"{source}: plug-in files {shipped[name]} and {path} share a name")
    written = []
    for source, (notebook, _) in published.items():
        target = folder / f"{source.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, jupytext.writes(notebook, fmt="ipynb"))
        written.append(target)
    for name, path in shipped.items():
        atomic_write_text(folder / name, path.read_text(encoding="utf-8"))
        written.append(folder / name)
    requirements = dest / "requirements.txt"
    atomic_write_text(requirements, f"coos-utils[dask] @ git+{url}\n")
    return [*written, requirements]
