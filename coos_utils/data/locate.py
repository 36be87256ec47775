"""Find the file or folder that holds a split under a data root."""

from __future__ import annotations

import re
from pathlib import Path

from coos_utils.data.errors import CoosDataError
from coos_utils.reference import SPLIT_NAMES

HDF5_SUFFIXES = (".hdf5", ".h5", ".hdf")


def _tokens(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", name.lower()))


def _matches(file_name: str, split: str) -> bool:
    stem = file_name.rsplit(".", 1)[0]
    tokens = _tokens(stem)
    return split in tokens or (split == "train" and "training" in tokens)


def splits_of_name(file_name: str) -> list[str]:
    """Every split whose name is a word of ``file_name`` (a usable file has exactly one)."""
    return [s for s in SPLIT_NAMES if _matches(file_name, s)]


def _refuse_ambiguous(files: list[Path]) -> None:
    """Stop when a file could stand for two splits: one file must never be two splits."""
    for path in files:
        names = splits_of_name(path.name)
        if len(names) > 1:
            raise CoosDataError(
                path,
                f"file name matches several splits ({', '.join(names)}); a file must be "
                "exactly one split: rename it so that its name contains one split name",
            )


def check_split_name(split: str) -> str:
    """The canonical (lower-case) split name, or an error listing the valid ones."""
    name = split.lower()
    if name not in SPLIT_NAMES:
        raise CoosDataError(
            None, f"unknown split {split!r}; choose one of {', '.join(SPLIT_NAMES)}"
        )
    return name


def find_split(root: str | Path, split: str) -> tuple[str, Path]:
    """Return ("hdf5", file) or ("tiff", split folder) for ``split`` under ``root``.

    HDF5 files match when a word of their name is the split name (``train`` also matches
    ``training``), case-insensitively; e.g. ``COOS7_v1.1_test3.hdf5`` is test3. Any HDF5 file
    whose name matches two splits (``train_test1.hdf5``) stops the search.
    """
    root = Path(root)
    split = check_split_name(split)
    if not root.is_dir():
        raise CoosDataError(
            root, "data folder does not exist" if not root.exists() else "not a folder"
        )
    hdf5 = sorted(
        p
        for p in root.iterdir()
        if p.is_file() and p.suffix.lower() in HDF5_SUFFIXES and not p.name.startswith(".")
    )
    _refuse_ambiguous(hdf5)
    matching = [p for p in hdf5 if _matches(p.name, split)]
    folders = [p for p in root.iterdir() if p.is_dir() and p.name.lower() == split]
    if len(matching) > 1:
        raise CoosDataError(
            root, f"several files match split {split!r}: {', '.join(p.name for p in matching)}"
        )
    if matching and folders:
        raise CoosDataError(
            root, f"split {split!r} is both an HDF5 file ({matching[0].name}) and a TIFF folder"
        )
    if matching:
        return "hdf5", matching[0]
    if folders:
        return "tiff", folders[0]
    found = (
        ", ".join(p.name for p in sorted(root.iterdir()) if not p.name.startswith(".")) or "nothing"
    )
    raise CoosDataError(
        root,
        f"no HDF5 file or TIFF folder for split {split!r} (found: {found}); expected a file "
        f"like COOS7_v1.1_{split}.hdf5 or a folder {split}/<class>/<stem>_protein.tif",
    )
