"""Table 3 end to end: rows per representation, results files, the paper beside it, commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coos_utils.analysis.confusion import confusion_frames, sensitivity_table
from coos_utils.benchmark import table3 as table3_module
from coos_utils.benchmark.table3 import Table3Result, run_table3
from coos_utils.commands import main
from coos_utils.data import load_splits
from coos_utils.data.wells import well_clusters
from coos_utils.features import TextureRepresentation
from coos_utils.presentation.tables import (
    IMAGE,
    WELL,
    compare_with_paper,
    interval_caption,
    interval_kind,
    with_intervals,
)
from coos_utils.profiles import get_profile
from coos_utils.reference import CLASS_NAMES, SPLIT_NAMES, paper_table3
from coos_utils.results.store import confusion_path, read_confusions, slug, write_table3
from tests.handmade import write_handmade


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_handmade(tmp_path_factory.mktemp("table3") / "data", per_class=6)


@pytest.fixture(scope="module")
def result(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Table3Result:
    rep = TextureRepresentation(n_jobs=1, progress=False)
    cache = tmp_path_factory.mktemp("cache")
    return run_table3(load_splits(data), [rep], get_profile("smoke"), cache_dir=cache, n_jobs=1)


def _write(folder: Path, table: pd.DataFrame, result: Table3Result) -> list[Path]:
    """Table 3's files as the chapter writes them: the analysis computes, the store writes."""
    outputs = result.predictions, result.labels, result.class_names
    return write_table3(folder, table, sensitivity_table(*outputs), confusion_frames(*outputs))


def test_results_files(result: Table3Result, tmp_path: Path) -> None:
    written = _write(tmp_path, result.table, result)
    assert written[:2] == [tmp_path / "table3.csv", tmp_path / "sensitivity.csv"]
    table = pd.read_csv(tmp_path / "table3.csv")
    assert list(table.columns[:8]) == ["features", "model", "cv_error", *SPLIT_NAMES]
    assert list(table["model"]) == ["kNN", "L1 LR", "RF"]
    pd.testing.assert_frame_equal(table, result.table, check_exact=False)

    sens = pd.read_csv(tmp_path / "sensitivity.csv")
    assert list(sens.columns) == ["features", "model", "split", "class", "sensitivity"]
    assert len(sens) == 3 * 5 * 7 and set(sens["class"]) == set(CLASS_NAMES)

    matrix = pd.read_csv(confusion_path(tmp_path, "Texture", "L1 LR", "test2"), index_col=0)
    assert list(matrix.index) == list(CLASS_NAMES) == list(matrix.columns)
    labels = result.labels["test2"]
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=7))
    row = sens[(sens.model == "L1 LR") & (sens.split == "test2")].set_index("class")["sensitivity"]
    np.testing.assert_allclose(row[list(CLASS_NAMES)], np.diag(matrix) / matrix.sum(axis=1))
    assert len(list((tmp_path / "confusion").iterdir())) == 15
    matrices = read_confusions(tmp_path, table)
    assert len(matrices) == 15 and matrices[("Texture", "RF", "test4")].to_numpy().sum() > 0


def test_confusion_file_names() -> None:
    assert slug("L1 LR") == "L1_LR" and slug("DeepLoc (FC2)") == "DeepLoc_FC2"
    assert confusion_path(Path("r"), "VGG16 Conv4_1", "RF", "test4") == Path(
        "r/confusion/VGG16_Conv4_1__RF__test4.csv"
    )


def test_missing_results_name_the_chapter_to_run(tmp_path: Path) -> None:
    from coos_utils.results.store import read_table3

    with pytest.raises(FileNotFoundError, match="03_classifiers"):
        read_table3(tmp_path)


def test_compare_with_paper(result: Table3Result) -> None:
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


def test_run_table3_uses_the_profiles_search(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = {}

    def fake_fit_table3(features: dict, labels: dict, name: str, models: list, **kwargs) -> tuple:
        seen.update(kwargs)
        return _fake_rows(features, name, models, lambda model: 1.0)

    monkeypatch.setattr(table3_module, "fit_table3", fake_fit_table3)
    monkeypatch.setattr(
        table3_module, "features_for", lambda rep, splits, **kw: _FakeFeatures(splits)
    )
    rep = TextureRepresentation(n_jobs=1, progress=False)
    run_table3(load_splits(data), [rep], get_profile("paper"), seed=4, cache_dir=tmp_path, n_jobs=1)
    assert (seen["search_draws"], seen["cv_folds"], seen["seed"]) == (100, 5, 4)
    assert seen["bootstrap_samples"] == 1000


def _fake_rows(features: dict, name: str, models: list, cv: Callable[[str], float]) -> tuple:
    """What ``fit_table3`` returns, made up: one row per model, all predictions 0."""
    rows = [
        {"features": name, "model": m, "cv_error": cv(m), **dict.fromkeys(features, 1.0)}
        for m in models
    ]
    zeros = {
        (name, m, s): np.zeros(len(x), dtype=np.int64) for m in models for s, x in features.items()
    }
    return pd.DataFrame(rows), zeros


class _FakeFeatures:
    def __init__(self, splits: dict) -> None:
        self.splits = splits

    def values(self, output: str) -> dict:
        return {name: np.zeros((len(s), 2)) for name, s in self.splits.items()}

    def keys(self, output: str) -> dict:
        return {name: f"fake-{output}-{name}" for name in self.splits}


def test_commands(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = [
        "--data-dir",
        str(data),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--n-jobs",
        "1",
        "--representations",
        "texture",
    ]
    assert main(["-q", "features", *common]) == 0
    printed = capsys.readouterr().out
    assert printed.count("(computed)") == 5 and "texture/texture train: 42 x 69" in printed
    table3 = ["-q", "table3", *common, "--profile", "smoke", "--results-dir", str(tmp_path / "r")]
    assert main(table3) == 0
    printed = capsys.readouterr().out
    assert "L1 LR" in printed and "profile smoke" in printed
    assert len(list((tmp_path / "r").glob("*/smoke/table3.csv"))) == 1
    assert main(["-q", "features", *common]) == 0
    assert capsys.readouterr().out.count("(cached)") == 5


def test_well_clusters_tell_plates_apart() -> None:
    meta = pd.DataFrame({"plate": [1, 1, 2, 2], "well": ["A01", "A02", "A01", "A01"]})
    ids = well_clusters(meta)
    assert ids is not None and len(set(ids)) == 3 and ids[2] == ids[3] != ids[0]
    assert (
        well_clusters(meta[["well"]]) is not None and len(set(well_clusters(meta[["well"]]))) == 2
    )
    assert well_clusters(meta[["plate"]]) is None


def test_without_wells_the_table_shows_and_names_the_image_interval(result: Table3Result) -> None:
    table = result.table
    assert table[[f"{s}_well_ci_low" for s in SPLIT_NAMES]].isna().all().all()
    assert interval_kind(table) == IMAGE
    caption = interval_caption(table)
    assert "over images" in caption and "no well ids" in caption
    row = table.iloc[0]
    assert with_intervals(table).iloc[0]["test3"] == (
        f"{row['test3']:.1f} [{row['test3_ci_low']:.1f}, {row['test3_ci_high']:.1f}]"
    )


@pytest.fixture(scope="module")
def with_wells(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Table3Result:
    splits = load_splits(data)
    for split in splits.values():
        n = len(split)
        split.meta = pd.DataFrame(
            {"plate": np.arange(n) % 2, "well": [f"W{i % 3}" for i in range(n)]}
        )
    rep = TextureRepresentation(n_jobs=1, progress=False)
    cache = tmp_path_factory.mktemp("cache_wells")
    return run_table3(splits, [rep], get_profile("smoke"), cache_dir=cache, n_jobs=1)


def test_with_wells_the_table_shows_and_names_the_well_interval(
    with_wells: Table3Result, result: Table3Result, tmp_path: Path
) -> None:
    table = with_wells.table
    assert table[[f"{s}_well_ci_low" for s in SPLIT_NAMES]].notna().all().all()
    same = [c for c in table.columns if "_well_" not in c]
    pd.testing.assert_frame_equal(table[same], result.table[same])
    assert interval_kind(table) == WELL and "over wells" in interval_caption(table)
    assert "holds the well-level ones" in interval_caption(table, IMAGE)
    row = table.iloc[1]
    assert with_intervals(table).iloc[1]["test4"] == (
        f"{row['test4']:.1f} [{row['test4_well_ci_low']:.1f}, {row['test4_well_ci_high']:.1f}]"
    )
    _write(tmp_path, table, with_wells)
    written = pd.read_csv(tmp_path / "table3.csv")
    assert list(written.columns[:8]) == ["features", "model", "cv_error", *SPLIT_NAMES]
    assert {"test3_ci_low", "test3_well_ci_low", "test3_well_ci_high"} <= set(written.columns)
    one_well = table.assign(test2_well_ci_low=np.nan)
    assert interval_kind(one_well) == IMAGE and "fewer than two wells" in interval_caption(one_well)


class _Layers:
    """A representation with several outputs (like VGG16's layers), features made up."""

    learns = False

    def __init__(self, n: int) -> None:
        self.n = n

    def outputs(self) -> dict[str, str]:
        return {f"l{k}": f"Layers L{k}" for k in range(self.n)}


@pytest.mark.parametrize("n_outputs", [2, 5])
def test_chosen_by_cv_marks_every_multi_output_representation(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n_outputs: int
) -> None:
    def fake_fit_table3(features: dict, labels: dict, name: str, models: list, **kwargs) -> tuple:
        # lower layers have lower cross-validated errors
        return _fake_rows(features, name, models, lambda m: float(name[-1]) + (m == "kNN"))

    monkeypatch.setattr(table3_module, "fit_table3", fake_fit_table3)
    monkeypatch.setattr(
        table3_module, "features_for", lambda rep, splits, **kw: _FakeFeatures(splits)
    )
    table = run_table3(
        load_splits(data), [_Layers(n_outputs)], get_profile("smoke"), cache_dir=tmp_path, n_jobs=1
    ).table
    chosen = table.groupby("features")["chosen_by_cv"].all()
    expected = {f"Layers L{k}": k < 3 for k in range(n_outputs)}
    assert chosen.to_dict() == expected
    rf = set(table.loc[table["model"] == "RF", "features"])
    assert rf == {name for name, keep in expected.items() if keep}
