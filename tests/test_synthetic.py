"""The synthetic COOS-7 stand-in: format, determinism, experimental design, and its science."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import mahotas
import matplotlib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.preprocessing import StandardScaler

from coos_utils.data import load_split
from coos_utils.reference import CLASS_NAMES, SPLIT_NAMES
from coos_utils.synthetic import (
    GENERATOR_VERSION,
    SWITCHES,
    SimulationParams,
    ensure_synthetic,
    file_name,
    make_design,
    simulate_dataset,
    split_sizes,
)

matplotlib.use("Agg")

SEED = 0
META = {"plate", "well", "field", "day", "microscope", "border_well"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five tiny splits of seed 0, simulated once for the whole module."""
    out = tmp_path_factory.mktemp("synthetic") / "tiny_seed0"
    simulate_dataset(out, scale="tiny", seed=SEED, workers=1)
    return out


@pytest.fixture(scope="module")
def splits(tiny: Path) -> dict:
    return {name: load_split(tiny, name) for name in SPLIT_NAMES}


# --- format ---------------------------------------------------------------------------------


def test_files_are_named_and_labelled_as_synthetic(tiny: Path, splits: dict) -> None:
    names = sorted(p.name for p in tiny.iterdir())
    assert names == sorted(file_name("tiny", SEED, s) for s in SPLIT_NAMES)
    assert all(n.startswith("SYNTHETIC-") and "COOS7_" not in n for n in names)
    sizes = split_sizes("tiny")
    for name, split in splits.items():
        assert split.source == "synthetic" and split.is_synthetic
        assert "SYNTHETIC" in split.data_label
        assert len(split) == sizes[name]
        assert split.images.dtype == np.uint16 and split.images.shape[1:] == (2, 64, 64)
        assert set(split.meta.columns) >= META
        assert split.class_names == CLASS_NAMES
        attrs = split.attrs
        assert attrs["coos_source"] == "synthetic"
        assert attrs["generator"] == "coos_utils.synthetic"
        assert attrs["generator_version"] == GENERATOR_VERSION
        assert (attrs["seed"], attrs["scale"], attrs["split"]) == (SEED, "tiny", name)
        assert SimulationParams.from_json(attrs["parameters"]) == SimulationParams()


def test_images_look_like_camera_output(splits: dict) -> None:
    """Offset under the background, no saturation, dimmer background on the home microscope."""
    params = SimulationParams()
    lows = {}
    for name in ("train", "test4"):
        images = splits[name].images[:200].astype(np.int64)
        assert images.max() < 65535
        lows[name] = np.median(np.percentile(images[:, 0], 1, axis=(1, 2)))
        assert images[:, 1].max() > 4 * lows[name]
    assert params.microscope_a.offset < lows["train"] < params.microscope_b.offset
    assert lows["test4"] > params.microscope_b.offset


# --- determinism ----------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_images(tiny: Path, tmp_path: Path) -> None:
    """Byte-identical whatever the number of workers or the subset of splits asked for."""
    again = simulate_dataset(
        tmp_path / "again", scale="tiny", seed=SEED, splits=["test1"], workers=2
    )
    assert again[0].read_bytes() == (tiny / file_name("tiny", SEED, "test1")).read_bytes()
    other = simulate_dataset(tmp_path / "other", scale="tiny", seed=SEED + 1, splits=["test1"])
    with h5py.File(again[0]) as a, h5py.File(other[0]) as b:
        assert a["data"].shape == b["data"].shape
        assert not np.array_equal(a["data"][:50], b["data"][:50])


def test_ensure_synthetic_reuses_and_repairs(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tiny_seed0"
    shutil.copytree(tiny, folder)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert ensure_synthetic(tmp_path, "tiny", SEED) == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    broken = folder / file_name("tiny", SEED, "test3")
    broken.write_bytes(broken.read_bytes()[:1000])
    assert ensure_synthetic(tmp_path, "tiny", SEED) == folder
    assert load_split(folder, "test3").images.shape[0] == split_sizes("tiny")["test3"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- experimental design --------------------------------------------------------------------


def test_design_matches_the_paper(splits: dict) -> None:
    meta = {name: s.meta.assign(label=s.labels) for name, s in splits.items()}
    for label in range(7):
        plates = {n: set(m.loc[m.label == label, "plate"]) for n, m in meta.items()}
        assert len(plates["train"]) == 4 and len(plates["test3"]) == 2 and len(plates["test4"]) == 1
        assert plates["test1"] <= plates["train"] and plates["test2"] <= plates["train"]
        assert not (plates["test3"] | plates["test4"]) & plates["train"]
        wells = {
            n: set(
                zip(m.loc[m.label == label, "plate"], m.loc[m.label == label, "well"], strict=True)
            )
            for n, m in meta.items()
        }
        assert wells["test1"] <= wells["train"]
        assert not wells["test2"] & wells["train"]
    assert not meta["train"]["border_well"].any() and meta["test2"]["border_well"].all()
    assert meta["test3"]["day"].min() > meta["train"]["day"].max()
    assert set(meta["test4"]["microscope"]) == {"B"}
    assert {m for n in ("train", "test1", "test2", "test3") for m in meta[n]["microscope"]} == {"A"}


def test_design_at_paper_scale() -> None:
    """Exact split sizes, 7 plates x 8 wells per class, imbalance from proliferation rates."""
    design = make_design("paper", SEED)
    sizes = {name: len(cells) for name, cells in design.cells.items()}
    assert sizes == {"train": 41456, "test1": 10364, "test2": 17021, "test3": 32596, "test4": 30772}
    wells = design.wells
    assert (wells.groupby("label")["plate"].nunique() == 7).all()
    assert (wells.groupby(["label", "plate"]).size() == 8).all()
    fields = design.cells["train"].groupby(["plate", "well"])["field"].nunique()
    assert fields.between(8, 20).mean() > 0.9
    counts = np.bincount(design.cells["train"]["label"], minlength=7)
    rates = np.array(SimulationParams().proliferation)
    assert counts.max() / counts.min() > 1.3
    assert np.corrcoef(counts, rates)[0, 1] > 0.8
    flat = make_design("paper", SEED, SimulationParams().without("class_imbalance"))
    counts = np.bincount(flat.cells["train"]["label"], minlength=7)
    assert counts.max() / counts.min() < 1.2


def test_shift_switches() -> None:
    params = SimulationParams()
    assert set(SWITCHES) <= {f for f in json.loads(params.to_json())}
    off = params.without("test3_drift", "test4_microscope")
    assert off.test3_drift == 0 and off.test4_microscope == 0 and off.plate_effects == 1
    assert off.scope(site_b=True) == params.microscope_a
    assert SimulationParams.from_json(off.to_json()) == off
    with pytest.raises(ValueError, match="unknown shift"):
        params.without("gravity")
    base, calm = make_design("tiny", SEED), make_design("tiny", SEED, off)
    for name in SPLIT_NAMES:
        keep = ["plate", "well", "field", "label"]
        assert base.cells[name][keep].equals(calm.cells[name][keep])
    assert base.cells["test3"]["drift"].min() > 0 and calm.cells["test3"]["drift"].max() == 0


# --- the science: a texture classifier shows the paper's pattern ----------------------------


def texture_features(images: np.ndarray) -> np.ndarray:
    """Haralick features of channel 0 at distances 1-5 and intensity statistics, as in the paper."""
    rows = []
    for image in images:
        protein, nucleus = image[0].astype(np.float64), image[1].astype(np.float64)
        scaled = (protein - protein.min()) / max(np.ptp(protein), 1.0)
        levels = np.minimum((scaled * 32).astype(np.uint8), 31)
        haralick = [
            mahotas.features.haralick(levels, distance=d, return_mean=True) for d in range(1, 6)
        ]
        stats = [scaled.mean(), scaled.std(), np.corrcoef(protein.ravel(), nucleus.ravel())[0, 1]]
        rows.append(np.concatenate([*haralick, stats]))
    return np.nan_to_num(np.asarray(rows))


def test_texture_classifier_shows_the_papers_pattern(splits: dict) -> None:
    """Errors low and close on test1/test2, clearly higher on test3/test4; every class learnt."""
    features = {name: texture_features(s.images[:]) for name, s in splits.items()}
    scaler = StandardScaler().fit(features["train"])
    model = LogisticRegression(max_iter=3000).fit(
        scaler.transform(features["train"]), splits["train"].labels
    )
    predicted = {n: model.predict(scaler.transform(f)) for n, f in features.items()}
    error = {
        n: 100 * (1 - balanced_accuracy_score(splits[n].labels, p)) for n, p in predicted.items()
    }
    # tiny splits hold ~30-90 cells per class, so a balanced error moves by ~2 points by chance
    near, far = (error["test1"], error["test2"]), (error["test3"], error["test4"])
    assert max(near) < 12 and abs(near[0] - near[1]) < 6, error
    assert min(far) > max(near) + 3 and np.mean(far) > np.mean(near) + 5, error
    assert max(far) < 40, error
    assert error["test1"] + error["test2"] > 1, error
    recall = recall_score(splits["test1"].labels, predicted["test1"], average=None)
    assert recall.min() > 0.5, recall


# --- the figure -----------------------------------------------------------------------------


def test_plot_examples_shows_classes_and_source(splits: dict) -> None:
    import matplotlib.pyplot as plt

    from coos_utils.presentation.figures import SHORT_NAMES, plot_examples

    chosen = {n: splits[n] for n in ("train", "test3", "test4")}
    fig = plot_examples(chosen, per_class=2, seed=1)
    axes = np.array(fig.axes).reshape(7, 6)
    shown = [ax.get_ylabel() for ax in axes[:, 0]]  # short names, in class order
    assert shown == [SHORT_NAMES[name] for name in CLASS_NAMES]
    assert [t for ax in axes[0] if (t := ax.get_title())] == ["train", "test3", "test4"]
    assert "SYNTHETIC" in fig._suptitle.get_text()
    assert all(ax.images for ax in axes.flat)
    plt.close(fig)


def test_book_page_lists_the_defaults() -> None:
    """The parameter table of book/synthetic.md agrees with SimulationParams' defaults."""
    import re

    page = (Path(__file__).resolve().parent.parent / "book" / "synthetic.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", page, flags=re.MULTILINE))
    defaults = SimulationParams().to_dict()
    scalars = {k: v for k, v in defaults.items() if isinstance(v, (int, float))}
    assert set(scalars) <= set(rows)
    for name, value in scalars.items():
        assert float(rows[name]) == value, name
    assert [float(x) for x in rows["proliferation"].split(",")] == defaults["proliferation"]
