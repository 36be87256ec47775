"""Shift ablation on the simulator: switch one shift off, retrain, see which test set recovers.

Possible only because the data are simulated: the simulator can redraw the same experiment
with one factor (``coos_utils.synthetic.SWITCHES``: plate, well and field effects, the
border-well effect, test3's biological drift, test4's microscope, class imbalance) set to
zero and everything else unchanged. Each such data set is generated once from the run's own
simulation parameters and cached (the run context's ``with_shifts_off``, which names its
folder by a digest of the parameters).

The ablation is a thin composition: data sets from ``with_shifts_off``, trials from
:func:`~coos_utils.dg.sweep.run_sweep` (one fixed hyperparameter draw per method, usually the
one the main search chose), tables from :func:`~coos_utils.dg.summary.summarise`. The
baseline ``switch = "none"`` is the run's data; its trials are those of the main search
when the settings agree, and are then not run again. A switch that leaves ``train``
unchanged (byte for byte: the border wells, test3's drift and test4's microscope only
touch test splits) trains nothing: its trials score the models the baseline trained (the
trials folder's model store, keyed by the content of ``train``, see
:func:`~coos_utils.dg.trial.training_key`) on its own test splits, and predicts only those
it changed (the store keeps each model's predictions by the split's content).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from coos_utils.atomic import atomic_write_text
from coos_utils.dg.summary import summarise
from coos_utils.dg.sweep import records_table, run_sweep
from coos_utils.dg.trial import TrialSpec
from coos_utils.synthetic import SWITCHES

BASELINE = "none"


def ablation_data(
    data: str | Path, shifts_off: Callable[..., Path], switches: Sequence[str] = SWITCHES
) -> dict[str, Path]:
    """``{"none": data, switch: data with that shift off, ...}``; ``shifts_off(switch)`` makes
    the run's data with one shift off (the run context's ``with_shifts_off``)."""
    unknown = [s for s in switches if s not in SWITCHES]
    if unknown:
        raise ValueError(f"unknown shift switch(es) {unknown}; choose from {', '.join(SWITCHES)}")
    return {BASELINE: Path(data), **{switch: shifts_off(switch) for switch in switches}}


def run_ablation(
    data: str | Path,
    shifts_off: Callable[..., Path],
    out_dir: str | Path,
    draws: Mapping[str, int],
    seeds: Sequence[int] = (0,),
    switches: Sequence[str] = SWITCHES,
    scheduler: str | None = None,
    n_workers: int = 2,
    serial: bool = False,
    progress: bool = True,
    n_boot: int = 1000,
    **settings: Any,
) -> pd.DataFrame:
    """Train ``draws`` (method -> hyperparameter draw) on ``data`` and on each data set
    :func:`ablation_data` makes from it.

    Returns and writes (``ablation.csv``) the tidy table switch, method, split, metric,
    mean, ci_low, ci_high, interval, seeds, change (intervals as in
    :func:`~coos_utils.dg.summary.summarise`, from ``n_boot`` resamples), where ``change``
    is the mean minus the same method's mean on ``data`` (negative balanced error change:
    that shift was costing accuracy on that split).
    """
    folders = ablation_data(data, shifts_off, switches)
    specs = {
        switch: [
            TrialSpec(method, draw, seed, str(Path(folder).resolve()), **settings)
            for method, draw in draws.items()
            for seed in seeds
        ]
        for switch, folder in folders.items()
    }
    all_specs = [spec for group in specs.values() for spec in group]
    options = {"scheduler": scheduler, "n_workers": n_workers, "serial": serial}
    run_sweep(all_specs, out_dir, keep_models=(), progress=progress, **options)
    tables = []
    for switch, group in specs.items():
        summary = summarise(records_table(group, out_dir), n_boot=n_boot).drop(columns="note")
        tables.append(summary.assign(switch=switch))
    table = pd.concat(tables, ignore_index=True)
    keys = ["method", "split", "metric"]
    base = table[table["switch"] == BASELINE].set_index(keys)["mean"]
    table["change"] = (
        table["mean"].to_numpy() - base.reindex(pd.MultiIndex.from_frame(table[keys])).to_numpy()
    )
    table = table[["switch", *table.columns.drop("switch")]]
    atomic_write_text(Path(out_dir) / "ablation.csv", table.to_csv(index=False))
    return table


def against_seed_range(ablation: pd.DataFrame, ranges: pd.DataFrame) -> pd.DataFrame:
    """``ablation`` with the main sweep's ``seed_range`` (from
    :func:`~coos_utils.dg.summary.seed_range`) and ``beyond_seed_range``: the change is larger
    than the spread between seeds of the same method and split, so it is not plain seed noise.
    Where the sweep had one seed there is no spread to compare with: NaN range, False.

    A heuristic, not a test: it ignores the noise of redrawing the data."""
    keys = ["method", "split", "metric"]
    table = ablation.drop(columns=["seed_range", "beyond_seed_range"], errors="ignore")
    table = table.merge(ranges[[*keys, "seed_range"]], on=keys, how="left")
    table["beyond_seed_range"] = table["change"].abs() > table["seed_range"]
    return table


def ablation_findings(ablation: pd.DataFrame, metric: str = "balanced_error") -> str:
    """One Markdown line per switched-off shift and method: the test sets whose error moved
    by more than the seed range, with the change; or that none did."""
    rows = ablation[(ablation["metric"] == metric) & (ablation["switch"] != BASELINE)]
    if rows["seed_range"].isna().all():
        return (
            "The main sweep ran one seed, so there is no seed-to-seed spread to tell a real "
            "change from noise: read every change below as unconfirmed."
        )
    lines = []
    for (switch, method), group in rows.groupby(["switch", "method"], sort=False):
        moved = group[group["beyond_seed_range"]]
        found = ", ".join(f"{r.split} {r.change:+.1f}" for r in moved.itertuples())
        lines.append(
            f"- {switch} off, {method}: "
            + (found if found else "no test set moved by more than the seed range")
            + "."
        )
    return "\n".join(lines)
