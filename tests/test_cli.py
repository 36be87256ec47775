"""The `coos` command end to end on tiny inputs; atomic writes' permissions and leftovers."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from coos_utils import atomic
from coos_utils.atomic import atomic_write_text
from coos_utils.commands import main
from coos_utils.data import load_split


def test_simulate_writes_five_synthetic_splits(tmp_path: Path, capsys) -> None:
    assert main(["-q", "simulate", "--scale", "tiny", "--seed", "3", "--out", str(tmp_path)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 5
    split = load_split(tmp_path, "test4")
    assert split.source == "synthetic" and split.attrs["seed"] == 3


def test_atomic_results_follow_the_umask_not_mkstemp(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "table.csv", "a,b\n")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "table.csv").stat().st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH


def finished_pid() -> int:
    """The id of a process that has ended (a writer that was killed)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_partials_of_dead_writers_are_removed_by_the_next_write(tmp_path: Path) -> None:
    def partial(name: str, writer: str, directory: bool = False) -> Path:
        path = tmp_path / f".{name}.{writer}.{'d1r' if directory else 'f1le'}.partial"
        path.mkdir() if directory else path.write_text("half")
        return path

    dead = f"{atomic._HOST}-{finished_pid()}"
    stale = [partial("table.csv", dead), partial("table.csv", dead, directory=True)]
    other_host = "00000000" if atomic._HOST != "00000000" else "11111111"
    kept = [
        partial("table.csv", f"{atomic._HOST}-{os.getpid()}"),  # a live writer
        partial("table.csv", f"{other_host}-{finished_pid()}"),  # another machine's
        partial("other.csv", dead),  # another result's
    ]
    atomic_write_text(tmp_path / "table.csv", "a,b\n")
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)


def test_a_killed_simulate_leaves_no_partial_file_after_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    argv = ["-q", "simulate", "--scale", "tiny", "--out", str(out)]
    process = subprocess.Popen([sys.executable, "-m", "coos_utils.commands", *argv])
    deadline = time.monotonic() + 60
    while not list(out.glob(".*.partial")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.kill()
    process.wait()
    assert list(out.glob(".*.partial"))
    assert main(argv) == 0
    assert not list(out.glob(".*.partial"))
    assert len(list(out.glob("*.hdf5"))) == 5
