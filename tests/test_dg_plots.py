"""The DG figures draw from the chapter's tables."""

from __future__ import annotations

import matplotlib
import pandas as pd

from coos_utils.presentation.dg_figures import plot_ablation, plot_methods, plot_shift_vs_error
from coos_utils.reference import TEST_SPLITS

matplotlib.use("Agg")


def _summary() -> pd.DataFrame:
    rows = [
        (method, split, metric, 10.0 + k, 9.0 + k, 11.0 + k, 3)
        for k, method in enumerate(["ERM", "CORAL"])
        for split in TEST_SPLITS
        for metric in ("balanced_error", "macro_f1")
    ]
    return pd.DataFrame(
        rows, columns=["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds"]
    )


def test_figures() -> None:
    summary = _summary()
    fig = plot_methods(summary, "t")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert {"ERM", "CORAL", "paper: DeepLoc end to end (real COOS-7)"} == set(labels)
    similarity = pd.DataFrame(
        [(s, m, float(i)) for i, s in enumerate(TEST_SPLITS) for m in ("a", "b")],
        columns=["split", "measure", "value"],
    )
    assert len(plot_shift_vs_error(similarity, summary, "t").axes) == 2
    ablation = summary.assign(switch="test4_microscope", change=-1.0)
    ablation = pd.concat([summary.assign(switch="none", change=0.0), ablation])
    assert len(plot_ablation(ablation, "t").axes) == 3  # two methods and the colour bar
    ablation["beyond_seed_range"] = ablation["split"] == "test4"
    texts = [t.get_text() for t in plot_ablation(ablation, "t").axes[0].texts]
    assert texts == ["(-1.0)", "(-1.0)", "(-1.0)", "-1.0"]
