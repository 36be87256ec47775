"""Sphinx extension: drop repeated <script> entries from each page.

sphinx-thebe 0.3.1 (pulled in by Jupyter Book 1.x) registers its inline configuration script
twice under Sphinx 7.4, so every page declares ``const THEBE_JS_URL`` twice and the browser
raises "Identifier 'THEBE_JS_URL' has already been declared". Keeping the first of each
identical script (same file or none, same attributes; priority ignored) removes the error
without changing anything else on the page.
"""

from __future__ import annotations

from typing import Any


def _drop_repeated_scripts(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    seen: set[tuple] = set()
    unique = []
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""  # inline scripts: None or ""
        key = (str(filename), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict:
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
