"""Issue 17: inputs that used to give a silently wrong split are refused or noticed.

One file as two splits, half-written or over-declared HDF5 files, an empty split, a
fingerprint that misses an edited image, ``pack`` writing outside its destination, and the
usual spellings of the plate / well / field columns.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from coos_utils.data import CoosDataError, digest, load_split
from coos_utils.data.convert import pack, unpack
from tests.helpers import write_coos_hdf5

LONG_AGO_NS = time.time_ns() - 3600 * 10**9


@pytest.fixture(autouse=True)
def memo_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fingerprint memos go to a fresh folder, and nothing is remembered in-process."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("COOS_CACHE_DIR", str(folder))
    digest.forget()
    yield folder
    digest.forget()


def _age(*paths: Path) -> None:
    """Give files an old modification time, as a downloaded data set has."""
    for path in paths:
        os.utime(path, ns=(LONG_AGO_NS, LONG_AGO_NS))


def _labels_file(path: Path, n: int, **data_kwargs) -> h5py.Dataset:
    """An HDF5 file with complete labels; ``data`` is created by the caller's kwargs."""
    handle = h5py.File(path, "w")
    handle.create_dataset("labels", data=np.arange(n) % 7)
    return handle.create_dataset("data", (n, 2, 64, 64), np.uint16, **data_kwargs)


# 1. One file, one split ---------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "test1", "test2"])
def test_a_file_named_for_two_splits_is_refused(tmp_path: Path, split: str) -> None:
    write_coos_hdf5(tmp_path / "train_test1.hdf5", n=10)
    write_coos_hdf5(tmp_path / "COOS7_test2.hdf5", n=10)
    with pytest.raises(CoosDataError, match=r"matches several splits \(train, test1\)") as err:
        load_split(tmp_path, split)
    assert err.value.path == tmp_path / "train_test1.hdf5"


# 2. Half-written or over-declared HDF5 ------------------------------------------------


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_unwritten_chunks_are_refused(tmp_path: Path, compression: str | None) -> None:
    path = tmp_path / "COOS7_test1.hdf5"
    data = _labels_file(path, 600, chunks=(64, 2, 64, 64), compression=compression)
    data[:300] = 5  # chunks 0-4 (rows 0-319) written, rows 320-599 never
    data.file.close()
    with pytest.raises(CoosDataError, match=r"280 of 600 images were never written") as err:
        load_split(tmp_path, "test1")
    assert "5 of 10 chunks" in str(err.value) and err.value.path == path


def test_partly_written_contiguous_data_is_refused(tmp_path: Path) -> None:
    """h5py allocates contiguous storage whole at the first write: the rest stays holes."""
    path = tmp_path / "COOS7_test1.hdf5"
    data = _labels_file(path, 100)
    data[:40] = 5
    assert data.id.get_storage_size() == 100 * 2 * 64 * 64 * 2
    data.file.close()
    with pytest.raises(CoosDataError, match=r"of 100 images were never written") as err:
        load_split(tmp_path, "test1")
    assert err.value.path == path


def test_never_written_contiguous_data_is_refused(tmp_path: Path) -> None:
    _labels_file(tmp_path / "COOS7_test1.hdf5", 100).file.close()
    with pytest.raises(CoosDataError, match=r"100 of 100 images were never written"):
        load_split(tmp_path, "test1")


def test_fully_written_contiguous_zeros_still_load(tmp_path: Path) -> None:
    data = _labels_file(tmp_path / "COOS7_test1.hdf5", 10)
    data[:] = 0
    data.file.close()
    assert len(load_split(tmp_path, "test1")) == 10


def test_a_huge_declared_size_is_refused_without_allocating_it(tmp_path: Path) -> None:
    path = tmp_path / "COOS7_test1.hdf5"
    n = 10**8
    with h5py.File(path, "w") as handle:
        handle.create_dataset("data", (n, 2, 64, 64), np.uint16, chunks=(256, 2, 64, 64))
        handle.create_dataset("labels", (n,), np.int64, chunks=(4096,))
    assert path.stat().st_size < 10_000
    tracemalloc.start()
    try:
        with pytest.raises(
            CoosDataError, match="100000000 of 100000000 images were never written"
        ) as err:
            load_split(tmp_path, "test1")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20 and err.value.path == path


def test_an_empty_split_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "COOS7_test1.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("data", (0, 2, 64, 64), np.uint16)
        handle.create_dataset("labels", (0,), np.int64)
    with pytest.raises(CoosDataError, match="holds no images") as err:
        load_split(tmp_path, "test1")
    assert err.value.path == path


def test_an_empty_tiff_split_is_refused(tmp_path: Path) -> None:
    (tmp_path / "test1" / "0").mkdir(parents=True)
    with pytest.raises(CoosDataError, match="holds no images") as err:
        load_split(tmp_path, "test1")
    assert err.value.path == tmp_path / "test1"


# 3. The fingerprint covers every byte, and is computed once ---------------------------


def _edit_hdf5(path: Path, what: str, row: int) -> None:
    with h5py.File(path, "r+") as handle:
        if what == "image":
            handle["data"][row, 1, 10, 10] ^= 1
        elif what == "label":
            handle["labels"][row] = (handle["labels"][row] + 1) % 7
        else:
            handle["plate"][row] += 1


@pytest.mark.parametrize("what", ["image", "label", "metadata"])
def test_editing_one_image_label_or_meta_row_changes_the_fingerprint(
    tmp_path: Path, what: str
) -> None:
    path = tmp_path / "COOS7_train.hdf5"
    write_coos_hdf5(path, n=300)
    _age(path)
    before = load_split(tmp_path, "train").fingerprint()
    assert load_split(tmp_path, "train").fingerprint() == before
    _edit_hdf5(path, what, 100)  # row 100 is not among the 64 rows the old sample read
    assert load_split(tmp_path, "train").fingerprint() != before


def test_a_file_is_hashed_once_then_remembered_on_disk(
    tmp_path: Path, memo_in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "COOS7_train.hdf5"
    write_coos_hdf5(path, n=40)
    _age(path)
    calls = []
    real = digest.hash_rows
    monkeypatch.setattr(digest, "hash_rows", lambda *a: calls.append(1) or real(*a), raising=True)
    first = load_split(tmp_path, "train").fingerprint()
    assert load_split(tmp_path, "train").fingerprint() == first and len(calls) == 1
    digest.forget()  # as a new process would start
    assert load_split(tmp_path, "train").fingerprint() == first and len(calls) == 1
    (memo,) = (memo_in_tmp / "fingerprints").glob("*.json")
    memo.write_text("{broken")
    digest.forget()
    assert load_split(tmp_path, "train").fingerprint() == first and len(calls) == 2


def test_a_file_changed_just_now_is_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second change within one tick of the clock would keep the mtime: hash again."""
    write_coos_hdf5(tmp_path / "COOS7_train.hdf5", n=10)
    calls = []
    real = digest.hash_rows
    monkeypatch.setattr(digest, "hash_rows", lambda *a: calls.append(1) or real(*a))
    split = load_split(tmp_path, "train")
    split.fingerprint()
    split.fingerprint()
    assert len(calls) == 2


def test_tiff_fingerprint_sees_one_edited_file_and_hashes_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_coos_hdf5(tmp_path / "h5" / "COOS7_test1.hdf5", n=120)
    unpack(tmp_path / "h5", tmp_path / "tiff", progress=False)
    files = sorted((tmp_path / "tiff").rglob("*.tif"))
    _age(*files)
    calls = []
    real = digest.file_digest
    monkeypatch.setattr(digest, "file_digest", lambda p: calls.append(p) or real(p))
    before = load_split(tmp_path / "tiff", "test1").fingerprint()
    assert len(calls) == len(files) == 240
    digest.forget()
    assert load_split(tmp_path / "tiff", "test1").fingerprint() == before
    assert len(calls) == 240
    (edited,) = (tmp_path / "tiff" / "test1").glob("*/COOSv1cell_100_nucleus.tif")
    pixels = tifffile.imread(edited)
    pixels[30, 30] ^= 1
    tifffile.imwrite(edited, pixels)
    assert load_split(tmp_path / "tiff", "test1").fingerprint() != before
    assert calls[240:] == [edited]


def test_in_memory_images_are_fingerprinted_whole(tmp_path: Path) -> None:
    write_coos_hdf5(tmp_path / "COOS7_train.hdf5", n=20)
    split = load_split(tmp_path, "train")
    images = np.asarray(split.images)
    in_memory = dataclasses.replace(split, images=images)
    assert in_memory.fingerprint() == split.fingerprint()
    images[13, 0, 5, 5] ^= 1
    assert in_memory.fingerprint() != split.fingerprint()


# 6. pack writes only inside its destination --------------------------------------------


@pytest.mark.parametrize("source_file", ["../../x.hdf5", "ABSOLUTE", "sub/x.hdf5", "..", 7])
def test_pack_refuses_a_source_file_outside_the_destination(
    tmp_path: Path, source_file: object
) -> None:
    if source_file == "ABSOLUTE":
        source_file = str(tmp_path / "elsewhere" / "x.hdf5")
    write_coos_hdf5(tmp_path / "h5" / "COOS7_test1.hdf5", n=5)
    unpack(tmp_path / "h5", tmp_path / "tiff", progress=False)
    attributes = tmp_path / "tiff" / "test1" / "attributes.json"
    stored = json.loads(attributes.read_text())
    attributes.write_text(json.dumps({**stored, "source_file": source_file}))
    dest = tmp_path / "out" / "packed"
    with pytest.raises(CoosDataError, match="not a plain HDF5 file name") as err:
        pack(tmp_path / "tiff", dest, progress=False)
    assert err.value.path == attributes
    assert not list(tmp_path.rglob("x.hdf5"))


def test_pack_keeps_a_plain_source_file_name(tmp_path: Path) -> None:
    write_coos_hdf5(tmp_path / "h5" / "COOS7_v1.1_test1.hdf5", n=5)
    unpack(tmp_path / "h5", tmp_path / "tiff", progress=False)
    (written,) = pack(tmp_path / "tiff", tmp_path / "out", progress=False)
    assert written == tmp_path / "out" / "COOS7_v1.1_test1.hdf5" and written.exists()


# 7. The usual spellings of plate, well and field ---------------------------------------


def _with_columns(path: Path, columns: dict[str, np.ndarray]) -> None:
    write_coos_hdf5(path, n=12, meta=False)
    with h5py.File(path, "r+") as handle:
        for name, values in columns.items():
            handle.create_dataset(name, data=values)


def test_plate_well_field_spellings_get_canonical_names(tmp_path: Path) -> None:
    plates, wells = np.arange(12) % 3, np.array([f"W{i % 4}" for i in range(12)], dtype=object)
    sites = np.arange(12) % 2
    _with_columns(
        tmp_path / "COOS7_train.hdf5",
        {"plateID": plates, "wellID": wells, "Site": sites, "day": np.ones(12)},
    )
    meta = load_split(tmp_path, "train").meta
    assert sorted(meta.columns) == ["day", "field", "plate", "well"]
    np.testing.assert_array_equal(meta["plate"], plates)
    assert list(meta["well"]) == list(wells)


def test_two_columns_for_one_name_are_refused(tmp_path: Path) -> None:
    _with_columns(tmp_path / "COOS7_train.hdf5", {"plate": np.zeros(12), "plate_id": np.ones(12)})
    with pytest.raises(CoosDataError, match="'plate' and 'plate_id' both give the 'plate'"):
        load_split(tmp_path, "train")


def test_tiff_metadata_spellings_get_canonical_names(tmp_path: Path) -> None:
    write_coos_hdf5(tmp_path / "h5" / "COOS7_test1.hdf5", n=6)
    unpack(tmp_path / "h5", tmp_path / "tiff", progress=False)
    table = tmp_path / "tiff" / "test1" / "metadata.csv"
    table.write_text(
        table.read_text().replace("plate", "Plate_Name", 1).replace("well", "well-id", 1)
    )
    attributes = tmp_path / "tiff" / "test1" / "attributes.json"
    attributes.write_text(attributes.read_text().replace('"plate"', '"Plate_Name"'))
    meta = load_split(tmp_path / "tiff", "test1").meta
    assert list(meta.columns) == ["plate", "well"]
