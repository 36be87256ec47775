"""``provenance.json``: which data, profile, parameters, code and versions made a results folder.

Each chapter that writes into a results folder adds its own entry under ``chapters``; the
top-level fields describe the data and the most recent run. The chapters' provenance lines
are generated from this record.
"""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from coos_utils.atomic import atomic_write_text

PROVENANCE = "provenance.json"
VERSIONED = ("numpy", "scikit-learn", "torch", "mahotas", "pandas", "h5py")


def package_versions() -> dict[str, str | None]:
    """Versions of python and of the libraries the numbers depend on."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def git_commit(where: Path | None = None) -> str | None:
    """The commit checked out at ``where`` (with ``-dirty`` if edited), None outside git."""
    try:
        run = {"cwd": where, "capture_output": True, "text": True, "timeout": 10}
        commit = subprocess.run(["git", "rev-parse", "HEAD"], check=True, **run).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain"], check=True, **run).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if status.strip() else "")


def read_provenance(folder: Path) -> dict[str, Any]:
    """The record of ``folder`` (empty when there is none yet)."""
    path = folder / PROVENANCE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); delete it to start afresh") from exc


def record_run(
    folder: Path,
    chapter: str,
    data: dict[str, Any],
    profile: str,
    parameters: dict[str, Any],
    code_hash: str,
) -> dict[str, Any]:
    """Add ``chapter``'s run to ``folder/provenance.json`` (atomically); return the record."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    run = {"parameters": parameters, "code_hash": code_hash, "time": now}
    record = read_provenance(folder)
    record.update(
        {
            **data,
            "profile": profile,
            "parameters": parameters,
            "code_hash": code_hash,
            "git_commit": git_commit(),
            "versions": package_versions(),
            "time": now,
        }
    )
    record.setdefault("chapters", {})[chapter] = run
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    atomic_write_text(folder / PROVENANCE, text)
    return record


def provenance_line(record: dict[str, Any], description: str) -> str:
    """One Markdown sentence for a chapter: data (real or SYNTHETIC), profile, code, folder."""
    kind = (
        "simulated, so its numbers are not the paper's"
        if record["data_source"] == "synthetic"
        else "real data"
    )
    commit = record.get("git_commit") or "no git checkout"
    return (
        f"**Data:** {record['data_label']} ({kind}; id `{record['data_id']}`). "
        f"**Profile:** `{record['profile']}`: {description}. "
        f"**Code:** `{record['code_hash'][:12]}` (commit `{commit[:12]}`)."
    )
