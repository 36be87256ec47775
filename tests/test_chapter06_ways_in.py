"""Chapter 06 runs wherever a reader runs it (issue 27, item 1): a relative plug-in file is
resolved against the chapter's folder, then the project root, never the working folder; a
published copy carries its plug-in file; the chapter completes with ``notebooks/`` as working
folder (JupyterLab) and as a published ``.ipynb`` alone in an empty folder (Colab)."""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import pytest

from coos_utils.book.pipeline import chapter_sources
from coos_utils.book.publish import publish_notebooks
from coos_utils.dg.sweep import make_sweep
from coos_utils.plugins import normalise
from tests.helpers import DG_TINY

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "06_your_model"
SPEC = "notebooks/my_dg_method.py:VREx"


def _copy_project(root: Path) -> Path:
    """A copy of the book's sources under ``root`` (no package: the installed one is used)."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_project(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def published(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chapter 06 as `coos publish` writes it, alone in an empty folder."""
    site = tmp_path_factory.mktemp("site")
    publish_notebooks(project, chapter_sources(project), site)
    alone = tmp_path_factory.mktemp("alone")
    shutil.copy(site / "book" / "_generated" / f"{CHAPTER}.ipynb", alone)
    return alone / f"{CHAPTER}.ipynb"


@pytest.mark.parametrize("where", ["notebooks", ".", "notebooks/sub", "book"])
def test_a_relative_plugin_file_resolves_against_the_chapter_folder_then_the_root(
    tmp_path: Path, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy_project(tmp_path)
    cwd = project / where
    (cwd / "notebooks").mkdir(parents=True, exist_ok=True)
    if where not in ("notebooks", "."):  # decoys in a working folder that is neither
        (cwd / "my_dg_method.py").write_text("decoy = True\n")
        (cwd / "notebooks" / "my_dg_method.py").write_text("decoy = True\n")
    monkeypatch.chdir(cwd)
    expected = f"{project / 'notebooks' / 'my_dg_method.py'}:VREx"
    assert normalise(SPEC) == expected  # the project root's notebooks/
    assert normalise("my_dg_method.py:VREx") == expected  # the chapter's folder
    with pytest.raises(ValueError, match="no file nothing.py in"):
        normalise("nothing.py:VREx")


def test_outside_a_checkout_the_kernel_folder_is_the_chapter_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    assert normalise("mine.py:Mine") == f"{tmp_path / 'mine.py'}:Mine"


def test_the_chapters_spec_works_with_notebooks_as_working_folder(
    project: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "notebooks")
    specs = make_sweep(tiny_data, ["ERM", SPEC], n_draws=1, seeds=[0], **DG_TINY)
    assert [s.method for s in specs] == ["ERM", "VREx"]
    assert specs[1].plugin == f"{project / 'notebooks' / 'my_dg_method.py'}:VREx"


def test_a_published_chapter_carries_its_plugin_file(
    project: Path, published: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(published, as_version=4)
    (parameters,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert '"my_dg_method.py:VREx"' in parameters.source and SPEC not in parameters.source
    following = notebook.cells[notebook.cells.index(parameters) + 1]
    monkeypatch.chdir(published.parent)
    exec(following.source, {})  # noqa: S102 (the cell a reader's kernel runs)
    source = (project / "notebooks" / "my_dg_method.py").read_text()
    assert (published.parent / "my_dg_method.py").read_text() == source
    (spec,) = make_sweep(tiny_data, ["my_dg_method.py:VREx"], n_draws=1, seeds=[0], **DG_TINY)
    assert spec.plugin == f"{published.parent / 'my_dg_method.py'}:VREx"


def _execute(notebook: Path, cwd: Path, tiny_data: Path, out: Path) -> nbformat.NotebookNode:
    import papermill

    parameters = {
        "profile": "smoke",
        "data_dir": str(tiny_data),
        "results_dir": str(out / "results"),
        "cache_dir": str(out / "cache"),
    }
    executed = out / "executed.ipynb"
    papermill.execute_notebook(
        str(notebook),
        str(executed),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(cwd),
        progress_bar=False,
    )
    assert list((out / "results").glob("*/smoke/your_model/dg.csv"))
    return nbformat.read(executed, as_version=4)


def _dg_methods(out: Path) -> set[str]:
    """The methods with a measured balanced error in the chapter's ``dg.csv``."""
    (dg,) = (out / "results").glob("*/smoke/your_model/dg.csv")
    table = pd.read_csv(dg)
    measured = table[(table["metric"] == "balanced_error") & table["mean"].notna()]
    assert not measured.empty, dg.read_text()
    return set(measured["method"])


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_chapter_06_completes_with_notebooks_as_working_folder(
    project: Path, tiny_data: Path, tmp_path: Path
) -> None:
    notebook = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(jupytext.read(project / "notebooks" / f"{CHAPTER}.md"), notebook)
    _execute(notebook, project / "notebooks", tiny_data, tmp_path)
    assert {"ERM", "VREx"} <= _dg_methods(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_chapter_06_published_completes_alone_in_an_empty_folder(
    published: Path, tiny_data: Path, tmp_path: Path
) -> None:
    _execute(published, published.parent, tiny_data, tmp_path)
    assert {"ERM", "VREx"} <= _dg_methods(tmp_path)
