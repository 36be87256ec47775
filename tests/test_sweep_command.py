"""``coos sweep`` and collecting what was run (issue 27 items 4 and 5).

On the tiny data: a sweep of ERM and the V-REx plug-in stopped after its first trial
(Ctrl-C, recorded ``interrupted``), resumed (only the missing trials train), then collected
by ``coos results collect`` beside a Table 3 folder and an evaluation folder: one table,
every row, balanced error and accuracy. Chapter 06's DG table is collected from its profile
folder; a sweep folder marked interrupted is refused; ``--results-dir`` may follow
``collect``; ``--latex --out FILE`` writes the table to a file.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from coos_utils.commands import main, parser
from coos_utils.data import load_split
from coos_utils.dg import sweep as sweep_module
from coos_utils.dg.summary import summarise
from coos_utils.profiles import get_profile
from coos_utils.reference import SPLIT_NAMES, TEST_SPLITS
from coos_utils.results.collect import collect, wide
from coos_utils.results.provenance import (
    COMPLETE,
    FAILED,
    INTERRUPTED,
    mark_chapter,
    read_provenance,
    record_run,
)
from tests.helpers import DG_TINY

DATA_ID = "synthetic-tiny-seed0"
DATA = {"data_id": DATA_ID, "data_source": "synthetic", "data_label": "tiny"}
PLUGIN = "notebooks/my_dg_method.py:VREx"
METHODS = ["ERM", PLUGIN]
SEEDS = ["0", "1"]
N_TRIALS = 4  # 2 methods x (1 draw + 2 seeds - 1)


def _tiny_options() -> list[str]:
    """``DG_TINY`` as ``coos sweep`` options."""
    return [
        *("--steps", str(DG_TINY["steps"]), "--batch-size", str(DG_TINY["batch_size"])),
        *("--eval-every", str(DG_TINY["eval_every"])),
        *("--max-val-images", str(DG_TINY["max_val_images"])),
        *("--width", str(DG_TINY["width"]), "--backbone", DG_TINY["backbone"]),
    ]


def _coos(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's refusals
            code = exc.code
    return code, out.getvalue(), err.getvalue()


class _Trials:
    """Counts the trials the sweep runs; raises KeyboardInterrupt at call ``stop_at``."""

    def __init__(self, run: Any, stop_at: int | None = None) -> None:
        self.run, self.stop_at, self.calls = run, stop_at, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return self.run(*args, **kwargs)


@pytest.fixture(scope="module")
def swept(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The sweep stopped after its first trial, then run again to the end."""
    root = tmp_path_factory.mktemp("sweep")
    results, cache = root / "results", root / "cache"
    argv = [
        *("-q", "sweep", "--data-dir", str(tiny_data), "--profile", "smoke"),
        *("--methods", *METHODS, "--draws", "1", "--seeds", *SEEDS, *_tiny_options()),
        *("--results-dir", str(results), "--cache-dir", str(cache), "--serial"),
    ]
    found = SimpleNamespace(results=results, cache=cache, argv=argv)
    with pytest.MonkeyPatch.context() as patch:
        first = _Trials(sweep_module.run_trial, stop_at=2)
        patch.setattr(sweep_module, "run_trial", first)
        found.first = _coos(argv)
        (found.folder,) = (results / DATA_ID).iterdir()
        found.first_record = read_provenance(found.folder)
        try:
            collect([found.folder])
        except ValueError as exc:
            found.first_collect = str(exc)
        second = _Trials(sweep_module.run_trial)
        patch.setattr(sweep_module, "run_trial", second)
        found.second = _coos(argv)
        found.second_calls = second.calls
        third = _Trials(sweep_module.run_trial)
        patch.setattr(sweep_module, "run_trial", third)
        found.third = _coos(argv)
        found.third_calls = third.calls
    return found


def test_help_explains_every_option() -> None:
    sweep = parser()._subparsers._group_actions[0].choices["sweep"]  # type: ignore[union-attr]
    text = sweep.format_help()
    options = [a for a in sweep._actions if a.option_strings and a.dest != "help"]
    wanted = {"--methods", "--draws", "--seeds", "--steps", "--batch-size", "--width"}
    wanted |= {"--backbone", "--profile", "--data-dir", "--seed", "--results-dir", "--serial"}
    wanted |= {"--cache-dir", "--workers", "--scheduler", "--name"}
    assert wanted <= {o for a in options for o in a.option_strings}
    for action in options:
        assert action.help and len(action.help) > 10, action.option_strings
        assert action.option_strings[-1] in text


def test_an_interrupted_sweep_is_recorded_and_resumed(swept: SimpleNamespace) -> None:
    code, _, err = swept.first
    assert code == 130
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err
    assert swept.first_record["chapters"]["sweep"]["status"] == INTERRUPTED
    assert "marked interrupted" in swept.first_collect
    code, out, _ = swept.second
    assert code == 0, swept.second
    assert swept.second_calls == N_TRIALS - 1  # the first trial was done: not run again
    assert swept.third[0] == 0 and swept.third_calls == 0
    record = read_provenance(swept.folder)
    assert record["chapters"]["sweep"]["status"] == COMPLETE and record["status"] == COMPLETE
    assert record["data_id"] == DATA_ID
    settings = record["chapters"]["sweep"]["parameters"]
    assert settings["methods"] == METHODS and settings["seeds"] == [0, 1]
    assert settings["steps"] == DG_TINY["steps"] and settings["backbone"] == "small_cnn"
    assert swept.folder.name.startswith("sweep-")
    assert "| VREx |" in out and "| ERM |" in out


def test_the_folder_holds_chapter_05s_tables(swept: SimpleNamespace) -> None:
    text = {"note": object, "zero_losses": object}
    records = pd.read_csv(swept.folder / "records.csv", dtype=text)
    assert records["trial_id"].nunique() == N_TRIALS
    assert set(records["method"]) == {"ERM", "VREx"}
    dg = pd.read_csv(swept.folder / "dg.csv")
    expected = summarise(records, n_boot=get_profile("smoke").bootstrap_samples)
    shown = ["method", "split", "metric", "mean", "ci_low", "ci_high", "interval", "seeds"]
    pd.testing.assert_frame_equal(dg[shown], expected[shown], check_dtype=False)
    paired = pd.read_csv(swept.folder / "dg_vs_erm.csv")
    assert set(paired["method"]) == {"VREx"}


def test_a_name_made_with_other_settings_is_refused(
    swept: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    trials = _Trials(sweep_module.run_trial)
    monkeypatch.setattr(sweep_module, "run_trial", trials)
    argv = [*swept.argv, "--name", swept.folder.name]
    steps = argv.index("--steps") + 1
    argv[steps] = "3"
    code, _, err = _coos(argv)
    assert code == 2 and trials.calls == 0
    assert len(err.strip().splitlines()) == 1 and "other settings (steps differ)" in err
    code, _, err = _coos([*swept.argv, "--name", "smoke"])
    assert code == 2 and "--name" in err
    argv[steps] = str(DG_TINY["steps"])
    argv[argv.index("--batch-size") + 1] = "1"
    argv[argv.index("--name") + 1] = "bad-batch"
    code, _, err = _coos(argv)  # refused before any folder is made
    assert code == 2 and "batch_size" in err and trials.calls == 0
    assert not (swept.results / DATA_ID / "bad-batch").exists()


def _table3_folder(results: Path) -> Path:
    """A Table 3 folder as chapter 03 leaves it (one row, with accuracy columns)."""
    folder = results / DATA_ID / "smoke"
    folder.mkdir(parents=True)
    row: dict[str, Any] = {"features": "Texture", "model": "kNN", "cv_error": 5.0}
    for i, split in enumerate(SPLIT_NAMES):
        row.update({split: 10.0 + i, f"{split}_ci_low": 8.0 + i, f"{split}_ci_high": 12.0 + i})
        row[f"{split}_accuracy"] = 90.0 - i
    pd.DataFrame([row]).to_csv(folder / "table3.csv", index=False)
    record_run(folder, "03_classifiers", DATA, "smoke", {}, "0123456789abcdef")
    mark_chapter(folder, "03_classifiers", COMPLETE)
    return folder


def _evaluation_folder(tiny_data: Path, results: Path) -> Path:
    """``coos evaluate`` of perfect predictions on every split."""
    predictions = results.parent / "perfect"
    predictions.mkdir()
    for split in SPLIT_NAMES:
        labels = load_split(tiny_data, split).labels
        frame = pd.DataFrame({"index": np.arange(len(labels)), "label": labels})
        frame.to_csv(predictions / f"{split}.csv", index=False)
    argv = ["-q", "evaluate", str(predictions), "--data-dir", str(tiny_data)]
    code, _, err = _coos([*argv, "--results-dir", str(results), "--profile", "smoke"])
    assert code == 0, err
    return results / DATA_ID / "eval-perfect"


def test_sweep_table3_and_evaluation_collect_into_one_table(
    swept: SimpleNamespace, tiny_data: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    sweep = results / DATA_ID / swept.folder.name
    shutil.copytree(swept.folder, sweep)
    _table3_folder(results)
    _evaluation_folder(tiny_data, results)
    names = [f"{DATA_ID}/{sweep.name}", f"{DATA_ID}/smoke", f"{DATA_ID}/eval-perfect"]
    long_csv = tmp_path / "long.csv"
    code, out, err = _coos(
        ["results", "--results-dir", str(results), "collect", *names, "--csv", str(long_csv)]
    )
    assert code == 0, err
    long = pd.read_csv(long_csv)
    table = wide(long).set_index(["source", "features", "model"])
    rows = {
        (names[0], "DG sweep", "ERM"),
        (names[0], "DG sweep", "VREx"),  # the plug-in's class name
        (names[1], "Texture", "kNN"),
        (names[2], "perfect", "predictions"),
    }
    assert set(table.index) == rows
    for key in rows:  # a balanced error on every test set for every row
        assert all(table.loc[key, split] not in ("", "not run") for split in TEST_SPLITS), key
        assert f"| {key[0]} | {key[1]} | {key[2]} |" in out
    accuracy = long[long["metric"] == "accuracy"]
    for source in names[1:]:
        assert set(accuracy.loc[accuracy["source"] == source, "split"]) >= set(TEST_SPLITS)
    assert table.loc[(names[2], "perfect", "predictions"), "test3 accuracy"] == "100.0"
    assert table.loc[(names[1], "Texture", "kNN"), "test1 accuracy"] == "89.0"
    dg = pd.read_csv(sweep / "dg.csv")
    erm = dg[(dg["method"] == "ERM") & (dg["metric"] == "balanced_error")]
    for split, mean in zip(erm["split"], erm["mean"], strict=True):
        assert table.loc[(names[0], "DG sweep", "ERM"), split].startswith(f"{mean:.1f} [")
    dg_accuracy = dg[dg["metric"] == "accuracy"]  # as many as dg.csv has
    assert len(accuracy[accuracy["source"] == names[0]]) == len(dg_accuracy)


def test_results_dir_after_collect_and_latex_to_a_file(
    swept: SimpleNamespace, tmp_path: Path
) -> None:
    name = f"{DATA_ID}/{swept.folder.name}"
    results = str(swept.results)
    before = _coos(["results", "--results-dir", results, "collect", name])
    after = _coos(["results", "collect", name, "--results-dir", results])
    assert after[0] == 0 and after == before
    latex = tmp_path / "tables" / "dg.tex"
    code, out, _ = _coos(
        ["results", "collect", name, "--results-dir", results, "--latex", "--out", str(latex)]
    )
    assert code == 0 and out.strip() == f"wrote {latex}"
    text = latex.read_text()
    assert text.startswith("\\begin{table}") and "VREx" in text and "\\bottomrule" in text


def test_an_interrupted_or_failed_sweep_folder_is_not_collected(
    swept: SimpleNamespace, tmp_path: Path
) -> None:
    copy = tmp_path / DATA_ID / swept.folder.name
    shutil.copytree(swept.folder, copy)  # dg.csv of the complete run is still there
    mark_chapter(copy, "sweep", INTERRUPTED, "stopped by Ctrl-C")
    with pytest.raises(ValueError, match="sweep are marked interrupted"):
        collect([copy])
    mark_chapter(copy, "sweep", FAILED, "RuntimeError: boom")
    code, _, err = _coos(["results", "collect", str(copy)])
    assert code == 2 and "marked failed" in err and len(err.strip().splitlines()) == 1


def test_chapter_06_dg_table_is_collected_from_its_profile_folder(
    swept: SimpleNamespace, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    folder = _table3_folder(results)
    (folder / "your_model").mkdir()
    shutil.copy(swept.folder / "dg.csv", folder / "your_model" / "dg.csv")
    record_run(folder, "06_your_model", DATA, "smoke", {}, "0123456789abcdef")
    mark_chapter(folder, "06_your_model", COMPLETE)
    table = wide(collect([folder])).set_index(["features", "model"])
    assert set(table.index) == {
        ("Texture", "kNN"),
        ("DG sweep (06_your_model)", "ERM"),
        ("DG sweep (06_your_model)", "VREx"),
    }
    mark_chapter(folder, "06_your_model", FAILED, "RuntimeError: boom")
    with pytest.raises(ValueError, match="06_your_model are marked failed"):
        collect([folder])
