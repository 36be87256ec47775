"""The scorer for prediction files: known values, Table 3's numbers, one line per bad file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coos_utils.benchmark.classifiers import score_row
from coos_utils.benchmark.evaluation import evaluate, score_run
from coos_utils.benchmark.predictions import PredictionFileError, PredictionRun, read_predictions
from coos_utils.commands import main as coos
from coos_utils.data import load_split
from coos_utils.data.digest import file_digest
from coos_utils.data.wells import well_clusters
from coos_utils.reference import SPLIT_NAMES, TEST_SPLITS

SMOKE = ["--profile", "smoke"]


@pytest.fixture(scope="module")
def truth(tiny_data: Path) -> dict[str, np.ndarray]:
    return {split: load_split(tiny_data, split).labels for split in SPLIT_NAMES}


def _write(folder: Path, predicted: dict[str, np.ndarray], probabilities: bool = False) -> Path:
    """One CSV per split, rows in a shuffled order (the index column says which image)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, labels in predicted.items():
        frame = pd.DataFrame({"index": np.arange(len(labels)), "label": labels})
        if probabilities:
            for k in range(7):
                frame[f"p{k}"] = (labels == k).astype(float)
        frame.sample(frac=1.0, random_state=0).to_csv(folder / f"{split}.csv", index=False)
    return folder


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = coos(["evaluate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_all_correct_scores_zero_and_writes_the_results_folder(
    tiny_data: Path, truth, tmp_path: Path, capsys
) -> None:
    preds = _write(tmp_path / "perfect", truth, probabilities=True)
    results = tmp_path / "results"
    code, out, _ = _run(
        [str(preds), "--data-dir", str(tiny_data), "--results-dir", str(results), *SMOKE], capsys
    )
    assert code == 0
    folder = results / "synthetic-tiny-seed0" / "eval-perfect"
    table = pd.read_csv(folder / "table3.csv")
    assert table.loc[0, ["train", *TEST_SPLITS]].tolist() == [0.0] * 5
    scores = pd.read_csv(folder / "scores.csv")
    assert (scores["macro_f1"] == 100.0).all()
    assert (pd.read_csv(folder / "sensitivity.csv")["sensitivity"] == 1.0).all()
    confusion = pd.read_csv(folder / "confusion" / "perfect__predictions__test3.csv", index_col=0)
    np.testing.assert_array_equal(np.diag(confusion), np.bincount(truth["test3"], minlength=7))
    record = json.loads((folder / "provenance.json").read_text())
    assert record["status"] == "complete" and record["data_id"] == "synthetic-tiny-seed0"
    assert record["prediction_files"]["test1.csv"] == file_digest(preds / "test1.csv")
    assert len(record["prediction_files"]) == 5
    assert "| yours | perfect | predictions | 0.0 [0.0, 0.0]" in out
    assert "| paper | DeepLoc | End-to-End |" in out


def test_one_class_all_wrong_scores_one_seventh(tiny_data: Path, truth, tmp_path: Path) -> None:
    wrong = {s: np.where(y == 3, 4, y) for s, y in truth.items() if s != "train"}
    found = evaluate(_write(tmp_path / "p", wrong), tiny_data, bootstrap_samples=50)
    row = found.table.iloc[0]
    for split in TEST_SPLITS:
        assert row[split] == pytest.approx(100 / 7)  # 14.29
        assert found.sensitivities().loc[found.class_names[3], split] == 0.0
    assert "train" not in found.table.columns
    assert found.worst_tests().iloc[0] in TEST_SPLITS


def test_scores_are_table3s_scores(tiny_data: Path, truth) -> None:
    rng = np.random.default_rng(0)
    predicted = {
        s: np.where(rng.random(len(y)) < 0.2, rng.integers(0, 7, len(y)), y)
        for s, y in truth.items()
    }
    splits = {s: load_split(tiny_data, s) for s in SPLIT_NAMES}
    clusters = {s: well_clusters(split.meta) for s, split in splits.items()}
    expected = score_row("m", "r", predicted, truth, np.nan, 5, 60, clusters)
    run = PredictionRun("r", tiny_data, labels=predicted)
    got = score_run("m", run, truth, clusters, seed=5, bootstrap_samples=60)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, nan_ok=True), key


def test_seeds_are_summarised_and_shown_beside_the_paper_and_the_book(
    tiny_data: Path, truth, tmp_path: Path, capsys
) -> None:
    preds = tmp_path / "mine"
    _write(preds / "seed0", truth)
    _write(preds / "seed1", {s: np.where(y == 0, 1, y) for s, y in truth.items()})
    results = tmp_path / "results"
    book = results / "synthetic-tiny-seed0" / "default"
    book.mkdir(parents=True)
    baseline = evaluate(preds, tiny_data, name="Texture", bootstrap_samples=20).table
    baseline.assign(model="L1 LR").head(1).to_csv(book / "table3.csv", index=False)
    args = [str(preds), "--data-dir", str(tiny_data), "--results-dir", str(results), *SMOKE]
    code, out, _ = _run(args, capsys)
    assert code == 0
    summary = pd.read_csv(results / "synthetic-tiny-seed0" / "eval-mine" / "summary.csv")
    test1 = summary.query("split == 'test1' and metric == 'balanced_error'").iloc[0]
    assert test1["mean"] == pytest.approx(100 / 7 / 2) and test1["seeds"] == 2
    assert test1["interval"] in ("bootstrap, wells", "bootstrap, images")
    assert test1["ci_low"] >= 0 and test1["ci_high"] <= 100
    assert "95% percentile bootstrap of the mean over the 2 runs" in out
    assert "worst test" in set(summary["split"])
    assert "| yours | mine | mean of 2 seeds |" in out
    assert "| book | Texture | L1 LR |" in out
    code, out, _ = _run([*args, "--latex"], capsys)
    assert code == 0 and r"\begin{tabular}" in out and "mean of 2 seeds" in out


def _bad_row_count(folder: Path) -> str:
    frame = pd.read_csv(folder / "test2.csv")
    frame.iloc[:-1].to_csv(folder / "test2.csv", index=False)
    return "test2.csv: has"


def _duplicate_index(folder: Path) -> str:
    frame = pd.read_csv(folder / "test1.csv")
    frame.loc[5, "index"] = frame.loc[4, "index"]
    frame.to_csv(folder / "test1.csv", index=False)
    return "test1.csv: line 7: index"


def _label_seven(folder: Path) -> str:
    frame = pd.read_csv(folder / "test4.csv")
    frame.loc[2, "label"] = 7
    frame.to_csv(folder / "test4.csv", index=False)
    return "test4.csv: line 4: label 7 is outside 0..6"


def _no_test_split(folder: Path) -> str:
    for split in TEST_SPLITS:
        (folder / f"{split}.csv").unlink()
    return "no test split's file"


def _not_a_number(folder: Path) -> str:
    frame = pd.read_csv(folder / "test2.csv").astype({"label": object})
    frame.loc[10, "label"] = "cat"
    frame.to_csv(folder / "test2.csv", index=False)
    return "test2.csv: line 12: label 'cat' is not a number"


def _bad_probabilities(folder: Path) -> str:
    frame = pd.read_csv(folder / "test1.csv")
    frame.loc[0, "p0"] = frame.loc[0, "p0"] + 0.5
    frame.to_csv(folder / "test1.csv", index=False)
    return "test1.csv: line 2: probabilities sum to 1.5"


BREAKERS = [
    _bad_row_count,
    _duplicate_index,
    _label_seven,
    _no_test_split,
    _not_a_number,
    _bad_probabilities,
]


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__.strip("_"))
def test_each_bad_file_is_one_line_and_exit_code_2(
    breaker, tiny_data: Path, truth, tmp_path: Path, capsys
) -> None:
    preds = _write(tmp_path / "p", truth, probabilities=True)
    expected = breaker(preds)
    results = tmp_path / "results"
    code, out, err = _run(
        [str(preds), "--data-dir", str(tiny_data), "--results-dir", str(results), *SMOKE], capsys
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0] and str(preds) in lines[0]
    assert not results.exists()


def test_every_problem_is_reported_and_unknown_files_named(truth, tmp_path: Path) -> None:
    preds = _write(tmp_path / "p", {s: y for s, y in truth.items() if s != "test4"})
    frame = pd.read_csv(preds / "test1.csv")
    frame.loc[0, "label"] = 9
    frame.to_csv(preds / "test1.csv", index=False)
    (preds / "val.csv").write_text("index,label\n0,1\n")
    sizes = {s: len(y) for s, y in truth.items()}
    with pytest.raises(PredictionFileError) as caught:
        read_predictions(preds, sizes)
    problems = caught.value.problems
    assert len(problems) == 2  # test4.csv missing is no problem: the others are scored
    assert any("val.csv: not a split's file" in p for p in problems)
    assert any("test1.csv: line 2: label 9" in p for p in problems)


def test_command_line_error_has_no_traceback(tiny_data: Path, truth, tmp_path: Path) -> None:
    preds = _write(tmp_path / "p", truth)
    _not_a_number(preds)
    code = (
        "import sys; from coos_utils.commands import main; "
        f"sys.exit(main(['evaluate', {str(preds)!r}, '--data-dir', {str(tiny_data)!r}, "
        f"'--results-dir', {str(tmp_path / 'r')!r}, '--profile', 'smoke']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"coos evaluate: error: {preds / 'test2.csv'}: line 12: label 'cat' is not a number"
    ]
