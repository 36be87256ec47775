"""The book pipeline: the chapter declaration, every chapter under the smoke profile, results
with an identity and a provenance record, rerun keys that see code, data and upstream results,
and a failing chapter that stops the build while the previous book stays."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from coos_utils.book.chapters import BY_NAME, CHAPTERS, ChapterSpec, check_order, with_dependencies
from coos_utils.book.pipeline import (
    BookBuildError,
    BookLayout,
    build_book,
    chapter_sources,
    outputs_hash,
)
from coos_utils.book.toc import toc_entries

ROOT = Path(__file__).resolve().parents[1]
NAMES = [c.name for c in CHAPTERS]


def test_toc_lists_the_declared_chapters_in_order() -> None:
    generated = [e.split("/")[-1] for e in toc_entries(ROOT / "_toc.yml") if "_generated" in e]
    assert generated == NAMES
    assert {p.stem for p in (ROOT / "notebooks").glob("*.md")} == set(NAMES)
    check_order()


def test_dependencies_come_from_the_declaration() -> None:
    assert with_dependencies(["04_confusion"]) == ["02_features", "03_classifiers", "04_confusion"]
    assert with_dependencies(["01_dataset"]) == ["01_dataset"]
    assert with_dependencies(["05_domain_generalization"]) == ["05_domain_generalization"]
    with pytest.raises(ValueError, match="reads"):
        check_order((ChapterSpec("b", "B", reads=("a",)), ChapterSpec("a", "A")))
    with pytest.raises(ValueError, match="unknown chapter 'nope'"):
        with_dependencies(["nope"])


def test_a_declared_chapter_without_notebook_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(BookBuildError, match="01_dataset"):
        chapter_sources(tmp_path)


def _copy_book(root: Path) -> Path:
    """The book with its own copy of the package (chapters import it from their folder)."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    ignore = shutil.ignore_patterns("_generated", "__pycache__")
    for folder in ("notebooks", "book", "coos_utils"):
        shutil.copytree(ROOT / folder, root / folder, ignore=ignore)
    return root


@pytest.fixture
def book_copy(tmp_path: Path) -> Path:
    return _copy_book(tmp_path)


def _data_folders(layout: BookLayout) -> list[Path]:
    return sorted(p for p in layout.results.glob("*/smoke") if p.is_dir())


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_smoke_book_builds_records_reruns_and_fails_cleanly(
    book_copy: Path, tiny_data: Path
) -> None:
    layout = BookLayout(book_copy)
    lines: list[str] = []
    report = build_book("smoke", data_dir=tiny_data, root=book_copy, log=lines.append)
    assert report.ran == NAMES and not report.skipped
    for name in NAMES:
        assert (layout.generated / f"{name}.ipynb").exists()
        assert (layout.html / "book" / "_generated" / f"{name}.html").exists()
    assert not (layout.html / ".pytest_cache").exists()

    # One results folder named after the data, with every table, figures and provenance.
    (folder,) = _data_folders(layout)
    assert folder.parent.name == "synthetic-tiny-seed0"
    for name in ("table2.csv", "table3.csv", "sensitivity.csv", "sensitivity_ci.csv"):
        assert (folder / name).exists(), name
    assert list((folder / "confusion").glob("*.csv")) and list((folder / "figures").glob("*.svg"))
    assert {p.suffix for p in (folder / "figures").iterdir()} == {".png", ".svg"}
    # Every interval in every results file lies in the metric's range (a paired difference:
    # [-100, 100]); the published-results page is rendered with its figure and sources.
    for path in folder.rglob("*.csv"):
        table = pd.read_csv(path)
        bounds = [c for c in table.columns if c.endswith(("ci_low", "ci_high"))]
        low = -100.0 if "mean_diff" in table.columns else 0.0
        values = table[bounds].apply(pd.to_numeric, errors="coerce").stack().dropna()
        assert values.between(low, 100.0).all(), (path.name, values[~values.between(low, 100)])
    published = (layout.html / "book" / "published.html").read_text()
    assert "CytoImageNet" in published and "Microsnoop" in published and "Figure 1" in published
    # The drift ablation shows a claim check coming out the other way (the checks can fail).
    ablation = pd.read_csv(folder / "ablation_claims.csv").set_index("claim")
    assert (ablation.iloc[:, 0] != ablation.iloc[:, 1]).any(), ablation
    record = json.loads((folder / "provenance.json").read_text())
    for key in (
        "data_id",
        "data_source",
        "data_fingerprint",
        "profile",
        "parameters",
        "code_hash",
        "git_commit",
        "versions",
        "time",
    ):
        assert key in record, key
    assert record["data_source"] == "synthetic" and record["profile"] == "smoke"
    assert set(record["versions"]) >= {"python", "numpy", "scikit-learn", "torch", "mahotas"}
    assert set(record["chapters"]) == set(NAMES)

    # Nothing changed: nothing reruns. An unrelated page or module: still nothing.
    again = build_book("smoke", data_dir=tiny_data, root=book_copy, html=False, log=lines.append)
    assert again.ran == [] and again.skipped == NAMES
    page = book_copy / "book" / "intro.md"
    page.write_text(page.read_text() + "\nAn added sentence.\n")
    unrelated = book_copy / "coos_utils" / "book" / "browser_check.py"
    unrelated.write_text(unrelated.read_text() + "\n# an edit no chapter imports\n")
    again = build_book("smoke", data_dir=tiny_data, root=book_copy, html=False, log=lines.append)
    assert again.ran == []

    # A package function the classifiers chapter uses: it and its dependants rerun.
    before = pd.read_csv(folder / "table3.csv").set_index(["features", "model"])
    classifiers = book_copy / "coos_utils" / "benchmark" / "classifiers.py"
    classifiers.write_text(
        classifiers.read_text().replace("KNN_NEIGHBOURS = 11", "KNN_NEIGHBOURS = 1")
    )
    again = build_book("smoke", data_dir=tiny_data, root=book_copy, html=False, log=lines.append)
    assert "03_classifiers" in again.ran and "04_confusion" in again.ran
    assert "01_dataset" in again.skipped and "02_features" in again.skipped
    after = pd.read_csv(folder / "table3.csv").set_index(["features", "model"])
    assert after.loc[("Texture", "kNN"), "train"] == 0.0 != before.loc[("Texture", "kNN"), "train"]

    # A failing chapter: named in the error, its copy kept, marked failed, shown as failed.
    first = NAMES[0]
    source = book_copy / "notebooks" / f"{first}.md"
    source.write_text(
        source.read_text() + '\n```{code-cell} ipython3\nraise RuntimeError("made to fail")\n```\n'
    )
    with pytest.raises(BookBuildError, match=rf"{first}.*RuntimeError: made to fail"):
        build_book("smoke", data_dir=tiny_data, root=book_copy, log=lines.append)
    assert (layout.generated / f"{first}.failed.ipynb").exists()
    assert json.loads((folder / "provenance.json").read_text())["chapters"][first]["status"] == (
        "failed"
    )
    page = (layout.html / "book" / "_generated" / f"{first}.html").read_text()
    assert "This chapter failed on this run" in page and "<table" not in page


@pytest.mark.slow
def test_two_seeds_keep_two_results_folders(book_copy: Path, tiny_data: Path) -> None:
    layout = BookLayout(book_copy)
    build_book("smoke", data_dir=tiny_data, root=book_copy, html=False, only=["01_dataset"])
    (first,) = _data_folders(layout)
    table2 = (first / "table2.csv").read_bytes()
    build_book("smoke", seed=1, root=book_copy, html=False, only=["01_dataset"], log=print)
    folders = _data_folders(layout)
    assert [f.parent.name for f in folders] == ["synthetic-tiny-seed0", "synthetic-tiny-seed1"]
    assert (first / "table2.csv").read_bytes() == table2
    record = json.loads((folders[1] / "provenance.json").read_text())
    assert record["data_id"] == "synthetic-tiny-seed1" and record["parameters"]["seed"] == 1


def test_editing_a_plug_in_file_the_chapter_names_changes_its_code_hash(tmp_path: Path) -> None:
    from coos_utils.book.pipeline import chapter_code_hash

    chapter = tmp_path / "06_your_model.md"
    chapter.write_text('methods = ["ERM", "notebooks/my_dg_method.py:VREx"]\n', encoding="utf-8")
    plugin, unrelated = tmp_path / "my_dg_method.py", tmp_path / "other.py"
    plugin.write_text("x = 1\n", encoding="utf-8")
    unrelated.write_text("y = 1\n", encoding="utf-8")
    before = chapter_code_hash(chapter, ROOT)
    unrelated.write_text("y = 2\n", encoding="utf-8")
    assert chapter_code_hash(chapter, ROOT) == before
    plugin.write_text("x = 2\n", encoding="utf-8")
    assert chapter_code_hash(chapter, ROOT) != before


def test_a_rerun_of_the_features_chapter_leaves_the_dg_chapter_up_to_date(tmp_path: Path) -> None:
    """Chapter 05 reads no file of chapter 02: new timings there change nothing in its key."""
    reads = BY_NAME["05_domain_generalization"].reads
    before = outputs_hash(tmp_path, reads)
    (tmp_path / "features_extracted.csv").write_text("representation,seconds\nvgg16,12.5\n")
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "pci.csv").write_text("step,loss\n100,0.02\n")
    assert outputs_hash(tmp_path, reads) == before
    assert outputs_hash(tmp_path, ("02_features",)) != before  # the files are chapter 02's
