"""Plug-in DG methods and representations from outside the package: specs, entry points, and a
plug-in trained in a two-worker sweep exactly like a built-in method."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from coos_utils.benchmark.representations import get_representation
from coos_utils.dg.algorithms import ALGORITHMS, get_algorithm, method_hparams, method_name
from coos_utils.dg.hparams import HPARAMS, draw_hparams
from coos_utils.dg.summary import summarise
from coos_utils.dg.sweep import make_sweep, run_sweep
from coos_utils.dg.trial import trial_hparams
from coos_utils.features.base import Representation
from coos_utils.profiles import DG_METHODS, PROFILES
from tests.helpers import DG_TINY

TINY = DG_TINY

PLUGIN = '''
import torch.nn.functional as F

from coos_utils.dg.algorithms import ERM
from coos_utils.dg.hparams import HParam


class Smoothed(ERM):
    """ERM with label smoothing."""

    HPARAMS = (
        HParam("smoothing", 0.1, lambda rng: float(rng.uniform(0.0, 0.3))),
        ("lr", 5e-4, lambda rng: float(10 ** rng.uniform(-4, -3))),
    )

    def _classification_loss(self, logits, y):
        return F.cross_entropy(logits, y, label_smoothing=self.hparams["smoothing"])
'''

REPRESENTATION = """
import numpy as np

from coos_utils.features.base import Representation


class MeanIntensity(Representation):
    name = "mean_intensity"

    def __init__(self, scale=1.0, device=None, n_jobs=-1, progress=True, work_dir=None):
        super().__init__(device, n_jobs, progress, work_dir)
        self.scale = scale

    def params(self):
        return {"scale": self.scale}

    def outputs(self):
        return {"mean": "Mean intensity"}

    def transform(self, split):
        images = split.load_images().astype(np.float32)
        return {"mean": self.scale * images.mean(axis=(2, 3))}
"""


@pytest.fixture
def plugin_file(tmp_path: Path) -> Path:
    """A DG method in a file outside the package (and outside sys.path)."""
    path = tmp_path / "outside" / "my_method.py"
    path.parent.mkdir()
    path.write_text(PLUGIN)
    return path


def test_a_file_plugin_runs_in_a_two_worker_sweep_and_appears_in_dg_csv(
    tiny_data: Path, plugin_file: Path, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    spec = f"{plugin_file}:Smoothed"
    specs = make_sweep(tiny_data, ["ERM", spec], n_draws=1, seeds=[0], **TINY)
    assert [s.method for s in specs] == ["ERM", "Smoothed"]
    assert specs[1].plugin == spec and specs[0].plugin == ""
    records = run_sweep(specs, tmp_path / "out", n_workers=2, progress=False)
    summary = summarise(records)
    assert set(summary["method"]) == {"ERM", "Smoothed"}
    plugin_rows = summary[summary["method"] == "Smoothed"]
    assert plugin_rows["mean"].notna().all() and set(plugin_rows["split"]) >= {"test1", "test4"}
    hparams = records[records["method"] == "Smoothed"]["hparams"].iloc[0]
    assert '"smoothing": 0.1' in hparams and '"lr": 0.0005' in hparams  # its own declarations


def test_an_edited_plugin_gets_new_trial_ids(tiny_data: Path, plugin_file: Path) -> None:
    spec = f"{plugin_file}:Smoothed"
    (trial,) = make_sweep(tiny_data, [spec], n_draws=1, seeds=[0], **TINY)
    before = trial.trial_id
    plugin_file.write_text(PLUGIN + "\n# edited\n")
    assert trial.trial_id != before
    (builtin,) = make_sweep(tiny_data, ["ERM"], n_draws=1, seeds=[0], **TINY)
    assert builtin.trial_id.startswith("ERM-h0-s0-")


def test_a_plugin_declares_its_own_hyperparameters(tiny_data: Path, plugin_file: Path) -> None:
    spec = f"{plugin_file}:Smoothed"
    table = method_hparams(spec)
    assert table[: len(HPARAMS)] == HPARAMS
    drawn = draw_hparams("Smoothed", 3, table)
    assert 0.0 <= drawn["smoothing"] <= 0.3 and 1e-4 <= drawn["lr"] <= 1e-3
    assert draw_hparams("Smoothed", 0, table) == {
        "lr": 5e-4,
        "weight_decay": 0.0,
        "smoothing": 0.1,
    }
    (trial,) = make_sweep(tiny_data, [spec], n_draws=1, seeds=[0], **TINY)
    assert trial_hparams(trial)["smoothing"] == 0.1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:Thing", "cannot import no_such_module_xyz"),
        ("json:NoSuchClass", "json defines no NoSuchClass"),
        ("json:JSONDecoder", "is not a DG method"),
        ("/no/such/file.py:X", "no such file"),
        (":Nothing", "expected module:Class"),
        ("NotAMethod", "unknown DG method 'NotAMethod'"),
    ],
)
def test_a_bad_method_spec_is_refused_in_one_line_naming_it(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        get_algorithm(spec)
    assert spec in str(caught.value) and "\n" not in str(caught.value)


def test_two_methods_with_one_name_are_refused(tiny_data: Path, tmp_path: Path) -> None:
    twins = []
    for folder in ("a", "b"):
        path = tmp_path / folder / "twin.py"
        path.parent.mkdir()
        path.write_text("from coos_utils.dg.algorithms import ERM\n\nclass Twin(ERM):\n    pass\n")
        twins.append(f"{path}:Twin")
    with pytest.raises(ValueError, match="share the name"):
        make_sweep(tiny_data, twins, **TINY)


def test_a_module_class_representation_plugin_is_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_data: Path
) -> None:
    (tmp_path / "my_reps.py").write_text(REPRESENTATION)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_reps", raising=False)
    cls = get_representation("my_reps:MeanIntensity")
    assert issubclass(cls, Representation) and cls.name == "mean_intensity"
    from coos_utils.benchmark.representations import make_representation
    from coos_utils.data import load_split

    rep = make_representation("my_reps:MeanIntensity", {"scale": 2.0}, progress=False)
    features = rep.transform(load_split(tiny_data, "test1"))["mean"]
    assert features.shape[1] == 2
    with pytest.raises(ValueError, match="'my_reps:Nope'"):
        get_representation("my_reps:Nope")


def test_editing_a_representation_plugin_changes_its_feature_code_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coos_utils.benchmark.representations import make_representation
    from coos_utils.features import _code

    path = tmp_path / "my_reps_edit.py"
    path.write_text(REPRESENTATION)
    before = _code(make_representation(f"{path}:MeanIntensity", {"scale": 2.0}, progress=False))
    path.write_text(REPRESENTATION + "\n# edited\n")
    after = _code(make_representation(f"{path}:MeanIntensity", {"scale": 2.0}, progress=False))
    assert before != after


def test_entry_points_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plugin_file: Path
) -> None:
    (tmp_path / "my_reps.py").write_text(REPRESENTATION)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(plugin_file.parent))
    installed = {
        "coos_utils.algorithms": [
            importlib.metadata.EntryPoint("Smoothed", "my_method:Smoothed", "coos_utils.algorithms")
        ],
        "coos_utils.representations": [
            importlib.metadata.EntryPoint(
                "meanint", "my_reps:MeanIntensity", "coos_utils.representations"
            )
        ],
    }
    monkeypatch.setattr(
        importlib.metadata, "entry_points", lambda group=None: installed.get(group, [])
    )
    assert get_algorithm("Smoothed").__name__ == "Smoothed"
    assert method_name("Smoothed") == "Smoothed"
    assert get_representation("meanint").__name__ == "MeanIntensity"
    with pytest.raises(ValueError, match="Smoothed"):  # the error lists the installed ones too
        get_algorithm("Nope")


def test_the_profiles_methods_come_from_the_registry() -> None:
    assert tuple(DG_METHODS) == tuple(ALGORITHMS)
    assert list(PROFILES["smoke"].to_record()["dg"]["methods"]) == list(ALGORITHMS)
    assert PROFILES["default"].dg["methods"] == tuple(ALGORITHMS)


def test_the_command_line_accepts_a_representation_spec(tmp_path: Path) -> None:
    from coos_utils.commands.common import representation as _representation

    (tmp_path / "reps.py").write_text(REPRESENTATION)
    spec = f"{tmp_path / 'reps.py'}:MeanIntensity"
    assert _representation(spec) == spec
    with pytest.raises(Exception, match="is not a representation"):
        _representation("json:JSONDecoder")
