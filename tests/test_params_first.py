"""Chapter parameters are checked before anything runs: a value of the wrong type given to
``coos run`` (``-p`` or ``-f``) ends with one line and exit code 2, before any data are made
or a kernel starts, for every parameter of every chapter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coos_utils import commands
from coos_utils.book import pipeline
from coos_utils.book.chapters import CHAPTERS
from coos_utils.book.parameters import RULES, Parameter, chapter_parameters

ROOT = Path(__file__).resolve().parents[1]
DECLARED = [
    (spec.name, parameter)
    for spec in CHAPTERS
    for parameter in chapter_parameters(ROOT / "notebooks" / f"{spec.name}.md")
]


def _wrong_value(parameter: Parameter) -> Any:
    """A value no rule or type of ``parameter`` accepts."""
    if parameter.default is None:
        return {"a": 1}
    return 5 if isinstance(parameter.default, str) else "ten"


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Making the run's data or starting a kernel fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run started before its parameters were checked")

    monkeypatch.setattr(pipeline, "make_run_context", refuse)
    monkeypatch.setattr(pipeline.papermill, "execute_notebook", refuse)


def _one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = commands.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def test_every_parameter_without_a_typed_default_has_a_rule() -> None:
    untyped = [f"{name}: {p.name}" for name, p in DECLARED if p.default is None]
    assert untyped and [u for u in untyped if u.split(": ")[1] not in RULES] == []


@pytest.mark.usefixtures("nothing_runs")
def test_steps_ten_is_refused_in_one_line_before_any_data(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    line = _one_line(["run", "06_your_model", "-p", "steps", "ten"], capsys)
    assert line.startswith("coos run: error: parameter 'steps' of chapter 06_your_model takes")
    assert "a positive integer or null" in line and "'ten'" in line


@pytest.mark.usefixtures("nothing_runs")
@pytest.mark.parametrize(
    ("name", "parameter"), DECLARED, ids=[f"{n}-{p.name}" for n, p in DECLARED]
)
def test_a_wrong_value_of_any_parameter_is_refused_before_the_run(
    name: str,
    parameter: Parameter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    given = tmp_path / "given.yaml"
    given.write_text(f"{parameter.name}: {_wrong_value(parameter)!r}\n".replace("'", '"'))
    line = _one_line(["run", name, "-f", str(given)], capsys)
    assert f"parameter '{parameter.name}' of chapter {name} takes" in line


@pytest.mark.usefixtures("nothing_runs")
def test_an_unknown_profile_or_chapter_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert "unknown profile 'fast'" in _one_line(
        ["run", "01_dataset", "-p", "profile", "fast"], capsys
    )
    assert "07_nothing" in _one_line(["run", "07_nothing"], capsys)


@pytest.mark.slow
def test_a_real_coos_run_with_steps_ten_makes_no_data(tmp_path: Path) -> None:
    """The command as a user types it, in a copy of the project: one line, exit code 2, and
    no data folder made (the data of a run are made under the project's data/)."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_toc.yml").write_text((ROOT / "_toc.yml").read_text())
    for spec in CHAPTERS:
        source = ROOT / "notebooks" / f"{spec.name}.md"
        (tmp_path / "notebooks" / source.name).write_text(source.read_text())
    done = subprocess.run(
        [sys.executable, "-m", "coos_utils.commands", "run", "06_your_model", "-p", "steps", "ten"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("coos run: error: parameter 'steps'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_toc.yml", "notebooks"]


def test_the_quick_cell_reader_reads_every_chapter_as_jupytext_does() -> None:
    """``coos run`` reads parameters cells without importing jupytext; same cells, same tags."""
    import jupytext

    from coos_utils.book.parameters import code_cells

    for source in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.md")):
        notebook = jupytext.read(source)
        expected = [
            (c.metadata.get("tags", []), c.source) for c in notebook.cells if c.cell_type == "code"
        ]
        found = [(o.get("tags", []), code) for o, code in code_cells(source.read_text())]
        assert found == expected, source.name
