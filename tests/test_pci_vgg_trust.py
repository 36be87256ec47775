"""Issue 17: PCI pairs within one protein (class) and names its grouping; PCI gives all five
source-encoder layers to Table 3; VGG16's input follows the authors' fixed 8-bit scaling."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from coos_utils.benchmark import table3 as table3_module
from coos_utils.data import CoosSplit, holdout, load_split
from coos_utils.models import PciRepresentation, Vgg16Representation
from coos_utils.models import pci as pci_module
from coos_utils.models.pairs import GroupPartners, pairing_groups
from coos_utils.models.vgg import vgg_input
from coos_utils.profiles import get_profile
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse fixture)

SMALL = {"progress": False, "device": "cpu", "n_jobs": 1, "seed": 0}


@pytest.fixture(scope="module")
def train(tiny_data: Path) -> CoosSplit:
    return load_split(tiny_data, "train")


def without(split: CoosSplit, *columns: str) -> CoosSplit:
    return dataclasses.replace(split, meta=split.meta.drop(columns=list(columns)))


def drawn_pairs(groups: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    partners = GroupPartners(groups)
    drawn = partners.draw(partners.sources, torch.Generator().manual_seed(seed))
    return partners.sources.numpy(), drawn.numpy()


def test_grouping_follows_the_metadata_of_a_real_shaped_split(train: CoosSplit) -> None:
    assert {"plate", "well", "field"} <= set(train.meta.columns)
    assert pairing_groups(train.meta, train.labels)[1] == "field"
    assert pairing_groups(without(train, "field").meta, train.labels)[1] == "well"
    plate_only = without(train, "well", "field")
    groups, how = pairing_groups(plate_only.meta, train.labels)
    assert how == "plate + class"
    sources, partners = drawn_pairs(groups)
    plates = train.meta["plate"].to_numpy()
    assert (plates[sources] == plates[partners]).all()
    assert (train.labels[sources] == train.labels[partners]).all()


def test_without_field_or_well_ids_pairs_never_cross_two_classes(train: CoosSplit) -> None:
    bare = without(train, "plate", "well", "field")
    groups, how = pairing_groups(bare.meta, bare.labels)
    assert how == "class"
    assert len(np.unique(groups)) == len(np.unique(train.labels))
    for seed in range(5):
        sources, partners = drawn_pairs(groups, seed)
        assert len(sources) == len(train)
        assert (train.labels[sources] == train.labels[partners]).all()
        assert (sources != partners).all()


def test_pci_fit_without_ids_names_class_pairing_and_trains_on_same_class_pairs(
    train: CoosSplit, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[GroupPartners, list[tuple[torch.Tensor, torch.Tensor]]]] = []

    class Recording(GroupPartners):
        def __init__(self, groups: np.ndarray, device: torch.device | str = "cpu") -> None:
            super().__init__(groups, device)
            self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []
            made.append((self, self.seen))

        def draw(self, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            drawn = super().draw(rows, generator)
            self.seen.append((rows, drawn))
            return drawn

    monkeypatch.setattr(pci_module, "GroupPartners", Recording)
    bare = without(train, "plate", "well", "field")
    rep = PciRepresentation(iterations=3, batch_size=8, eval_every=3, width=1 / 16, **SMALL)
    with pytest.warns(UserWarning, match="the same class, anywhere in the split"):
        rep.fit(bare)
    assert rep.grouping_ == "class" and set(rep.history_["pairs"]) == {"class"}
    fit_rows, val_rows = holdout(len(train), rep.validation_fraction, rep.seed)
    assert len(made) == 2  # the fit part's partners, then the validation part's
    for (_, seen), rows in zip(made, (fit_rows, val_rows), strict=True):
        labels = train.labels[rows]
        assert seen, "no pairs were drawn"
        for sources, partners in seen:
            assert (labels[sources.numpy()] == labels[partners.numpy()]).all()


def test_pci_gives_five_layers_and_table3_forests_only_the_three_chosen_by_cv(
    train: CoosSplit, monkeypatch: pytest.MonkeyPatch
) -> None:
    rep = PciRepresentation(**SMALL)
    assert list(rep.outputs().values()) == [f"PCI Conv{k}" for k in range(1, 6)]
    cv_error = {"PCI Conv1": 9.0, "PCI Conv2": 3.0, "PCI Conv3": 5.0, "PCI Conv4": 1.0}

    def fake_fit_table3(features: dict, labels: dict, name: str, models: list, **kw) -> tuple:
        rows = [{"features": name, "model": m, "cv_error": cv_error.get(name, 2.0)} for m in models]
        return pd.DataFrame(rows), {}

    class Features:
        def values(self, output: str) -> dict:
            return {"train": np.zeros((len(train), 2))}

    monkeypatch.setattr(table3_module, "fit_representation", lambda *a, **k: None)
    monkeypatch.setattr(table3_module, "features_for", lambda *a, **k: Features())
    monkeypatch.setattr(table3_module, "fit_table3", fake_fit_table3)
    table, _ = table3_module.representation_rows(rep, {"train": train}, get_profile("smoke"))
    for model in ("kNN", "L1 LR"):
        assert len(table[table["model"] == model]) == 5
    forest = table[table["model"] == "RF"]
    assert set(forest["features"]) == {"PCI Conv4", "PCI Conv5", "PCI Conv2"}
    chosen = table[table["chosen_by_cv"]]
    assert set(chosen["features"]) == set(forest["features"])


def brightness_pair() -> torch.Tensor:
    """Two (2, 64, 64) cells of integer intensities, the second twice as bright as the first."""
    cell = np.random.default_rng(0).integers(200, 1800, size=(2, 64, 64)).astype(np.float32)
    return torch.from_numpy(np.stack([cell, cell * 2]))


def test_vgg_input_keeps_brightness_differences_only_under_the_authors_scaling() -> None:
    pair = brightness_pair()
    authors = vgg_input(pair)
    assert not torch.allclose(authors[0], authors[1])
    assert authors[1].mean() > authors[0].mean()  # brighter cell, brighter input
    stretched = vgg_input(pair, "per_image")
    assert torch.equal(stretched[0], stretched[1])


def test_vgg_authors_scaling_is_one_fixed_8_bit_map() -> None:
    x = torch.zeros(1, 2, 64, 64)
    x[0, 0, 0, :4] = torch.tensor([0.0, 257.0, 65535.0, 70000.0])
    grey = vgg_input(x)[0, 0, 0, :4] * 0.229 + 0.485  # back to [0, 1]
    torch.testing.assert_close(grey, torch.tensor([0.0, 1 / 255, 1.0, 1.0]))
    dim = vgg_input(x, input_max=4095.0)[0, 0, 0, 1] * 0.229 + 0.485
    torch.testing.assert_close(dim, torch.tensor(round(257 / 4095 * 255) / 255))
    with pytest.raises(ValueError, match="unknown input_scaling"):
        vgg_input(x, "sqrt")


def test_vgg_scaling_is_a_parameter_in_the_cache_key_and_the_display_name() -> None:
    authors = Vgg16Representation(weights=None, layers=["conv1_1"], **SMALL)
    stretched = Vgg16Representation(
        weights=None, layers=["conv1_1"], input_scaling="per_image", **SMALL
    )
    assert authors.params()["input_scaling"] == "authors"
    assert authors.params() != stretched.params()
    assert authors.params()["input_max"] == 65535.0
    assert authors.outputs() == {"conv1_1": "VGG16 Conv1_1 (random init)"}
    assert stretched.outputs() == {"conv1_1": "VGG16 Conv1_1 (random init, per-image stretch)"}
    with pytest.raises(ValueError, match="unknown input_scaling"):
        Vgg16Representation(weights=None, input_scaling="global")
    with pytest.raises(ValueError, match="input_max must be positive"):
        Vgg16Representation(weights=None, input_max=0)


def test_vgg_features_of_a_brighter_cell_differ_only_under_the_authors_scaling(
    train: CoosSplit,
) -> None:
    images = brightness_pair().numpy().astype(np.uint16)
    split = dataclasses.replace(
        train, images=images, labels=np.zeros(2, np.int64), meta=train.meta.iloc[:2]
    )
    for scaling, differ in (("authors", True), ("per_image", False)):
        rep = Vgg16Representation(weights=None, layers=["conv2_1"], input_scaling=scaling, **SMALL)
        values = rep.transform(split)["conv2_1"]
        assert (not np.allclose(values[0], values[1])) == differ


def test_vgg_authors_scaling_warns_when_dim_cells_keep_few_grey_levels(train: CoosSplit) -> None:
    from coos_utils.models.vgg import grey_levels, warn_if_few_grey_levels

    # The tiny synthetic cells peak at a few thousand grey levels of 65,535: under the literal
    # map they keep only a handful of 8-bit levels, which is what the warning is for.
    assert grey_levels(train, 65535.0) < 16 <= grey_levels(train, 4095.0)
    with pytest.warns(UserWarning, match=r"median of .* grey levels.*input_max"):
        warn_if_few_grey_levels(train, 65535.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_few_grey_levels(train, 4095.0)
