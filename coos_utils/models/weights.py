"""Pretrained weights: where they live, and a resumable, checked download.

The only pretrained network of the study is VGG16 on ImageNet, as torchvision publishes it:
``vgg16-397923af.pth`` (528 MiB). The 8 hex digits in its name are the start of the file's
SHA-256 (torchvision's convention), which is checked after every download and before every
use. Its home is torch's hub cache, ``torch.hub.get_dir()/checkpoints/`` (by default
``~/.cache/torch/hub/checkpoints/``; ``$TORCH_HOME`` moves it).

:func:`download_weights` writes to ``DEST/.<name>.partial``, resumes with an HTTP ``Range``
request after a dropped connection (within the run, and by running again), checks the
SHA-256 prefix and only then renames the file to ``DEST/<name>``. Where the network is
unreachable it fails within about ``timeout`` seconds with a message that says where to put
the file by hand.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPResponse
from pathlib import Path

import torch
from tqdm import tqdm

from coos_utils.data.download import CHUNK, NETWORK_ERRORS, USER_AGENT


@dataclass(frozen=True)
class WeightsFile:
    """A published checkpoint: its file name, its URL and the start of its SHA-256."""

    name: str
    url: str
    sha256_prefix: str


VGG16_IMAGENET = WeightsFile(
    name="vgg16-397923af.pth",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    sha256_prefix="397923af",
)
KNOWN_WEIGHTS: dict[str, WeightsFile] = {"vgg16": VGG16_IMAGENET}


class WeightsError(RuntimeError):
    """A download that failed; the message says why and what to do."""


class MissingWeightsError(FileNotFoundError):
    """The pretrained file is not where it is looked for."""

    def __init__(self, path: Path, weights: WeightsFile = VGG16_IMAGENET) -> None:
        self.path = path
        super().__init__(
            f"ImageNet weights not found: {path} does not exist. Run `coos weights vgg16` "
            f"(downloads {weights.url} into {path.parent}), or fetch that URL on a machine "
            f"with internet access and copy the file to {path}. Without it, "
            "Vgg16Representation(weights=None) gives features of a randomly initialised "
            "VGG16, labelled '(random init)'."
        )


def hub_checkpoint_dir() -> Path:
    """torch's hub cache for checkpoints: ``torch.hub.get_dir()/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def imagenet_weights_path(weights: WeightsFile = VGG16_IMAGENET) -> Path:
    """Where the ImageNet checkpoint is looked for."""
    return hub_checkpoint_dir() / weights.name


def _by_hand(weights: WeightsFile, final: Path) -> str:
    return (
        f"Download {weights.url} by hand (browser, curl) and put it at {final.resolve()}; "
        f"its SHA-256 must start with {weights.sha256_prefix}."
    )


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download_weights(
    name: str = "vgg16",
    dest: str | Path | None = None,
    url: str | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    backoff: float = 1.0,
    progress: bool = True,
) -> Path:
    """Fetch the checkpoint ``name`` into ``dest`` (default: torch's hub cache); its path.

    A file already there with the right SHA-256 prefix is kept. ``url`` replaces the
    published address (a mirror; tests). A dropped connection is retried ``retries`` times,
    each resuming from the bytes already written; an unreachable host is not retried.
    Raises :class:`WeightsError`.
    """
    if name not in KNOWN_WEIGHTS:
        raise WeightsError(f"unknown weights {name!r}; choose from {', '.join(KNOWN_WEIGHTS)}")
    weights = KNOWN_WEIGHTS[name]
    folder = Path(dest) if dest is not None else hub_checkpoint_dir()
    final = folder / weights.name
    if final.is_file() and file_sha256(final).startswith(weights.sha256_prefix):
        return final
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{weights.name}.partial"
    source = url or weights.url
    bar = tqdm(
        desc=weights.name, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress
    )
    with bar:
        for attempt in range(retries + 1):
            try:
                _fetch(source, part, timeout, bar)
                break
            except urllib.error.HTTPError as exc:
                if exc.code == 416:  # the kept bytes are not a prefix the server knows
                    part.unlink(missing_ok=True)
                elif exc.code < 500 or attempt == retries:
                    raise WeightsError(
                        f"{source} answered HTTP {exc.code} {exc.reason}. "
                        f"{_by_hand(weights, final)}"
                    ) from None
            except (*NETWORK_ERRORS, OSError) as exc:
                if attempt == 0 and isinstance(exc, urllib.error.URLError):
                    # never connected (no network, no such host): fail now, do not insist
                    raise WeightsError(
                        f"cannot reach {source} ({exc.reason}). {_by_hand(weights, final)}"
                    ) from None
                if attempt == retries:
                    kept = part.stat().st_size if part.exists() else 0
                    raise WeightsError(
                        f"download from {source} failed after {attempt + 1} attempt(s) ({exc}); "
                        f"{kept} bytes are kept in {part}, run again to resume. "
                        f"{_by_hand(weights, final)}"
                    ) from None
            time.sleep(backoff * 2**attempt)
        else:
            raise WeightsError(f"{source} kept refusing the range request; run again")
    digest = file_sha256(part)
    if not digest.startswith(weights.sha256_prefix):
        part.unlink()
        raise WeightsError(
            f"checksum mismatch for the file from {source}: its SHA-256 is {digest}, expected "
            f"one starting with {weights.sha256_prefix}; the download was deleted, run again "
            "to retry"
        )
    os.replace(part, final)
    return final


def _open(request: urllib.request.Request, timeout: float) -> HTTPResponse:
    """Open ``request``, giving up after ``timeout`` s even if the name lookup hangs.

    Socket timeouts do not bound ``getaddrinfo``; the opening runs in a daemon thread that
    is abandoned when the deadline passes.
    """
    box: list[HTTPResponse | BaseException] = []

    def opener() -> None:
        try:
            box.append(urllib.request.urlopen(request, timeout=timeout))
        except BaseException as exc:  # handed to the caller's thread
            box.append(exc)

    worker = threading.Thread(target=opener, name="coos-weights-open", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        raise urllib.error.URLError(f"no answer within {timeout:g} s")
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def _fetch(url: str, part: Path, timeout: float, bar: tqdm) -> None:
    """Append the missing bytes of ``url`` to ``part`` (all of them if Range is ignored).

    Raises ``ConnectionError`` when the response ends before the announced size.
    """
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, **({"Range": f"bytes={have}-"} if have else {})}
    with _open(urllib.request.Request(url, headers=headers), timeout) as resp:
        append = have > 0 and resp.status == 206
        total = _total_size(resp, have if append else 0)
        bar.reset(total=total)
        bar.update(have if append else 0)
        with part.open("ab" if append else "wb") as out:
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    got = part.stat().st_size
    if total is not None and got < total:
        raise ConnectionError(f"connection closed after {got} of {total} bytes")


def _total_size(resp: HTTPResponse, offset: int) -> int | None:
    """The whole file's size from ``Content-Range`` or ``Content-Length``, if announced."""
    match = re.fullmatch(r"bytes \d+-\d+/(\d+)", resp.headers.get("Content-Range", ""))
    if match:
        return int(match[1])
    length = resp.headers.get("Content-Length")
    return offset + int(length) if length is not None else None
