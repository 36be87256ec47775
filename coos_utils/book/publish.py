"""The repository a published book installs from: named once, in ``_config.yml``.

Every chapter starts with an install cell for Colab or a bare kernel
(``%pip install -q "coos-utils @ git+<url>"``); the unexecuted ``.ipynb`` copies that the
launch buttons open, and their ``requirements.txt``, are written from the same notebooks. A
fork changes ``repository.url`` in ``_config.yml`` and runs ``coos install-cells``.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import yaml

from coos_utils.atomic import atomic_write_text

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


def publish_notebooks(root: Path, sources: list[Path], dest: Path) -> list[Path]:
    """Unexecuted ``.ipynb`` copies of the chapters under ``dest/book/_generated/`` and a
    ``requirements.txt`` that installs the configured repository, for the launch buttons."""
    url = repository_url(root)
    stale = [s for s in sources if any(u != url for u in install_urls(s))]
    if stale:
        names = ", ".join(s.name for s in stale)
        raise ValueError(f"install cells of {names} do not use {url}: run coos install-cells")
    written = []
    for source in sources:
        target = dest / "book" / "_generated" / f"{source.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, jupytext.writes(jupytext.read(source), fmt="ipynb"))
        written.append(target)
    requirements = dest / "requirements.txt"
    atomic_write_text(requirements, f"coos-utils[dask] @ git+{url}\n")
    return [*written, requirements]
