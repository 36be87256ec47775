"""What chapters 01 and 02 show: the shift caption names the measure that moved, the training
figure marks the networks cut short, VGG16's random weights are said plainly, and an empty
training (no network run) is shown, not an error."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from IPython.display import Markdown

from coos_utils.analysis.dataset_stats import MEASURES
from coos_utils.presentation.chapter_dataset import (
    largest_shifts,
    shift_caption,
    table2_comparison,
)
from coos_utils.presentation.chapter_features import (
    changes_table,
    checkpoints_table,
    network_names,
    outputs_table,
    plot_validation_curves,
    training_caption,
    vgg_note,
    write_training,
)
from coos_utils.presentation.dataset_figures import plot_distributions
from coos_utils.presentation.findings import cut_short_from_training
from coos_utils.presentation.style import COLUMN_INCHES
from coos_utils.profiles import get_profile

SPLITS = ("train", "test1", "test2", "test3", "test4")


def _stats(factor: dict[tuple[str, str], float]) -> pd.DataFrame:
    """Per-image measurements: every measure 100 (with a little spread), times ``factor``
    for (split, measure)."""
    rng = np.random.default_rng(0)
    rows = []
    for split in SPLITS:
        for _ in range(40):
            values = {m: 100.0 * factor.get((split, m), 1.0) + rng.normal(0, 1) for m in MEASURES}
            rows.append({"split": split, **values})
    return pd.DataFrame(rows)


def test_largest_shift_names_the_measure_that_moved_up_or_down() -> None:
    stats = _stats({("test4", "background"): 2.4, ("test3", "protein_p99"): 0.5})
    shifts = largest_shifts(stats).set_index("split")
    assert shifts.loc["test4", "measure"] == "background"
    assert shifts.loc["test4", "ratio"] == pytest.approx(2.4, rel=0.02)
    assert shifts.loc["test3", "measure"] == "protein_p99"  # halved counts as much as doubled
    caption = shift_caption(stats, "SYNTHETIC x")
    assert "test4: background ×2.4" in caption or "test4: background ×2.3" in caption
    assert "test3: protein 99th pct. ×0.5" in caption
    assert "Every median of test1 and test2 is within 5% of train's" in caption
    assert "SYNTHETIC x" in caption


def test_distribution_figure_fits_the_column() -> None:
    fig = plot_distributions(_stats({}), "t")
    assert fig.get_size_inches()[0] <= COLUMN_INCHES
    assert sum(ax.get_visible() for ax in fig.axes) == len(MEASURES)


def test_table2_comparison_has_no_index_and_readable_counts() -> None:
    counts = pd.DataFrame({"split": list(SPLITS), "class": "ER", "images": [4146, 1, 2, 3, 4]})
    html = table2_comparison(counts, "lbl").to_html()
    assert "4,146" in html and "41,456" in html  # ours and the paper's train
    assert 'class="row_heading' not in html


def _history(improving: bool) -> pd.DataFrame:
    scores = [30.0, 20.0, 10.0] if improving else [30.0, 10.0, 20.0]
    best = int(np.argmin(scores))
    return pd.DataFrame(
        {
            "representation": "deeploc",
            "iteration": [10, 20, 30],
            "train_loss": [1.0, 0.8, 0.7],
            "val_score": scores,
            "chosen": [k == best for k in range(3)],
            "fit_seconds": 5.0,
        }
    )


def test_network_still_improving_is_cut_short_and_marked_in_the_figure() -> None:
    cut = cut_short_from_training(_history(improving=True), None)
    assert list(cut) == ["deeploc"] and "still improving at iteration 30" in cut["deeploc"]
    assert cut_short_from_training(_history(improving=False), None) == {}
    fig = plot_validation_curves(_history(improving=True), "t", cut)
    titles = [ax.get_title() for ax in fig.axes]
    assert "DeepLoc †" in titles
    assert any("† DeepLoc: " in text.get_text() for text in fig.texts)
    assert fig.axes[0].get_lines()[0].get_linestyle() == "--"
    assert "cut short" in training_caption(_history(improving=True), cut, "lbl")


def test_no_network_trained_is_shown_not_an_error(tmp_path: Path) -> None:
    empty = pd.DataFrame()
    assert cut_short_from_training(empty, None) == {}
    assert write_training(empty, lambda frame, name: tmp_path / name) == []
    assert isinstance(checkpoints_table(empty, "lbl"), Markdown)
    assert isinstance(changes_table(pd.DataFrame(), "lbl"), Markdown)
    fig = plot_validation_curves(empty, "t")
    assert "No network was trained" in fig.axes[0].texts[0].get_text()


def test_training_records_written_per_network_without_timing(tmp_path: Path) -> None:
    history = pd.concat([_history(True), _history(False).assign(representation="pci")])
    written: dict[str, pd.DataFrame] = {}

    def write(frame: pd.DataFrame, name: str) -> Path:
        written[name] = frame
        return tmp_path / name

    paths = write_training(history, write)
    assert [p.name for p in paths] == ["deeploc.csv", "pci.csv"]
    assert all("fit_seconds" not in frame for frame in written.values())


def test_network_names_leave_out_texture_unless_asked() -> None:
    profile = get_profile("smoke")
    assert network_names(None, profile) == ["deeploc", "vgg16", "pci"]
    assert network_names(["vgg16"], profile) == ["vgg16"]


def test_vgg_random_weights_said_plainly() -> None:
    def vgg(note: str) -> SimpleNamespace:
        names = {"conv3_3": f"VGG16 Conv3_3{note}"}
        return SimpleNamespace(name="vgg16", input_scaling="per_image", outputs=lambda: names)

    assert "VGG16 ran with random weights" in vgg_note([vgg(" (random init)")], {})
    assert vgg_note([vgg("")], {}) == ""


def test_outputs_table_says_which_outputs_came_from_the_cache() -> None:
    extracted = pd.DataFrame(
        {
            "representation": ["pci", "pci", "pci", "pci"],
            "output": ["PCI Conv1", "PCI Conv1", "PCI Conv2", "PCI Conv2"],
            "split": ["train", "test1", "train", "test1"],
            "dimensions": [12, 12, 32, 32],
            "from cache": [True, True, True, False],
            "seconds (all outputs and splits)": 3.0,
        }
    )
    html = outputs_table(extracted, "lbl").to_html()
    rows = [r for r in html.split("<tr>") if "PCI Conv" in r]
    assert len(rows) == 2 and ">yes<" in rows[0] and ">no<" in rows[1]
