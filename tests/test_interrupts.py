"""Runs that stop before they finish: no worker outlives its command, an interrupted chapter is
recorded as ``interrupted`` (with the chapters that completed), Ctrl-C and SIGTERM end a run
with one line, and no run touches another profile's stamps or results."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from coos_utils import commands
from coos_utils.book import pipeline
from coos_utils.book.chapters import CHAPTERS
from coos_utils.book.pipeline import BookLayout, build_book
from coos_utils.book.run_context import RunContext
from coos_utils.profiles import get_profile
from coos_utils.results.provenance import (
    COMPLETE,
    INTERRUPTED,
    read_provenance,
    record_run,
    refuse_failed,
)

psutil = pytest.importorskip("psutil")

NAMES = [c.name for c in CHAPTERS]
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = """---
jupytext:
  text_representation: {{extension: .md, format_name: myst}}
kernelspec: {{display_name: Python 3, language: python, name: python3}}
---

# {name}

```{{code-cell}} ipython3
:tags: [parameters, hide-input]

profile = "default"  # smoke, default or paper
```

```{{code-cell}} ipython3
print("a table")
```
"""


def _wait_for(test, seconds: float, what: str) -> None:
    """Poll ``test`` until it is true; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not test():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.1)


def _busy_workers(process: psutil.Process) -> int:
    """How many pool workers of ``process`` have started working (a second of CPU each)."""
    workers = [c for c in process.children() if "spawn_main" in " ".join(c.cmdline())]
    return sum(sum(w.cpu_times()[:2]) > 1.0 for w in workers)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process tree")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: simulate uses no workers")
def test_simulate_workers_end_when_the_command_is_killed(tmp_path: Path) -> None:
    """Item 11: SIGKILL to `coos simulate` leaves no pool worker running."""
    command = [sys.executable, "-m", "coos_utils.commands", "-q", "simulate", "--scale", "small"]
    parent = subprocess.Popen([*command, "--out", str(tmp_path / "s")], cwd=tmp_path)
    workers: list = []
    try:
        process = psutil.Process(parent.pid)
        _wait_for(lambda: _busy_workers(process) >= 2, 60, "simulate's workers drawing cells")
        workers = process.children(recursive=True)  # the workers and multiprocessing's tracker
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, [w.cmdline() for w in alive]
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for worker in workers:  # what this test started, if the assertion failed
            if worker.is_running():
                worker.kill()


class FakeChapters:
    """Stands in for ``papermill.execute_notebook``: a chapter records its run as
    ``setup_chapter`` does (``running``), writes a result file, and in ``stop`` sends this
    process the signal ``stop[name]`` (as Ctrl-C or ``kill`` would) before it finishes."""

    def __init__(self) -> None:
        self.stop: dict[str, int] = {}
        self.ran: list[tuple[str, str]] = []

    def __call__(self, input_path: str, output_path: str, **kwargs: object) -> None:
        name, parameters = Path(input_path).stem, kwargs["parameters"]
        folder = Path(kwargs["cwd"]) / "results" / "made" / parameters["profile"]
        self.ran.append((name, parameters["profile"]))
        record_run(folder, name, {"data_id": "made"}, parameters["profile"], {}, "code")
        (folder / f"{name}.csv").write_text(f"{name},{parameters['profile']}\n")
        if name in self.stop:
            os.kill(os.getpid(), self.stop[name])
            time.sleep(5)  # the signal ends the run before this does
        notebook = nbformat.read(input_path, as_version=4)
        nbformat.write(notebook, output_path)


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[BookLayout, FakeChapters]:
    """A book root with one trivial notebook per chapter, a stand-in papermill, and a run
    context per profile (results ``results/made/<profile>``)."""
    (tmp_path / "notebooks").mkdir()
    for spec in CHAPTERS:
        (tmp_path / "notebooks" / f"{spec.name}.md").write_text(NOTEBOOK.format(name=spec.name))

    def context(data_dir: object, profile: str, *args: object, **kwargs: object) -> RunContext:
        run = RunContext(
            root=tmp_path,
            profile=get_profile(profile),
            seed=0,
            data_path=tmp_path / "data",
            splits={},
            fingerprint="fingerprint",
            data_id="made",
            results_dir=tmp_path / "results",
            cache_dir=None,
        )
        run.folder.mkdir(parents=True, exist_ok=True)
        return run

    fake = FakeChapters()
    monkeypatch.setattr(pipeline, "make_run_context", context)
    monkeypatch.setattr(pipeline, "chapter_code_hash", lambda source, root: "code")
    monkeypatch.setattr(pipeline, "write_glance", lambda run, generated: None)
    monkeypatch.setattr(pipeline.papermill, "execute_notebook", fake)
    monkeypatch.chdir(tmp_path)
    return BookLayout(tmp_path), fake


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_a_stopped_book_is_recorded_interrupted_with_what_completed(
    book: tuple[BookLayout, FakeChapters],
    signum: int,
    code: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Item 12: Ctrl-C or SIGTERM in a chapter: `interrupted` (not `running`), the chapters
    that completed named, one line on stderr, exit code 130 or 143; the next build reruns
    the interrupted chapter, and the handlers are the caller's again."""
    layout, fake = book
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    fake.stop = {"03_classifiers": signum}
    assert commands.main(["book", "--profile", "smoke", "--no-html"]) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    how = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    assert err.startswith(f"coos book: interrupted by {how} in chapter 03_classifiers")
    assert "results/made/smoke/provenance.json" in err and "01_dataset, 02_features" in err
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before

    record = read_provenance(layout.results / "made" / "smoke")
    assert record["status"] == INTERRUPTED
    stopped = record["chapters"]["03_classifiers"]
    assert stopped["status"] == INTERRUPTED and stopped["interrupted_at"]
    assert stopped["completed"] == ["01_dataset", "02_features"]
    assert stopped["error"] == f"interrupted by {how}"
    assert {n: r["status"] for n, r in record["chapters"].items()} == {
        "01_dataset": COMPLETE,
        "02_features": COMPLETE,
        "03_classifiers": INTERRUPTED,
    }
    with pytest.raises(ValueError, match="03_classifiers are marked interrupted"):
        refuse_failed(layout.results / "made" / "smoke", ["03_classifiers"])

    fake.stop, fake.ran = {}, []
    build_book("smoke", root=layout.root, html=False, log=lambda line: None)
    assert [name for name, _ in fake.ran] == NAMES[2:]  # 01 and 02 are up to date
    record = read_provenance(layout.results / "made" / "smoke")
    assert record["status"] == COMPLETE and "completed" not in record["chapters"]["03_classifiers"]


def test_coos_run_stopped_by_ctrl_c_says_so_in_one_line(
    book: tuple[BookLayout, FakeChapters], capsys: pytest.CaptureFixture[str]
) -> None:
    layout, fake = book
    fake.stop = {"02_features": signal.SIGINT}
    assert commands.main(["run", "02_features", "-p", "profile", "smoke"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == (
        "coos run: interrupted by Ctrl-C in chapter 02_features, marked interrupted in "
        "results/made/smoke/provenance.json (completed before it: none)"
    )
    assert read_provenance(layout.results / "made" / "smoke")["status"] == INTERRUPTED


def test_an_interrupted_run_leaves_other_profiles_stamps_and_results(
    book: tuple[BookLayout, FakeChapters],
) -> None:
    """Item 12: an interrupted paper run deletes no stamp of the smoke run, changes none of
    its results, and the smoke book is still up to date after it. A completed paper run
    replaces the shared pages, so the smoke book then reruns to show its own."""
    layout, fake = book
    build_book("smoke", root=layout.root, html=False, log=lambda line: None)
    smoke_results = _snapshot(layout.results / "made" / "smoke")
    stamps = _snapshot(layout.generated / ".stamps")
    assert len(stamps) == len(NAMES)

    fake.stop, fake.ran = {"01_dataset": signal.SIGINT}, []
    with pytest.raises(pipeline.RunInterrupted):
        build_book("paper", root=layout.root, html=False, log=lambda line: None)
    assert fake.ran == [("01_dataset", "paper")]
    assert _snapshot(layout.generated / ".stamps") == stamps
    assert _snapshot(layout.results / "made" / "smoke") == smoke_results
    assert read_provenance(layout.results / "made" / "paper")["status"] == INTERRUPTED

    fake.stop, fake.ran = {}, []
    build_book("smoke", root=layout.root, html=False, log=lambda line: None)
    assert fake.ran == []  # nothing of the smoke book was touched

    build_book("paper", root=layout.root, html=False, log=lambda line: None, only=["01_dataset"])
    fake.ran = []
    build_book("smoke", root=layout.root, html=False, log=lambda line: None)
    assert fake.ran == [("01_dataset", "smoke")]  # its page showed the paper run: rerun
    assert _snapshot(layout.results / "made" / "smoke").keys() == smoke_results.keys()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_a_real_chapter_stopped_mid_run_is_recorded_interrupted(
    tmp_path: Path, tiny_data: Path, signum: int, code: int
) -> None:
    """`coos run` with papermill and a kernel, stopped while the chapter runs: exit code 130
    (143), one line on stderr, the chapter marked interrupted, and no kernel left behind."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_toc.yml").write_text((ROOT / "_toc.yml").read_text())
    source = (ROOT / "notebooks" / "01_dataset.md").read_text()
    (tmp_path / "notebooks" / "01_dataset.md").write_text(source)
    argv = ["run", "01_dataset", "-p", "profile", "smoke", "-p", "data_dir", str(tiny_data)]
    command = [sys.executable, "-m", "coos_utils.commands", *argv]
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    children: list = []
    try:
        records = tmp_path / "results"
        _wait_for(lambda: _status(records, "01_dataset") == "running", 120, "the chapter ran")
        children = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code and len(err.splitlines()) == 1, err
    how = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    assert err.startswith(f"coos run: interrupted by {how} in chapter 01_dataset"), err
    assert _status(records, "01_dataset") == INTERRUPTED
    _, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, [c.cmdline() for c in alive]


def _status(results: Path, name: str) -> str | None:
    """``name``'s status in the one provenance record under ``results`` (None before it)."""
    for path in results.glob("*/*/provenance.json"):
        try:
            return json.loads(path.read_text())["chapters"][name]["status"]
        except (ValueError, KeyError):
            return None
    return None


def test_after_a_stop_asyncio_reports_of_the_dead_kernel_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The race behind a two-line stop: nbclient's task that saw the stopped kernel die ends
    with DeadKernelError; when asyncio collects it unretrieved, that report is dropped, while
    asyncio's other errors still reach the log."""
    from nbclient.exceptions import DeadKernelError

    async def kernel_died() -> None:
        raise DeadKernelError("Kernel died")

    async def something_else() -> None:
        raise ValueError("a real problem")

    def collect_unretrieved(coroutine) -> None:
        loop = asyncio.new_event_loop()
        task = loop.create_task(coroutine())
        loop.run_until_complete(asyncio.wait([task]))
        loop.close()
        del task
        gc.collect()

    with pytest.raises(pipeline.RunInterrupted), pipeline.stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    asyncio_log = logging.getLogger("asyncio")
    try:
        with caplog.at_level("ERROR", logger="asyncio"):
            collect_unretrieved(kernel_died)
            collect_unretrieved(something_else)
    finally:
        for quiet in [f for f in asyncio_log.filters if isinstance(f, pipeline.StoppedKernelNoise)]:
            asyncio_log.removeFilter(quiet)
    reported = [r for r in caplog.records if r.name == "asyncio"]
    assert len(reported) == 1 and "a real problem" in str(reported[0].exc_info[1]), reported
