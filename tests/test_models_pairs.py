"""PCI pairs: the grouping chosen from the metadata, and partners that never leave it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from coos_utils.models.pairs import GroupPartners, describe_pairing, pairing_groups


def test_grouping_is_the_finest_the_metadata_allows() -> None:
    meta = pd.DataFrame(
        {
            "plate": ["P1", "P1", "P1", "P2", "P2"],
            "well": ["A1", "A1", "A1", "A1", "A1"],
            "field": [1, 1, 2, 1, 1],
            "day": [0, 0, 0, 7, 7],
        }
    )
    labels = np.zeros(5, dtype=np.int64)
    groups, how = pairing_groups(meta, labels)
    assert how == "field"
    assert groups[0] == groups[1] != groups[2]
    assert groups[3] == groups[4] != groups[0]  # same well name, other plate

    groups, how = pairing_groups(meta.drop(columns="field"), labels)
    assert how == "well"
    assert len(set(groups[:3])) == 1 and groups[3] == groups[4] != groups[0]

    groups, how = pairing_groups(meta[["plate", "field"]], labels)  # no well: plate + class
    assert how == "plate + class"
    assert len(set(groups[:3])) == 1 and groups[3] == groups[4] != groups[0]

    groups, how = pairing_groups(meta[["well", "day"]], labels)  # well names repeat across plates
    assert how == "class"
    assert (groups == groups[0]).all()


def test_no_grouping_joins_two_classes() -> None:
    meta = pd.DataFrame({"plate": ["P1"] * 4, "well": ["A1"] * 4, "field": [1] * 4, "day": [0] * 4})
    labels = np.array([0, 0, 3, 3])  # one field holding two labels
    for columns in (["plate", "well", "field"], ["plate", "well"], ["plate"], ["day"]):
        groups, _ = pairing_groups(meta[columns], labels)
        assert groups[0] == groups[1] != groups[2] == groups[3]


def test_labels_must_match_the_metadata_rows() -> None:
    with pytest.raises(ValueError, match="3 labels for 2 metadata rows"):
        pairing_groups(pd.DataFrame({"day": [0, 1]}), np.zeros(3))


def test_missing_metadata_values_form_their_own_group() -> None:
    meta = pd.DataFrame({"plate": ["P1", None, None], "well": ["A1", "A1", "A1"]})
    groups, how = pairing_groups(meta, np.zeros(3))
    assert how == "well" and groups[1] == groups[2] != groups[0]


def test_pairing_is_described_and_coarse_groupings_say_so() -> None:
    assert "same field" in describe_pairing("field")
    assert "different conditions" not in describe_pairing("well")
    for coarse in ("plate + class", "class"):
        assert "different conditions" in describe_pairing(coarse)


def test_partners_stay_in_their_group_and_are_never_the_cell_itself() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 500)
    groups[:3] = [1000, 1001, 1002]  # three cells alone in their group
    partners = GroupPartners(groups)
    sources = partners.sources
    assert set(sources.tolist()) == set(range(3, 500))
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        drawn = partners.draw(sources, generator)
        assert (groups[drawn.numpy()] == groups[sources.numpy()]).all()
        assert (drawn != sources).all()


def test_partners_are_uniform_over_the_rest_of_the_group() -> None:
    groups = np.array([0, 1, 0, 1, 0, 0, 1])
    partners = GroupPartners(groups)
    rows = torch.full((8000,), 2)
    drawn = partners.draw(rows, torch.Generator().manual_seed(1)).numpy()
    counts = np.bincount(drawn, minlength=7)
    assert set(np.flatnonzero(counts)) == {0, 4, 5}
    assert counts[[0, 4, 5]] == pytest.approx([8000 / 3] * 3, rel=0.06)


def test_a_group_of_two_always_pairs_its_members() -> None:
    partners = GroupPartners(np.array([5, 9, 5]))
    drawn = partners.draw(partners.sources, torch.Generator().manual_seed(0))
    assert partners.sources.tolist() == [0, 2] and drawn.tolist() == [2, 0]
