"""Read COOS-7 unpacked into TIFF folders: ``<root>/<split>/<class>/<stem>_protein.tif``.

This is the layout of the authors' unpack script (class folders named by label number,
one TIFF per channel). Two optional files per split folder, written by ``coos unpack``,
make the round trip back to HDF5 lossless: ``metadata.csv`` (one row per cell, column
``stem`` first) and ``attributes.json`` (the HDF5 file's attributes and name).

Each TIFF's identity (size, mtime, inode, device) is recorded as the split is opened (when its
header is checked), and every later read of the file is checked against it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from coos_utils.data.attrs import canonical_meta_names
from coos_utils.data.errors import CoosDataError
from coos_utils.data.lazy import FileIdentity, TiffImages
from coos_utils.data.split import CoosSplit
from coos_utils.reference import CLASSES, IMAGE_SHAPE

CHANNEL_SUFFIXES = ("_protein.tif", "_nucleus.tif")
MASK_SUFFIX = "_mask.tif"
METADATA_FILE = "metadata.csv"
ATTRIBUTES_FILE = "attributes.json"
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_CLASS_FOLDER_NAMES: dict[str, int] = {}
for _c in CLASSES:
    for _alias in (str(_c.label), _c.name, _c.short):
        _CLASS_FOLDER_NAMES[_norm(_alias)] = _c.label


def class_of_folder(folder: Path) -> int:
    """The label a class folder stands for: its number, full name or short name."""
    label = _CLASS_FOLDER_NAMES.get(_norm(folder.name))
    if label is None:
        raise CoosDataError(
            folder,
            "unknown class folder name; use a label 0-6 or a class name "
            f"({', '.join(c.short for c in CLASSES)})",
        )
    return label


def _stem_order(stem: str) -> tuple[int, str]:
    match = _TRAILING_NUMBER.search(stem)
    return (int(match.group(1)) if match else -1, stem)


def _scan_class_folder(folder: Path) -> dict[str, dict[str, Path]]:
    """Map stem -> {suffix: path}; any file that is not a cell's channel is an error."""
    cells: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        suffix = next((s for s in (*CHANNEL_SUFFIXES, MASK_SUFFIX) if path.name.endswith(s)), None)
        if suffix is None or not path.is_file():
            raise CoosDataError(
                path,
                "unexpected entry in a class folder (expected <stem>_protein.tif, "
                "<stem>_nucleus.tif and optionally <stem>_mask.tif)",
            )
        cells.setdefault(path.name[: -len(suffix)], {})[suffix] = path
    for stem, files in cells.items():
        missing = [s for s in CHANNEL_SUFFIXES if s not in files]
        if missing:
            raise CoosDataError(folder / stem, f"cell has no {' or '.join(missing)} file")
    return cells


def _check_header(path: Path, dtype: np.dtype | None) -> tuple[np.dtype, FileIdentity]:
    """The file's pixel type (checked against ``dtype`` unless None) and the identity of the
    file whose header was read."""
    try:
        with open(path, "rb") as handle, tifffile.TiffFile(handle) as tif:
            opened = FileIdentity.of(os.fstat(handle.fileno()))
            page = tif.pages[0]
            shape, found = tuple(page.shape), np.dtype(page.dtype)
    except Exception as exc:  # tifffile raises several types for bad files
        raise CoosDataError(path, f"unreadable TIFF ({exc})") from exc
    if shape != IMAGE_SHAPE[1:]:
        raise CoosDataError(path, f"image is {shape}, expected {IMAGE_SHAPE[1:]} pixels")
    if dtype is not None and found != dtype:
        raise CoosDataError(path, f"pixels are {found}, expected {dtype}")
    return found, opened


def _identities(
    cells: list[tuple[Path, ...]], checked: dict[Path, FileIdentity]
) -> list[tuple[FileIdentity, ...]]:
    """Each file's identity: as its header was checked, else as it is now."""
    return [
        tuple(checked[p] if p in checked else FileIdentity.of_path(p) for p in cell)
        for cell in cells
    ]


def read_tiff_split(root: str | Path, split: str, check_headers: bool = True) -> CoosSplit:
    """Index the TIFF folder of one split; pixels are read on access.

    With ``check_headers`` every file's header is read once now (shape and pixel type), so a
    wrong-sized TIFF is reported before any work starts rather than halfway through it.
    """
    folder = Path(root) / split
    class_folders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    stray = [
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.name not in (METADATA_FILE, ATTRIBUTES_FILE)
        and not p.name.startswith(".")
    ]
    if stray:
        raise CoosDataError(stray[0], "unexpected file in a split folder (expected class folders)")
    if not class_folders:
        raise CoosDataError(folder, "split folder has no class folders")
    records: list[tuple[tuple[int, str], str, int, dict[str, Path]]] = []
    seen: dict[str, Path] = {}
    for class_folder in class_folders:
        label = class_of_folder(class_folder)
        for stem, files in _scan_class_folder(class_folder).items():
            if stem in seen:
                raise CoosDataError(class_folder / stem, f"cell stem also found in {seen[stem]}")
            seen[stem] = class_folder
            records.append((_stem_order(stem), stem, label, files))
    if not records:
        raise CoosDataError(folder, "the split holds no images (its class folders are empty)")
    records.sort(key=lambda r: r[0])
    stems = [r[1] for r in records]
    labels = np.array([r[2] for r in records], dtype=np.int64)
    channel_files = [tuple(r[3][s] for s in CHANNEL_SUFFIXES) for r in records]
    with_mask = [MASK_SUFFIX in r[3] for r in records]
    if any(with_mask) and not all(with_mask):
        first = stems[with_mask.index(False)]
        raise CoosDataError(folder, f"some cells have masks and others not (e.g. {first})")

    mask_dtype = None
    checked: dict[Path, FileIdentity] = {}
    if check_headers:
        for files in channel_files:
            for path in files:
                checked[path] = _check_header(path, np.dtype(np.uint16))[1]
        if all(with_mask) and records:
            for r in records:
                mask = r[3][MASK_SUFFIX]
                mask_dtype, checked[mask] = _check_header(mask, mask_dtype)
    elif all(with_mask) and records:
        mask_dtype = _check_header(records[0][3][MASK_SUFFIX], None)[0]
    masks = None
    if all(with_mask) and records:
        mask_files = [(r[3][MASK_SUFFIX],) for r in records]
        masks = TiffImages(
            mask_files,
            IMAGE_SHAPE[1:],
            mask_dtype,
            stack_channels=False,
            opened=_identities(mask_files, checked),
        )
    stored = read_attributes(folder / ATTRIBUTES_FILE)
    return CoosSplit(
        name=split,
        images=TiffImages(
            channel_files, IMAGE_SHAPE[1:], opened=_identities(channel_files, checked)
        ),
        labels=labels,
        meta=_read_metadata(folder / METADATA_FILE, stems, stored.get("meta_dtypes", {})),
        source="tiff",
        path=folder,
        class_names=_class_names(folder / ATTRIBUTES_FILE, stored),
        attrs=stored.get("attrs", {}),
        masks=masks,
    )


def read_attributes(path: Path) -> dict:
    """The JSON file ``coos unpack`` writes: source_file, attrs, meta_dtypes, class_names."""
    if not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CoosDataError(path, f"unreadable attributes file ({exc})") from exc
    if not isinstance(stored, dict):
        raise CoosDataError(path, "attributes file should hold a JSON object")
    return stored


def _class_names(path: Path, stored: dict) -> tuple[str, ...]:
    """The class names of ``attributes.json`` (default: COOS-7's), one text per class."""
    names = stored.get("class_names", [c.name for c in CLASSES])
    if not (
        isinstance(names, list)
        and len(names) == len(CLASSES)
        and all(isinstance(n, str) for n in names)
    ):
        raise CoosDataError(
            path,
            f"class_names must be a list of {len(CLASSES)} names, one per class, not {names!r}",
        )
    return tuple(names)


def _read_metadata(path: Path, stems: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    index = pd.RangeIndex(len(stems), name="index")
    if not path.exists():
        return pd.DataFrame(index=index)
    try:
        table = pd.read_csv(
            path, dtype={"stem": str, **{k: v for k, v in dtypes.items()}}, keep_default_na=False
        )
    except (OSError, ValueError) as exc:
        raise CoosDataError(path, f"unreadable metadata table ({exc})") from exc
    if "stem" not in table.columns:
        raise CoosDataError(path, "metadata table has no 'stem' column")
    if table["stem"].duplicated().any():
        raise CoosDataError(path, "metadata table lists a cell twice")
    missing = sorted(set(stems) - set(table["stem"]))
    extra = sorted(set(table["stem"]) - set(stems))
    if missing or extra:
        raise CoosDataError(
            path,
            f"metadata rows do not match the cells: {len(missing)} cells without a row "
            f"{missing[:3]}, {len(extra)} rows without a cell {extra[:3]}",
        )
    table = table.set_index("stem").loc[stems].reset_index(drop=True)
    for column, dtype in dtypes.items():
        if dtype == "object":
            table[column] = table[column].astype(object)
    table.index = index
    return table.rename(columns=canonical_meta_names(path, table.columns))
