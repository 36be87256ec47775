"""The command printed under a table rebuilds that very table: every parameter that made it."""

from __future__ import annotations

import shlex
from pathlib import Path

from coos_utils.book.context import setup_chapter
from coos_utils.book.parameters import chapter_parameters, check_given, parse_given

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _given(command: str) -> dict:
    words = shlex.split(command)
    assert words[:3] == ["coos", "run", words[2]]
    pairs = [(words[i + 1], words[i + 2]) for i in range(3, len(words), 3) if words[i] == "-p"]
    assert len(pairs) * 3 == len(words) - 3
    return parse_given(pairs)


def test_the_command_carries_every_parameter_that_changes_the_tables(
    tiny_data: Path, tmp_path: Path
) -> None:
    run = setup_chapter(
        "06_your_model",
        tiny_data,
        "smoke",
        3,
        tmp_path / "results",
        steps=7,
        dg_methods=["ERM", "CORAL", "my_dg_method.py:VREx"],
        dask_scheduler="tcp://127.0.0.1:1",
        n_workers=1,
    )
    given = _given(run.regenerate_command())
    assert given["profile"] == "smoke" and given["seed"] == 3
    assert given["steps"] == 7
    assert given["dg_methods"] == ["ERM", "CORAL", "my_dg_method.py:VREx"]
    assert given["data_dir"].startswith("/path/to/")  # a placeholder, not this machine's path
    assert "dask_scheduler" not in given and "n_workers" not in given  # change no number
    assert str(tmp_path) not in run.regenerate_command()
    declared = chapter_parameters(NOTEBOOKS / "06_your_model.md")
    check_given("06_your_model", given, declared)  # what it prints, `coos run` accepts


def test_defaults_are_left_out(tiny_data: Path, tmp_path: Path) -> None:
    run = setup_chapter(
        "03_classifiers", tiny_data, "smoke", 0, tmp_path / "results", representations=None
    )
    given = _given(run.regenerate_command())
    placeholders = {"data_dir": "/path/to/synthetic-data", "results_dir": "/path/to/results"}
    assert given == {"profile": "smoke", "seed": 0, **placeholders}
