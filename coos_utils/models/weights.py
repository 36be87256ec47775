"""Pretrained weights: where they live, and a resumable, checked download.

The only pretrained network of the study is VGG16 on ImageNet, as torchvision publishes it:
``vgg16-397923af.pth`` (528 MiB). The 8 hex digits in its name are the start of the file's
SHA-256 (torchvision's convention), which is checked after every download and before every
use. Its home is torch's hub cache, ``torch.hub.get_dir()/checkpoints/`` (by default
``~/.cache/torch/hub/checkpoints/``; ``$TORCH_HOME`` moves it).

:func:`download_weights` fetches it with the package's one downloader,
:func:`coos_utils.data.download.download_file`: written to ``DEST/.<name>.part``, resumed with
an HTTP ``Range`` request after a dropped connection (within the run, and by running again),
stopped when it stalls, its SHA-256 prefix checked before it is renamed to ``DEST/<name>``.
Where the network is unreachable it fails within about ``timeout`` seconds with a message that
says where to put the file by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from coos_utils.data.digest import file_digest
from coos_utils.data.download import MIN_BYTES, STALL_TIMEOUT, download_file
from coos_utils.data.errors import CoosDataError


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


def download_weights(
    name: str = "vgg16",
    dest: str | Path | None = None,
    url: str | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    backoff: float = 1.0,
    progress: bool = True,
    stall_timeout: float = STALL_TIMEOUT,
    min_bytes: int = MIN_BYTES,
) -> Path:
    """Fetch the checkpoint ``name`` into ``dest`` (default: torch's hub cache); its path.

    A file already there with the right SHA-256 prefix is kept. ``url`` replaces the
    published address (a mirror; tests). The other arguments are
    :func:`~coos_utils.data.download.download_file`'s: retries of a dropped connection,
    each resuming from the bytes already written; an unreachable host is not retried; a
    stalled download stops. Raises :class:`WeightsError`, saying how to fetch the file by hand.
    """
    if name not in KNOWN_WEIGHTS:
        raise WeightsError(f"unknown weights {name!r}; choose from {', '.join(KNOWN_WEIGHTS)}")
    weights = KNOWN_WEIGHTS[name]
    folder = Path(dest) if dest is not None else hub_checkpoint_dir()
    final = folder / weights.name
    if final.is_file() and file_digest(final).startswith(weights.sha256_prefix):
        return final
    folder.mkdir(parents=True, exist_ok=True)
    source = url or weights.url

    def check(part: Path) -> str | None:
        digest = file_digest(part)
        if digest.startswith(weights.sha256_prefix):
            return None
        return (
            f"checksum mismatch for the file from {source}: its SHA-256 is {digest}, expected "
            f"one starting with {weights.sha256_prefix}"
        )

    try:
        return download_file(
            source,
            final,
            check,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            stall_timeout=stall_timeout,
            min_bytes=min_bytes,
            progress=progress,
        )
    except CoosDataError as exc:
        raise WeightsError(f"{exc.problem}. {_by_hand(weights, final)}") from None
