"""Full-content hashes of a split's files, computed once per file size and mtime.

A hash is remembered in this process and in a small JSON memo under
``${COOS_CACHE_DIR:-~/.cache/coos_utils}/fingerprints/``: one file per HDF5 dataset, one per
TIFF folder (an entry per TIFF file). A memo is trusted only while the file's size and
modification time (ns) are those it records; a broken memo is ignored and the hash recomputed.
A file modified within ``SETTLE_NS`` of being hashed is not remembered (as git does for
"racily clean" files), since a second change in the same clock tick would keep its mtime.

Content hashes are SHA-256: with the CPU's SHA instructions (x86 SHA-NI, ARMv8) OpenSSL's
SHA-256 runs about twice as fast as blake2b here (bench/bench_fingerprint.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from coos_utils.atomic import atomic_write_text

MEMO_VERSION = 1
BLOCK_BYTES = 8 * 2**20
SETTLE_NS = 2_000_000_000

Stamp = tuple[int, int]

_REMEMBERED: dict[tuple[str, str, int, int], str] = {}


def memo_folder() -> Path:
    """Where the on-disk memos live."""
    root = os.environ.get("COOS_CACHE_DIR") or Path.home() / ".cache" / "coos_utils"
    return Path(root).expanduser() / "fingerprints"


def forget() -> None:
    """Drop the hashes remembered in this process (the on-disk memos stay)."""
    _REMEMBERED.clear()


def _stamp(path: Path) -> Stamp:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _settled(stamp: Stamp, started_ns: int) -> bool:
    return stamp[1] < started_ns - SETTLE_NS


def _memo_path(path: Path, what: str) -> Path:
    name = hashlib.blake2b(f"{path}\n{what}".encode(), digest_size=16).hexdigest()
    return memo_folder() / f"{name}.json"


def _read_memo(path: Path, what: str) -> dict:
    """The memo's content when it is ours and readable, else an empty dict."""
    try:
        memo = json.loads(_memo_path(path, what).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    ours = isinstance(memo, dict) and memo.get("version") == MEMO_VERSION
    return memo if ours and memo.get("path") == str(path) and memo.get("what") == what else {}


def _write_memo(path: Path, what: str, content: dict) -> None:
    memo = {"version": MEMO_VERSION, "path": str(path), "what": what, **content}
    with contextlib.suppress(OSError):  # a read-only cache only costs a recomputation
        atomic_write_text(_memo_path(path, what), json.dumps(memo))


def hash_rows(
    read_into: Callable[[int, int, np.ndarray], None],
    n: int,
    row_shape: tuple[int, ...],
    dtype: np.dtype,
) -> str:
    """SHA-256 of rows ``0:n``, read into one reused buffer of about ``BLOCK_BYTES``.

    ``read_into(start, stop, out)`` fills ``out[: stop - start]``.
    """
    row_bytes = max(1, math.prod(row_shape) * np.dtype(dtype).itemsize)
    buffer = np.empty((max(1, min(n, BLOCK_BYTES // row_bytes)), *row_shape), dtype=dtype)
    digest = hashlib.sha256()
    for start in range(0, n, len(buffer)):
        stop = min(n, start + len(buffer))
        read_into(start, stop, buffer)
        digest.update(buffer[: stop - start])
    return digest.hexdigest()


def remembered(path: Path, what: str, compute: Callable[[], str]) -> str:
    """``compute()`` (a hash of ``what`` in ``path``), done once per file size and mtime."""
    path = Path(path).absolute()
    stamp = _stamp(path)
    key = (str(path), what, *stamp)
    if key in _REMEMBERED:
        return _REMEMBERED[key]
    memo = _read_memo(path, what)
    if [memo.get("size"), memo.get("mtime_ns")] == list(stamp) and isinstance(
        memo.get("digest"), str
    ):
        _REMEMBERED[key] = memo["digest"]
        return memo["digest"]
    started = time.time_ns()
    digest = compute()
    if _settled(stamp, started) and _stamp(path) == stamp:
        _REMEMBERED[key] = digest
        _write_memo(path, what, {"size": stamp[0], "mtime_ns": stamp[1], "digest": digest})
    return digest


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest (SHA-256 unless ``algorithm`` names another :mod:`hashlib` hash) of one
    file's bytes."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def files_digest(paths: Sequence[Path], what: str = "files") -> str:
    """One hash over the bytes of every file in ``paths`` (in order), each hashed once.

    The memo is kept per folder (the files' common parent) and ``what``, an entry per file.
    """
    paths = [Path(p).absolute() for p in paths]
    if not paths:
        return hashlib.sha256(b"").hexdigest()
    folder = Path(os.path.commonpath([p.parent for p in paths]))
    stored = _read_memo(folder, what).get("files")
    stored = stored if isinstance(stored, dict) else {}
    fresh: dict[str, list] = {}
    started = time.time_ns()
    combined = hashlib.sha256()
    for path in paths:
        stamp = _stamp(path)
        key = (str(path), "file", *stamp)
        rel = os.path.relpath(path, folder)
        entry = stored.get(rel)
        if key in _REMEMBERED:
            digest = _REMEMBERED[key]
        elif isinstance(entry, list) and len(entry) == 3 and entry[:2] == list(stamp):
            digest = str(entry[2])
        else:
            digest = file_digest(path)
            if not (_settled(stamp, started) and _stamp(path) == stamp):
                combined.update(digest.encode())
                continue
        _REMEMBERED[key] = digest
        fresh[rel] = [*stamp, digest]
        combined.update(digest.encode())
    if fresh != stored:
        _write_memo(folder, what, {"files": fresh})
    return combined.hexdigest()
