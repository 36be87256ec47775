"""Your network as the DG backbone (issue 27, item 6): a backbone factory named like the other
plug-ins (a file, a module, an entry point) replaces the built-in one in the trials, is checked
against the data before training (one line naming it when its shapes do not fit), and an edit
of its file or of a helper it imports reruns its trials."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from coos_utils.dg.backbones import build_backbone
from coos_utils.dg.sweep import make_sweep, run_sweep
from coos_utils.dg.trial import TrialSpec, trial_folder
from tests.helpers import DG_TINY

ROOT = Path(__file__).resolve().parents[1]
GROUP = "coos_utils.backbones"

NETWORK = '''
from torch import nn

from {helper} import FEATURES

CALLS = []


def make(in_channels, n_classes, width):
    """A network of its own: FEATURES features, whatever the width."""
    CALLS.append((in_channels, n_classes, width))
    featurizer = nn.Sequential(
        nn.Conv2d(in_channels, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(24, FEATURES),
        nn.ReLU(),
    )
    return featurizer, nn.Linear(FEATURES, n_classes)


def wrong_features(in_channels, n_classes, width):
    featurizer, _ = make(in_channels, n_classes, width)
    return featurizer, nn.Linear(FEATURES + 1, n_classes)


def wrong_logits(in_channels, n_classes, width):
    featurizer, _ = make(in_channels, n_classes, width)
    return featurizer, nn.Linear(FEATURES, n_classes + 2)


def wrong_channels(in_channels, n_classes, width):
    return make(3, n_classes, width)


def not_a_pair(in_channels, n_classes, width):
    return nn.Sequential(*make(in_channels, n_classes, width))


def exits(in_channels, n_classes, width):
    import sys

    sys.exit(3)
'''


@pytest.fixture
def network(tmp_path: Path) -> Path:
    """A backbone factory in a file outside the package, with a helper module beside it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    helper = f"parts_{abs(hash(str(tmp_path)))}"  # its own name: plug-in folders share sys.path
    (folder / f"{helper}.py").write_text("FEATURES = 10\n")
    path = folder / "my_net.py"
    path.write_text(NETWORK.format(helper=helper))
    return path


def test_a_dg_run_trains_the_backbone_from_a_file(
    tiny_data: Path, network: Path, tmp_path: Path
) -> None:
    from coos_utils.plugins import load_object

    spec = f"{network}:make"
    settings = {**DG_TINY, "backbone": spec}
    specs = make_sweep(tiny_data, ["ERM", "CORAL"], n_draws=1, seeds=[0], **settings)
    calls = load_object(spec).__globals__["CALLS"]
    calls.clear()
    records = run_sweep(specs, tmp_path / "out", serial=True, progress=False)
    assert calls == [(2, 7, DG_TINY["width"])] * 2  # each trial built its pair from the file
    assert records[records["split"] == "test4"]["value"].notna().all()
    record = json.loads(
        (trial_folder(tmp_path / "out/dg_trials", specs[0]) / "record.json").read_text()
    )
    assert record["status"] == "ran" and record["spec"]["backbone"] == spec  # the record names it


def test_a_relative_backbone_file_resolves_against_the_chapters_folder(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    spec = TrialSpec("ERM", 0, 0, str(tiny_data), **{**DG_TINY, "backbone": "my_backbone.py:make"})
    assert spec.backbone == f"{ROOT / 'notebooks' / 'my_backbone.py'}:make"  # as workers see it
    featurizer, classifier = build_backbone(spec.backbone, 2, 7, 0.125)
    assert classifier.in_features == 16  # the chapter's network: 8 channels at width 0.125


def test_editing_the_backbone_file_or_its_helper_gives_new_trial_ids(
    tiny_data: Path, network: Path
) -> None:
    settings = {**DG_TINY, "backbone": f"{network}:make"}
    (trial,) = make_sweep(tiny_data, ["ERM"], n_draws=1, seeds=[0], **settings)
    ids = {trial.trial_id}
    (helper,) = network.parent.glob("parts_*.py")
    helper.write_text("FEATURES = 12\n")
    ids.add(trial.trial_id)
    network.write_text(network.read_text() + "\n# edited\n")
    ids.add(trial.trial_id)
    assert len(ids) == 3
    (builtin,) = make_sweep(tiny_data, ["ERM"], n_draws=1, seeds=[0], **DG_TINY)
    assert builtin.trial_id not in ids


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("wrong_features", r"features of .* have shape \(2, 10\), expected \(2, 11\)"),
        ("wrong_logits", r"logits of .* have shape \(2, 9\), expected \(2, 7\)"),
        ("wrong_channels", r"its featurizer failed on a batch of shape \(2, 2, 60, 60\)"),
        ("not_a_pair", r"must return \(featurizer, classifier\)"),
        ("exits", r"called sys.exit\(3\)"),
    ],
)
def test_a_backbone_that_does_not_fit_the_data_is_refused_in_one_line_naming_it(
    network: Path, factory: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        build_backbone(f"{network}:{factory}", 2, 7, 0.25)
    assert "my_net.py" in str(caught.value) and "\n" not in str(caught.value)


def test_a_trial_checks_its_backbone_before_training(
    tiny_data: Path, network: Path, tmp_path: Path
) -> None:
    settings = {**DG_TINY, "backbone": f"{network}:wrong_logits"}
    specs = make_sweep(tiny_data, ["ERM"], n_draws=1, seeds=[0], **settings)
    with pytest.raises(ValueError, match=r"backbone 'my_net.py:wrong_logits': logits"):
        run_sweep(specs, tmp_path / "out", serial=True, progress=False)
    assert not (trial_folder(tmp_path / "out/dg_trials", specs[0]) / "done").exists()


def test_an_unknown_backbone_is_refused_when_the_trial_is_made(tiny_data: Path) -> None:
    with pytest.raises(ValueError, match="unknown backbone 'resnet'; choose one of deeploc"):
        TrialSpec("ERM", 0, 0, str(tiny_data), backbone="resnet")


def test_entry_point_backbones_are_found_and_built_in_names_are_not_taken(
    network: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(network.parent))
    installed = [
        importlib.metadata.EntryPoint("tinynet", "my_net:make", GROUP),
        importlib.metadata.EntryPoint("DeepLoc", "my_net:make", GROUP),
    ]
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda group=None: installed if group == GROUP else [],
    )
    _, classifier = build_backbone("tinynet", 2, 7, 1.0)
    assert classifier.in_features == 10
    with pytest.raises(ValueError, match="'DeepLoc' is named 'deeploc' like a built-in"):
        build_backbone("DeepLoc", 2, 7, 1.0)
    with pytest.raises(ValueError, match="tinynet"):  # the error lists the installed ones too
        build_backbone("nonet", 2, 7, 1.0)
