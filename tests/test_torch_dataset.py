"""CoosDataset and its loaders: the same data as load_split, from any source and any worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from coos_utils.data import CoosDataError, CoosDataset, eval_loader, load_split, train_loader
from coos_utils.data.convert import unpack
from coos_utils.data.writer import Hdf5SplitWriter
from coos_utils.models.deeploc import stretch
from coos_utils.models.transforms import DeepLocStretch, Vgg16Input
from coos_utils.models.vgg import vgg_input


def _everything(loader: torch.utils.data.DataLoader) -> tuple[np.ndarray, np.ndarray, dict]:
    images, labels, meta = [], [], {}
    for x, y, m in loader:
        images.append(x.numpy())
        labels.append(y.numpy())
        for key, values in m.items():
            meta.setdefault(key, []).extend(np.asarray(values).tolist())
    return np.concatenate(images), np.concatenate(labels), meta


def test_importing_the_data_layer_does_not_import_torch() -> None:
    code = (
        "import sys, coos_utils.data as d; assert 'torch' not in sys.modules; "
        "d.CoosDataset; assert 'torch' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hdf5_items_are_the_split_images_labels_and_metadata(coos_file) -> None:
    folder, images, labels = coos_file("COOS7_v1.1_test2.hdf5", n=20)
    ds = CoosDataset(folder, "test2")
    image, label, meta = ds[7]
    assert image.dtype == torch.float32 and tuple(image.shape) == (2, 64, 64)
    np.testing.assert_array_equal(image.numpy(), images[7].astype(np.float32))
    assert label == labels[7] and isinstance(label, int)
    assert meta["split"] == "test2" and meta["index"] == 7
    assert meta["plate"] == 7 % 4 and meta["well"] == "W7"
    assert len(ds) == 20 and ds[-1][2]["index"] == 19
    with pytest.raises(IndexError):
        ds[20]


def test_tiff_folders_give_the_same_items_as_their_hdf5(coos_file, tmp_path: Path) -> None:
    folder, images, labels = coos_file("COOS7_v1.1_test3.hdf5", n=12)
    unpack(folder, tmp_path / "tiff", progress=False)
    ds = CoosDataset(tmp_path / "tiff", "test3")
    assert load_split(tmp_path / "tiff", "test3").source == "tiff"
    got, got_labels, meta = _everything(eval_loader(ds, batch_size=5))
    np.testing.assert_array_equal(got, images.astype(np.float32))
    np.testing.assert_array_equal(got_labels, labels)
    assert meta["index"] == list(range(12)) and meta["well"][3] == "W3"


class _Pids(CoosDataset):
    """Items whose metadata say which process read them and which process opened the file."""

    def _item(self, index: int, image: np.ndarray):  # type: ignore[override]
        x, y, meta = super()._item(index, image)
        return x, y, {**meta, "pid": os.getpid(), "opened_by": self.split.images._pid}


def test_two_workers_read_synthetic_data_with_their_own_file_handles(tiny_data: Path) -> None:
    split = load_split(tiny_data, "test1")
    ds = _Pids(split)
    ds[0]  # the parent opens the file before the workers are forked
    assert split.images._pid == os.getpid()
    got, labels, meta = _everything(eval_loader(ds, batch_size=32, num_workers=2))
    np.testing.assert_array_equal(got, np.asarray(split.images).astype(np.float32))
    np.testing.assert_array_equal(labels, split.labels)
    assert meta["index"] == list(range(len(split)))
    assert {"plate", "well", "field"} <= set(meta)
    assert meta["plate"] == split.meta["plate"].tolist()
    workers = set(meta["pid"])
    assert len(workers) == 2 and os.getpid() not in workers
    assert meta["opened_by"] == meta["pid"]


def test_dataset_can_wrap_an_opened_split_and_checks_the_name(tiny_data: Path) -> None:
    split = load_split(tiny_data, "test4")
    assert len(CoosDataset(split)) == len(split)
    with pytest.raises(ValueError, match="test4"):
        CoosDataset(split, "train")
    with pytest.raises(ValueError, match="name the split"):
        CoosDataset(tiny_data)


def _unbalanced(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A split of 210 tiny-valued images: class 0 has 120, the others 15 each; plates 3:1."""
    labels = np.repeat(np.arange(7), [120, 15, 15, 15, 15, 15, 15])
    plates = np.where(np.arange(210) % 4 == 0, "B", "A").astype(object)
    images = np.zeros((210, 2, 64, 64), dtype=np.uint16)
    with Hdf5SplitWriter(path, attrs={"origin": "test"}) as writer:
        writer.append(images, labels, meta={"plate": plates})
    return labels, plates


def _drawn(loader: torch.utils.data.DataLoader, epochs: int, key: str | None = None) -> list:
    drawn = []
    for _ in range(epochs):
        for _, y, meta in loader:
            drawn.extend(meta[key] if key else y.tolist())
    return drawn


def test_class_balanced_loader_draws_every_class_equally_often(tmp_path: Path) -> None:
    _unbalanced(tmp_path / "COOS7_v1.1_train.hdf5")
    ds = CoosDataset(tmp_path, "train")
    drawn = np.array(_drawn(train_loader(ds, 64, balance="class", seed=1), epochs=30))
    counts = np.bincount(drawn, minlength=7)
    expected = len(drawn) / 7
    assert np.all(np.abs(counts - expected) < 0.15 * expected), counts
    plain = np.bincount(_drawn(train_loader(ds, 64, seed=1), epochs=1), minlength=7)
    np.testing.assert_array_equal(plain, [120, 15, 15, 15, 15, 15, 15])


def test_loader_balanced_over_a_metadata_column(tmp_path: Path) -> None:
    _unbalanced(tmp_path / "COOS7_v1.1_train.hdf5")
    ds = CoosDataset(tmp_path, "train")
    drawn = _drawn(train_loader(ds, 70, balance="plate", seed=0), epochs=30, key="plate")
    share = drawn.count("B") / len(drawn)
    assert abs(share - 0.5) < 0.05, share
    with pytest.raises(CoosDataError, match="cannot balance over 'site'"):
        train_loader(ds, 70, balance="site")


def test_training_loader_is_a_seeded_shuffle(coos_file) -> None:
    folder, _, _ = coos_file("COOS7_v1.1_train.hdf5", n=40)
    ds = CoosDataset(folder, "train")

    def order(seed: int) -> list[int]:
        return _drawn(train_loader(ds, 8, seed=seed), epochs=1, key="index")

    assert order(3) == order(3) != order(4)
    assert sorted(order(3)) == list(range(40)) and order(3) != list(range(40))


def test_baseline_transforms_are_the_models_own_input(coos_file) -> None:
    folder, images, _ = coos_file("COOS7_v1.1_test1.hdf5", n=4)
    batch = torch.from_numpy(images.astype(np.float32))
    deeploc = CoosDataset(folder, "test1", transform=DeepLocStretch())
    vgg = CoosDataset(folder, "test1", transform=Vgg16Input())
    assert tuple(deeploc[2][0].shape) == (2, 64, 64) and tuple(vgg[2][0].shape) == (3, 64, 64)
    torch.testing.assert_close(deeploc[2][0], stretch(batch)[2])
    torch.testing.assert_close(vgg[2][0], vgg_input(batch)[2])
    torch.testing.assert_close(DeepLocStretch()(batch), stretch(batch))
    got, _, _ = _everything(eval_loader(deeploc, batch_size=4, num_workers=2))
    np.testing.assert_allclose(got, stretch(batch).numpy(), rtol=1e-6)
