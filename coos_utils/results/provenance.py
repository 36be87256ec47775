"""``provenance.json``: which data, profile, parameters, code and versions made a results folder.

Each chapter that writes into a results folder adds its own entry under ``chapters``; the
top-level fields describe the data and the most recent run. The chapters' provenance lines
are generated from this record.

Each chapter entry has a ``status``: ``"running"`` from the chapter's setup on,
``"complete"`` once the book pipeline saw the whole chapter finish, ``"failed"`` (with
``error``, a one-line summary, and ``failed_at``) when it did not, ``"interrupted"`` (with
``error`` naming the signal, ``interrupted_at`` and ``completed``, the chapters of the same run
that had completed) when Ctrl-C or SIGTERM stopped it. The top-level ``status`` sums them up
(``failed`` if any chapter failed, else ``interrupted`` if any was). Results of a failed or
interrupted chapter may be partial: :func:`refuse_failed` stops a chapter that would read them.
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
from coos_utils.data.errors import CoosDataError

PROVENANCE = "provenance.json"
RUNNING, COMPLETE, FAILED, INTERRUPTED = "running", "complete", "failed", "interrupted"
UNFINISHED = (FAILED, INTERRUPTED)
"""Statuses whose results may be partial."""
_OUTCOME_KEYS = ("error", "failed_at", "interrupted_at", "completed", "finished")
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
    now = _now()
    run = {"parameters": parameters, "code_hash": code_hash, "time": now, "status": RUNNING}
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
    return _write(folder, record)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write(folder: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Store ``record`` (its top-level status recomputed) as ``folder/provenance.json``."""
    statuses = {run.get("status") for run in record.get("chapters", {}).values()}
    record["status"] = next((s for s in (*UNFINISHED, RUNNING) if s in statuses), COMPLETE)
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    atomic_write_text(folder / PROVENANCE, text)
    return record


def mark_chapter(
    folder: Path,
    chapter: str,
    status: str,
    error: str | None = None,
    completed: list[str] | None = None,
) -> dict[str, Any]:
    """Set ``chapter``'s status in ``folder/provenance.json``: ``complete`` (with the time
    it finished), ``failed`` (with ``error``, one line, and the time) or ``interrupted``
    (with ``error``, the time and ``completed``, the chapters of the run that had completed
    before it); return the record."""
    if status not in (COMPLETE, *UNFINISHED):
        raise ValueError(
            f"status must be one of {COMPLETE}, {FAILED}, {INTERRUPTED}, not {status!r}"
        )
    record = read_provenance(folder)
    run = record.setdefault("chapters", {}).setdefault(chapter, {})
    for key in _OUTCOME_KEYS:
        run.pop(key, None)
    run["status"] = status
    if status == FAILED:
        run.update(error=_one_line(error or "unknown error"), failed_at=_now())
    elif status == INTERRUPTED:
        reason = _one_line(error or "interrupted")
        run.update(error=reason, interrupted_at=_now(), completed=list(completed or []))
    else:
        run["finished"] = _now()
    folder.mkdir(parents=True, exist_ok=True)
    return _write(folder, record)


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def chapter_status(folder: Path, chapter: str) -> str | None:
    """``chapter``'s status in ``folder/provenance.json``; None when it has no entry."""
    return read_provenance(folder).get("chapters", {}).get(chapter, {}).get("status")


def refuse_failed(folder: Path, chapters: tuple[str, ...] | list[str]) -> None:
    """A :class:`CoosDataError` naming ``folder`` if any of ``chapters`` failed there or was
    interrupted."""
    runs = read_provenance(folder).get("chapters", {})
    for chapter in chapters:
        run = runs.get(chapter, {})
        status = run.get("status")
        if status in UNFINISHED:
            when = run.get("failed_at") or run.get("interrupted_at") or "?"
            raise CoosDataError(
                folder,
                f"the results of chapter {chapter} are marked {status} in {PROVENANCE} "
                f"({run.get('error', 'no error recorded')}, {when}); "
                f"they may be partial and are not read: rerun {chapter} first",
            )


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
