"""Write files and folders so that a reader never sees a half-written result.

A result is written under a temporary sibling name, ``.<name>.<host>-<pid>.<random>.partial``,
and renamed onto its final name only when complete. The name says which process writes it:
when a later write of the same result starts, the partial entries of writers on this host
that no longer run (killed, crashed) are removed, so an interrupted run leaves nothing
behind for long. Entries of live processes and of other hosts are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

PARTIAL_SUFFIX = ".partial"
_HOST = hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()
_WRITER = re.compile(r"(?P<host>[0-9a-f]{8})-(?P<pid>\d+)\.[^.]+")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def stale_partials(dest: str | Path) -> list[Path]:
    """Partial entries of ``dest`` left by writers on this host that are no longer running."""
    dest = Path(dest)
    prefix = f".{dest.name}."
    found = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in dest.parent.iterdir():
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(PARTIAL_SUFFIX)):
                continue
            writer = _WRITER.fullmatch(name[len(prefix) : -len(PARTIAL_SUFFIX)])
            if writer and writer["host"] == _HOST and not _is_running(int(writer["pid"])):
                found.append(entry)
    return found


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(dest: str | Path, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``dest``; rename it onto ``dest`` only on success.

    The temporary name starts with a dot and ends in ``.partial`` so that an interrupted
    run leaves nothing that looks like a finished result; :func:`stale_partials` of
    ``dest`` are removed first. An existing ``dest`` is replaced only after the new one is
    complete.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_partials(dest):
        _remove(stale)
    prefix = f".{dest.name}.{_HOST}-{os.getpid()}."
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=PARTIAL_SUFFIX, dir=dest.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=PARTIAL_SUFFIX, dir=dest.parent)
        os.close(fd)
        tmp = Path(name)
    # mkstemp/mkdtemp create private (0600/0700) entries; give the result ordinary permissions.
    tmp.chmod((0o777 if is_dir else 0o666) & ~_current_umask())
    try:
        yield tmp
        if is_dir:
            if dest.exists():
                old = dest.with_name(f".{dest.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                dest.rename(old)
                tmp.rename(dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(dest)
        else:
            os.replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_text(dest: str | Path, text: str) -> None:
    """Write ``text`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
