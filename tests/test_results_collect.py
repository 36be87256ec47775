"""``coos results``: the results folders listed from provenance.json, and two collected into one
comparison table (Markdown and LaTeX); a failed or unknown folder refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from coos_utils.commands import main
from coos_utils.results.collect import collect, list_results, wide
from coos_utils.results.provenance import COMPLETE, FAILED, mark_chapter, record_run

DATA = {"data_id": "synthetic-tiny-seed0", "data_source": "synthetic", "data_label": "tiny"}


def _table3(errors: dict[str, float]) -> pd.DataFrame:
    row: dict = {"features": "Texture", "model": "kNN", "cv_error": 1.0}
    for split, value in errors.items():
        row.update({split: value, f"{split}_ci_low": value - 1, f"{split}_ci_high": value + 1})
        row.update({f"{split}_well_ci_low": value - 2, f"{split}_well_ci_high": value + 2})
    return pd.DataFrame([row])


def _folder(root: Path, name: str, chapter: str, status: str = COMPLETE) -> Path:
    folder = root / DATA["data_id"] / name
    folder.mkdir(parents=True)
    record_run(folder, chapter, DATA, name, {}, "abcdef0123456789")
    mark_chapter(folder, chapter, status, "boom" if status == FAILED else None)
    return folder


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    smoke = _folder(root, "smoke", "03_classifiers")
    errors = {"train": 1.0, "test1": 10.0, "test2": 12.0, "test3": 30.0, "test4": 40.0}
    _table3(errors).to_csv(smoke / "table3.csv", index=False)
    dg = pd.DataFrame(
        [
            ["ERM", split, "balanced_error", 20.0 + i, 18.0 + i, 22.0 + i, 3, ""]
            for i, split in enumerate(("test1", "test2", "test3", "test4"))
        ],
        columns=["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds", "note"],
    )
    dg.to_csv(smoke / "dg.csv", index=False)
    default = _folder(root, "default", "03_classifiers")
    _table3({**errors, "test4": 25.0}).to_csv(default / "table3.csv", index=False)
    return root


def test_results_are_listed_from_their_provenance(results: Path) -> None:
    listing = list_results(results).set_index("folder")
    assert list(listing.index) == ["synthetic-tiny-seed0/default", "synthetic-tiny-seed0/smoke"]
    smoke = listing.loc["synthetic-tiny-seed0/smoke"]
    assert smoke["profile"] == "smoke" and smoke["code"] == "abcdef012345"
    assert smoke["status"] == COMPLETE and "table3 (1 rows)" in smoke["holds"]
    assert "dg (1 methods)" in smoke["holds"]


def test_two_folders_collect_into_one_table(results: Path) -> None:
    long = collect(
        ["synthetic-tiny-seed0/smoke", results / "synthetic-tiny-seed0/default"], results
    )
    table = wide(long).set_index(["source", "features", "model"])
    smoke_knn = table.loc[("synthetic-tiny-seed0/smoke", "Texture", "kNN")]
    assert smoke_knn["test4"] == "40.0 [38.0, 42.0]"  # the well-level interval
    assert table.loc[("synthetic-tiny-seed0/default", "Texture", "kNN"), "test4"].startswith("25.0")
    erm = table.loc[("synthetic-tiny-seed0/smoke", "DG sweep", "ERM")]
    assert erm["test3"] == "22.0 [20.0, 24.0]" and erm["interval"] == "not named in dg.csv"
    assert erm["train"] == ""  # dg.csv has no train row


def test_the_command_lists_and_collects_in_markdown_and_latex(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["results", "--results-dir", str(results)]) == 0
    assert "synthetic-tiny-seed0/smoke" in capsys.readouterr().out
    argv = ["results", "--results-dir", str(results), "collect"]
    assert main([*argv, "synthetic-tiny-seed0/smoke", "synthetic-tiny-seed0/default"]) == 0
    out = capsys.readouterr().out
    assert out.count("| synthetic-tiny-seed0/") == 3 and "40.0 [38.0, 42.0]" in out
    csv = results / "collected.csv"
    assert main([*argv, "synthetic-tiny-seed0/smoke", "--latex", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert r"\begin{tabular}" in out and "synthetic-tiny-seed0/smoke" in out
    assert len(pd.read_csv(csv)) == 5 + 4  # table3's five splits, dg.csv's four tests


def test_a_failed_or_unknown_folder_is_refused_in_one_line(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _folder(results, "paper", "03_classifiers", FAILED)
    _table3({"test1": 1.0}).to_csv(broken / "table3.csv", index=False)
    argv = ["results", "--results-dir", str(results), "collect"]
    assert main([*argv, "synthetic-tiny-seed0/paper"]) == 2
    err = capsys.readouterr().err.strip()
    assert "marked failed (boom)" in err and "\n" not in err
    assert main([*argv, "nowhere"]) == 2
    assert "nowhere: not a results folder" in capsys.readouterr().err
    assert json.loads((broken / "provenance.json").read_text())["status"] == FAILED
