"""The intro's "at a glance" block: generated from the results folder, honest when a chapter
did not complete."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from coos_utils.book.glance import GLANCE_FIGURE, write_glance
from coos_utils.reference import paper_table3
from coos_utils.results.provenance import COMPLETE, FAILED, mark_chapter


def _run(folder: Path, synthetic: bool = False) -> SimpleNamespace:
    profile = SimpleNamespace(name="smoke", description="CI: tiny")
    return SimpleNamespace(folder=folder, label="test data", synthetic=synthetic, profile=profile)


def test_verdicts_and_figure_come_from_the_results_folder(tmp_path: Path) -> None:
    folder, generated = tmp_path / "results", tmp_path / "generated"
    folder.mkdir()
    table = paper_table3()
    table.to_csv(folder / "table3.csv", index=False)
    mark_chapter(folder, "03_classifiers", COMPLETE)
    text = write_glance(_run(folder), generated).read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 1 |")]
    assert len(rows) == 1 and "| holds | holds |" in rows[0]
    assert "4a" not in text  # the confusion chapter did not run: its claims are not listed
    assert (generated / GLANCE_FIGURE).stat().st_size > 0
    assert "**Figure 1.**" in text and "synthetic" not in text


def test_a_failed_classifiers_chapter_shows_no_verdicts(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    paper_table3().to_csv((folder.mkdir() or folder) / "table3.csv", index=False)
    mark_chapter(folder, "03_classifiers", FAILED, "ValueError: boom")
    text = write_glance(_run(folder, synthetic=True), tmp_path / "generated").read_text()
    assert "Not available" in text and "| 1 |" not in text
    assert not (tmp_path / "generated" / GLANCE_FIGURE).exists()
