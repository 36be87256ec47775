"""Downloads that make too little progress stop, naming the URL and the file, and resume later.

The server here trickles one byte every 0.5 s: every single read succeeds well within the
network timeout, so only the progress deadline (``min_bytes`` within ``stall_timeout``)
can end it.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coos_utils import commands
from coos_utils.data.download import download
from coos_utils.data.errors import CoosDataError
from coos_utils.models import weights as w
from coos_utils.models.weights import WeightsError, WeightsFile
from tests.http_server import ServedFiles, serve
from tests.test_download import TRAIN, FakeZenodo, assert_complete

pytestmark = pytest.mark.timeout(60)

STALL = 1.5  # seconds; the trickle brings 3-4 bytes in that time, far below 64 KiB
WEIGHTS_PATH = "/models/vgg16-test.pth"


@pytest.fixture
def fake() -> Iterator[FakeZenodo]:
    """A record of one training file (20 kB) and a README; the training file trickles."""
    rng = random.Random(0)
    files = {TRAIN: rng.randbytes(20_000), "README.txt": b"COOS-7 test record\n"}
    with serve(FakeZenodo(files=files, trickle={TRAIN})) as served:
        yield served


def test_a_trickling_download_stops_within_the_deadline_and_resumes(
    fake: FakeZenodo, tmp_path: Path
) -> None:
    start = time.monotonic()
    with pytest.raises(CoosDataError, match="stalled") as info:
        download(tmp_path, base_url=fake.url, stall_timeout=STALL, progress=False, backoff=0.01)
    elapsed = time.monotonic() - start
    assert STALL <= elapsed < STALL + 3  # a read every 0.5 s: stopped at the first after 1.5 s
    message = str(info.value)
    assert info.value.path == tmp_path / TRAIN
    assert fake.content_url(TRAIN) in message and "stall timeout (1.5 s)" in message
    part = tmp_path / f".{TRAIN}.part"
    kept = part.read_bytes()
    assert f"{len(kept)} of 20000 bytes are kept in {part}" in message
    assert 0 < len(kept) < 10 and fake.files[TRAIN].startswith(kept)
    assert len(fake.file_requests(TRAIN)) == 1  # a stall is not retried

    fake.trickle.clear()  # the next run resumes from the kept bytes
    download(tmp_path, base_url=fake.url, progress=False)
    assert fake.file_requests(TRAIN)[-1] == f"bytes={len(kept)}-"
    assert_complete(tmp_path, fake)


def test_slow_but_steady_progress_is_not_a_stall(fake: FakeZenodo, tmp_path: Path) -> None:
    """The deadline is a rate: 10 bytes per 0.5 s window beat min_bytes=4, so it finishes."""
    fake.files[TRAIN] = fake.files[TRAIN][:30]
    fake.trickle_interval = 0.05
    download(tmp_path, base_url=fake.url, stall_timeout=0.5, min_bytes=4, progress=False)
    assert_complete(tmp_path, fake)


def test_cli_download_stall_is_one_line(
    fake: FakeZenodo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-q", "download", str(tmp_path), "--base-url", fake.url, "--stall-timeout", str(STALL)]
    assert commands.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("coos download: error: ") and "stalled" in err
    assert fake.content_url(TRAIN) in err and str(tmp_path / TRAIN) in err


def test_trickling_weights_stop_keep_the_partial_file_and_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    content = random.Random(1).randbytes(5_000)
    with serve(ServedFiles(files={WEIGHTS_PATH: content}, trickle={WEIGHTS_PATH})) as served:
        digest = hashlib.sha256(content).hexdigest()
        fake = WeightsFile("vgg16-test.pth", served.url + WEIGHTS_PATH, digest[:8])
        monkeypatch.setitem(w.KNOWN_WEIGHTS, "vgg16", fake)
        start = time.monotonic()
        with pytest.raises(WeightsError, match="stalled.*run again to resume.*by hand"):
            w.download_weights("vgg16", tmp_path, progress=False, stall_timeout=STALL)
        assert time.monotonic() - start < STALL + 3
        assert 0 < (tmp_path / ".vgg16-test.pth.part").stat().st_size < 10

        argv = ["-q", "weights", "vgg16", "--dest", str(tmp_path), "--stall-timeout", "1"]
        assert commands.main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "stalled" in err and served.url in err
