"""The book pipeline: every chapter runs under the smoke profile, reruns are skipped, and a
failing chapter stops the build with its name while the previous book stays."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from coos_utils.pipeline import BookBuildError, BookLayout, build_book, chapter_sources

ROOT = Path(__file__).resolve().parents[1]


def test_every_notebook_is_a_chapter_of_the_book() -> None:
    chapters = {p.name for p in chapter_sources(ROOT)}
    assert chapters == {p.name for p in (ROOT / "notebooks").glob("*.md")}


def test_toc_naming_a_missing_notebook_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: book/_generated/99_missing\n"
    )
    with pytest.raises(BookBuildError, match="99_missing"):
        chapter_sources(tmp_path)


@pytest.fixture(scope="module")
def book_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "book", root / "book", ignore=shutil.ignore_patterns("_generated"))
    return root


@pytest.mark.slow
def test_smoke_book_builds_then_skips_then_fails_cleanly(book_copy: Path, tiny_data: Path) -> None:
    layout = BookLayout(book_copy)
    lines: list[str] = []
    report = build_book("smoke", data_dir=tiny_data, root=book_copy, log=lines.append)

    names = [p.stem for p in chapter_sources(book_copy)]
    assert report.ran == names and not report.skipped
    for name in names:
        assert (layout.generated / f"{name}.ipynb").exists()
        assert (layout.html / "book" / "_generated" / f"{name}.html").exists()
    assert (layout.html / "index.html").exists()
    assert (layout.results / "smoke" / "table2.csv").exists()
    assert any("done in" in line for line in lines)

    again = build_book("smoke", data_dir=tiny_data, root=book_copy, html=False, log=lines.append)
    assert again.ran == [] and again.skipped == names

    first = names[0]
    index_before = (layout.html / "index.html").read_bytes()
    good_before = (layout.generated / f"{first}.ipynb").read_bytes()
    source = book_copy / "notebooks" / f"{first}.md"
    source.write_text(
        source.read_text() + '\n```{code-cell} ipython3\nraise RuntimeError("made to fail")\n```\n'
    )
    with pytest.raises(BookBuildError, match=rf"{first}.*RuntimeError: made to fail"):
        build_book("smoke", data_dir=tiny_data, root=book_copy, log=lines.append)
    assert (layout.generated / f"{first}.failed.ipynb").exists()
    assert (layout.generated / f"{first}.ipynb").read_bytes() == good_before
    assert (layout.html / "index.html").read_bytes() == index_before
