"""Fetch COOS-7 from Zenodo: resumable, checksum-verified downloads with a manual fallback.

The file list comes from the Zenodo REST API (``/api/records/<id>``). Each file is
written to ``DEST/.<name>.part``, resumed with an HTTP ``Range`` request after a dropped
connection (within the run, and by running again), verified against the record's size
and checksum, and only then renamed to ``DEST/<name>``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from coos_utils.data.errors import CoosDataError

ZENODO = "https://zenodo.org"
RECORD = 3386336
WANTED_SUFFIXES = (".hdf5", ".h5", ".txt", ".md", ".csv", ".json")
USER_AGENT = "coos-utils (COOS-7 downloader; python-urllib)"
CHUNK = 1 << 20
# What a flaky or absent network raises; HTTPError (a URLError) is told apart where needed.
NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)


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
) -> list[Path]:
    """Download the files of Zenodo ``record`` into ``dest``; return their paths.

    Files already present with the right size and checksum are kept. A dropped connection
    is retried ``retries`` times per file (waiting ``backoff``, then twice as long, ...),
    each time resuming from the bytes already written. ``timeout`` bounds every network
    wait, including the first contact (name lookup included), so an unreachable host fails
    within about ``timeout`` seconds. Network, server and checksum failures raise
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
    return [
        _download_file(
            opener, f, dest, timeout=timeout, retries=retries, backoff=backoff, progress=progress
        )
        for f in files
    ]


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


def _get(opener: urllib.request.OpenerDirector, url: str, timeout: float) -> bytes:
    """GET ``url``, giving up after ``timeout`` s even if the name lookup hangs.

    Socket timeouts do not bound ``getaddrinfo``, so the request runs in a daemon thread
    that is abandoned when the deadline passes.
    """
    request = _request(url, Accept="application/json")
    box: list[bytes | BaseException] = []

    def fetch() -> None:
        try:
            with opener.open(request, timeout=timeout) as resp:
                box.append(resp.read())
        except BaseException as exc:  # handed to the caller's thread
            box.append(exc)

    worker = threading.Thread(target=fetch, name="coos-download-record", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        raise TimeoutError(f"no answer within {timeout:g} s")
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


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


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _download_file(
    opener: urllib.request.OpenerDirector,
    remote: RemoteFile,
    dest: Path,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    progress: bool,
) -> Path:
    """Make ``dest/<name>`` a verified copy of ``remote``, resuming ``dest/.<name>.part``."""
    final = dest / remote.name
    if (
        final.is_file()
        and final.stat().st_size == remote.size
        and _digest(final, remote.algorithm) == remote.digest
    ):
        return final
    part = dest / f".{remote.name}.part"
    bar = tqdm(
        total=remote.size,
        desc=remote.name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not progress,
    )
    with bar:
        for attempt in range(retries + 1):
            try:
                _fetch(opener, remote, part, timeout, bar)
                break
            except NETWORK_ERRORS as exc:
                http_error = isinstance(exc, urllib.error.HTTPError)
                if attempt == retries or (http_error and exc.code < 500):
                    kept = part.stat().st_size if part.exists() else 0
                    reason = f"HTTP {exc.code} {exc.reason}" if http_error else str(exc)
                    raise CoosDataError(
                        final,
                        f"download from {remote.url} failed after {attempt + 1} attempt(s) "
                        f"({reason}); {kept} of {remote.size} bytes are kept in {part}, "
                        f"run again to resume",
                    ) from None
                time.sleep(backoff * 2**attempt)
    actual = _digest(part, remote.algorithm)
    size = part.stat().st_size
    if size != remote.size or actual != remote.digest:
        part.unlink()
        raise CoosDataError(
            final,
            f"checksum mismatch for the file from {remote.url}: expected "
            f"{remote.algorithm}:{remote.digest} ({remote.size} bytes), got "
            f"{remote.algorithm}:{actual} ({size} bytes); the download was deleted, "
            f"run again to retry",
        )
    os.replace(part, final)
    return final


def _fetch(
    opener: urllib.request.OpenerDirector,
    remote: RemoteFile,
    part: Path,
    timeout: float,
    bar: tqdm,
) -> None:
    """Append the missing bytes of ``remote`` to ``part`` (all of them if Range is ignored).

    Raises ``ConnectionError`` when the response ends before the file is complete.
    """
    have = part.stat().st_size if part.exists() else 0
    bar.reset()
    bar.update(have)
    if have >= remote.size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    with opener.open(_request(remote.url, **headers), timeout=timeout) as resp:
        append = have > 0 and resp.status == 206
        if not append:
            bar.reset()
        with part.open("ab" if append else "wb") as out:
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    got = part.stat().st_size
    if got < remote.size:
        raise ConnectionError(f"connection closed after {got} of {remote.size} bytes")
