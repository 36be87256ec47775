"""Every command refused for bad input ends with exit code 2 and one line naming the culprit.

Each case below was a traceback, a misleading message or an accepted bad value before; the
command runs in-process (``main``), so any traceback fails the test. Two of them also run as
a real ``coos`` process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from coos_utils import commands
from coos_utils.data import load_split
from coos_utils.data.writer import Hdf5SplitWriter
from coos_utils.models import deeploc as deeploc_module
from coos_utils.models.deeploc import DeepLoc, DeepLocRepresentation
from tests.helpers import write_coos_hdf5

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
BIG = str(10**23)


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``coos argv``; assert exit code 2 and a single stderr line; return that line."""
    try:
        code = commands.main(argv)
    except SystemExit as exc:  # argparse refusals exit
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err.strip()


@pytest.fixture
def afile(tmp_path: Path) -> Path:
    path = tmp_path / "afile"
    path.write_text("not a folder")
    return path


@pytest.fixture
def hdf5(tmp_path: Path) -> Path:
    path = tmp_path / "h5" / "COOS7_v1.1_test1.hdf5"
    write_coos_hdf5(path, n=14)
    return path


@pytest.fixture
def tiff(tmp_path: Path, hdf5: Path) -> Path:
    """TIFF folders (split test1) written by ``coos unpack``."""
    assert commands.main(["-q", "unpack", str(hdf5), str(tmp_path / "tiff")]) == 0
    return tmp_path / "tiff"


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["simulate", "--seed", "-1", "--out", "{tmp}/s"], ["--seed", "-1"]),
        (["simulate", "--seed", BIG, "--out", "{tmp}/s"], ["--seed", BIG]),
        (["simulate", "--out", "{afile}"], ["--out", "{afile} is a file"]),
        (["unpack", "{hdf5}", "{afile}"], ["dest", "{afile} is a file"]),
        (["unpack", "{hdf5}", "{afile}/sub"], ["dest", "{afile} is a file", "{afile}/sub"]),
        (["pack", "{tmp}", "{afile}"], ["dest", "{afile} is a file"]),
        (["pack", "{tmp}", "{afile}/sub"], ["dest", "{afile} is a file"]),
        (["download", "{afile}/sub", "--base-url", "http://127.0.0.1:9"], ["dest", "{afile}"]),
        (["weights", "vgg16", "--dest", "{afile}"], ["--dest", "{afile}"]),
        (["features", "--profile", "smoke", "--cache-dir", "{afile}"], ["--cache-dir", "{afile}"]),
        (["features", "--cache-dir", "{afile}/sub"], ["--cache-dir", "{afile}"]),
        (["table3", "--results-dir", "{afile}"], ["--results-dir", "{afile}"]),
        (["download", "{tmp}/d", "--stall-timeout", "0"], ["--stall-timeout", "'0'"]),
    ],
)
def test_bad_arguments_are_refused_before_any_work(
    argv: list[str],
    names: list[str],
    tmp_path: Path,
    afile: Path,
    hdf5: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # `features` would simulate its data under ./data
    values = {"tmp": tmp_path, "afile": afile, "hdf5": hdf5}
    line = one_line_error([a.format(**values) for a in argv], capsys)
    assert line.startswith(f"coos {argv[0]}: error: argument ")
    for name in names:
        assert name.format(**values) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "h5"]  # nothing made


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (["-p", "seed", "[unclosed"], "parameter 'seed': '[unclosed' is not a YAML value"),
        (["-p", "data_dir", "5"], "parameter 'data_dir' of chapter 01_dataset takes a folder"),
        (["-p", "max_images_per_split", "-5"], "'max_images_per_split' of chapter 01_dataset"),
        (["-p", "seed", "-1"], "parameter 'seed' of chapter 01_dataset takes an integer from 0"),
        (["-p", "seed", BIG], "parameter 'seed' of chapter 01_dataset takes an integer from 0"),
        (["-p", "seed", "null"], "parameter 'seed' of chapter 01_dataset takes an integer"),
        (["-f", "{afile}/x.yml"], "cannot read parameters file {afile}/x.yml: Not a directory"),
        (["--output", "{afile}/x.ipynb"], "argument --output: {afile} is a file"),
    ],
)
def test_bad_chapter_parameters_are_refused_before_the_chapter_runs(
    parameters: list[str],
    expected: str,
    afile: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    argv = ["run", "01_dataset", *(p.format(afile=afile) for p in parameters)]
    assert expected.format(afile=afile) in one_line_error(argv, capsys)


@pytest.mark.parametrize("command", [["params"], ["run", "01_dataset"], ["install-cells"]])
def test_book_commands_outside_the_project_say_where_to_run_them(
    command: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    line = one_line_error(command, capsys)
    assert f"{tmp_path} has no notebooks/ folder" in line and f"`coos {command[0]}`" in line


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda stored: ["a", "list"], "attributes file should hold a JSON object"),
        (lambda stored: {**stored, "class_names": ["a", "b"]}, "class_names must be a list of 7"),
    ],
)
def test_bad_tiff_attributes_are_named_at_load(
    change: Callable[[dict], object],
    expected: str,
    tiff: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    attributes = tiff / "test1" / "attributes.json"
    attributes.write_text(json.dumps(change(json.loads(attributes.read_text()))))
    line = one_line_error(["-q", "pack", str(tiff), str(tmp_path / "out")], capsys)
    assert line.startswith(f"coos pack: error: {attributes}: ") and expected in line


def test_empty_splits_are_refused_by_unpack_and_pack(
    tiff: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty" / "COOS7_v1.1_test2.hdf5"
    with Hdf5SplitWriter(empty, attrs={"origin": "test"}):
        pass
    line = one_line_error(["-q", "unpack", str(empty), str(tmp_path / "t2")], capsys)
    assert line.startswith(f"coos unpack: error: {empty}")
    for cell in (tiff / "test1").glob("*/*.tif"):
        cell.unlink()
    line = one_line_error(["-q", "pack", str(tiff), str(tmp_path / "out")], capsys)
    assert line.startswith("coos pack: error: ") and "test1" in line


def test_file_errors_met_while_working_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError about a file (here: a folder appears where a file must go) is one line."""

    def unpack(src: Path, dest: Path, progress: bool) -> list[Path]:
        (dest / "x").mkdir(parents=True)
        (dest / "x").write_text("")  # IsADirectoryError naming dest/x
        return []

    monkeypatch.setattr("coos_utils.data.convert.unpack", unpack)
    line = one_line_error(["unpack", str(tmp_path), str(tmp_path / "d")], capsys)
    assert line == f"coos unpack: error: {tmp_path / 'd' / 'x'}: Is a directory"


def test_warnings_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. a damaged training checkpoint: named in a warning, set aside, the work redone."""

    def unpack(src: Path, dest: Path, progress: bool) -> list[Path]:
        warnings.warn("training checkpoint x/last.pt: checksum mismatch\nredone", stacklevel=1)
        return []

    monkeypatch.setattr("coos_utils.data.convert.unpack", unpack)
    assert commands.main(["unpack", str(tmp_path), str(tmp_path / "d")]) == 0
    err = capsys.readouterr().err
    assert err == "coos unpack: warning: training checkpoint x/last.pt: checksum mismatch redone\n"


def test_bugs_keep_their_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unpack(src: Path, dest: Path, progress: bool) -> list[Path]:
        raise KeyError("a bug")

    monkeypatch.setattr("coos_utils.data.convert.unpack", unpack)
    with pytest.raises(KeyError):
        commands.main(["unpack", str(tmp_path), str(tmp_path / "d")])


def test_a_real_coos_process_gives_one_line(tmp_path: Path) -> None:
    for argv, cwd in (
        (["simulate", "--seed", "-1", "--out", str(tmp_path / "s")], tmp_path),
        (["params"], tmp_path),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "coos_utils.commands", *argv],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert done.stderr.startswith(f"coos {argv[0]}: error: ")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"width": -1}, "width must be > 0, not -1"),
        ({"width": 0}, "width must be > 0, not 0"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"iterations": -3}, "iterations must be a positive integer"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"validation_fraction": 1.0}, "validation_fraction must be between 0 and 1"),
    ],
)
def test_deeploc_refuses_settings_that_cannot_work(kwargs: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        DeepLocRepresentation(**kwargs)


def test_deeploc_network_refuses_a_negative_width() -> None:
    with pytest.raises(ValueError, match="width must be > 0"):
        DeepLoc(width=-1)


def test_deeploc_batch_larger_than_the_split_is_refused_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("images loaded before the batch size was checked")

    monkeypatch.setattr(deeploc_module, "load_to_device", never)
    write_coos_hdf5(tmp_path / "COOS7_v1.1_training.hdf5", n=60)
    split = load_split(tmp_path, "train")
    rep = DeepLocRepresentation(batch_size=128, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"batch_size=128 is larger than the 48 images") as info:
        rep.fit(split)
    assert "split 'train' has 60 images, 12 of them held out" in str(info.value)
