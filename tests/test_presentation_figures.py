"""Figures fit the column, read at the rendered size, and mark rows cut short."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from coos_utils.presentation.dg_forest import BETTER, WORSE, plot_dg_forest  # noqa: E402
from coos_utils.presentation.figures import plot_confusion_grid, plot_headline  # noqa: E402
from coos_utils.presentation.style import COLUMN_INCHES, TICK_POINTS  # noqa: E402
from coos_utils.reference import CLASS_NAMES, TEST_SPLITS, paper_table3  # noqa: E402


def _ticks(fig) -> list:
    return [t for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()]


def test_headline_sets_ours_beside_the_paper_and_marks_rows_cut_short() -> None:
    table = paper_table3().assign(cv_error=1.0)
    fig = plot_headline(table, "synthetic", cut_short={"pci": "stopped early"})
    assert fig.get_size_inches()[0] <= COLUMN_INCHES
    ours, paper = fig.axes[:2]
    assert [a.get_title() for a in (ours, paper)] == ["this run", "the paper (real COOS-7)"]
    pci = next(line for line in ours.get_lines() if line.get_label().startswith("PCI"))
    assert pci.get_label().endswith("†") and pci.get_linestyle() == "--"
    assert any("† PCI: stopped early." in t.get_text() for t in fig.texts)
    assert min(t.get_fontsize() for t in _ticks(fig)) >= TICK_POINTS
    plt.close(fig)


def test_forest_colours_by_the_paired_verdict() -> None:
    paired = pd.DataFrame(
        {
            "method": ["A", "B"],
            "split": ["test3", "test3"],
            "metric": "balanced_error",
            "mean_diff": [-5.0, 4.0],
            "ci_low": [-7.0, 1.0],
            "ci_high": [-3.0, 7.0],
            "seeds": 3,
            "helps": [True, False],
            "hurts": [False, True],
        }
    )
    fig = plot_dg_forest(paired, "synthetic")
    ax = fig.axes[0]
    colours = [line.get_color() for line in ax.get_lines() if line.get_marker() == "o"]
    assert colours == [BETTER, WORSE]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B"]
    assert fig.get_size_inches()[0] <= COLUMN_INCHES
    plt.close(fig)


def test_confusion_grid_one_panel_per_classifier_and_split() -> None:
    matrix = pd.DataFrame(10 * np.eye(7, dtype=int) + 1, index=CLASS_NAMES, columns=CLASS_NAMES)
    keys = [("Texture", "L1 LR"), ("PCI Conv3", "kNN")]
    matrices = {(f, m, s): matrix for f, m in keys for s in TEST_SPLITS}
    fig = plot_confusion_grid(matrices, keys, "synthetic", cut_short={"pci": "early"})
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [
        "Texture + L1 LR, test3",
        "Texture + L1 LR, test4",
        "PCI Conv3 + kNN †, test3",
        "PCI Conv3 + kNN †, test4",
    ]
    assert fig.get_size_inches()[0] <= COLUMN_INCHES
    assert min(t.get_fontsize() for t in _ticks(fig) if t.get_text()) >= TICK_POINTS
    plt.close(fig)
