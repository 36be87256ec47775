"""``coos download`` against a real HTTP server on 127.0.0.1 serving a small fake record."""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from coos_utils import commands
from coos_utils.data import download as dl
from coos_utils.data import find_split
from coos_utils.data.download import download
from coos_utils.data.errors import CoosDataError
from tests.http_server import ServedFiles, serve

pytestmark = pytest.mark.timeout(60)

RECORD = 3386336
TRAIN, TEST1, README = "COOS7_v1.1_training.hdf5", "COOS7_v1.1_test1.hdf5", "README.txt"


@dataclass
class FakeZenodo(ServedFiles):
    """A Zenodo record: ``files`` by name at their content URLs, plus the record's JSON."""

    record: bytes | None = None  # None: built from ``files`` (the modern Zenodo form)
    wrong_md5: set[str] = field(default_factory=set)  # listed with a wrong checksum

    def content_url(self, name: str) -> str:
        return f"{self.url}/api/records/{RECORD}/files/{name}/content"

    def record_json(self) -> bytes:
        entries = [
            {
                "key": name,
                "size": len(data),
                "checksum": "md5:"
                + ("0" * 32 if name in self.wrong_md5 else hashlib.md5(data).hexdigest()),
                "links": {"self": self.content_url(name)},
            }
            for name, data in self.files.items()
        ]
        return json.dumps({"id": RECORD, "files": entries}).encode()

    def lookup(self, path: str) -> tuple[str, bytes, str] | None:
        """The record at ``/api/records/<id>``; each file (keyed by name) at its content URL."""
        if path == f"/api/records/{RECORD}":
            return "record", self.record or self.record_json(), "application/json"
        match = re.fullmatch(rf"/api/records/{RECORD}/files/([^/]+)/content", path)
        if match and match[1] in self.files:
            return match[1], self.files[match[1]], "application/octet-stream"
        return None

    def file_requests(self, name: str) -> list[str | None]:
        """The Range headers of the GETs of ``name``."""
        return [rng for path, rng in self.requests if path.endswith(f"/{name}/content")]


@pytest.fixture
def fake() -> Iterator[FakeZenodo]:
    """A running server with a training file, a test file and a README (random bytes)."""
    rng = random.Random(0)
    files = {
        TRAIN: rng.randbytes(300_000),
        TEST1: rng.randbytes(200_001),
        README: b"COOS-7 test record\n",
    }
    with serve(FakeZenodo(files=files)) as served:
        yield served


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(dest: Path, fake: FakeZenodo, **kwargs: object) -> list[Path]:
    kwargs = {"progress": False, "backoff": 0.01, **kwargs}
    return download(dest, base_url=fake.url, **kwargs)


def assert_complete(dest: Path, fake: FakeZenodo) -> None:
    for name, data in fake.files.items():
        assert (dest / name).read_bytes() == data
    assert not list(dest.glob(".*.part"))


def assert_by_hand_hint(message: str, dest: Path) -> None:
    assert "https://zenodo.org/records/3386336" in message
    for i in range(1, 5):
        assert f"COOS7_v1.1_test{i}.hdf5" in message
    assert "train" in message
    assert str(dest.resolve()) in message
    assert "load_split" in message and "data_dir" in message


def test_downloads_every_file_and_verifies(fake: FakeZenodo, tmp_path: Path) -> None:
    paths = fetch(tmp_path / "coos", fake, progress=True)
    assert paths == [tmp_path / "coos" / name for name in fake.files]
    assert_complete(tmp_path / "coos", fake)
    assert all(rng is None for _, rng in fake.requests)


def test_rerun_skips_good_files_and_replaces_bad_ones(fake: FakeZenodo, tmp_path: Path) -> None:
    fetch(tmp_path, fake)
    (tmp_path / TEST1).write_bytes(b"damaged")
    fake.requests.clear()
    fetch(tmp_path, fake)
    assert [path for path, _ in fake.requests] == [
        f"/api/records/{RECORD}",
        f"/api/records/{RECORD}/files/{TEST1}/content",
    ]
    assert_complete(tmp_path, fake)


def test_connection_cut_mid_file_is_resumed_with_range(fake: FakeZenodo, tmp_path: Path) -> None:
    fake.cut_once.add(TRAIN)
    fetch(tmp_path, fake)
    assert fake.file_requests(TRAIN) == [None, f"bytes={300_000 // 2}-"]
    assert_complete(tmp_path, fake)


def test_server_ignoring_range_restarts_the_file(fake: FakeZenodo, tmp_path: Path) -> None:
    fake.cut_once.add(TRAIN)
    fake.honour_range = False
    fetch(tmp_path, fake)
    assert len(fake.file_requests(TRAIN)) == 2
    assert_complete(tmp_path, fake)


def test_connection_always_cut_fails_after_retries_and_keeps_part(
    fake: FakeZenodo, tmp_path: Path
) -> None:
    fake.cut_always.add(TEST1)
    with pytest.raises(CoosDataError, match="resume") as info:
        fetch(tmp_path, fake, retries=2)
    assert info.value.path == tmp_path / TEST1
    assert TEST1 in str(info.value) and "3 attempt(s)" in str(info.value)
    assert len(fake.file_requests(TEST1)) == 3
    part = tmp_path / f".{TEST1}.part"
    kept = part.read_bytes()
    assert 0 < len(kept) < len(fake.files[TEST1])
    assert fake.files[TEST1].startswith(kept)
    assert not (tmp_path / TEST1).exists()

    fake.cut_always.clear()  # a later run resumes from the kept bytes
    fetch(tmp_path, fake)
    assert fake.file_requests(TEST1)[-1] == f"bytes={len(kept)}-"
    assert_complete(tmp_path, fake)


def test_checksum_mismatch_deletes_the_download(fake: FakeZenodo, tmp_path: Path) -> None:
    fake.wrong_md5.add(TEST1)
    with pytest.raises(CoosDataError) as info:
        fetch(tmp_path, fake)
    message = str(info.value)
    assert info.value.path == tmp_path / TEST1
    assert "checksum mismatch" in message
    assert f"md5:{'0' * 32}" in message
    assert f"md5:{hashlib.md5(fake.files[TEST1]).hexdigest()}" in message
    assert not (tmp_path / TEST1).exists()
    assert not (tmp_path / f".{TEST1}.part").exists()


def test_size_mismatch_is_reported(fake: FakeZenodo, tmp_path: Path) -> None:
    record = json.loads(fake.record_json())
    record["files"][0]["size"] -= 10
    fake.record = json.dumps(record).encode()
    with pytest.raises(
        CoosDataError, match=r"checksum mismatch.*\(299990 bytes\).*\(300000 bytes\)"
    ):
        fetch(tmp_path, fake)
    assert not list(tmp_path.iterdir())


def test_missing_file_on_server_fails_without_retrying(fake: FakeZenodo, tmp_path: Path) -> None:
    record = json.loads(fake.record_json())
    record["files"][1]["links"]["self"] = fake.content_url("gone.hdf5")
    fake.record = json.dumps(record).encode()
    with pytest.raises(CoosDataError, match="HTTP 404") as info:
        fetch(tmp_path, fake)
    assert info.value.path == tmp_path / TEST1
    assert len(fake.file_requests("gone.hdf5")) == 1


def test_legacy_record_form_and_relative_links(fake: FakeZenodo, tmp_path: Path) -> None:
    fake.record = json.dumps(
        {
            "files": [
                {
                    "filename": name,
                    "filesize": len(data),
                    "checksum": hashlib.md5(data).hexdigest(),
                    "links": {"download": f"{RECORD}/files/{name}/content"},
                }
                for name, data in fake.files.items()
            ]
            + [{"key": "images.zip", "size": 1, "checksum": "md5:00", "links": {"self": "x"}}]
        }
    ).encode()
    fetch(tmp_path, fake)
    assert_complete(tmp_path, fake)
    assert not (tmp_path / "images.zip").exists()  # only HDF5 and small text files


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>maintenance</html>", "Expecting value"),
        (b'{"hits": []}', "no 'files' list"),
        (b'{"files": [3]}', "is not an object"),
        (b'{"files": [{"key": "../x.hdf5", "size": 1, "checksum": "md5:0"}]}', "no usable name"),
        (b'{"files": [{"key": "a.hdf5", "size": "1", "checksum": "md5:0"}]}', "no usable size"),
        (b'{"files": [{"key": "a.hdf5", "size": 1}]}', "a.hdf5: no checksum"),
        (b'{"files": [{"key": "a.hdf5", "size": 1, "checksum": "crc:0"}]}', "unusable checksum"),
        (b'{"files": [{"key": "a.hdf5", "size": 1, "checksum": "md5:0"}]}', "no download link"),
        (b'{"files": []}', "no HDF5 file listed"),
    ],
)
def test_malformed_record_is_a_clear_error(
    fake: FakeZenodo, tmp_path: Path, body: bytes, problem: str
) -> None:
    fake.record = body
    with pytest.raises(CoosDataError, match="not a usable Zenodo record") as info:
        fetch(tmp_path / "coos", fake)
    assert problem in str(info.value)
    assert f"{fake.url}/api/records/{RECORD}" in str(info.value)
    assert_by_hand_hint(str(info.value), tmp_path / "coos")


def test_record_not_found(fake: FakeZenodo, tmp_path: Path) -> None:
    with pytest.raises(CoosDataError, match="HTTP 404"):
        fetch(tmp_path, fake, record=1)


def test_refused_connection_fails_fast_with_instructions(tmp_path: Path, closed_port: int) -> None:
    dest = tmp_path / "coos"
    start = time.monotonic()
    with pytest.raises(CoosDataError, match="cannot reach") as info:
        download(dest, base_url=f"http://127.0.0.1:{closed_port}", progress=False)
    assert time.monotonic() - start < 15
    assert_by_hand_hint(str(info.value), dest)
    assert not dest.exists()


def test_hanging_name_lookup_is_bounded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    release = threading.Event()

    def slow_getaddrinfo(*args: object, **kwargs: object) -> list:
        release.wait(30)
        raise socket.gaierror("test: lookup released")

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    start = time.monotonic()
    try:
        with pytest.raises(CoosDataError, match="cannot reach.*no answer within 0.5 s"):
            download(tmp_path, base_url="http://coos.invalid", timeout=0.5, progress=False)
    finally:
        release.set()
    assert time.monotonic() - start < 5


def test_default_zenodo_fails_fast_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The real default URL: offline it must fail within 15 s saying what to do by hand."""

    def online(*args: object, **kwargs: object) -> None:
        pytest.skip("zenodo.org is reachable here; not downloading 4.3 GB in a test")

    monkeypatch.setattr(dl, "_download_record_file", online)
    dest = tmp_path / "coos"
    start = time.monotonic()
    with pytest.raises(CoosDataError) as info:
        download(dest, progress=False)
    assert time.monotonic() - start < 15
    assert_by_hand_hint(str(info.value), dest)


def test_bad_base_url(tmp_path: Path) -> None:
    with pytest.raises(CoosDataError, match="unknown url type"):
        download(tmp_path, base_url="zenodo.org", progress=False)


def test_cli_download(
    fake: FakeZenodo, tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert commands.main(["-q", "download", str(tmp_path / "ok"), "--base-url", fake.url]) == 0
    assert_complete(tmp_path / "ok", fake)
    assert f"have {tmp_path / 'ok' / TRAIN}" in capsys.readouterr().out

    url = f"http://127.0.0.1:{closed_port}"
    assert commands.main(["-q", "download", str(tmp_path / "no"), "--base-url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("coos download: error: ")
    assert_by_hand_hint(err, tmp_path / "no")


def test_part_files_are_invisible_to_find_split(fake: FakeZenodo, tmp_path: Path) -> None:
    fake.cut_always.add(TEST1)
    with pytest.raises(CoosDataError):
        fetch(tmp_path, fake, retries=0)
    assert (tmp_path / f".{TEST1}.part").exists()
    assert find_split(tmp_path, "train") == ("hdf5", tmp_path / TRAIN)
    with pytest.raises(CoosDataError, match="no HDF5 file or TIFF folder for split 'test1'"):
        find_split(tmp_path, "test1")
