"""Fetch COOS-7 from Zenodo: resumable, checksum-verified downloads with a manual fallback.

The file list comes from the Zenodo REST API (``/api/records/<id>``). Each file is fetched
by :func:`download_file`, the package's one downloader (``coos weights`` uses it too): it
writes to ``DEST/.<name>.part``, resumes with an HTTP ``Range`` request after a dropped
connection (within the run, and by running again), checks the result and only then renames
it to ``DEST/<name>``.

Deadlines. ``timeout`` bounds every single wait: opening a connection (name lookup
included) and each read. A server that keeps sending a little, slower than the reads'
timeout, would pass that test forever, so a download also needs progress: when fewer than
``min_bytes`` (64 KiB) arrive within ``stall_timeout`` seconds (3 minutes), it stops with
an error naming the URL and the file, keeping the partial file for the next run. A stalled
download therefore ends within about ``stall_timeout + timeout`` seconds.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from tqdm import tqdm

from coos_utils.data.digest import file_digest
from coos_utils.data.errors import CoosDataError

ZENODO = "https://zenodo.org"
RECORD = 3386336
WANTED_SUFFIXES = (".hdf5", ".h5", ".txt", ".md", ".csv", ".json")
USER_AGENT = "coos-utils (COOS-7 downloader; python-urllib)"
CHUNK = 1 << 20
STALL_TIMEOUT = 180.0
"""Seconds within which at least ``MIN_BYTES`` must arrive, or the download stops."""
MIN_BYTES = 64 * 1024
# What a flaky or absent network raises; HTTPError (a URLError) is told apart where needed.
NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)
T = TypeVar("T")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a Zenodo record."""

    name: str
    url: str
    size: int
    algorithm: str
    digest: str


def download(
    dest: str | Path,
    base_url: str | None = None,
    record: int = RECORD,
    timeout: float = 10.0,
    retries: int = 3,
    progress: bool = True,
    backoff: float = 1.0,
    stall_timeout: float = STALL_TIMEOUT,
    min_bytes: int = MIN_BYTES,
) -> list[Path]:
    """Download the files of Zenodo ``record`` into ``dest``; return their paths.

    Files already present with the right size and checksum are kept; the others are
    fetched by :func:`download_file` (its ``timeout``, ``retries``, ``backoff``,
    ``stall_timeout`` and ``min_bytes``). Network, server and checksum failures raise
    :class:`CoosDataError`; when the record cannot be read, the message says which files to
    fetch by hand and where to put them.
    """
    dest = Path(dest)
    base = (base_url or ZENODO).rstrip("/")
    api_url = f"{base}/api/records/{record}"
    opener = urllib.request.build_opener()  # honours *_proxy / no_proxy at call time
    try:
        body = _get(opener, api_url, timeout)
    except urllib.error.HTTPError as exc:
        raise CoosDataError(
            dest, f"{api_url} answered HTTP {exc.code} {exc.reason}. {_by_hand(dest, record)}"
        ) from None
    except NETWORK_ERRORS as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise CoosDataError(
            dest, f"cannot reach {api_url} ({reason}). {_by_hand(dest, record)}"
        ) from None
    except ValueError as exc:  # not a URL urllib can open, e.g. no http:// in base_url
        raise CoosDataError(dest, f"cannot fetch {api_url}: {exc}") from None
    try:
        files = _parse_record(json.loads(body), api_url)
    except ValueError as exc:
        raise CoosDataError(
            dest, f"{api_url} is not a usable Zenodo record: {exc}. {_by_hand(dest, record)}"
        ) from None
    dest.mkdir(parents=True, exist_ok=True)
    settings = {
        "timeout": timeout,
        "retries": retries,
        "backoff": backoff,
        "stall_timeout": stall_timeout,
        "min_bytes": min_bytes,
        "progress": progress,
    }
    return [_download_record_file(opener, f, dest, **settings) for f in files]


def _by_hand(dest: Path, record: int) -> str:
    """What to do when the downloader cannot: the files, where to put them, how they are found."""
    folder = dest.resolve()
    tests = ", ".join(f"COOS7_v1.1_test{i}.hdf5" for i in range(1, 5))
    return (
        f"Download the files by hand from {ZENODO}/records/{record}: the training file "
        f"(COOS7_v1.1_*.hdf5 with 'train' in its name) and {tests}; place them in {folder}. "
        f"Then load_split({str(folder)!r}, split) and the notebooks' data_dir parameter "
        f"find them."
    )


def _request(url: str, **headers: str) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})


def _bounded(work: Callable[[], T], timeout: float, what: str) -> T:
    """``work()``, given up after ``timeout`` s even if it hangs in a name lookup.

    Socket timeouts do not bound ``getaddrinfo``, so the work runs in a daemon thread that
    is abandoned (raising ``TimeoutError``) when the deadline passes.
    """
    box: list[T | BaseException] = []

    def run() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # handed to the caller's thread
            box.append(exc)

    worker = threading.Thread(target=run, name=f"coos-download-{what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        raise TimeoutError(f"no answer within {timeout:g} s")
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def _get(opener: urllib.request.OpenerDirector, url: str, timeout: float) -> bytes:
    """The body at ``url`` (a small JSON document), all of it within ``timeout`` s."""
    request = _request(url, Accept="application/json")

    def fetch() -> bytes:
        with opener.open(request, timeout=timeout) as resp:
            return resp.read()

    return _bounded(fetch, timeout, "record")


def _parse_record(data: object, api_url: str) -> list[RemoteFile]:
    """The wanted files of a record, from Zenodo's ``key``/``size``/``links.self`` form, the
    legacy ``filename``/``filesize``/``links.download`` form, or InvenioRDM's ``entries``.
    Raises ``ValueError`` saying what is wrong."""
    files = data.get("files") if isinstance(data, dict) else None
    if isinstance(files, dict) and isinstance(files.get("entries"), dict):
        files = list(files["entries"].values())
    if not isinstance(files, list):
        raise ValueError("no 'files' list in the JSON")
    wanted = []
    for entry in files:
        if not isinstance(entry, dict):
            raise ValueError(f"file entry {entry!r} is not an object")
        name = entry.get("key", entry.get("filename"))
        size = entry.get("size", entry.get("filesize"))
        checksum = entry.get("checksum")
        links = entry.get("links") if isinstance(entry.get("links"), dict) else {}
        link = links.get("content") or links.get("download") or links.get("self")
        if not isinstance(name, str) or name != Path(name).name or name.startswith("."):
            raise ValueError(f"file entry has no usable name: {entry!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{name}: no usable size ({size!r})")
        if not isinstance(checksum, str):
            raise ValueError(f"{name}: no checksum")
        algorithm, _, digest = checksum.rpartition(":")
        algorithm = algorithm.lower() or "md5"
        if algorithm not in hashlib.algorithms_guaranteed or not digest:
            raise ValueError(f"{name}: unusable checksum {checksum!r}")
        if not isinstance(link, str):
            raise ValueError(f"{name}: no download link")
        if name.lower().endswith(WANTED_SUFFIXES):
            url = urllib.parse.urljoin(api_url, link)
            wanted.append(RemoteFile(name, url, size, algorithm, digest.lower()))
    if not any(f.name.lower().endswith((".hdf5", ".h5")) for f in wanted):
        listed = ", ".join(str(e.get("key", e.get("filename"))) for e in files) or "nothing"
        raise ValueError(f"no HDF5 file listed (found: {listed})")
    return wanted


def _download_record_file(
    opener: urllib.request.OpenerDirector, remote: RemoteFile, dest: Path, **settings: object
) -> Path:
    """Make ``dest/<name>`` a verified copy of ``remote`` (kept if it already is one)."""
    final = dest / remote.name
    if (
        final.is_file()
        and final.stat().st_size == remote.size
        and file_digest(final, remote.algorithm) == remote.digest
    ):
        return final

    def check(part: Path) -> str | None:
        actual, size = file_digest(part, remote.algorithm), part.stat().st_size
        if size == remote.size and actual == remote.digest:
            return None
        return (
            f"checksum mismatch for the file from {remote.url}: expected "
            f"{remote.algorithm}:{remote.digest} ({remote.size} bytes), got "
            f"{remote.algorithm}:{actual} ({size} bytes)"
        )

    return download_file(remote.url, final, check, size=remote.size, opener=opener, **settings)


def part_path(final: Path) -> Path:
    """Where the bytes of ``final`` gather until they are complete and checked."""
    return final.with_name(f".{final.name}.part")


class _Stalled(Exception):
    """Fewer than ``min_bytes`` arrived within ``stall_timeout`` seconds."""


class _NotReached(Exception):
    """The server could not be reached at all (no connection, no answer)."""


@dataclass(frozen=True)
class _Patience:
    """How long one download waits: for each network step, and for progress."""

    timeout: float
    stall_timeout: float
    min_bytes: int


def download_file(
    url: str,
    final: Path,
    check: Callable[[Path], str | None],
    *,
    size: int | None = None,
    opener: urllib.request.OpenerDirector | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    backoff: float = 1.0,
    stall_timeout: float = STALL_TIMEOUT,
    min_bytes: int = MIN_BYTES,
    progress: bool = True,
) -> Path:
    """Fetch ``url`` into ``final`` through :func:`part_path`, resuming what is there.

    ``check(part)`` says what is wrong with the complete download (None: nothing); a bad
    one is deleted. ``size`` (when known) is the full file's size. A dropped connection or
    a server error (5xx) is retried ``retries`` times (waiting ``backoff``, then twice as
    long, ...), each time resuming with a ``Range`` request. Not retried: a host that cannot
    be reached at the first attempt, a client error (4xx; 416 restarts the file) and a
    stall (fewer than ``min_bytes`` within ``stall_timeout`` s). Every failure raises a
    :class:`CoosDataError` naming ``final`` and the URL, and the bytes kept for a later run.
    """
    if not (stall_timeout > 0 and min_bytes >= 0):
        raise ValueError(
            f"need stall_timeout > 0 and min_bytes >= 0, not {stall_timeout}, {min_bytes}"
        )
    part = part_path(final)
    patience = _Patience(timeout, stall_timeout, min_bytes)
    opener = opener or urllib.request.build_opener()  # honours *_proxy / no_proxy
    bar = tqdm(
        total=size,
        desc=final.name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not progress,
    )
    with bar:
        for attempt in range(retries + 1):
            try:
                _fetch(opener, url, part, size, patience, bar)
                break
            except (_Stalled, _NotReached, *NETWORK_ERRORS) as exc:
                error = _give_up(exc, attempt, retries, url, final, size)
                if error is not None:
                    raise error from None
            time.sleep(backoff * 2**attempt)
        else:
            raise CoosDataError(final, f"{url} kept refusing the range request; run again")
    problem = check(part)
    if problem is not None:
        part.unlink()
        raise CoosDataError(final, f"{problem}; the download was deleted, run again to retry")
    os.replace(part, final)
    return final


def _give_up(
    exc: Exception, attempt: int, retries: int, url: str, final: Path, size: int | None
) -> CoosDataError | None:
    """The error that ends the download of ``url`` after ``exc``, or None to try again."""
    part = part_path(final)
    kept = part.stat().st_size if part.exists() else 0
    resume = (
        f"{kept}{f' of {size}' if size is not None else ''} bytes are kept in {part}, "
        "run again to resume"
    )
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 416:  # the kept bytes are not a prefix the server knows: start again
            part.unlink(missing_ok=True)
            return None
        if exc.code < 500 or attempt == retries:
            return CoosDataError(final, f"{url} answered HTTP {exc.code} {exc.reason}")
        return None
    if isinstance(exc, _Stalled):
        return CoosDataError(final, f"download from {url} stalled: {exc}; {resume}")
    if isinstance(exc, _NotReached) and attempt == 0:
        return CoosDataError(final, f"cannot reach {url} ({exc})")
    if attempt == retries:
        return CoosDataError(
            final, f"download from {url} failed after {attempt + 1} attempt(s) ({exc}); {resume}"
        )
    return None


def _open(
    opener: urllib.request.OpenerDirector, request: urllib.request.Request, timeout: float
) -> http.client.HTTPResponse:
    """The response to ``request`` within ``timeout`` s; :class:`_NotReached` if none came."""
    try:
        return _bounded(lambda: opener.open(request, timeout=timeout), timeout, "open")
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, TimeoutError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise _NotReached(str(reason)) from exc


def _fetch(
    opener: urllib.request.OpenerDirector,
    url: str,
    part: Path,
    size: int | None,
    patience: _Patience,
    bar: tqdm,
) -> None:
    """Append the missing bytes of ``url`` to ``part`` (all of them if Range is ignored).

    Raises ``ConnectionError`` when the response ends before the file is complete.
    """
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    with _open(opener, _request(url, **headers), patience.timeout) as resp:
        append = have > 0 and resp.status == 206
        total = size if size is not None else _total_size(resp, have if append else 0)
        bar.reset(total=total)
        bar.update(have if append else 0)
        with part.open("ab" if append else "wb") as out:
            _copy(resp, out, patience, bar)
    got = part.stat().st_size
    if total is not None and got < total:
        raise ConnectionError(f"connection closed after {got} of {total} bytes")


def _copy(resp: http.client.HTTPResponse, out: BinaryIO, patience: _Patience, bar: tqdm) -> None:
    """Write what ``resp`` sends to ``out`` as it arrives, watching the rate.

    ``read1`` returns whatever one network read brings, so a trickle is seen as a trickle
    (``read(n)`` would wait for all ``n`` bytes, each tiny piece resetting the timeout).
    """
    window_start, window_bytes = time.monotonic(), 0
    while chunk := resp.read1(CHUNK):
        out.write(chunk)
        bar.update(len(chunk))
        window_bytes += len(chunk)
        now = time.monotonic()
        if now - window_start >= patience.stall_timeout:
            if window_bytes < patience.min_bytes:
                raise _Stalled(
                    f"{window_bytes} bytes in the last {now - window_start:.1f} s, fewer than "
                    f"the {patience.min_bytes} required within the stall timeout "
                    f"({patience.stall_timeout:g} s)"
                )
            window_start, window_bytes = now, 0


def _total_size(resp: http.client.HTTPResponse, offset: int) -> int | None:
    """The whole file's size from ``Content-Range`` or ``Content-Length``, if announced."""
    match = re.fullmatch(r"bytes \d+-\d+/(\d+)", resp.headers.get("Content-Range", ""))
    if match:
        return int(match[1])
    length = resp.headers.get("Content-Length")
    return offset + int(length) if length is not None else None
