"""The stage log behind bench/bench_book.py, and the table diff of bench/compare_builds.py."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch

from coos_utils.models.extract import extract
from coos_utils.stages import ENV, REFERENCE, add_flop, log_matmul_reference, stage

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench(name: str):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_without_the_variable_a_stage_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with stage("train", "deeploc"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_nested_stages_are_logged_with_what_encloses_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "stages.jsonl"
    monkeypatch.setenv(ENV, str(log))
    with stage("chapter", "02_features"), stage("extract", "vgg16 train"):
        pass
    with pytest.raises(ValueError), stage("train", "pci"):
        raise ValueError("a failed stage is logged too")
    inner, outer, failed = _records(log)
    assert (inner["stage"], inner["detail"], inner["within"]) == (
        "extract",
        "vgg16 train",
        ["chapter"],
    )
    assert (outer["stage"], outer["within"]) == ("chapter", [])
    assert outer["start"] <= inner["start"] <= inner["end"] <= outer["end"]
    assert failed["stage"] == "train" and failed["seconds"] >= 0


def test_extraction_flops_are_counted_per_image_and_added_to_every_enclosing_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "stages.jsonl"
    monkeypatch.setenv(ENV, str(log))
    model = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.ReLU(), torch.nn.Linear(20, 3))
    batches = [torch.randn(4, 10), torch.randn(4, 10), torch.randn(2, 10)]
    with stage("chapter", "02"), stage("extract", "toy"):
        extract(model, batches, ["2"])
    inner, outer = _records(log)
    per_image = 2 * (10 * 20 + 20 * 3)  # two matrix products, multiply and add
    assert inner["flop"] == pytest.approx(10 * per_image)
    assert outer["flop"] == inner["flop"]


def test_the_report_covers_overlapping_stages_once() -> None:
    bench_book = _bench("bench_book")
    assert bench_book.covered([(0, 10), (5, 12), (20, 25)]) == 17


def test_the_report_gives_the_busy_cores_sampled_inside_each_stage(tmp_path: Path) -> None:
    bench_book = _bench("bench_book")
    samples = tmp_path / "book.cpu.jsonl"
    samples.write_text(
        "".join(f'{{"t": {t}, "busy": {b}}}\n' for t, b in [(1, 2.0), (2, 1.0), (9, 0.5)])
    )
    cpu = bench_book.read_cpu(samples)
    stages = [{"start": 0.5, "end": 2.0}, {"start": 8.0, "end": 9.0}]
    assert bench_book.busy_cores(cpu, stages) == "1.17"  # (2 + 1 + 0.5) / 3
    assert bench_book.busy_cores(cpu, [{"start": 3.0, "end": 8.0}]) == ""
    assert bench_book.read_cpu(tmp_path / "none.cpu.jsonl") == []


def test_the_report_says_how_many_cores_other_guests_took(tmp_path: Path) -> None:
    bench_book = _bench("bench_book")
    samples = tmp_path / "book.cpu.jsonl"
    samples.write_text('{"t": 1, "busy": 2.0, "steal": 0.0}\n{"t": 2, "busy": 1.5, "steal": 0.5}\n')
    steal = bench_book.read_steal(samples)
    assert steal == [0.0, 0.5]
    assert bench_book.steal_line(steal).endswith(
        "mean 0.25, at most 0.50, over 2 one-second samples"
    )
    samples.write_text('{"t": 1, "busy": 2.0}\n')  # a build logged before steal was sampled
    assert "not sampled" in bench_book.steal_line(bench_book.read_steal(samples))


def test_the_build_sampler_writes_busy_and_steal_cores(tmp_path: Path) -> None:
    compare = _bench("compare_builds")
    samples = tmp_path / "book.cpu.jsonl"
    with compare.sampling_cpu(samples, every=0.05):
        time.sleep(0.3)
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert lines and all({"t", "busy", "steal"} <= set(line) for line in lines)
    assert all(line["steal"] >= 0 and line["busy"] <= psutil.cpu_count() for line in lines)


def test_the_build_times_its_own_matrix_product_and_the_report_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    log_matmul_reference()  # not logging: nothing timed, nothing written
    assert list(tmp_path.iterdir()) == []
    log = tmp_path / "stages.jsonl"
    monkeypatch.setenv(ENV, str(log))
    threads = torch.get_num_threads()
    log_matmul_reference(repeats=2)
    assert torch.get_num_threads() == threads
    products = _records(log)
    assert [r["stage"] for r in products] == [REFERENCE, REFERENCE]
    assert all(r["flop"] == 2.0 * 2048**3 and r["seconds"] > 0 for r in products)
    with stage("chapter", "02"), stage("train", "deeploc"):
        add_flop(1e9)
    bench_book = _bench("bench_book")
    records = bench_book.read_log(log)
    peak = bench_book.logged_reference(records)
    speeds = sorted(r["flop"] / r["seconds"] / 1e9 for r in products)
    assert peak == pytest.approx(sum(speeds) / 2)
    bench_book.report(records, 10.0, peak, "timed during the build")
    printed = capsys.readouterr().out
    assert f"{peak:.1f} GFLOP/s (timed during the build)" in printed
    assert REFERENCE not in printed.split("|", 1)[1]  # the products are no row of the table
    assert bench_book.logged_reference(records[len(products) :]) is None


def test_the_build_diff_names_every_changed_cell_and_file(tmp_path: Path) -> None:
    compare = _bench("compare_builds")
    for build, value in (("before", "1.5"), ("after", "1.25")):
        folder = tmp_path / build / "results" / "data" / "default"
        folder.mkdir(parents=True)
        (folder / "same.csv").write_text("a,b\nx,1.0\n")
        (folder / "table.csv").write_text(f"a,b\nx,{value}\ny,nan\n")
    (tmp_path / "after" / "results" / "data" / "default" / "new.csv").write_text("a\n1\n")
    report = compare.compare_tables(tmp_path / "before", tmp_path / "after")
    assert report == {
        "data/default/new.csv": ["only after"],
        "data/default/same.csv": [],
        "data/default/table.csv": ["row 0, b: '1.5' -> '1.25'"],
    }
    assert (
        compare.compare_tables(tmp_path / "before", tmp_path / "after", 0.2)[
            "data/default/table.csv"
        ]
        == []
    )


def test_the_your_model_chapter_times_its_training_and_predictions(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torch import nn

    from coos_utils.benchmark.your_model import predict_splits, train
    from coos_utils.data.torch_dataset import CoosDataset

    log = tmp_path / "stages.jsonl"
    monkeypatch.setenv(ENV, str(log))
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 7))
    train(model, CoosDataset(tiny_data, "train", lambda x: x.float()), steps=3, batch_size=4)
    predict_splits(model, tiny_data, ["test1"], lambda x: x.float())
    records = {(r["stage"], r["detail"]): r for r in _records(log)}
    trained, predicted = records["train", "your_model"], records["predict", "your_model test1"]
    assert trained["flop"] > 0 and predicted["flop"] > 0
