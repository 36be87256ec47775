"""One run context: made once per build, the same for the pipeline and every chapter; folders
that follow the run's parameters; relative paths from the project root; shifts switched off
only on simulated data, from the run's own simulation parameters."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from coos_utils.book import pipeline
from coos_utils.book.chapters import CHAPTERS
from coos_utils.book.context import setup_chapter
from coos_utils.book.run_context import RunContext, make_run_context, project_root
from coos_utils.data.errors import CoosDataError
from coos_utils.dg.ablation import ablation_data
from coos_utils.synthetic import SimulationParams, simulate
from tests.helpers import write_coos_hdf5

NOTEBOOK = """---
jupytext:
  text_representation: {{extension: .md, format_name: myst}}
kernelspec: {{display_name: Python 3, language: python, name: python3}}
---

# {name}

```{{code-cell}} ipython3
:tags: [parameters]

data_dir = None
profile = "default"
seed = 0
results_dir = "results"
```

```{{code-cell}} ipython3
from coos_utils.book.context import setup_chapter

run = setup_chapter("{name}", data_dir, profile, seed, results_dir)
print(run.data_id, run.public(run.folder))
```
"""


@pytest.fixture
def project(tmp_path: Path, tiny_data: Path) -> Path:
    """A project root (``_toc.yml``, one notebook per chapter) holding the tiny synthetic data
    where the smoke profile looks for it (``data/synthetic/tiny_seed0``)."""
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    for spec in CHAPTERS:
        (root / "notebooks" / f"{spec.name}.md").write_text(NOTEBOOK.format(name=spec.name))
    shutil.copytree(tiny_data, root / "data" / "synthetic" / tiny_data.name)
    return root


def _absolute_paths(text: str) -> list[str]:
    return re.findall(r"[\"'](/[^\"']*)[\"']", text)


def test_relative_paths_are_the_project_roots_wherever_the_chapter_runs(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "notebooks")  # a chapter opened in Jupyter runs here
    assert project_root() == project
    run = make_run_context("data/synthetic/tiny_seed0", "smoke", 0, "out", "cache")
    assert run.data_path == project / "data" / "synthetic" / "tiny_seed0"
    assert run.folder == project / "out" / "synthetic-tiny-seed0" / "smoke"
    assert run.trials_dir == project / "cache" / "synthetic-tiny-seed0" / "smoke"
    assert run.feature_cache == project / "cache"
    assert run.public(run.data_path) == "data/synthetic/tiny_seed0"
    assert run.public("/elsewhere/data") == "/elsewhere/data"

    default = make_run_context(None, "smoke", 0)  # the profile's data, found in data/synthetic
    assert default.data_path == run.data_path and default.data_id == run.data_id
    assert default.folder == project / "results" / "synthetic-tiny-seed0" / "smoke"
    assert default.trials_dir == project / ".cache" / "dg" / "synthetic-tiny-seed0" / "smoke"
    assert default.feature_cache == project / ".cache" / "features"


def test_one_context_per_build_shared_by_the_pipeline_and_every_chapter(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chapters get the run's paths relative to the project root, run there, and
    ``setup_chapter`` resolves them to the pipeline's data, id and folder."""
    made: list[RunContext] = []
    chapters: dict[str, tuple[dict, object]] = {}

    def make(*args: object, **kwargs: object) -> RunContext:
        made.append(make_run_context(*args, **kwargs))
        return made[-1]

    def execute(input_path: str, output_path: str, parameters: dict, cwd: str, **_: object):
        monkeypatch.chdir(cwd)
        run = setup_chapter(Path(input_path).stem, **parameters)
        chapters[run.name] = (parameters, run)
        nbformat.write(nbformat.read(input_path, as_version=4), output_path)

    monkeypatch.setattr(pipeline, "make_run_context", make)
    monkeypatch.setattr(pipeline.papermill, "execute_notebook", execute)
    monkeypatch.setattr(pipeline, "chapter_code_hash", lambda source, root: "code")
    pipeline.build_book("smoke", root=project, html=False, log=lambda line: None)

    (context,) = made
    assert set(chapters) == {spec.name for spec in CHAPTERS}
    for parameters, run in chapters.values():
        assert parameters["data_dir"] == "data/synthetic/tiny_seed0"
        assert parameters["results_dir"] == "results"
        assert (run.data_path, run.fingerprint, run.data_id) == (
            context.data_path,
            context.fingerprint,
            context.data_id,
        )
        assert run.folder == context.folder and run.trials_dir == context.trials_dir
    record = (context.folder / "provenance.json").read_text()
    assert json.loads(record)["data_path"] == "data/synthetic/tiny_seed0"
    assert str(project) not in record


@pytest.mark.slow
def test_injected_parameters_and_provenance_hold_no_machine_path(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill for real: the injected cell shows project-relative paths (here given as
    absolute paths inside the project), and the chapter resolves them in the project root."""
    monkeypatch.setattr(pipeline, "chapter_code_hash", lambda source, root: "code")
    given = {
        "profile": "smoke",
        "data_dir": str(project / "data" / "synthetic" / "tiny_seed0"),
        "results_dir": str(project / "elsewhere"),
    }
    pipeline.run_chapter("01_dataset", given, root=project, log=lambda line: None)
    executed = nbformat.read(project / "book" / "_generated" / "01_dataset.ipynb", as_version=4)
    (injected,) = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert 'data_dir = "data/synthetic/tiny_seed0"' in injected.source
    assert 'results_dir = "elsewhere"' in injected.source
    assert not _absolute_paths(injected.source) and str(project) not in injected.source
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "synthetic-tiny-seed0 elsewhere/synthetic-tiny-seed0/smoke" in printed
    record = project / "elsewhere" / "synthetic-tiny-seed0" / "smoke" / "provenance.json"
    assert str(project) not in record.read_text()


def _fake_synthetic(folder: Path, params: SimulationParams) -> Path:
    """Five tiny files that say they were simulated with ``params`` (scale tiny, seed 3)."""
    attrs = {"coos_source": "synthetic", "scale": "tiny", "seed": 3, "parameters": params.to_json()}
    for split in ("train", "test1", "test2", "test3", "test4"):
        write_coos_hdf5(folder / f"COOS7_v1.1_{split}.hdf5", n=14, attrs=attrs)
    return folder


def test_shifts_off_start_from_the_runs_own_simulation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same builder serves both ablations; the data's stored parameters (here not the
    simulator's defaults) are kept, only the named shifts are switched off."""
    own = SimulationParams(plate_effects=0.5, drift_expression=-0.2)
    data = _fake_synthetic(tmp_path / "data", own)
    asked: list[tuple[Path, str, int, SimulationParams]] = []

    def ensure(root: Path, scale: str, seed: int, params: SimulationParams) -> Path:
        asked.append((Path(root), scale, seed, params))
        return Path(root) / f"made-{len(asked)}"

    monkeypatch.setattr(simulate, "ensure_synthetic", ensure)
    run = make_run_context(data, "smoke", 0, root=tmp_path)
    assert run.synthetic
    off = run.with_shifts_off("drift_endosome", "drift_golgi")
    assert (
        off == run.synthetic_root / "made-1" and run.synthetic_root == tmp_path / "data/synthetic"
    )
    expected = SimulationParams(
        plate_effects=0.5, drift_expression=-0.2, drift_endosome=0.0, drift_golgi=0.0
    )
    assert asked[-1] == (run.synthetic_root, "tiny", 3, expected)

    folders = ablation_data(run.data_path, run.with_shifts_off, ["test4_microscope"])
    assert folders["none"] == run.data_path  # the baseline is the run's data, not a default copy
    assert (
        asked[-1][3]
        == own.without("test4_microscope")
        != SimulationParams().without("test4_microscope")
    )
    with pytest.raises(ValueError, match="unknown shift"):
        run.with_shifts_off("nope")
    with pytest.raises(ValueError, match="at least one"):
        run.with_shifts_off()


def test_real_data_have_no_shifts_to_switch_off(tmp_path: Path) -> None:
    folder = tmp_path / "coos7"
    for split in ("train", "test1", "test2", "test3", "test4"):
        write_coos_hdf5(folder / f"COOS7_v1.1_{split}.hdf5", n=14)
    run = make_run_context(folder, "smoke", 0, root=tmp_path)
    assert not run.synthetic and run.data_id.startswith("coos7-")
    with pytest.raises(CoosDataError, match="cannot be switched off") as raised:
        run.with_shifts_off("test3_drift")
    assert raised.value.path == run.data_path


def test_a_page_shows_no_folder_outside_the_project_and_folds_the_injected_cell(
    project: Path, tmp_path: Path
) -> None:
    """Item 13 (fast): an executed chapter as papermill leaves it, with a data folder, a
    results folder and a cache outside the project, becomes a page without any of them."""
    outside = tmp_path / "lab" / "COOS7"
    shutil.copytree(project / "data" / "synthetic" / "tiny_seed0", outside)
    run = make_run_context(outside, "smoke", 0, tmp_path / "out", tmp_path / "cache", project)
    parameters = pipeline.base_parameters(run)
    assert parameters["data_dir"] == str(outside)  # the kernel gets the real folder
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("data_dir = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "".join(f"{k} = {v!r}\n" for k, v in parameters.items()),
            metadata={"tags": ["injected-parameters"]},
        ),
        nbformat.v4.new_code_cell(
            "print(run.folder)",
            outputs=[nbformat.v4.new_output("stream", text=f"{run.folder}\n{project}/x.csv\n")],
        ),
    ]
    notebook.metadata["papermill"] = {
        "parameters": parameters,
        "input_path": f"{tmp_path}/tmpabc/01_dataset.ipynb",
    }
    page = pipeline.make_page(notebook, run.public_text)
    text = json.dumps(page)
    assert str(outside) not in text and str(tmp_path) not in text and str(project) not in text
    injected = page.cells[1]
    assert injected.metadata["tags"] == ["injected-parameters", "hide-input"]
    assert "data_dir = '<outside the project>/COOS7'" in injected.source
    assert "results_dir = '<outside the project>/out'" in injected.source
    assert page.cells[2].outputs[0]["text"] == (
        "<outside the project>/out/synthetic-tiny-seed0/smoke\nx.csv\n"
    )
    assert page.metadata["papermill"]["input_path"] == "01_dataset.ipynb"


def test_every_chapter_folds_its_parameters_cell() -> None:
    """Item 13: the notebooks' own parameters cells are folded (the provenance line names
    the settings); the pipeline folds the injected one."""
    import jupytext

    root = Path(__file__).resolve().parents[1]
    for spec in CHAPTERS:
        notebook = jupytext.read(root / "notebooks" / f"{spec.name}.md")
        (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert "hide-input" in cell.metadata["tags"], spec.name


@pytest.mark.slow
def test_a_data_dir_outside_the_project_is_on_no_page(
    project: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 13 with papermill for real: `coos run -p data_dir /abs/path/outside`; the
    chapter reads the folder, its page names it only as `<outside the project>/<name>`."""
    from coos_utils.book.page_rules import absolute_paths

    monkeypatch.setattr(pipeline, "chapter_code_hash", lambda source, root: "code")
    given = {"profile": "smoke", "data_dir": str(tiny_data)}
    assert not tiny_data.is_relative_to(project)
    pipeline.run_chapter("01_dataset", given, root=project, log=lambda line: None)
    page = nbformat.read(project / "book" / "_generated" / "01_dataset.ipynb", as_version=4)
    text = json.dumps(page)
    assert str(tiny_data) not in text and str(project) not in text
    shown = [c.source for c in page.cells] + [
        o.get("text", "") for c in page.cells for o in c.get("outputs", [])
    ]
    assert not [p for s in shown for p in absolute_paths(s)]
    (injected,) = [c for c in page.cells if "injected-parameters" in c.metadata["tags"]]
    assert "hide-input" in injected.metadata["tags"]
    assert f'data_dir = "<outside the project>/{tiny_data.name}"' in injected.source
    printed = "".join(o.get("text", "") for c in page.cells for o in c.get("outputs", []))
    assert "synthetic-tiny-seed0 results/synthetic-tiny-seed0/smoke" in printed


@pytest.mark.parametrize("profile", ["smoke", "default", "paper"])
def test_on_real_data_no_description_says_synthetic(tmp_path: Path, profile: str) -> None:
    """Item 13: on Zenodo-named files, a chapter's provenance line (data, profile and the
    profile's description) calls the data real and nothing in it says synthetic."""
    folder = tmp_path / "coos7"
    for split in ("train", "test1", "test2", "test3", "test4"):
        write_coos_hdf5(folder / f"COOS7_v1.1_{split}.hdf5", n=14)
    run = setup_chapter("01_dataset", folder, profile, 0, tmp_path / "results")
    line = run.provenance()
    assert "real data" in line and "synthetic" not in line.lower(), line


def test_the_intro_says_which_data_a_profile_uses_only_without_data_dir() -> None:
    """Item 13: the intro's list of profiles names no data (a book may be built on real data);
    the synthetic sizes are said for runs without a data_dir."""
    intro = (Path(__file__).resolve().parents[1] / "book" / "intro.md").read_text()
    bullets = [line for line in intro.splitlines() if re.match(r"- `(smoke|default|paper)`", line)]
    assert len(bullets) == 3
    assert not [b for b in bullets if "synthetic" in b or "what this rendered book shows" in b]
    assert "Without a `data_dir`, each profile runs on the synthetic stand-in" in intro
