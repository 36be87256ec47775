"""Table 3 end to end: results files, the comparison with the paper, the claims, the commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coos_utils import table3 as table3_module
from coos_utils.claims import check_claims, claims_markdown
from coos_utils.cli import main
from coos_utils.reference import CLASS_NAMES, SPLIT_NAMES, paper_table3
from coos_utils.table3 import compare_with_paper, confusion_path, run_table3, slug
from tests.handmade import write_handmade


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_handmade(tmp_path_factory.mktemp("table3") / "data", per_class=6)


@pytest.fixture(scope="module")
def result(data: Path, tmp_path_factory: pytest.TempPathFactory) -> table3_module.Table3Result:
    out = tmp_path_factory.mktemp("out")
    return run_table3(
        data,
        "smoke",
        results_dir=out / "results",
        cache_dir=out / "cache",
        n_jobs=1,
        progress=False,
    )


def test_results_files(result: table3_module.Table3Result) -> None:
    out = result.written[0].parent
    assert out.name == "smoke"
    table = pd.read_csv(out / "table3.csv")
    assert list(table.columns[:7]) == ["features", "model", *SPLIT_NAMES]
    assert list(table["model"]) == ["kNN", "L1 LR", "RF"]
    pd.testing.assert_frame_equal(table, result.table, check_exact=False)

    sens = pd.read_csv(out / "sensitivity.csv")
    assert list(sens.columns) == ["features", "model", "split", "class", "sensitivity"]
    assert len(sens) == 3 * 5 * 7 and set(sens["class"]) == set(CLASS_NAMES)

    matrix = pd.read_csv(confusion_path(out, "Texture", "L1 LR", "test2"), index_col=0)
    assert list(matrix.index) == list(CLASS_NAMES) == list(matrix.columns)
    labels = result.labels["test2"]
    assert matrix.to_numpy().sum() == len(labels)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=7))
    row = sens[(sens.model == "L1 LR") & (sens.split == "test2")].set_index("class")["sensitivity"]
    np.testing.assert_allclose(row[list(CLASS_NAMES)], np.diag(matrix) / matrix.sum(axis=1))
    assert len(list((out / "confusion").iterdir())) == 15


def test_confusion_file_names() -> None:
    assert slug("L1 LR") == "L1_LR" and slug("DeepLoc (FC2)") == "DeepLoc_FC2"
    assert confusion_path(Path("r"), "VGG16 Conv4_1", "RF", "test4") == Path(
        "r/confusion/VGG16_Conv4_1__RF__test4.csv"
    )


def test_compare_with_paper(result: table3_module.Table3Result) -> None:
    compared = compare_with_paper(result.table)
    paper = paper_table3().set_index(["features", "model"])
    assert list(compared.index) == [("Texture", "kNN"), ("Texture", "L1 LR"), ("Texture", "RF")]
    for split in SPLIT_NAMES:
        ours = result.table.set_index(["features", "model"])[split]
        np.testing.assert_allclose(compared[(split, "ours")], ours)
        np.testing.assert_allclose(compared[(split, "paper")], paper.loc[ours.index, split])
        np.testing.assert_allclose(
            compared[(split, "difference")], ours - paper.loc[ours.index, split]
        )


def test_compare_with_paper_leaves_unknown_rows_blank() -> None:
    table = pd.DataFrame([{"features": "New", "model": "kNN", **dict.fromkeys(SPLIT_NAMES, 5.0)}])
    compared = compare_with_paper(table)
    assert compared[("test1", "paper")].isna().all()
    assert (compared[("test1", "ours")] == 5.0).all()


def test_claims_hold_on_the_papers_table() -> None:
    checks = check_claims(paper_table3())
    assert [c.claim for c in checks] == ["1", "3a", "3b", "3c"]
    assert all(c.holds for c in checks)
    assert "2.1 times as high" in checks[0].sentence


def test_claims_follow_the_numbers() -> None:
    rows = [
        ("Texture", "kNN", 10, 10, 30, 30),
        ("Texture", "L1 LR", 12, 12, 13, 13),
        ("Texture", "RF", 5, 5, 20, 20),
    ]
    table = pd.DataFrame(rows, columns=["features", "model", "test1", "test2", "test3", "test4"])
    claim1, claim3a, claim3b, claim3c = check_claims(table)
    assert claim1.holds is True
    assert "9.0% on test1/test2 and 21.0% on test3/test4" in claim1.sentence
    assert claim3a.holds is None and claim3c.holds is None
    assert claim3b.holds is True and "+7.5 points" in claim3b.sentence

    table.loc[1, ["test3", "test4"]] = [11, 40]  # L1 LR no longer drops on test3
    claim1 = check_claims(table)[0]
    assert claim1.holds is False and "(not Texture + L1 LR)" in claim1.sentence


def test_claims_markdown(result: table3_module.Table3Result) -> None:
    checks = check_claims(result.table)
    text = claims_markdown(checks)
    assert text.count("- **Claim") == 4
    assert all(c.sentence in text for c in checks)


def test_run_table3_uses_the_profiles_search(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = {}

    def fake_fit_table3(features: dict, labels: dict, **kwargs: object) -> tuple:
        seen.update(kwargs)
        table = pd.DataFrame(
            [{"features": kwargs["features_name"], "model": "kNN", **dict.fromkeys(features, 1.0)}]
        )
        return table, {}

    monkeypatch.setattr(table3_module, "fit_table3", fake_fit_table3)
    run_table3(data, "paper", seed=4, results_dir=tmp_path, cache_dir=tmp_path, progress=False)
    assert (seen["search_draws"], seen["cv_folds"], seen["seed"]) == (100, 5, 4)
    assert seen["bootstrap_samples"] == 1000


def test_commands(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--data-dir", str(data), "--cache-dir", str(tmp_path / "cache"), "--n-jobs", "1"]
    assert main(["-q", "features", *common]) == 0
    printed = capsys.readouterr().out
    assert printed.count("(computed)") == 5 and "texture train: 42 x 69" in printed
    assert (
        main(["-q", "table3", *common, "--profile", "smoke", "--results-dir", str(tmp_path)]) == 0
    )
    printed = capsys.readouterr().out
    assert "L1 LR" in printed and "profile smoke" in printed
    assert (tmp_path / "smoke" / "table3.csv").exists()
    assert main(["-q", "features", *common]) == 0
    assert capsys.readouterr().out.count("(cached)") == 5
