"""Results that are never merged, dropped or destroyed, and reading that stays bounded (issue 26,
items 2 and 5-8 and its weak answers): evaluation folder names and ``--out``, collected rows,
``pack``'s split names, prediction files that are huge, endless or not files, unreadable
provenance records, a closed pipe, ``coos table3``'s status, intervals within [0, 100]."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coos_utils.benchmark.predictions import read_split_file
from coos_utils.commands import main as coos
from coos_utils.data import load_split
from coos_utils.data.convert import pack, unpack
from coos_utils.data.errors import CoosDataError
from coos_utils.reference import SPLIT_NAMES
from coos_utils.results.collect import OUT_OF_RANGE, UNNAMED, collect, list_results, wide
from coos_utils.results.provenance import COMPLETE, FAILED, mark_chapter, record_run
from coos_utils.results.store import unique_slug
from tests.helpers import write_coos_hdf5

SMOKE = ["--profile", "smoke"]
DATA = {"data_id": "synthetic-tiny-seed0", "data_source": "synthetic", "data_label": "tiny"}


@pytest.fixture(scope="module")
def truth(tiny_data: Path) -> dict[str, np.ndarray]:
    return {split: load_split(tiny_data, split).labels for split in SPLIT_NAMES}


def _predictions(folder: Path, predicted: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, labels in predicted.items():
        frame = pd.DataFrame({"index": np.arange(len(labels)), "label": labels})
        frame.to_csv(folder / f"{split}.csv", index=False)
    return folder


def _evaluate(preds: Path, data: Path, results: Path, *more: str) -> int:
    return coos(
        [
            "evaluate",
            str(preds),
            "--data-dir",
            str(data),
            "--results-dir",
            str(results),
            *more,
            *SMOKE,
        ]
    )


# 5. Evaluation folder names: one per model name, never empty ---------------------------------


def test_names_that_look_alike_get_folders_of_their_own(
    tiny_data: Path, truth, tmp_path: Path
) -> None:
    preds = _predictions(tmp_path / "p", truth)
    results = tmp_path / "results"
    names = ["my model", "my-model", "my_model", "模型"]
    for name in names:
        assert _evaluate(preds, tiny_data, results, "--name", name) == 0
    folders = sorted((results / "synthetic-tiny-seed0").iterdir())
    assert len(folders) == len(names) and "eval-" not in [f.name for f in folders]
    recorded = {json.loads((f / "provenance.json").read_text())["evaluated_model"] for f in folders}
    assert recorded == set(names)
    assert unique_slug("my-model") == "my-model" and unique_slug("") != ""


# 6. --out refuses any existing path but an earlier evaluation of the same model --------------


def _one_line_refusal(capsys, *expected: str) -> None:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    for text in expected:
        assert text in err, err


def test_out_refuses_a_file_and_a_folder_it_did_not_write(
    tiny_data: Path, truth, tmp_path: Path, capsys
) -> None:
    preds = _predictions(tmp_path / "p", truth)
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    assert _evaluate(preds, tiny_data, tmp_path / "r", "--out", str(afile)) == 2
    _one_line_refusal(capsys, str(afile), "not a folder")
    assert afile.read_text() == "mine"
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("keep me")
    assert _evaluate(preds, tiny_data, tmp_path / "r", "--out", str(folder)) == 2
    _one_line_refusal(capsys, str(folder), "not an evaluation folder")
    assert [p.name for p in folder.iterdir()] == ["chapter1.tex"]


def test_out_replaces_only_an_earlier_evaluation_of_the_same_model(
    tiny_data: Path, truth, tmp_path: Path, capsys
) -> None:
    preds = _predictions(tmp_path / "p", truth)
    out = tmp_path / "eval"
    assert _evaluate(preds, tiny_data, tmp_path / "r", "--out", str(out), "--name", "A") == 0
    assert _evaluate(preds, tiny_data, tmp_path / "r", "--out", str(out), "--name", "A") == 0
    capsys.readouterr()
    assert _evaluate(preds, tiny_data, tmp_path / "r", "--out", str(out), "--name", "B") == 2
    _one_line_refusal(capsys, "another model ('A', not 'B')")
    (out / "my notes.txt").write_text("keep me")
    assert _evaluate(preds, tiny_data, tmp_path / "r", "--out", str(out), "--name", "A") == 2
    _one_line_refusal(capsys, "holds my notes.txt")
    assert (out / "my notes.txt").read_text() == "keep me"
    assert pd.read_csv(out / "table3.csv")["features"].tolist() == ["A"]


# 7. collect keeps every folder's rows ---------------------------------------------------------


def _results_folder(root: Path, name: str = "smoke", error: float = 10.0) -> Path:
    folder = root / DATA["data_id"] / name
    folder.mkdir(parents=True)
    record_run(folder, "03_classifiers", DATA, name, {}, "abcdef0123456789")
    mark_chapter(folder, "03_classifiers", COMPLETE)
    row = {"features": "Texture", "model": "kNN", "cv_error": 1.0}
    for split in ("train", "test1", "test2", "test3", "test4"):
        row.update({split: error, f"{split}_ci_low": error - 1, f"{split}_ci_high": error + 1})
    pd.DataFrame([row]).to_csv(folder / "table3.csv", index=False)
    return folder


def test_folders_with_equal_labels_keep_their_rows(tmp_path: Path) -> None:
    first = _results_folder(tmp_path / "laptop", error=10.0)
    second = _results_folder(tmp_path / "cluster", error=30.0)
    table = wide(collect([first, second]))
    assert len(table) == 2 and table["source"].nunique() == 2
    assert sorted(table["test1"]) == ["10.0 [9.0, 11.0]", "30.0 [29.0, 31.0]"]
    assert {"laptop", "cluster"} == {s.split("/")[-3] for s in table["source"]}
    with pytest.raises(CoosDataError, match="named twice"):
        collect([first, tmp_path / "laptop" / DATA["data_id"] / "." / "smoke"])


# 8. pack never writes one split as another ---------------------------------------------------


def test_pack_refuses_a_source_file_that_names_another_split(tmp_path: Path) -> None:
    write_coos_hdf5(tmp_path / "h5" / "COOS7_v1.1_test1.hdf5", n=5)
    unpack(tmp_path / "h5", tmp_path / "tiff", progress=False)
    attributes = tmp_path / "tiff" / "test1" / "attributes.json"
    stored = json.loads(attributes.read_text())
    attributes.write_text(json.dumps({**stored, "source_file": "COOS7_v1.1_training.hdf5"}))
    with pytest.raises(CoosDataError, match="names train, but this is the test1 folder") as err:
        pack(tmp_path / "tiff", tmp_path / "out", progress=False)
    assert err.value.path == attributes
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# Weak answers: prediction files read within the split's size ---------------------------------


def test_a_sparse_gigabyte_file_is_refused_in_small_memory(tmp_path: Path) -> None:
    path = tmp_path / "test1.csv"
    with path.open("wb") as handle:
        handle.truncate(1 << 30)
    tracemalloc.start()
    try:
        values, problems = read_split_file(path, 100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert values == {} and len(problems) == 1 and "NUL" in problems[0]
    assert peak < 64 * 2**20


def test_too_many_rows_stop_the_reading_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "test1.csv"
    path.write_text("index,label\n" + "".join(f"{i},0\n" for i in range(1000)))
    values, problems = read_split_file(path, 10)
    assert values == {} and problems == [
        "has more than 10 rows, the split has 10 images (one row per image)"
    ]
    path.write_text("index,label\n0,0\n" + "\n" * (1 << 20))  # a megabyte of blank lines
    assert read_split_file(path, 1)[1] == ["is larger than 1 rows of at most 4096 bytes"]


def test_dev_zero_and_a_pipe_are_refused_without_reading(tmp_path: Path) -> None:
    assert "not a regular file" in read_split_file(Path("/dev/zero"), 10)[1][0]
    fifo = tmp_path / "test1.csv"
    os.mkfifo(fifo)
    found: list = []
    reader = threading.Thread(target=lambda: found.append(read_split_file(fifo, 10)))
    reader.start()
    reader.join(60)
    if reader.is_alive():  # blocked on open: let it go before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join()
        pytest.fail("reading a pipe with no writer blocked")
    assert "not a regular file" in found[0][1][0]


def test_a_huge_bad_value_is_quoted_cut(tmp_path: Path) -> None:
    path = tmp_path / "test1.csv"
    path.write_text("index,label\n0," + "x" * 4000 + "\n1,0\n")
    _, problems = read_split_file(path, 2)
    assert len(problems) == 1 and "label 'xxxx" in problems[0] and len(problems[0]) < 120
    assert "(4000 characters)" in problems[0]


# Weak answers: coos results on unreadable records and closed pipes; coos table3's status -----


@pytest.mark.parametrize(
    "content",
    [
        b"[1, 2, 3]",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b'{"status": "complete", "chap',
        b'{"chapters": [1]}',
    ],
    ids=["list", "binary", "garbled", "chapters-list"],
)
def test_an_unreadable_provenance_is_listed_and_refused_in_one_line(
    tmp_path: Path, content: bytes, capsys
) -> None:
    results = tmp_path / "results"
    folder = _results_folder(results)
    (folder / "provenance.json").write_bytes(content)
    listing = list_results(results)
    assert listing["status"].tolist() == ["unreadable provenance.json"]
    assert coos(["results", "--results-dir", str(results)]) == 0
    assert "unreadable provenance.json" in capsys.readouterr().out
    assert coos(["results", "--results-dir", str(results), "collect", str(folder)]) == 2
    _one_line_refusal(capsys, str(folder / "provenance.json"))


def test_results_into_a_closed_pipe_end_quietly(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _results_folder(results)
    code = (
        "import sys; from coos_utils.commands import main; "
        f"sys.exit(main(['results', '--results-dir', {str(results)!r}]))"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child.stdout.close()  # the reader is gone before anything is written, as `| head` ends
    err = child.stderr.read().decode()
    assert child.wait() == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "fails"])
def test_table3_marks_its_chapter_complete_or_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    from coos_utils.benchmark import table3
    from tests.handmade import write_handmade

    def perfect(splits, *args, **kwargs) -> table3.Table3Result:
        if fails:
            raise RuntimeError("the classifiers broke")
        labels = {split: data.labels for split, data in splits.items()}
        row = {"features": "Texture", "model": "kNN", "cv_error": 0.0, **dict.fromkeys(labels, 0.0)}
        predictions = {("Texture", "kNN", split): y for split, y in labels.items()}
        class_names = splits["train"].class_names
        return table3.Table3Result(pd.DataFrame([row]), predictions, labels, class_names)

    monkeypatch.setattr(table3, "run_table3", perfect)
    data = write_handmade(tmp_path / "data", per_class=2)
    results = tmp_path / "r"
    argv = ["-q", "table3", "--data-dir", str(data), "--representations", "texture", *SMOKE]
    argv += ["--results-dir", str(results)]
    if fails:
        with pytest.raises(RuntimeError):
            coos(argv)
    else:
        assert coos(argv) == 0
    (record_path,) = results.glob("*/smoke/provenance.json")
    record = json.loads(record_path.read_text())
    chapter = record["chapters"]["03_classifiers"]
    assert chapter["status"] == record["status"] == (FAILED if fails else COMPLETE)
    if fails:
        assert "the classifiers broke" in chapter["error"]


# Issue 26 item 2: intervals over a few seeds stay within [0, 100] and are named ---------------


def test_two_seeds_give_bounded_named_intervals(tiny_data: Path, truth, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    preds = tmp_path / "model"
    _predictions(preds / "seed0", truth)
    _predictions(preds / "seed1", {s: rng.integers(0, 7, len(y)) for s, y in truth.items()})
    results = tmp_path / "results"
    assert _evaluate(preds, tiny_data, results) == 0
    folder = results / "synthetic-tiny-seed0" / "eval-model"
    summary = pd.read_csv(folder / "summary.csv")
    assert summary["ci_low"].min() >= 0 and summary["ci_high"].max() <= 100
    errors = summary[summary["metric"] == "balanced_error"].set_index("split")
    assert errors.loc["test1", "interval"] in ("bootstrap, wells", "bootstrap, images")
    assert errors.loc["worst test", "interval"] == "range over seeds"
    long = collect([folder])
    errors = long[long["metric"] == "balanced_error"]
    assert set(errors["interval"]) <= {"bootstrap, wells", "bootstrap, images"}
    assert set(long.loc[long["metric"] == "accuracy", "interval"]) == {"range over seeds"}
    assert long["ci_low"].min() >= 0 and long["ci_high"].max() <= 100


def test_collect_never_shows_an_interval_outside_0_100_and_names_each_kind(
    tmp_path: Path, capsys
) -> None:
    folder = _results_folder(tmp_path / "results")
    record_run(folder, "05_domain_generalization", DATA, "smoke", {}, "abcdef0123456789")
    mark_chapter(folder, "05_domain_generalization", COMPLETE)
    columns = ["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds", "note"]
    pd.DataFrame(
        [["ERM", "test3", "balanced_error", 40.2, -43.6, 124.1, 2, ""]], columns=columns
    ).to_csv(folder / "dg.csv", index=False)
    long = collect([folder])
    erm = long[long["model"] == "ERM"].iloc[0]
    assert pd.isna(erm["ci_low"]) and erm["interval"] == f"{UNNAMED}; {OUT_OF_RANGE}"
    assert coos(["results", "collect", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "-43.6" not in out and "124.1" not in out and "| 40.2 |" in out
    assert "bootstrap, images: 95% percentile bootstrap" in out and OUT_OF_RANGE in out
    frame = pd.read_csv(folder / "dg.csv").assign(ci_low=30.0, ci_high=50.0)
    frame.assign(interval="bootstrap, wells").to_csv(folder / "dg.csv", index=False)
    erm = collect([folder]).query("model == 'ERM'").iloc[0]
    assert erm["interval"] == "bootstrap, wells" and erm["ci_low"] == 30.0


def test_runs_whose_files_would_share_names_are_refused(
    tiny_data: Path, truth, tmp_path: Path, capsys
) -> None:
    preds = tmp_path / "model"
    _predictions(preds / "seed 1", truth)
    _predictions(preds / "seed_1", truth)
    assert _evaluate(preds, tiny_data, tmp_path / "results") == 2
    _one_line_refusal(capsys, "runs 'seed 1' and 'seed_1' would share result files")
    assert not (tmp_path / "results").exists()
