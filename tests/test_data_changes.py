"""Issue 26, item 4: a split file that changes under an opened split is refused by name.

A file replaced (``os.replace`` of another valid split of the same shape), truncated or
rewritten in place after ``load_split`` is never read as other images (or as zeros) under the
labels read at opening: ``iter_batches``, ``CoosDataset`` in the main process and in
``DataLoader`` workers (which reopen the file), pickled copies and the fingerprint all raise a
one-line ``CoosDataError`` naming the file and what changed. HDF5 files and TIFF folders alike.
"""

from __future__ import annotations

import os
import pickle
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from coos_utils.data import CoosDataError, CoosDataset, eval_loader, load_split
from coos_utils.data.convert import unpack
from tests.helpers import write_coos_hdf5

N = 64
CHANGED = "changed since it was opened"
LONG_AGO_NS = time.time_ns() - 3600 * 10**9


@pytest.fixture
def hdf5_pair(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """(the split file under ``coos/``, another valid split of the same shape, its images)."""
    split_file = tmp_path / "coos" / "COOS7_v1.1_test1.hdf5"
    other = tmp_path / "other" / "COOS7_v1.1_test1.hdf5"
    write_coos_hdf5(split_file, n=N, seed=0)
    other_images, _ = write_coos_hdf5(other, n=N, seed=1)
    return split_file, other, other_images


def _replace(path: Path, other: Path) -> None:
    """Swap in ``other``'s content as a new file, as a download or a rewrite would."""
    os.replace(shutil.copy(other, path.with_name(path.name + ".new")), path)


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 100)


def _replace_with_sibling(path: Path) -> None:
    """Replace a cell's TIFF by another cell's (the same shape and type)."""
    sibling = next(p for p in sorted(path.parent.parent.rglob("*_protein.tif")) if p != path)
    _replace(path, sibling)


def _refused(err: pytest.ExceptionInfo, path: Path, what: str) -> None:
    message = str(err.value)
    assert message.startswith(f"{path}: {CHANGED}") and what in message
    assert "\n" not in message


def _read_all(loader) -> None:
    for _ in loader:
        pass


# iter_batches ----------------------------------------------------------------------------


def test_iter_batches_refuses_a_file_replaced_mid_iteration(hdf5_pair) -> None:
    split_file, other, _ = hdf5_pair
    split = load_split(split_file.parent, "test1")
    batches = split.iter_batches(16)
    next(batches)
    _replace(split_file, other)
    with pytest.raises(CoosDataError) as err:
        next(batches)
    _refused(err, split_file, "replaced by another file")


def test_iter_batches_refuses_a_file_truncated_mid_iteration(hdf5_pair) -> None:
    """HDF5 reads the part of an open file past its new end as zeros, silently."""
    split_file, _, _ = hdf5_pair
    size = split_file.stat().st_size
    split = load_split(split_file.parent, "test1")
    batches = split.iter_batches(16)
    next(batches)
    _truncate(split_file)
    with pytest.raises(CoosDataError) as err:
        list(batches)
    _refused(err, split_file, f"size {size} -> {size // 100}")


def test_a_file_rewritten_in_place_with_the_same_size_is_refused(hdf5_pair) -> None:
    split_file, other, _ = hdf5_pair
    os.utime(split_file, ns=(LONG_AGO_NS, LONG_AGO_NS))
    split = load_split(split_file.parent, "test1")
    with open(split_file, "r+b") as handle:
        handle.write(other.read_bytes())
    with pytest.raises(CoosDataError) as err:
        split.images[0:4]
    _refused(err, split_file, "modification time changed")


# CoosDataset, in the main process and in two workers -------------------------------------


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("opened_first", [False, True], ids=["unread", "read"])
def test_dataset_refuses_a_replaced_hdf5_file(hdf5_pair, workers: int, opened_first) -> None:
    """Before the fix the new file's images came out under the old labels."""
    split_file, other, _ = hdf5_pair
    ds = CoosDataset(split_file.parent, "test1")
    if opened_first:
        ds[0]  # the parent holds an open handle; forked workers open their own
    _replace(split_file, other)
    with pytest.raises(CoosDataError) as err:
        _read_all(eval_loader(ds, batch_size=16, num_workers=workers))
    _refused(err, split_file, "replaced by another file")


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("opened_first", [False, True], ids=["unread", "read"])
def test_dataset_refuses_a_truncated_hdf5_file(hdf5_pair, workers: int, opened_first) -> None:
    split_file, _, _ = hdf5_pair
    size = split_file.stat().st_size
    ds = CoosDataset(split_file.parent, "test1")
    if opened_first:
        ds[0]
    _truncate(split_file)
    with pytest.raises(CoosDataError) as err:
        _read_all(eval_loader(ds, batch_size=16, num_workers=workers))
    _refused(err, split_file, f"size {size} -> {size // 100}")


@pytest.fixture
def tiff_dataset(hdf5_pair, tmp_path: Path) -> CoosDataset:
    split_file, _, _ = hdf5_pair
    unpack(split_file.parent, tmp_path / "tiff", progress=False)
    return CoosDataset(tmp_path / "tiff", "test1")


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize(
    ("change", "what"),
    [(_replace_with_sibling, "replaced by another file"), (_truncate, "size ")],
    ids=["replaced", "truncated"],
)
def test_dataset_refuses_a_changed_tiff_file(
    tiff_dataset: CoosDataset, workers: int, change: Callable[[Path], None], what: str
) -> None:
    """Before the fix a replaced TIFF was read as this cell's image, silently."""
    protein = tiff_dataset.split.images.channel_files[5][0]
    change(protein)
    with pytest.raises(CoosDataError) as err:
        _read_all(eval_loader(tiff_dataset, batch_size=16, num_workers=workers))
    _refused(err, protein, what)


def test_a_tiff_folder_still_reads_whole_after_the_checks(tiff_dataset: CoosDataset) -> None:
    split = tiff_dataset.split
    np.testing.assert_array_equal(
        split.images[3:9], np.stack([split.images[i] for i in range(3, 9)])
    )
    assert split.images[0].shape == (2, 64, 64)


# pickled copies, the fingerprint, the error itself ---------------------------------------


def test_a_pickled_copy_of_the_images_refuses_a_replaced_file(hdf5_pair) -> None:
    """A worker started by spawn gets the images pickled, and reopens the file by name."""
    split_file, other, _ = hdf5_pair
    images = load_split(split_file.parent, "test1").images
    _replace(split_file, other)
    with pytest.raises(CoosDataError) as err:
        pickle.loads(pickle.dumps(images))[0]
    _refused(err, split_file, "replaced by another file")


def test_the_fingerprint_refuses_a_file_replaced_after_opening(hdf5_pair) -> None:
    """The fingerprint would otherwise hash the new images beside the old labels."""
    split_file, other, _ = hdf5_pair
    split = load_split(split_file.parent, "test1")
    _replace(split_file, other)
    with pytest.raises(CoosDataError) as err:
        split.fingerprint()
    _refused(err, split_file, "replaced by another file")


def test_a_file_deleted_after_opening_is_named(hdf5_pair) -> None:
    split_file, _, _ = hdf5_pair
    split = load_split(split_file.parent, "test1")
    split_file.unlink()
    with pytest.raises(CoosDataError) as err:
        split.images[0]
    _refused(err, split_file, "no longer exists")


def test_an_unchanged_split_reads_the_same_through_every_way_in(hdf5_pair) -> None:
    split_file, _, _ = hdf5_pair
    split = load_split(split_file.parent, "test1")
    whole = np.concatenate([batch.images for batch in split.iter_batches(10)])
    clone = pickle.loads(pickle.dumps(split.images))
    np.testing.assert_array_equal(clone[:], whole)
    np.testing.assert_array_equal(np.asarray(split.images), whole)


def test_a_coos_data_error_survives_pickling_and_rebuilding_from_a_traceback() -> None:
    error = CoosDataError("/data/x.hdf5", "changed since it was opened (size 2 -> 1)")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.path == Path("/data/x.hdf5")
    traceback_text = (
        "Caught CoosDataError in DataLoader worker process 0.\nOriginal Traceback:\n"
        '  File "lazy.py", line 1, in _dset\n'
        f"coos_utils.data.errors.CoosDataError: {error}\n"
    )
    assert str(CoosDataError(traceback_text)) == str(error)
