"""A simulation with a shift switched off draws only the splits that shift changes; the others
are copied from a simulation already there, and are exactly what drawing them would give."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from coos_utils.data import load_split, load_splits
from coos_utils.synthetic import CLASS_DRIFTS, SimulationParams, ensure_synthetic
from coos_utils.synthetic import simulate as simulate_module
from coos_utils.synthetic.design import SPLIT_ORDER
from coos_utils.synthetic.simulate import Simulation, simulate_dataset

CASES = [
    (CLASS_DRIFTS, {"test3"}),
    (("test3_drift",), {"test3"}),
    (("test4_microscope",), {"test4"}),
    (("border_effect",), {"test2", "test3", "test4"}),  # border wells of the later plates too
    (("plate_effects",), set(SPLIT_ORDER)),
]


@pytest.fixture
def drawn_splits(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The splits whose cells the simulator renders from now on (in this process)."""
    drawn: set[str] = set()
    render = simulate_module._render

    def recording(job: simulate_module._Job):  # noqa: ANN202
        drawn.add(job.split)
        return render(job)

    monkeypatch.setattr(simulate_module, "_render", recording)
    return drawn


@pytest.mark.parametrize(("shifts", "changed"), CASES, ids=lambda v: "+".join(sorted(v)))
def test_only_the_splits_a_shift_changes_are_drawn_again_the_copies_equal_a_fresh_draw(
    tiny_data: Path, tmp_path: Path, drawn_splits: set[str], shifts: tuple, changed: set
) -> None:
    root = tmp_path / "synthetic"
    shutil.copytree(tiny_data, root / tiny_data.name)
    params = SimulationParams().without(*shifts)
    off = ensure_synthetic(root, "tiny", 0, params=params)
    assert drawn_splits == changed
    splits = load_splits(off)
    assert all(Simulation.from_attrs(s.attrs).params == params for s in splits.values())
    copied = [name for name in SPLIT_ORDER if name not in changed]
    if not copied:
        return
    fresh = tmp_path / "fresh"
    simulate_dataset(fresh, "tiny", 0, params=params, splits=copied, workers=1)
    again = {name: load_split(fresh, name) for name in copied}
    for name in copied:
        assert again[name].content_fingerprint() == splits[name].content_fingerprint(), name


def test_a_damaged_file_is_not_copied(
    tiny_data: Path, tmp_path: Path, drawn_splits: set[str]
) -> None:
    root = tmp_path / "synthetic"
    shutil.copytree(tiny_data, root / "tiny_seed0_elsewhere")  # same seed, other parameters
    for path in (root / "tiny_seed0_elsewhere").glob("*test1.hdf5"):
        path.write_bytes(b"not hdf5")  # a damaged donor is passed over
    ensure_synthetic(root, "tiny", 0, params=SimulationParams().without("test4_microscope"))
    assert drawn_splits == {"test1", "test4"}
