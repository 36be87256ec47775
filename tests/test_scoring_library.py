"""Scoring as a library and the commands as thin layers (issue 27, items 7-9 and the layout).

Item 7: ``score_predictions`` scores one split in memory, from labels or probabilities, exactly
as Table 3 scores its rows. Item 8: ``coos evaluate`` scores the test splits a folder has and
names the missing ones; its ``--help`` shows the file format. Item 9: accuracy beside balanced
error, never in the same column. Layout: ``coos_utils.commands``, one module a command, that
imports no library module until a command runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coos_utils.reference import SPLIT_NAMES, TEST_SPLITS

SMOKE = ["--profile", "smoke"]


@pytest.fixture(scope="module")
def truth(tiny_data: Path) -> dict[str, np.ndarray]:
    from coos_utils.data import load_split

    return {split: load_split(tiny_data, split).labels for split in SPLIT_NAMES}


def _write(folder: Path, predicted: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, labels in predicted.items():
        frame = pd.DataFrame({"index": np.arange(len(labels)), "label": labels})
        frame.to_csv(folder / f"{split}.csv", index=False)
    return folder


def _coos(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from coos_utils.commands import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# Item 7: in-memory scoring ---------------------------------------------------------------------


def test_score_predictions_takes_labels_or_probabilities_and_gives_every_score() -> None:
    from coos_utils.benchmark.scoring import score_predictions
    from coos_utils.metrics import IMAGES

    y_true = np.repeat(np.arange(7), 10)
    y_pred = np.where(y_true == 3, 4, y_true)  # class 3 always called 4
    by_labels = score_predictions(y_pred, y_true, bootstrap_samples=50)
    assert by_labels.balanced_error == pytest.approx(100 / 7)
    assert by_labels.accuracy == pytest.approx(60 / 70 * 100)
    assert (
        by_labels.class_errors.iloc[3] == 100.0
        and by_labels.class_errors.drop(by_labels.class_errors.index[3]).eq(0).all()
    )
    assert by_labels.interval == IMAGES and np.isnan(by_labels.well_ci_low)
    # every image of a class resampled is scored alike: the interval is the point
    assert by_labels.ci_low == pytest.approx(100 / 7) == by_labels.ci_high
    probabilities = np.full((70, 7), 0.01)
    probabilities[np.arange(70), y_pred] = 0.94
    by_probabilities = score_predictions(probabilities, y_true, bootstrap_samples=50)
    assert by_probabilities.as_dict() == by_labels.as_dict()
    with pytest.raises(ValueError, match="shape"):
        score_predictions(probabilities[:, :5], y_true)


def test_score_predictions_is_table3s_row_with_the_well_interval(tiny_data: Path, truth) -> None:
    from coos_utils.benchmark.classifiers import score_row
    from coos_utils.benchmark.scoring import score_predictions
    from coos_utils.data import load_split
    from coos_utils.data.wells import well_clusters
    from coos_utils.metrics import WELLS

    meta = load_split(tiny_data, "test3").meta
    rng = np.random.default_rng(1)
    predicted = {
        s: np.where(rng.random(len(y)) < 0.3, rng.integers(0, 7, len(y)), y)
        for s, y in truth.items()
    }
    found = score_predictions(
        predicted["test3"], truth["test3"], meta, seed=3, bootstrap_samples=40
    )
    clusters = {s: well_clusters(load_split(tiny_data, s).meta) for s in SPLIT_NAMES}
    row = score_row("f", "m", predicted, truth, np.nan, 3, 40, clusters)
    assert found.interval == WELLS
    for column, value in found.columns("test3").items():
        assert row[column] == pytest.approx(value, nan_ok=True), column
    assert row["test3_accuracy"] == pytest.approx(
        100 * np.mean(predicted["test3"] == truth["test3"])
    )


# Item 8: the splits a folder has ------------------------------------------------------------


def test_evaluate_scores_a_folder_with_only_test1_and_names_the_missing_splits(
    tiny_data: Path, truth, tmp_path: Path, capsys
) -> None:
    preds = _write(tmp_path / "only1", {"test1": truth["test1"]})
    results = tmp_path / "results"
    argv = ["evaluate", str(preds), "--data-dir", str(tiny_data), "--results-dir", str(results)]
    code, out, err = _coos([*argv, *SMOKE], capsys)
    assert code == 0, err
    assert "Missing (no prediction files, not scored): test2, test3, test4." in out
    folder = results / "synthetic-tiny-seed0" / "eval-only1"
    table = pd.read_csv(folder / "table3.csv")
    assert table.loc[0, "test1"] == 0.0 and "test2" not in table
    record = json.loads((folder / "provenance.json").read_text())
    assert record["missing_tests"] == ["test2", "test3", "test4"]
    assert record["scored_tests"] == ["test1"]


def test_a_folder_without_test_splits_or_with_runs_that_differ_is_refused(
    tiny_data: Path, truth, tmp_path: Path, capsys
) -> None:
    only_train = _write(tmp_path / "train_only", {"train": truth["train"]})
    code, _, err = _coos(["evaluate", str(only_train), "--data-dir", str(tiny_data)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no test split's file" in err and str(only_train) in err
    runs = tmp_path / "runs"
    _write(runs / "seed0", {"test1": truth["test1"], "test2": truth["test2"]})
    _write(runs / "seed1", {"test1": truth["test1"]})
    code, _, err = _coos(["evaluate", str(runs), "--data-dir", str(tiny_data)], capsys)
    assert code == 2 and f"{runs / 'seed1' / 'test2.csv'}: missing" in err


def test_the_intervals_line_names_the_unit_used_on_each_split(
    tiny_data: Path, truth, tmp_path: Path
) -> None:
    from coos_utils.benchmark.evaluation import evaluate
    from coos_utils.commands.evaluate import interval_note

    preds = _write(tmp_path / "units", truth)
    found = evaluate(preds, tiny_data, bootstrap_samples=20)
    assert "wells (plate + well) on train, test1, test2, test3, test4" in interval_note(found)
    no_wells = found.scores["split"] == "test2"
    found.scores.loc[no_wells, ["well_ci_low", "well_ci_high"]] = np.nan
    note = interval_note(found)
    assert "wells (plate + well) on train, test1, test3, test4; images on test2" in note


@pytest.mark.parametrize("command", ["evaluate", "simulate"])
def test_every_option_is_described(command: str) -> None:
    from coos_utils.commands import parser

    top = parser()
    sub = next(a for a in top._actions if a.dest == "command").choices[command]
    bare = [a.dest for a in sub._actions if a.dest != "help" and not a.help]
    assert bare == [], f"coos {command} options without help: {bare}"


def test_evaluate_help_shows_the_file_format_with_an_example(capsys) -> None:
    from coos_utils.commands import main

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = capsys.readouterr().out
    assert "index,label[,p0,p1,p2,p3,p4,p5,p6]" in out
    assert "predictions/seed0/test1.csv" in out and "coos evaluate predictions" in out


# Item 9: accuracy beside balanced error -------------------------------------------------------


def test_accuracy_stands_beside_balanced_error_in_files_output_and_tables(
    tiny_data: Path, truth, tmp_path: Path, capsys
) -> None:
    from coos_utils.benchmark.classifiers import TABLE3_COLUMNS
    from coos_utils.results.collect import collect, wide

    wrong = {s: np.where(y == 0, 1, y) for s, y in truth.items()}
    preds = _write(tmp_path / "acc", wrong)
    results = tmp_path / "results"
    argv = ["evaluate", str(preds), "--data-dir", str(tiny_data), "--results-dir", str(results)]
    code, out, _ = _coos([*argv, *SMOKE], capsys)
    assert code == 0
    folder = results / "synthetic-tiny-seed0" / "eval-acc"
    expected = {s: 100 * np.mean(wrong[s] == truth[s]) for s in TEST_SPLITS}
    scores = pd.read_csv(folder / "scores.csv").set_index("split")
    table = pd.read_csv(folder / "table3.csv")
    for split, value in expected.items():
        assert scores.loc[split, "accuracy"] == pytest.approx(value)
        assert table.loc[0, f"{split}_accuracy"] == pytest.approx(value)
    assert "| split | balanced error | accuracy | macro F1 |" in out
    assert "test1 accuracy" in out  # the comparison table's own accuracy columns
    assert "<split>_accuracy" in TABLE3_COLUMNS
    long = collect([folder])
    shown = wide(long).iloc[0]
    assert shown["test1"].startswith(f"{100 / 7:.1f} [")  # balanced error only
    assert shown["test1 accuracy"] == f"{expected['test1']:.1f}"
    assert set(long["metric"]) == {"balanced_error", "accuracy"}


# Layout: the commands --------------------------------------------------------------------------


def test_the_commands_import_no_library_until_one_runs() -> None:
    code = (
        "import sys, coos_utils.commands as c; c.parser(); "
        "heavy = [m for m in ('numpy', 'pandas', 'coos_utils.data', 'coos_utils.profiles') "
        "if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_python_m_runs_the_command_and_lists_every_command() -> None:
    from coos_utils.commands import COMMANDS

    done = subprocess.run(
        [sys.executable, "-m", "coos_utils.commands", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    for name in COMMANDS:
        assert name.replace("_", "-") in done.stdout


def test_profile_names_and_representations_come_from_their_tables() -> None:
    from coos_utils.benchmark.representations import REPRESENTATIONS
    from coos_utils.commands.common import PROFILE_NAMES
    from coos_utils.profiles import ALL_REPRESENTATIONS, PROFILES

    assert tuple(PROFILES) == PROFILE_NAMES
    assert tuple(ALL_REPRESENTATIONS) == tuple(REPRESENTATIONS)
    record = PROFILES["paper"].to_record()
    assert record["representations"] == list(REPRESENTATIONS)
    json.dumps(record)


def test_features_goes_through_the_run_context(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Relative paths are taken from the project root, wherever the command runs (as every
    chapter and ``coos table3`` take them)."""
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "_toc.yml").write_text("root: intro\n")
    (project / "data").mkdir()
    (project / "data" / "tiny").symlink_to(tiny_data, target_is_directory=True)
    monkeypatch.chdir(project / "notebooks")
    argv = ["-q", "features", "--data-dir", "data/tiny", "--cache-dir", "cache"]
    code, out, err = _coos([*argv, "--representations", "texture", *SMOKE], capsys)
    assert code == 0, err
    assert "texture/" in out and "test4" in out
    assert (project / "cache").is_dir() and not (project / "notebooks" / "cache").exists()
