"""Lossless conversion between COOS-7 HDF5 files and the authors' TIFF folder layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tifffile
from tqdm import tqdm

from coos_utils.atomic import atomic_path
from coos_utils.data.errors import CoosDataError
from coos_utils.data.hdf5 import read_hdf5_split
from coos_utils.data.locate import HDF5_SUFFIXES, find_split, splits_of_name
from coos_utils.data.split import CoosSplit
from coos_utils.data.tiff import (
    ATTRIBUTES_FILE,
    CHANNEL_SUFFIXES,
    MASK_SUFFIX,
    METADATA_FILE,
    read_attributes,
    read_tiff_split,
)
from coos_utils.data.writer import Hdf5SplitWriter
from coos_utils.reference import SPLIT_NAMES

STEM_PREFIX = "COOSv1cell_"


def _split_of_file(path: Path) -> str:
    names = splits_of_name(path.name)
    if len(names) != 1:
        raise CoosDataError(
            path, f"cannot tell which split this file is (matches {names or 'none'})"
        )
    return names[0]


def _hdf5_sources(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise CoosDataError(src, "no such file or folder")
    files = sorted(
        p for p in src.iterdir() if p.suffix.lower() in HDF5_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise CoosDataError(src, "no HDF5 files in this folder")
    return files


def unpack(
    src: str | Path, dest: str | Path, batch_size: int = 1024, progress: bool = True
) -> list[Path]:
    """Write each HDF5 split under ``src`` (a file or folder) as ``dest/<split>/<label>/`` TIFFs.

    Cells are named ``COOSv1cell_<index>_protein.tif`` / ``_nucleus.tif`` as in the authors'
    script; ``metadata.csv`` and ``attributes.json`` keep the rest, so :func:`pack` can rebuild
    the same file. Each split folder appears only once complete.
    """
    dest = Path(dest)
    written = []
    for path in _hdf5_sources(Path(src)):
        split = read_hdf5_split(path, _split_of_file(path))
        target = dest / split.name
        if target.exists():
            raise CoosDataError(target, "already exists; remove it or choose another destination")
        with atomic_path(target, is_dir=True) as tmp:
            _write_tiffs(split, tmp, batch_size, progress)
        written.append(target)
    return written


def _write_tiffs(split: CoosSplit, folder: Path, batch_size: int, progress: bool) -> None:
    for label in np.unique(split.labels):
        (folder / str(label)).mkdir()
    stems = [f"{STEM_PREFIX}{i}" for i in range(len(split))]
    bar = tqdm(total=len(split), desc=f"unpacking {split.name}", unit="cell", disable=not progress)
    for batch in split.iter_batches(batch_size):
        masks = (
            None
            if split.masks is None
            else split.masks[batch.start : batch.start + len(batch.labels)]
        )
        for k, (image, label) in enumerate(zip(batch.images, batch.labels, strict=True)):
            base = folder / str(label) / stems[batch.start + k]
            for channel, suffix in enumerate(CHANNEL_SUFFIXES):
                tifffile.imwrite(f"{base}{suffix}", image[channel])
            if masks is not None:
                tifffile.imwrite(f"{base}{MASK_SUFFIX}", masks[k])
        bar.update(len(batch.labels))
    bar.close()
    if len(split.meta.columns):
        table = split.meta.copy()
        table.insert(0, "stem", stems)
        table.to_csv(folder / METADATA_FILE, index=False)
    stored = {
        "source_file": split.path.name,
        "attrs": split.attrs,
        "class_names": list(split.class_names),
        "meta_dtypes": {c: str(split.meta[c].dtype) for c in split.meta.columns},
    }
    (folder / ATTRIBUTES_FILE).write_text(json.dumps(stored, indent=1), encoding="utf-8")


def _pack_target(attributes: Path, dest: Path, split: str) -> Path:
    """Where ``pack`` writes a split: a plain HDF5 file name that names ``split`` (and no
    other), always inside ``dest``."""
    name = read_attributes(attributes).get("source_file", f"COOS7_{split}.hdf5")
    plain = (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and Path(name).suffix.lower() in HDF5_SUFFIXES
    )
    if not plain or (dest / name).resolve().parent != dest.resolve():
        raise CoosDataError(
            attributes,
            f"source_file {name!r} is not a plain HDF5 file name; pack writes only inside "
            "its destination folder",
        )
    named = splits_of_name(name)
    if named != [split]:
        raise CoosDataError(
            attributes,
            f"source_file {name!r} names {' and '.join(named) or 'no split'}, but this is the "
            f"{split} folder; a split is never written as another",
        )
    return dest / name


def pack(
    src: str | Path, dest: str | Path, batch_size: int = 1024, progress: bool = True
) -> list[Path]:
    """Write every split folder under ``src`` back into one HDF5 file each in ``dest``.

    The file takes its original name when ``attributes.json`` records it (a name that names
    another split is refused), else ``COOS7_<split>.hdf5``. Each file appears only once
    complete.
    """
    src, dest = Path(src), Path(dest)
    splits = [s for s in SPLIT_NAMES if (src / s).is_dir()]
    if not splits:
        raise CoosDataError(src, f"no split folders ({', '.join(SPLIT_NAMES)}) to pack")
    written = []
    for name in splits:
        kind, folder = find_split(src, name)
        if kind != "tiff":
            raise CoosDataError(folder, "expected a TIFF folder")
        split = read_tiff_split(src, name)
        target = _pack_target(folder / ATTRIBUTES_FILE, dest, name)
        if target.exists():
            raise CoosDataError(target, "already exists; remove it or choose another destination")
        bar = tqdm(total=len(split), desc=f"packing {name}", unit="cell", disable=not progress)
        with Hdf5SplitWriter(target, attrs=split.attrs) as writer:
            for batch in split.iter_batches(batch_size):
                stop = batch.start + len(batch.labels)
                writer.append(
                    batch.images,
                    batch.labels,
                    meta=split.meta.iloc[batch.start : stop] if len(split.meta.columns) else None,
                    masks=None if split.masks is None else split.masks[batch.start : stop],
                )
                bar.update(len(batch.labels))
        bar.close()
        written.append(target)
    return written


__all__ = ["pack", "unpack"]
