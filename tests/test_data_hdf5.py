"""load_split on HDF5 files: reading, laziness and every CoosDataError case."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest

from coos_utils.data import CoosDataError, load_split
from coos_utils.reference import CLASS_NAMES
from tests.helpers import write_coos_hdf5


def test_reads_images_labels_meta(coos_file) -> None:
    folder, images, labels = coos_file(n=40)
    split = load_split(folder, "test1")
    assert split.source == "coos7" and not split.is_synthetic
    assert split.images.shape == (40, 2, 64, 64) and split.images.dtype == np.uint16
    assert len(split) == 40 and split.labels.dtype == np.int64
    np.testing.assert_array_equal(split.labels, labels)
    np.testing.assert_array_equal(split.images[3:9], images[3:9])
    np.testing.assert_array_equal(split.images[[7, 2, 2, -1]], images[[7, 2, 2, -1]])
    np.testing.assert_array_equal(split.images[5, 1], images[5, 1])
    np.testing.assert_array_equal(np.asarray(split.images), images)
    assert list(split.meta.columns) == ["plate", "well"] and len(split.meta) == 40
    assert split.meta["well"].iloc[9] == "W1"
    assert split.class_names == CLASS_NAMES
    assert "plate" in split.describe()


def test_batches_cover_the_split_in_order(coos_file) -> None:
    folder, images, labels = coos_file(n=23)
    batches = list(load_split(folder, "test1").iter_batches(10))
    assert [b.start for b in batches] == [0, 10, 20]
    np.testing.assert_array_equal(np.concatenate([b.images for b in batches]), images)
    np.testing.assert_array_equal(np.concatenate([b.labels for b in batches]), labels)


@pytest.mark.parametrize(
    ("file_name", "split"),
    [
        ("COOS7_v1.1_training.hdf5", "train"),
        ("coos7_TRAIN.h5", "train"),
        ("COOS7_v1.1_Test4.hdf5", "test4"),
    ],
)
def test_file_names_match_split(tmp_path: Path, file_name: str, split: str) -> None:
    write_coos_hdf5(tmp_path / file_name, n=5)
    write_coos_hdf5(tmp_path / "COOS7_v1.1_test1.hdf5", n=5)
    assert load_split(tmp_path, split).path.name == file_name


def test_label_names_from_file_are_used(tmp_path: Path) -> None:
    names = list(reversed(CLASS_NAMES))
    write_coos_hdf5(tmp_path / "x_test2.hdf5", n=5, attrs={"label_names": names})
    with pytest.warns(UserWarning, match="differ"):
        split = load_split(tmp_path, "test2")
    assert split.class_names == tuple(names)


def test_split_survives_pickling_and_reopens(coos_file) -> None:
    import pickle

    folder, images, _ = coos_file(n=12)
    split = load_split(folder, "test1")
    split.images[0]
    clone = pickle.loads(pickle.dumps(split.images))
    np.testing.assert_array_equal(clone[4:6], images[4:6])


def test_batched_reading_does_not_load_the_whole_file(tmp_path: Path) -> None:
    """A 64 MB file read by batches of 64 images never holds more than a few batches."""
    n = 4096  # 4096 cells x 16 KiB = 64 MiB
    rng = np.random.default_rng(1)
    with h5py.File(tmp_path / "big_test3.hdf5", "w") as handle:
        data = handle.create_dataset("data", (n, 2, 64, 64), np.uint16, chunks=(64, 2, 64, 64))
        for start in range(0, n, 512):
            data[start : start + 512] = rng.integers(0, 9, (512, 2, 64, 64), dtype=np.uint16)
        handle["labels"] = rng.integers(0, 7, n)
    split = load_split(tmp_path, "test3")
    file_bytes = split.images.nbytes
    tracemalloc.start()
    total = 0
    for batch in split.iter_batches(64):
        total += int(batch.images.sum())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total > 0
    assert peak < file_bytes / 16, f"peak {peak} bytes for a {file_bytes}-byte file"
    tracemalloc.start()
    everything = split.load_images()
    _, peak_all = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert everything.nbytes == file_bytes and peak_all >= file_bytes


# --- every bad input is a CoosDataError naming the file ---------------------------------


def _write(path: Path, **datasets) -> None:
    with h5py.File(path, "w") as handle:
        for key, value in datasets.items():
            handle[key] = value


def _good(n: int = 4) -> dict:
    return {"data": np.zeros((n, 2, 64, 64), np.uint16), "labels": np.zeros(n, np.int64)}


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CoosDataError, match="does not exist") as err:
        load_split(tmp_path / "nowhere", "train")
    assert "nowhere" in str(err.value)


def test_missing_split(tmp_path: Path) -> None:
    _write(tmp_path / "COOS7_test1.hdf5", **_good())
    with pytest.raises(CoosDataError, match="no HDF5 file or TIFF folder for split 'test2'"):
        load_split(tmp_path, "test2")


def test_unknown_split_name(tmp_path: Path) -> None:
    with pytest.raises(CoosDataError, match="unknown split"):
        load_split(tmp_path, "validation")


def test_several_files_match(tmp_path: Path) -> None:
    _write(tmp_path / "COOS7_v1_train.hdf5", **_good())
    _write(tmp_path / "COOS7_v1.1_training.hdf5", **_good())
    with pytest.raises(CoosDataError, match="several files match split 'train'") as err:
        load_split(tmp_path, "train")
    assert "COOS7_v1_train.hdf5" in str(err.value) and "training" in str(err.value)


@pytest.mark.parametrize("missing", ["data", "labels"])
def test_missing_dataset(tmp_path: Path, missing: str) -> None:
    datasets = _good()
    del datasets[missing]
    _write(tmp_path / "c_test1.hdf5", **datasets)
    with pytest.raises(CoosDataError, match=f"no '{missing}' dataset") as err:
        load_split(tmp_path, "test1")
    assert "c_test1.hdf5" in str(err.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros((4, 64, 64), np.uint16), "shape"),
        (np.zeros((4, 3, 64, 64), np.uint16), "shape"),
        (np.zeros((4, 2, 32, 32), np.uint16), "shape"),
        (np.zeros((4, 2, 64, 64), np.float32), "float32, expected uint16"),
    ],
)
def test_wrong_shape_or_dtype(tmp_path: Path, data: np.ndarray, message: str) -> None:
    _write(tmp_path / "c_test1.hdf5", data=data, labels=np.zeros(4, np.int64))
    with pytest.raises(CoosDataError, match=message):
        load_split(tmp_path, "test1")


def test_length_mismatch(tmp_path: Path) -> None:
    _write(tmp_path / "c_test1.hdf5", data=np.zeros((4, 2, 64, 64), np.uint16), labels=np.zeros(5))
    with pytest.raises(CoosDataError, match="5 entries but 'data' has 4"):
        load_split(tmp_path, "test1")


@pytest.mark.parametrize("bad", [7, -1])
def test_labels_out_of_range(tmp_path: Path, bad: int) -> None:
    labels = np.array([0, 1, bad, 2])
    _write(tmp_path / "c_test1.hdf5", data=np.zeros((4, 2, 64, 64), np.uint16), labels=labels)
    with pytest.raises(CoosDataError, match=r"1 labels outside 0..6 \(first at index 2"):
        load_split(tmp_path, "test1")


def test_non_integer_labels(tmp_path: Path) -> None:
    _write(tmp_path / "c_test1.hdf5", data=np.zeros((2, 2, 64, 64), np.uint16), labels=[0.5, 1.0])
    with pytest.raises(CoosDataError, match="non-integer"):
        load_split(tmp_path, "test1")


def test_truncated_file(tmp_path: Path) -> None:
    write_coos_hdf5(tmp_path / "c_test1.hdf5", n=30)
    raw = (tmp_path / "c_test1.hdf5").read_bytes()
    (tmp_path / "c_test1.hdf5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CoosDataError, match="truncated or corrupt") as err:
        load_split(tmp_path, "test1")
    assert "c_test1.hdf5" in str(err.value)


def test_not_hdf5_at_all(tmp_path: Path) -> None:
    (tmp_path / "c_test1.hdf5").write_text("this is not HDF5")
    with pytest.raises(CoosDataError, match="not a readable HDF5 file"):
        load_split(tmp_path, "test1")


def test_wrong_number_of_label_names(tmp_path: Path) -> None:
    write_coos_hdf5(tmp_path / "c_test1.hdf5", n=3, attrs={"label_names": ["a", "b"]})
    with pytest.raises(CoosDataError, match="should name 7 classes"):
        load_split(tmp_path, "test1")


def test_other_datasets_are_reported_not_dropped(tmp_path: Path) -> None:
    _write(tmp_path / "c_test1.hdf5", **_good(4), plate=np.arange(4), lookup=np.arange(9))
    split = load_split(tmp_path, "test1")
    assert list(split.meta.columns) == ["plate"]
    assert split.other_datasets == {"lookup": (9,)}
    assert "lookup" in split.describe()
