"""Plug-ins cannot corrupt results: keys cover their helper modules (issue 26, item 9), names
of built-ins are refused (item 10), ``sys.exit`` and non-finite features end in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coos_utils.benchmark.representations import make_representation
from coos_utils.data import load_splits
from coos_utils.dg.algorithms import get_algorithm, method_digest
from coos_utils.dg.sweep import make_sweep
from coos_utils.features import _code, features_for
from tests.helpers import DG_TINY

HELPER = "SCALE = {scale}\n"

REPRESENTATION = """
import sys

import numpy as np

from coos_utils.features.base import Representation
from {helper} import SCALE


class {cls}(Representation):
    name = {name!r}

    def __init__(self, scale=1.0, exit_code=None, device=None, n_jobs=-1, progress=True,
                 work_dir=None):
        super().__init__(device, n_jobs, progress, work_dir)
        self.scale = scale
        self.exit_code = exit_code

    def outputs(self):
        return {{"mean": {display!r}}}

    def transform(self, split):
        if self.exit_code is not None:
            sys.exit(self.exit_code)
        images = split.load_images().astype(np.float32)
        return {{"mean": SCALE * self.scale * images.mean(axis=(2, 3))}}
"""

METHOD = """
import sys

from coos_utils.dg.algorithms import ERM
from {helper} import SCALE


class {cls}(ERM):
    def update(self, minibatches):
        if SCALE < 0:
            sys.exit(4)
        return super().update(minibatches)
"""


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of plug-ins and their helpers (each helper named once in this file)."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))  # sys.path is restored after the test
    return folder


def _representation(folder: Path, helper: str, scale: float = 2.0, **names: str) -> str:
    (folder / f"{helper}.py").write_text(HELPER.format(scale=scale))
    cls = names.get("cls", "MeanRep")
    source = REPRESENTATION.format(
        helper=helper,
        cls=cls,
        name=names.get("name", f"mean_{helper}"),
        display=names.get("display", f"Mean {helper}"),
    )
    (folder / f"rep_{helper}.py").write_text(source)
    return f"{folder / f'rep_{helper}.py'}:{cls}"


def test_editing_a_helper_of_a_representation_plugin_recomputes_its_features(
    plugin_dir: Path, tiny_data: Path, tmp_path: Path
) -> None:
    spec = _representation(plugin_dir, "scales_a")
    splits = {"test1": load_splits(tiny_data)["test1"]}
    rep = make_representation(spec, progress=False)
    code = _code(rep)
    first = features_for(rep, splits, cache_dir=tmp_path / "cache").entries["mean"]["test1"]
    (plugin_dir / "scales_a.py").write_text(HELPER.format(scale=5.0))
    again = make_representation(spec, progress=False)
    assert _code(again) != code
    second = features_for(again, splits, cache_dir=tmp_path / "cache").entries["mean"]["test1"]
    assert not second.hit and second.key != first.key
    np.testing.assert_allclose(second.values, first.values * 2.5, rtol=1e-5)


def test_editing_a_helper_of_a_dg_plugin_gives_new_trial_ids(
    plugin_dir: Path, tiny_data: Path
) -> None:
    (plugin_dir / "dg_helper_b.py").write_text(HELPER.format(scale=1.0))
    (plugin_dir / "dg_b.py").write_text(METHOD.format(helper="dg_helper_b", cls="Helped"))
    spec = f"{plugin_dir / 'dg_b.py'}:Helped"
    (trial,) = make_sweep(tiny_data, [spec], n_draws=1, seeds=[0], **DG_TINY)
    before, digest = trial.trial_id, method_digest(spec)
    (plugin_dir / "dg_helper_b.py").write_text(HELPER.format(scale=3.0))
    assert method_digest(spec) != digest and trial.trial_id != before


def test_a_representation_plugin_named_like_a_built_in_is_refused(plugin_dir: Path) -> None:
    clashes = [{"display": "Texture"}, {"name": "texture"}, {"display": "deeploc (fc2)"}]
    for index, names in enumerate(clashes):
        spec = _representation(plugin_dir, f"clash_{index}", cls="Texture", **names)
        with pytest.raises(ValueError, match="like a built-in") as caught:
            make_representation(spec, progress=False)
        assert "\n" not in str(caught.value) and str(plugin_dir) not in str(caught.value)


def test_a_dg_plugin_named_like_a_built_in_is_refused(plugin_dir: Path, tiny_data: Path) -> None:
    (plugin_dir / "helper_c.py").write_text(HELPER.format(scale=1.0))
    (plugin_dir / "dg_c.py").write_text(METHOD.format(helper="helper_c", cls="erm"))
    with pytest.raises(ValueError, match="'ERM' like a built-in") as caught:
        make_sweep(tiny_data, [f"{plugin_dir / 'dg_c.py'}:erm"], **DG_TINY)
    assert "\n" not in str(caught.value)


def test_sys_exit_in_a_representation_plugin_is_one_line_naming_it(
    plugin_dir: Path, tiny_data: Path, tmp_path: Path
) -> None:
    spec = _representation(plugin_dir, "exits_d")
    rep = make_representation(spec, {"exit_code": 3}, progress=False)
    splits = {"test1": load_splits(tiny_data)["test1"]}
    with pytest.raises(ValueError, match=r"plug-in rep_exits_d.py:MeanRep called sys.exit\(3\)"):
        features_for(rep, splits, cache_dir=tmp_path / "cache")
    (plugin_dir / "exits_on_load.py").write_text("import sys\n\nsys.exit('bye')\n")
    with pytest.raises(ValueError, match=r"exits_on_load.py:Rep called sys.exit\('bye'\)"):
        make_representation(f"{plugin_dir / 'exits_on_load.py'}:Rep")


def test_sys_exit_in_a_dg_plugin_update_is_one_line_naming_it(plugin_dir: Path) -> None:
    (plugin_dir / "helper_e.py").write_text(HELPER.format(scale=-1.0))
    (plugin_dir / "dg_e.py").write_text(METHOD.format(helper="helper_e", cls="Quits"))
    method = get_algorithm(f"{plugin_dir / 'dg_e.py'}:Quits")
    with pytest.raises(ValueError, match=r"plug-in dg_e.py:Quits called sys.exit\(4\) in update"):
        method.update(None, [])


def test_non_finite_features_are_refused_and_not_cached(
    plugin_dir: Path, tiny_data: Path, tmp_path: Path
) -> None:
    spec = _representation(plugin_dir, "infinite_f")
    rep = make_representation(spec, {"scale": float("inf")}, progress=False)
    splits = {"test1": load_splits(tiny_data)["test1"]}
    with pytest.raises(ValueError) as caught:
        features_for(rep, splits, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert "mean_infinite_f" in message and '"scale": Infinity' in message
    assert "'test1'" in message and "NaN or infinite" in message and "\n" not in message
    assert not list((tmp_path / "cache").rglob("*.npz"))


def test_editing_a_helper_of_a_chapters_plugin_changes_the_chapters_rerun_key(
    tmp_path: Path,
) -> None:
    from coos_utils.book.pipeline import chapter_code_hash

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "helper_for_key.py").write_text("WEIGHT = 1\n")
    (notebooks / "keyed_plugin.py").write_text("from helper_for_key import WEIGHT\n")
    chapter = notebooks / "07_mine.md"
    chapter.write_text('methods = ["keyed_plugin.py:Mine"]\n')
    before = chapter_code_hash(chapter, tmp_path)
    assert chapter_code_hash(chapter, tmp_path) == before
    (notebooks / "helper_for_key.py").write_text("WEIGHT = 2\n")
    assert chapter_code_hash(chapter, tmp_path) != before
