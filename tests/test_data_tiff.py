"""TIFF folders: reading, unpack/pack round trips, and every TIFF CoosDataError case."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from coos_utils.commands import main
from coos_utils.data import CoosDataError, load_split
from coos_utils.data.convert import pack, unpack
from coos_utils.data.writer import Hdf5SplitWriter
from tests.helpers import write_coos_hdf5


def _cell(folder: Path, stem: str, value: int = 1, shape=(64, 64), mask: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / f"{stem}_protein.tif", np.full(shape, value, np.uint16))
    tifffile.imwrite(folder / f"{stem}_nucleus.tif", np.full(shape, value + 1, np.uint16))
    if mask:
        tifffile.imwrite(folder / f"{stem}_mask.tif", np.ones(shape, np.uint8))


def test_reads_authors_layout_in_index_order(tmp_path: Path) -> None:
    _cell(tmp_path / "test1" / "3", "COOSv1cell_10", value=10)
    _cell(tmp_path / "test1" / "0", "COOSv1cell_2", value=2)
    _cell(tmp_path / "test1" / "Golgi", "COOSv1cell_7", value=7)
    split = load_split(tmp_path, "test1")
    assert split.source == "tiff" and len(split) == 3 and split.masks is None
    np.testing.assert_array_equal(split.labels, [0, 2, 3])
    np.testing.assert_array_equal(split.images[:, 0, 0, 0], [2, 7, 10])
    np.testing.assert_array_equal(split.images[:, 1, 0, 0], [3, 8, 11])


def test_masks_are_read_when_every_cell_has_one(tmp_path: Path) -> None:
    _cell(tmp_path / "train" / "1", "a_1", mask=True)
    _cell(tmp_path / "train" / "1", "a_2", mask=True)
    split = load_split(tmp_path, "train")
    assert split.masks is not None and split.masks.shape == (2, 64, 64)
    assert split.masks[0].sum() == 64 * 64


def test_wrong_size_tiff(tmp_path: Path) -> None:
    _cell(tmp_path / "test1" / "0", "c_1")
    _cell(tmp_path / "test1" / "0", "c_2", shape=(60, 64))
    with pytest.raises(CoosDataError, match=r"image is \(60, 64\), expected \(64, 64\)") as err:
        load_split(tmp_path, "test1")
    assert "c_2_protein.tif" in str(err.value)


def test_wrong_pixel_type(tmp_path: Path) -> None:
    folder = tmp_path / "test1" / "0"
    _cell(folder, "c_1")
    tifffile.imwrite(folder / "c_1_protein.tif", np.zeros((64, 64), np.float32))
    with pytest.raises(CoosDataError, match="float32, expected uint16"):
        load_split(tmp_path, "test1")


def test_unreadable_tiff(tmp_path: Path) -> None:
    folder = tmp_path / "test1" / "0"
    _cell(folder, "c_1")
    (folder / "c_1_nucleus.tif").write_bytes(b"garbage")
    with pytest.raises(CoosDataError, match="unreadable TIFF") as err:
        load_split(tmp_path, "test1")
    assert "c_1_nucleus.tif" in str(err.value)


def test_unknown_class_folder(tmp_path: Path) -> None:
    _cell(tmp_path / "test1" / "lysosome", "c_1")
    with pytest.raises(CoosDataError, match="unknown class folder name") as err:
        load_split(tmp_path, "test1")
    assert "lysosome" in str(err.value)


def test_cell_without_nucleus(tmp_path: Path) -> None:
    folder = tmp_path / "test1" / "0"
    _cell(folder, "c_1")
    (folder / "c_1_nucleus.tif").unlink()
    with pytest.raises(CoosDataError, match="no _nucleus.tif"):
        load_split(tmp_path, "test1")


def test_stray_file_is_not_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "test1" / "0"
    _cell(folder, "c_1")
    (folder / "notes.txt").write_text("x")
    with pytest.raises(CoosDataError, match="unexpected entry"):
        load_split(tmp_path, "test1")


def test_some_masks_missing(tmp_path: Path) -> None:
    _cell(tmp_path / "test1" / "0", "c_1", mask=True)
    _cell(tmp_path / "test1" / "0", "c_2")
    with pytest.raises(CoosDataError, match="some cells have masks"):
        load_split(tmp_path, "test1")


def test_metadata_rows_must_match_cells(tmp_path: Path) -> None:
    _cell(tmp_path / "test1" / "0", "c_1")
    (tmp_path / "test1" / "metadata.csv").write_text("stem,plate\nc_9,1\n")
    with pytest.raises(CoosDataError, match="metadata rows do not match"):
        load_split(tmp_path, "test1")


def test_empty_split_folder(tmp_path: Path) -> None:
    (tmp_path / "test2").mkdir()
    with pytest.raises(CoosDataError, match="no class folders"):
        load_split(tmp_path, "test2")


def _assert_same_file(a: Path, b: Path) -> None:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert sorted(fa.keys()) == sorted(fb.keys())
        for key in fa:
            assert fa[key].dtype == fb[key].dtype, key
            np.testing.assert_array_equal(fa[key][:], fb[key][:], err_msg=key)
        assert dict(fa.attrs).keys() == dict(fb.attrs).keys()


def test_unpack_pack_round_trip_is_lossless(tmp_path: Path) -> None:
    attrs = {"coos_source": "synthetic", "seed": 3, "parameters": '{"a": 1}', "tags": ["x", "y"]}
    images, labels = write_coos_hdf5(tmp_path / "raw" / "sim_test3.hdf5", n=40, attrs=attrs)
    write_coos_hdf5(tmp_path / "raw" / "sim_train.hdf5", n=10, meta=False, seed=5)
    unpack(tmp_path / "raw", tmp_path / "tiff", progress=False)
    assert sorted(p.name for p in (tmp_path / "tiff").iterdir()) == ["test3", "train"]
    assert (tmp_path / "tiff" / "test3" / str(labels[0]) / "COOSv1cell_0_protein.tif").exists()
    from_tiff = load_split(tmp_path / "tiff", "test3")
    assert from_tiff.source == "tiff" and from_tiff.is_synthetic
    np.testing.assert_array_equal(np.asarray(from_tiff.images), images)
    pack(tmp_path / "tiff", tmp_path / "back", progress=False)
    for name in ("sim_test3.hdf5", "sim_train.hdf5"):
        _assert_same_file(tmp_path / "raw" / name, tmp_path / "back" / name)
    back = load_split(tmp_path / "back", "test3")
    assert back.source == "synthetic" and back.attrs == load_split(tmp_path / "raw", "test3").attrs
    assert back.meta.equals(load_split(tmp_path / "raw", "test3").meta)


def test_masks_survive_the_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    images = rng.integers(0, 999, (6, 2, 64, 64), dtype=np.uint16)
    masks = rng.integers(0, 2, (6, 64, 64), dtype=np.uint8)
    with Hdf5SplitWriter(tmp_path / "raw" / "m_test1.hdf5") as writer:
        writer.append(images, np.arange(6) % 7, masks=masks)
    unpack(tmp_path / "raw", tmp_path / "tiff", progress=False)
    pack(tmp_path / "tiff", tmp_path / "back", progress=False)
    _assert_same_file(tmp_path / "raw" / "m_test1.hdf5", tmp_path / "back" / "m_test1.hdf5")


def test_interrupted_unpack_leaves_no_folder(tmp_path: Path, monkeypatch) -> None:
    write_coos_hdf5(tmp_path / "raw" / "c_test1.hdf5", n=20)
    calls = {"n": 0}
    real = tifffile.imwrite

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 15:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(tifffile, "imwrite", failing)
    with pytest.raises(KeyboardInterrupt):
        unpack(tmp_path / "raw", tmp_path / "tiff", progress=False)
    assert list((tmp_path / "tiff").iterdir()) == []


def test_unpack_refuses_to_overwrite(tmp_path: Path) -> None:
    write_coos_hdf5(tmp_path / "raw" / "c_test1.hdf5", n=3)
    (tmp_path / "tiff" / "test1").mkdir(parents=True)
    with pytest.raises(CoosDataError, match="already exists"):
        unpack(tmp_path / "raw", tmp_path / "tiff", progress=False)


def test_cli_unpack_pack_and_error_exit(tmp_path: Path, capsys) -> None:
    write_coos_hdf5(tmp_path / "raw" / "COOS7_v1.1_test2.hdf5", n=8)
    assert main(["-q", "unpack", str(tmp_path / "raw"), str(tmp_path / "tiff")]) == 0
    assert main(["-q", "pack", str(tmp_path / "tiff"), str(tmp_path / "back")]) == 0
    _assert_same_file(
        tmp_path / "raw" / "COOS7_v1.1_test2.hdf5", tmp_path / "back" / "COOS7_v1.1_test2.hdf5"
    )
    stored = json.loads((tmp_path / "tiff" / "test2" / "attributes.json").read_text())
    assert stored["source_file"] == "COOS7_v1.1_test2.hdf5"
    assert main(["-q", "pack", str(tmp_path / "nothing"), str(tmp_path / "x")]) == 2
    assert "no split folders" in capsys.readouterr().err
