"""Pretrained weights: the download (against a real server on 127.0.0.1) and loading them."""

from __future__ import annotations

import hashlib
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from coos_utils import commands
from coos_utils.data import download as dl
from coos_utils.models import weights as w
from coos_utils.models.vgg import Vgg16Representation, vgg16
from coos_utils.models.weights import MissingWeightsError, WeightsError, WeightsFile
from tests.http_server import ServedFiles, serve
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.timeout(60)

PATH = "/models/vgg16-test.pth"
CONTENT = random.Random(1).randbytes(250_001)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedFiles]:
    """A server with one checkpoint; "vgg16" points at it, with that content's SHA-256."""
    with serve(ServedFiles(files={PATH: CONTENT})) as served:
        digest = hashlib.sha256(CONTENT).hexdigest()
        fake = WeightsFile("vgg16-test.pth", served.url + PATH, digest[:8])
        monkeypatch.setitem(w.KNOWN_WEIGHTS, "vgg16", fake)
        yield served


def fetch(dest: Path, **kwargs: object) -> Path:
    return w.download_weights("vgg16", dest, progress=False, backoff=0.01, **kwargs)


def ranges(server: ServedFiles) -> list[str | None]:
    return [rng for path, rng in server.requests if path == PATH]


def test_download_checks_and_renames(server: ServedFiles, tmp_path: Path) -> None:
    path = fetch(tmp_path / "hub")
    assert path == tmp_path / "hub" / "vgg16-test.pth"
    assert path.read_bytes() == CONTENT
    assert not list(path.parent.glob(".*.part"))
    assert fetch(tmp_path / "hub") == path  # present and right: no second request
    assert ranges(server) == [None]


def test_cut_connection_is_resumed_with_range(server: ServedFiles, tmp_path: Path) -> None:
    server.cut_once.add(PATH)
    assert fetch(tmp_path).read_bytes() == CONTENT
    assert ranges(server) == [None, f"bytes={len(CONTENT) // 2}-"]


def test_server_ignoring_range_restarts(server: ServedFiles, tmp_path: Path) -> None:
    server.cut_once.add(PATH)
    server.honour_range = False
    assert fetch(tmp_path).read_bytes() == CONTENT
    assert len(ranges(server)) == 2


def test_always_cut_keeps_the_partial_file_for_the_next_run(
    server: ServedFiles, tmp_path: Path
) -> None:
    server.cut_always.add(PATH)
    with pytest.raises(WeightsError, match=r"3 attempt\(s\).*run again to resume") as info:
        fetch(tmp_path, retries=2)
    assert "by hand" in str(info.value)
    part = tmp_path / ".vgg16-test.pth.part"
    kept = part.read_bytes()
    assert 0 < len(kept) < len(CONTENT) and CONTENT.startswith(kept)
    assert not (tmp_path / "vgg16-test.pth").exists()
    server.cut_always.clear()
    assert fetch(tmp_path).read_bytes() == CONTENT
    assert ranges(server)[-1] == f"bytes={len(kept)}-"


def test_wrong_checksum_deletes_the_download(
    server: ServedFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = WeightsFile("vgg16-test.pth", server.url + PATH, "00000000")
    monkeypatch.setitem(w.KNOWN_WEIGHTS, "vgg16", wrong)
    with pytest.raises(WeightsError, match="checksum mismatch.*starting with 00000000"):
        fetch(tmp_path)
    assert not list(tmp_path.iterdir())


def test_missing_file_fails_without_retrying(server: ServedFiles, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="HTTP 404"):
        fetch(tmp_path, url=server.url + "/gone.pth")
    assert len(server.requests) == 1


def test_refused_connection_fails_fast_with_instructions(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(WeightsError, match="cannot reach") as info:
        w.download_weights("vgg16", tmp_path, url=f"http://127.0.0.1:{port}/x.pth", progress=False)
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in message
    assert str((tmp_path / "vgg16-397923af.pth").resolve()) in message


def test_default_url_fails_fast_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real address: offline it must fail within 15 s saying what to do by hand."""
    real_open = dl._open

    def open_or_skip(opener: object, request: object, timeout: float) -> object:
        response = real_open(opener, request, timeout)
        response.close()
        pytest.skip("download.pytorch.org is reachable here; not fetching 528 MiB in a test")

    monkeypatch.setattr(dl, "_open", open_or_skip)
    start = time.monotonic()
    with pytest.raises(WeightsError, match="cannot reach.*by hand"):
        w.download_weights("vgg16", tmp_path, progress=False)
    assert time.monotonic() - start < 15


def test_cli_weights(server: ServedFiles, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert commands.main(["-q", "weights", "vgg16", "--dest", str(tmp_path)]) == 0
    assert f"have {tmp_path / 'vgg16-test.pth'}" in capsys.readouterr().out
    url = server.url + "/gone.pth"
    assert (
        commands.main(["-q", "weights", "vgg16", "--dest", str(tmp_path / "x"), "--url", url]) == 2
    )
    assert capsys.readouterr().err.startswith("coos weights: error: ")


def test_imagenet_weights_missing_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    assert w.imagenet_weights_path() == expected
    with pytest.raises(MissingWeightsError) as info:
        vgg16(weights="imagenet")
    message = str(info.value)
    assert str(expected) in message and "coos weights vgg16" in message
    assert "random init" in message
    rep = Vgg16Representation(weights="imagenet")
    assert rep.outputs()["conv3_3"] == "VGG16 Conv3_3"  # names need no file...
    with pytest.raises(MissingWeightsError):  # ...features do
        rep._network(torch.device("cpu"))


def test_a_file_in_the_imagenet_place_must_be_imagenet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = w.imagenet_weights_path()
    path.parent.mkdir(parents=True)
    torch.save(vgg16(None, include_classifier=False).state_dict(), path)
    with pytest.raises(ValueError, match="is not torchvision's ImageNet VGG16"):
        vgg16(weights="imagenet", include_classifier=False)


def test_checkpoint_by_path_loads_and_is_named_by_its_hash(tmp_path: Path) -> None:
    original = vgg16(None, seed=3, include_classifier=False)
    path = tmp_path / "mine.pth"
    torch.save(original.state_dict(), path)
    loaded = vgg16(path, include_classifier=False)
    for key, value in original.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    rep = Vgg16Representation(weights=path, layers=["conv4_1"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert rep.params()["weights"] == f"sha256-{digest[:16]}"
    assert rep.outputs() == {"conv4_1": f"VGG16 Conv4_1 (weights {digest[:8]})"}


def test_auto_weights_are_imagenet_only_when_the_file_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    rep = Vgg16Representation(weights="auto", layers=["conv3_3"])
    assert rep.params()["weights"] == "random-seed0"
    assert rep.outputs() == {"conv3_3": "VGG16 Conv3_3 (random init)"}
    w.imagenet_weights_path().parent.mkdir(parents=True)
    w.imagenet_weights_path().write_bytes(b"placeholder")  # presence decides; use checks it
    assert Vgg16Representation(weights="auto").params()["weights"] == "imagenet-397923af"
