"""Every way in: `coos run` and plain papermill on one chapter, parameters read from the
notebooks, one configured repository for install cells, and JupyterLab's contents API."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
import yaml

from coos_utils.book.parameters import (
    ParameterError,
    chapter_parameters,
    check_given,
    parameters_markdown,
    parse_given,
)
from coos_utils.book.pipeline import chapter_sources, run_chapter
from coos_utils.book.publish import (
    install_urls,
    publish_notebooks,
    repository_url,
    sync_install_cells,
)
from coos_utils.commands import main

ROOT = Path(__file__).resolve().parents[1]


def test_parameters_come_from_the_parameters_cells() -> None:
    declared = {p.name: p for p in chapter_parameters(ROOT / "notebooks" / "03_classifiers.md")}
    assert declared["profile"].default == "default" and declared["seed"].kind == "int"
    assert declared["data_dir"].kind == "any" and "COOS-7" in declared["data_dir"].meaning
    for source in chapter_sources(ROOT):
        names = [p.name for p in chapter_parameters(source)]
        assert names[:2] == ["data_dir", "profile"], source.name


def test_readme_shows_the_generated_parameter_table() -> None:
    assert parameters_markdown(chapter_sources(ROOT)) in (ROOT / "README.md").read_text()


def test_given_parameters_follow_papermill(tmp_path: Path) -> None:
    file = tmp_path / "p.yaml"
    file.write_text("seed: 3\nprofile: smoke\n")
    given = parse_given(
        [("seed", "4"), ("min_share", "0.1"), ("data_dir", "null")], [("results_dir", "7")], [file]
    )
    assert given == {
        "seed": 4,
        "profile": "smoke",
        "min_share": 0.1,
        "data_dir": None,
        "results_dir": "7",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-p", "nope", "1"], "has no parameter 'nope'"),
        (["-p", "seed", "abc"], "'seed' of chapter 04_confusion takes a int"),
        (["-p", "profile", "huge"], "unknown profile 'huge'; choose one of smoke, default, paper"),
        (["-p", "min_share", "true"], "takes a float"),
    ],
)
def test_bad_parameters_are_one_clear_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["run", "04_confusion", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_unknown_chapter_is_one_clear_line(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["run", "09_nothing"]) == 2
    assert "unknown chapter '09_nothing'" in capsys.readouterr().err


def test_check_given_accepts_ints_for_floats() -> None:
    declared = chapter_parameters(ROOT / "notebooks" / "04_confusion.md")
    check_given("04_confusion", {"min_share": 1, "data_dir": "/x"}, declared)
    with pytest.raises(ParameterError):
        check_given("04_confusion", {"top_k": 2.5}, declared)


def test_install_cells_use_the_configured_repository(tmp_path: Path) -> None:
    url = repository_url(ROOT)
    for source in chapter_sources(ROOT):
        assert install_urls(source) == [url], source.name
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["repository"]["url"] = "https://example.org/fork/coos7"
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    sources = chapter_sources(tmp_path)
    with pytest.raises(ValueError, match="coos install-cells"):
        publish_notebooks(tmp_path, sources, tmp_path / "site")
    assert sync_install_cells(tmp_path, sources) == sources
    assert all(install_urls(s) == ["https://example.org/fork/coos7"] for s in sources)
    written = publish_notebooks(tmp_path, sources, tmp_path / "site")
    assert (tmp_path / "site" / "requirements.txt").read_text().endswith("fork/coos7\n")
    notebook = nbformat.read(written[0], as_version=4)
    assert "fork/coos7" in notebook.cells[1].source or "fork/coos7" in str(notebook.cells)


@pytest.fixture(scope="module")
def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runroot")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    return root


@pytest.mark.slow
def test_plain_papermill_runs_a_converted_chapter(tmp_path: Path, tiny_data: Path) -> None:
    notebook = tmp_path / "01_dataset.ipynb"
    convert = [
        sys.executable,
        "-m",
        "jupytext",
        "--to",
        "ipynb",
        "-o",
        str(notebook),
        str(ROOT / "notebooks" / "01_dataset.md"),
    ]
    subprocess.run(convert, check=True, capture_output=True)
    run = [
        sys.executable,
        "-m",
        "papermill",
        str(notebook),
        str(tmp_path / "out.ipynb"),
        "-p",
        "profile",
        "smoke",
        "-p",
        "data_dir",
        str(tiny_data),
        "-p",
        "results_dir",
        str(tmp_path / "results"),
        "--cwd",
        str(tmp_path),
    ]
    done = subprocess.run(run, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list((tmp_path / "results").glob("*/smoke/table2.csv"))


@pytest.mark.slow
def test_coos_run_with_p_and_f(run_root: Path, tiny_data: Path, monkeypatch) -> None:
    monkeypatch.chdir(run_root)
    params = run_root / "params.yaml"
    params.write_text(f"data_dir: {tiny_data}\nmax_images_per_split: 50\n")
    argv = [
        "-q",
        "run",
        "01_dataset",
        "-p",
        "profile",
        "smoke",
        "-f",
        str(params),
        "--output",
        str(run_root / "out" / "01.ipynb"),
    ]
    assert main(argv) == 0
    executed = nbformat.read(run_root / "out" / "01.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "max_images_per_split = 50" in injected[0].source
    (folder,) = (run_root / "results").glob("*/smoke")
    assert json.loads((folder / "provenance.json").read_text())["profile"] == "smoke"
    given = {"profile": "smoke", "data_dir": str(tiny_data), "max_images_per_split": 50}
    assert run_chapter("01_dataset", given, root=run_root).skipped == ["01_dataset"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_jupyter_server_opens_chapters_as_notebooks(tmp_path: Path) -> None:
    pytest.importorskip("jupyterlab")
    pytest.importorskip("jupytext")
    port, token = _free_port(), "coos-test-token"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={ROOT}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api/contents/notebooks/03_classifiers.md?type=notebook"
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    model, deadline = None, time.monotonic() + 180
    try:
        while model is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    model = json.loads(response.read())
            except OSError:
                time.sleep(1)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert model is not None, (tmp_path / "server.log").read_text()[-2000:]
    assert model["type"] == "notebook"
    sources = [c["source"] for c in model["content"]["cells"]]
    assert any("setup_chapter" in s for s in sources)
