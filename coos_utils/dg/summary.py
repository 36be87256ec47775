"""From trial records to the DG table: selection on validation, intervals over seeds, verdicts.

* :func:`select_draws` -- for each method, the hyperparameter draw with the lowest mean
  training-domain validation balanced error over the seeds that every draw of the method
  has (all seeds in a full grid; the search seed in a two-stage search, see
  ``sweep.run_search``). Only ``validation`` rows are read: test scores take no part.
* :func:`summarise` -- the chosen draw's test scores, mean and 95% t-interval over seeds
  (``mean +- t(0.975, n - 1) * sd / sqrt(n)``; with a handful of seeds a percentile interval
  would only span the extreme seeds). One seed gives no interval (NaN).
* :func:`compare_to_erm` -- a method "helps" on a split and metric only when its interval
  and ERM's do not overlap and it is on the better side ("hurts": the other side).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from coos_utils.atomic import atomic_write_text

SUMMARY_COLUMNS = ["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds"]
LOWER_IS_BETTER = {"balanced_error": True, "macro_f1": False}


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the t-interval of the mean; NaN bounds for fewer than 2 values."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return mean, float(mean - half), float(mean + half)


def select_draws(records: pd.DataFrame) -> pd.DataFrame:
    """Per method: the draw with the lowest mean validation balanced error over the seeds
    shared by all its draws (ties: the lowest draw); columns method, hparams_seed,
    validation_error, seeds (how many seeds the comparison used)."""
    val = records[(records["split"] == "validation") & (records["metric"] == "balanced_error")]
    chosen = []
    for method, group in val.groupby("method", sort=False):
        seeds_per_draw = group.groupby("hparams_seed")["seed"].apply(set)
        shared = set.intersection(*seeds_per_draw)
        if not shared:
            raise ValueError(f"the draws of {method} share no seed; they cannot be compared")
        scores = group[group["seed"].isin(shared)].groupby("hparams_seed")["value"].mean()
        chosen.append((method, int(scores.idxmin()), float(scores.min()), len(shared)))
    return pd.DataFrame(chosen, columns=["method", "hparams_seed", "validation_error", "seeds"])


def best_other_method(selection: pd.DataFrame, baseline: str = "ERM") -> str:
    """The method other than ``baseline`` with the lowest validation error in ``selection``
    (from :func:`select_draws`): a choice made without any test split."""
    others = selection[selection["method"] != baseline]
    return str(others.loc[others["validation_error"].idxmin(), "method"])


def summarise(
    records: pd.DataFrame, out_dir: str | Path | None = None, level: float = 0.95
) -> pd.DataFrame:
    """The DG table (method, split, metric, mean, ci_low, ci_high, seeds) of the chosen draws.

    With ``out_dir``, writes ``dg.csv`` and ``dg_selection.csv`` (each method's chosen draw,
    its validation error and its hyperparameters).
    """
    chosen = select_draws(records)
    picked = records.merge(chosen[["method", "hparams_seed"]], on=["method", "hparams_seed"])
    test = picked[picked["split"] != "validation"]
    rows = []
    for (method, split, metric), group in test.groupby(["method", "split", "metric"], sort=False):
        mean, low, high = t_interval(group["value"], level)
        rows.append((method, split, metric, mean, low, high, len(group)))
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    if out_dir is not None:
        values = records[["method", "hparams_seed", "hparams"]].drop_duplicates()
        selection = chosen.merge(values, on=["method", "hparams_seed"], how="left")
        atomic_write_text(Path(out_dir) / "dg.csv", summary.to_csv(index=False))
        atomic_write_text(Path(out_dir) / "dg_selection.csv", selection.to_csv(index=False))
    return summary


def seed_range(records: pd.DataFrame) -> pd.DataFrame:
    """Per method, split and metric: the range (max - min) of the chosen draw's test scores
    over its seeds (method, split, metric, seed_range, seeds); NaN with a single seed."""
    chosen = select_draws(records)
    picked = records.merge(chosen[["method", "hparams_seed"]], on=["method", "hparams_seed"])
    test = picked[picked["split"] != "validation"]
    grouped = test.groupby(["method", "split", "metric"], sort=False)["value"]
    table = grouped.agg(seed_range=lambda v: v.max() - v.min(), seeds="count").reset_index()
    table.loc[table["seeds"] < 2, "seed_range"] = np.nan
    return table


def compare_to_erm(
    summary: pd.DataFrame, baseline: str = "ERM", out_dir: str | Path | None = None
) -> pd.DataFrame:
    """Each method against ``baseline`` per split and metric: difference, helps, hurts.

    Writes ``dg_vs_erm.csv`` with ``out_dir``.
    """
    keys = ["split", "metric"]
    base = summary[summary["method"] == baseline].set_index(keys)
    rows = []
    for row in summary[summary["method"] != baseline].itertuples(index=False):
        ref = base.loc[(row.split, row.metric)]
        lower_better = LOWER_IS_BETTER[row.metric]
        below = row.ci_high < ref["ci_low"]
        above = row.ci_low > ref["ci_high"]
        better, worse = (below, above) if lower_better else (above, below)
        rows.append(
            (row.method, row.split, row.metric, row.mean - ref["mean"], bool(better), bool(worse))
        )
    columns = ["method", "split", "metric", "difference", "helps", "hurts"]
    verdicts = pd.DataFrame(rows, columns=columns)
    if out_dir is not None:
        atomic_write_text(Path(out_dir) / "dg_vs_erm.csv", verdicts.to_csv(index=False))
    return verdicts
