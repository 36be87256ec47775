"""A failed chapter is marked failed in ``provenance.json``, shown as failed in the book
(never as partial tables), rerun by the next build, and refused by the chapters that read it.
Fast: papermill is replaced by a stand-in that plays a chapter (or fails it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from coos_utils.book import pipeline
from coos_utils.book.chapters import BY_NAME, CHAPTERS
from coos_utils.book.context import setup_chapter
from coos_utils.book.pipeline import BookBuildError, BookLayout, build_book
from coos_utils.book.run_context import RunContext, make_run_context
from coos_utils.data.errors import CoosDataError
from coos_utils.profiles import get_profile
from coos_utils.results.provenance import (
    COMPLETE,
    FAILED,
    RUNNING,
    chapter_status,
    mark_chapter,
    read_provenance,
    record_run,
)

NAMES = [c.name for c in CHAPTERS]
ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("03_classifiers", "04_confusion", "06_your_model")
"""The chapters that read 02_features, directly or through another chapter (05 reads none)."""
AFFECTED = ("02_features", *BLOCKED)
NOTEBOOK = """---
jupytext:
  text_representation: {{extension: .md, format_name: myst}}
kernelspec: {{display_name: Python 3, language: python, name: python3}}
---

# {title}

```{{code-cell}} ipython3
print("a table")
```
"""


class FakeChapters:
    """Stands in for ``papermill.execute_notebook``: each chapter records its run as
    ``setup_chapter`` does, writes a partial file, and then fails if it is in ``failing``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.failing: set[str] = set()
        self.ran: list[str] = []
        self.status_at_end: dict[str, str | None] = {}

    def __call__(self, input_path: str, output_path: str, **kwargs: object) -> None:
        name = Path(input_path).stem
        self.ran.append(name)
        record_run(self.folder, name, {"data_id": "made"}, "smoke", {}, "code")
        (self.folder / f"{name}-partial.csv").write_text("a,b\n1,2\n")
        notebook = nbformat.read(input_path, as_version=4)
        nbformat.write(notebook, output_path)
        self.status_at_end[name] = chapter_status(self.folder, name)
        if name in self.failing:
            raise papermill.PapermillExecutionError(
                2, 3, "raise", "RuntimeError", "made to fail", []
            )


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[BookLayout, FakeChapters]:
    """A book root with one trivial notebook per declared chapter and a stand-in papermill."""
    (tmp_path / "notebooks").mkdir()
    for spec in CHAPTERS:
        text = NOTEBOOK.format(title=spec.title)
        (tmp_path / "notebooks" / f"{spec.name}.md").write_text(text)
    layout = BookLayout(tmp_path)
    context = RunContext(
        root=tmp_path,
        profile=get_profile("smoke"),
        seed=0,
        data_path=tmp_path / "data",
        splits={},
        fingerprint="fingerprint",
        data_id="synthetic-made",
        results_dir=layout.results,
        cache_dir=None,
    )
    fake = FakeChapters(context.folder)
    context.folder.mkdir(parents=True)
    monkeypatch.setattr(pipeline, "make_run_context", lambda *args, **kwargs: context)
    monkeypatch.setattr(pipeline, "chapter_code_hash", lambda source, root: "code")
    monkeypatch.setattr(pipeline.papermill, "execute_notebook", fake)
    return layout, fake


def page_text(layout: BookLayout, name: str) -> tuple[str, list[str]]:
    """The text of a generated page and the types of its cells."""
    notebook = nbformat.read(layout.generated / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    return "\n".join(c.source for c in notebook.cells), [c.cell_type for c in notebook.cells]


def build(layout: BookLayout, html: bool = False) -> None:
    build_book("smoke", root=layout.root, html=html, log=lambda line: None)


def test_failed_chapter_is_marked_shown_as_failed_and_rerun(
    book: tuple[BookLayout, FakeChapters], monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, fake = book
    rendered: list[str] = []

    def render(layout: BookLayout) -> Path:  # records which pages the html would show
        rendered.extend(page_text(layout, name)[0] for name in NAMES)
        return layout.html / "index.html"

    monkeypatch.setattr(pipeline, "build_html", render)
    fake.failing = {"02_features"}
    with pytest.raises(BookBuildError, match=r"02_features: .*RuntimeError: made to fail"):
        build(layout, html=True)
    # the chapters reading 02 (at any depth) did not run; the others did
    assert fake.ran == [n for n in NAMES if n not in BLOCKED]

    record = read_provenance(fake.folder)
    assert record["status"] == FAILED
    runs = record["chapters"]
    assert runs["01_dataset"]["status"] == COMPLETE
    assert runs["02_features"]["status"] == FAILED
    assert runs["02_features"]["error"] == "RuntimeError: made to fail (cell 3)"
    assert runs["02_features"]["failed_at"]
    for name in BLOCKED:
        assert runs[name]["status"] == FAILED and runs[name]["error"].startswith("not run")

    text, cells = page_text(layout, "02_features")
    assert cells == ["markdown"]  # no code cell, no table: the partial output is not shown
    assert "```{admonition} This chapter failed on this run\n:class: danger" in text
    assert "RuntimeError: made to fail" in text and "synthetic-made/smoke" in text
    assert str(layout.root) not in text  # no machine path on a page
    assert "was not run on this run" in page_text(layout, "04_confusion")[0]
    shown = dict(zip(NAMES, rendered, strict=True))
    assert all(("a table" in shown[n]) == (n not in AFFECTED) for n in NAMES)
    assert (layout.generated / "02_features.failed.ipynb").exists()

    fake.failing, fake.ran = set(), []  # the cause fixed; the inputs are the same as before
    build(layout)
    assert fake.ran == [n for n in NAMES if n in AFFECTED]  # nothing failed is up to date
    record = read_provenance(fake.folder)
    assert record["status"] == COMPLETE
    assert {run["status"] for run in record["chapters"].values()} == {COMPLETE}
    assert "error" not in record["chapters"]["02_features"]
    assert "a table" in page_text(layout, "02_features")[0]
    assert not (layout.generated / "02_features.failed.ipynb").exists()


def test_complete_only_after_the_chapter_finished(book: tuple[BookLayout, FakeChapters]) -> None:
    layout, fake = book
    build(layout)
    assert set(fake.status_at_end.values()) == {RUNNING}  # while it runs: not complete
    assert {chapter_status(fake.folder, name) for name in NAMES} == {COMPLETE}

    # Same inputs, stamps in place: a chapter whose results say failed or running reruns.
    mark_chapter(fake.folder, "03_classifiers", FAILED, "killed by hand")
    record_run(fake.folder, "01_dataset", {}, "smoke", {}, "code")  # an interrupted run
    fake.ran = []
    build(layout)
    assert fake.ran == ["01_dataset", "03_classifiers"]


def test_chapter_reading_failed_results_is_refused(tmp_path: Path, tiny_data: Path) -> None:
    results = tmp_path / "results"
    first = setup_chapter("04_confusion", tiny_data, "smoke", 0, results)  # 03 not failed: fine
    mark_chapter(first.folder, "03_classifiers", FAILED, "ValueError: boom")
    with pytest.raises(CoosDataError, match="03_classifiers.*failed") as raised:
        setup_chapter("04_confusion", tiny_data, "smoke", 0, results)
    assert raised.value.path == first.folder and str(first.folder) in str(raised.value)
    assert "ValueError: boom" in str(raised.value)
    setup_chapter("01_dataset", tiny_data, "smoke", 0, results)  # reads nothing: not refused
    assert BY_NAME["04_confusion"].reads == ("03_classifiers",)


def test_failure_page_renders_as_a_danger_admonition() -> None:
    docutils_core = pytest.importorskip("docutils.core")
    myst_docutils = pytest.importorskip("myst_parser.parsers.docutils_")
    page = pipeline.failure_page("03_classifiers", "KeyError: 'x' (cell 4)", "data/smoke")
    html = docutils_core.publish_string(
        page, parser=myst_docutils.Parser(), writer_name="html5"
    ).decode()
    assert 'class="admonition danger"' in html and "This chapter failed on this run" in html
    assert "KeyError: 'x' (cell 4)" in html


def test_results_dir_given_to_coos_run_moves_the_folder_the_rerun_key_watches(
    tmp_path: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``coos run CHAPTER -p results_dir X``: the chapter writes to X, and the rerun check
    (results marked complete, upstream outputs) reads X too, not the default folder."""
    layout = BookLayout(tmp_path)
    default = make_run_context(tiny_data, "smoke", 0, root=tmp_path)
    moved = make_run_context(tiny_data, "smoke", 0, "elsewhere", root=tmp_path)
    assert default.folder.is_relative_to(tmp_path / "results")
    assert moved.folder.is_relative_to(tmp_path / "elsewhere")
    assert moved.folder.relative_to(tmp_path / "elsewhere") == default.folder.relative_to(
        tmp_path / "results"
    )
    mark_chapter(moved.folder, "01_dataset", COMPLETE)
    mark_chapter(default.folder, "01_dataset", COMPLETE)
    layout.generated.mkdir(parents=True)
    (layout.generated / "01_dataset.ipynb").write_text("{}")
    stamp = pipeline._stamp_path(layout, moved.folder, "01_dataset")
    stamp.parent.mkdir(parents=True)
    page = pipeline._page_hash(layout, "01_dataset")
    stamp.write_text(json.dumps({"key": "k", "page": page}))
    assert pipeline.is_up_to_date(layout, "01_dataset", "k", moved.folder)
    assert not pipeline.is_up_to_date(layout, "01_dataset", "k", default.folder)  # no stamp
    (layout.generated / "01_dataset.ipynb").write_text('{"another": "page"}')
    assert not pipeline.is_up_to_date(layout, "01_dataset", "k", moved.folder)

    # run_chapter checks (and keys) the run made from the given results_dir
    seen: list[tuple[dict, RunContext]] = []
    monkeypatch.setattr(
        pipeline, "run_if_needed", lambda source, layout, p, run, *rest: seen.append((p, run))
    )
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "01_dataset.md", tmp_path / "notebooks")
    given = {"profile": "smoke", "data_dir": str(tiny_data), "results_dir": "elsewhere"}
    pipeline.run_chapter("01_dataset", given, root=tmp_path, log=lambda line: None)
    ((parameters, run),) = seen
    assert run.folder == moved.folder and parameters["results_dir"] == "elsewhere"
