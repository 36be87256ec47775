"""The `coos` command end to end on tiny inputs, and atomic writes' permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from coos_utils.atomic import atomic_write_text
from coos_utils.cli import main
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
