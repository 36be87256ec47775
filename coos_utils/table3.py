"""Table 3 end to end: splits -> cached features -> classifiers -> results files.

:func:`run_table3` is what the classifiers chapter and ``coos table3`` call. It writes
``<results_dir>/<profile>/table3.csv``, ``confusion/<features>__<model>__<split>.csv`` and
``sensitivity.csv`` (see :func:`write_results`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coos_utils.atomic import atomic_write_text
from coos_utils.classifiers import MODELS, fit_table3
from coos_utils.data import CoosSplit, load_split
from coos_utils.features import CacheEntry, compute_features, get_representation
from coos_utils.metrics import confusion, sensitivity
from coos_utils.profiles import get_profile, resolve_data_dir, results_dir_for
from coos_utils.reference import SPLIT_NAMES, paper_table3

Predictions = dict[tuple[str, str, str], np.ndarray]


@dataclass
class Table3Result:
    """What one Table 3 run computed and where it wrote it."""

    table: pd.DataFrame
    predictions: Predictions
    labels: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    train: CoosSplit
    profile: str
    written: list[Path]


def load_splits(data_path: str | Path) -> dict[str, CoosSplit]:
    """The five splits of the data under ``data_path``."""
    return {name: load_split(data_path, name) for name in SPLIT_NAMES}


def features_for(
    splits: dict[str, CoosSplit],
    representation: str,
    cache_dir: str | Path | None = None,
    n_jobs: int | None = -1,
    scheduler: str | None = None,
    progress: bool = True,
) -> dict[str, CacheEntry]:
    """Features of ``representation`` for every split, from the cache where possible."""
    return {
        name: compute_features(split, representation, cache_dir, n_jobs, scheduler, progress)
        for name, split in splits.items()
    }


def slug(text: str) -> str:
    """A file-name-safe form of a Table 3 name: ``L1 LR`` -> ``L1_LR``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def confusion_path(out_dir: Path, features: str, model: str, split: str) -> Path:
    """``<out_dir>/confusion/<features>__<model>__<split>.csv`` with names made file-safe."""
    return out_dir / "confusion" / f"{slug(features)}__{slug(model)}__{split}.csv"


def confusion_frame(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """Counts with the true class as rows and the predicted class as columns."""
    counts = confusion(y_true, y_pred, len(class_names))
    return pd.DataFrame(
        counts,
        index=pd.Index(class_names, name="true class"),
        columns=pd.Index(class_names, name="predicted class"),
    )


def sensitivity_table(
    predictions: Predictions, labels: dict[str, np.ndarray], class_names: Sequence[str]
) -> pd.DataFrame:
    """One row per (features, model, split, class) with that class's sensitivity."""
    rows = []
    for (features, model, split), pred in predictions.items():
        values = sensitivity(labels[split], pred, len(class_names))
        for name, value in zip(class_names, values, strict=True):
            rows.append(
                {
                    "features": features,
                    "model": model,
                    "split": split,
                    "class": name,
                    "sensitivity": value,
                }
            )
    return pd.DataFrame(rows, columns=["features", "model", "split", "class", "sensitivity"])


def write_results(result: Table3Result, out_dir: Path) -> list[Path]:
    """Write table3.csv, sensitivity.csv and one confusion matrix per classifier and split."""
    written = [out_dir / "table3.csv", out_dir / "sensitivity.csv"]
    atomic_write_text(written[0], result.table.to_csv(index=False))
    sens = sensitivity_table(result.predictions, result.labels, result.class_names)
    atomic_write_text(written[1], sens.to_csv(index=False))
    for (features, model, split), pred in result.predictions.items():
        path = confusion_path(out_dir, features, model, split)
        frame = confusion_frame(result.labels[split], pred, result.class_names)
        atomic_write_text(path, frame.to_csv())
        written.append(path)
    return written


def run_table3(
    data_dir: str | Path | None = None,
    profile: str = "default",
    seed: int = 0,
    results_dir: str | Path = "results",
    cache_dir: str | Path | None = None,
    representations: Sequence[str] = ("texture",),
    models: Sequence[str] = tuple(MODELS),
    n_jobs: int | None = -1,
    scheduler: str | None = None,
    progress: bool = True,
) -> Table3Result:
    """Compute Table 3 for ``representations`` on the profile's data and write the results.

    ``data_dir=None`` uses the profile's synthetic data. Search size, folds and bootstrap
    replicates come from the profile; ``seed`` seeds the synthetic data and every model.
    """
    settings = get_profile(profile)
    splits = load_splits(resolve_data_dir(data_dir, profile, seed))
    labels = {name: split.labels for name, split in splits.items()}
    tables, predictions = [], {}
    for representation in representations:
        rep = get_representation(representation)
        entries = features_for(splits, rep.name, cache_dir, n_jobs, scheduler, progress)
        table, predicted = fit_table3(
            {name: entry.values for name, entry in entries.items()},
            labels,
            features_name=rep.display_name,
            models=models,
            search_draws=settings.rf_search_draws,
            cv_folds=settings.cv_folds,
            seed=seed,
            n_jobs=n_jobs,
            scheduler=scheduler,
            bootstrap_samples=settings.bootstrap_samples,
            progress=progress,
        )
        tables.append(table)
        predictions.update(predicted)
    result = Table3Result(
        table=pd.concat(tables, ignore_index=True),
        predictions=predictions,
        labels=labels,
        class_names=splits["train"].class_names,
        train=splits["train"],
        profile=settings.name,
        written=[],
    )
    result.written = write_results(result, results_dir_for(results_dir, profile))
    return result


def compare_with_paper(table: pd.DataFrame) -> pd.DataFrame:
    """Our balanced errors beside the paper's, per split: columns (split, ours/paper/difference).

    Rows are our (features, model) pairs; ``paper`` is NaN where the paper has no such row.
    ``difference`` is ours minus the paper's, in percentage points.
    """
    splits = [s for s in SPLIT_NAMES if s in table.columns]
    keys = ["features", "model"]
    ours = table[keys + splits].melt(keys, splits, "split", "ours")
    paper = paper_table3().melt(keys, splits, "split", "paper")
    both = ours.merge(paper, on=[*keys, "split"], how="left")
    both["difference"] = both["ours"] - both["paper"]
    wide = both.pivot_table(
        index=keys,
        columns="split",
        values=["ours", "paper", "difference"],
        sort=False,
        dropna=False,
    )
    wide = wide.swaplevel(axis=1).reindex(
        columns=pd.MultiIndex.from_product([splits, ["ours", "paper", "difference"]])
    )
    return wide.reindex(pd.MultiIndex.from_frame(table[keys]))


def with_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Table 3 as text, ``error [ci_low, ci_high]`` per split, for display."""
    splits = [s for s in SPLIT_NAMES if s in table.columns]
    shown = table[["features", "model"]].copy()
    for split in splits:
        shown[split] = [
            f"{row[split]:.1f} [{row[f'{split}_ci_low']:.1f}, {row[f'{split}_ci_high']:.1f}]"
            for _, row in table.iterrows()
        ]
    return shown.set_index(["features", "model"])


def sensitivity_wide(sens: pd.DataFrame) -> pd.DataFrame:
    """Sensitivities with one row per (features, model, class) and one column per split."""
    splits = [s for s in SPLIT_NAMES if s in set(sens["split"])]
    wide = sens.pivot_table(
        index=["features", "model", "class"], columns="split", values="sensitivity", sort=False
    )
    return wide[splits]


def plot_errors(table: pd.DataFrame, title: str) -> Figure:
    """Bars of our balanced error per split and model (95% bootstrap interval as error bars),
    one panel per representation; black ticks mark the paper's value where it has one."""
    splits = [s for s in SPLIT_NAMES if s in table.columns]
    paper = paper_table3().set_index(["features", "model"])
    representations = list(dict.fromkeys(table["features"]))
    fig, axes = plt.subplots(
        1,
        len(representations),
        figsize=(4.5 * len(representations) + 1, 3.6),
        squeeze=False,
        sharey=True,
    )
    for ax, features in zip(axes[0], representations, strict=True):
        rows = table[table["features"] == features].reset_index(drop=True)
        width = 0.8 / len(rows)
        x = np.arange(len(splits))
        for k, row in rows.iterrows():
            pos = x - 0.4 + width * (k + 0.5)
            values = row[splits].to_numpy(float)
            low = values - row[[f"{s}_ci_low" for s in splits]].to_numpy(float)
            high = row[[f"{s}_ci_high" for s in splits]].to_numpy(float) - values
            ax.bar(pos, values, width, yerr=[low, high], capsize=2, label=row["model"])
            if (features, row["model"]) in paper.index:
                reference = paper.loc[(features, row["model"]), splits].to_numpy(float)
                ax.scatter(pos, reference, marker="_", s=150, color="black", zorder=3)
        ax.set_xticks(x, splits)
        ax.set_title(features)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("balanced error (%)")
    axes[0, -1].scatter([], [], marker="_", s=150, color="black", label="paper (real COOS-7)")
    axes[0, -1].legend(fontsize="small")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig
