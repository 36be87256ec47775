"""Read the Jupyter Book table of contents (``_toc.yml``)."""

from __future__ import annotations

from pathlib import Path

import yaml


def toc_entries(toc: Path) -> list[str]:
    """The root page and every ``file:`` entry of ``toc``, in reading order, without repeats."""
    data = yaml.safe_load(toc.read_text(encoding="utf-8"))
    entries: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    entries.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return list(dict.fromkeys(entries))
