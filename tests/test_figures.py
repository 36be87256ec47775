"""Figure layout: many panels wrap into rows, so a figure stays readable on a book page."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from coos_utils.presentation.figures import (  # noqa: E402
    PANELS_PER_ROW,
    panel_grid,
    plot_errors,
    sensitivity_heatmap,
)


@pytest.mark.parametrize(("n", "rows"), [(1, 1), (4, 1), (5, 2), (9, 3)])
def test_panel_grid_wraps_and_hides_the_rest(n: int, rows: int) -> None:
    fig, axes = panel_grid(n, 4.0, 3.0)
    assert len(axes) == n and all(ax.get_visible() for ax in axes)
    hidden = [ax for ax in fig.axes if not ax.get_visible()]
    assert len(fig.axes) == rows * min(n, PANELS_PER_ROW) and len(hidden) == len(fig.axes) - n
    assert fig.get_size_inches()[1] == pytest.approx(3.0 * rows)
    plt.close(fig)


def test_error_bars_one_panel_per_representation() -> None:
    rows = []
    for k in range(6):
        row = {"features": f"rep{k}", "model": "kNN"}
        for split in ("train", "test1", "test2", "test3", "test4"):
            row |= {split: 5.0 + k, f"{split}_ci_low": 4.0 + k, f"{split}_ci_high": 6.0 + k}
        rows.append(row)
    fig = plot_errors(pd.DataFrame(rows), "synthetic")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [f"rep{k}" for k in range(6)]
    heights = [p.get_height() for p in fig.axes[5].patches]
    assert np.allclose(heights, 10.0)
    plt.close(fig)


def test_sensitivity_heatmap_one_panel_per_split_one_row_per_classifier() -> None:
    rows = [
        {"features": f, "model": m, "split": s, "class": c, "sensitivity": 0.5}
        for f, m in [("Texture", "kNN"), ("DeepLoc", "End-to-End")]
        for s in ("test1", "test3")
        for c in ("Cytosol", "Golgi")
    ]
    fig = sensitivity_heatmap(pd.DataFrame(rows), "synthetic")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["test1", "test3"]
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels == ["Texture + kNN", "DeepLoc + End-to-End"]
    plt.close(fig)
