"""The DG chapters' computation in a few calls, so that their cells hold no control flow.

* :func:`sweep_settings` -- a profile's ``dg`` block reduced to the settings every trial takes.
* :func:`search_settings` -- the settings of the whole search (methods, draws, seeds, trial
  settings, backbone): a profile's, each replaced where another value is given.
* :func:`sweep_tables` -- a finished search's tables as chapter 05 writes them (``dg.csv``,
  ``dg_vs_erm.csv``, ``records.csv``); ``coos sweep`` writes the same.
* :func:`ablation_draws` -- ERM and the best other method by validation error (no test split).
* :func:`simulator_ablation` -- the shift ablation on simulated data, each change set against
  the main sweep's seed range; on real data (whose shifts cannot be switched off) an empty
  table with the same columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd

from coos_utils.dg.ablation import against_seed_range, run_ablation
from coos_utils.dg.summary import compare_to_erm, seed_range, select_draws, summarise
from coos_utils.dg.trial import TrialSpec
from coos_utils.stages import stage

SWEEP_KEYS = ("steps", "batch_size", "eval_every", "width", "max_val_images")
"""The keys of a profile's ``dg`` block that every trial takes."""
SEARCH_KEYS = ("methods", "n_draws", "seeds")
"""The keys of a profile's ``dg`` block that say which trials the search runs."""
ABLATION_COLUMNS = [
    *("switch", "method", "split", "metric", "mean", "ci_low", "ci_high", "interval", "seeds"),
    "change",
    *("seed_range", "beyond_seed_range"),
]
"""The columns of the ablation table (``dg_ablation.csv``)."""


def sweep_settings(dg: Mapping[str, Any]) -> dict[str, Any]:
    """The trial settings of a profile's ``dg`` block: :data:`SWEEP_KEYS` and the fixed
    hyperparameters (``hparams_overrides``, empty when the profile has none)."""
    settings = {key: dg[key] for key in SWEEP_KEYS}
    settings["hparams_overrides"] = tuple(dg.get("hparams_overrides", ()))
    return settings


def search_settings(dg: Mapping[str, Any], **given: Any) -> dict[str, Any]:
    """Every setting of ``run_search`` but where it runs: the ``dg`` block's
    :data:`SEARCH_KEYS`, its trial settings (:func:`sweep_settings`) and ``backbone``
    (:class:`~coos_utils.dg.trial.TrialSpec`'s default); each of ``given`` that is not None
    replaces the profile's value. A name that is none of these is refused (``ValueError``)."""
    backbone = {f.name: f.default for f in fields(TrialSpec)}["backbone"]
    settings = {
        "methods": list(dg["methods"]),
        "n_draws": dg["n_draws"],
        "seeds": list(dg["seeds"]),
        **sweep_settings(dg),
        "backbone": backbone,
    }
    unknown = sorted(set(given) - set(settings))
    if unknown:
        raise ValueError(f"not settings of the DG search: {', '.join(unknown)}")
    settings.update({key: value for key, value in given.items() if value is not None})
    return settings


def sweep_tables(records: pd.DataFrame, n_boot: int) -> dict[str, pd.DataFrame]:
    """A finished search's tables by file name, as chapter 05 writes them: ``dg.csv``
    (:func:`~coos_utils.dg.summary.summarise`), ``dg_vs_erm.csv``
    (:func:`~coos_utils.dg.summary.compare_to_erm`), each with ``n_boot`` bootstrap
    resamples, and ``records.csv`` (the trials' records, ``run_search``'s table)."""
    return {
        "dg.csv": summarise(records, n_boot=n_boot),
        "dg_vs_erm.csv": compare_to_erm(records, n_boot=n_boot),
        "records.csv": records,
    }


def ablation_draws(selection: pd.DataFrame, baseline: str = "ERM") -> dict[str, int]:
    """``baseline`` and the other method with the lowest validation error, each with the
    draw the selection chose (``select_draws``'s table); ``baseline`` alone when it is the
    only method."""
    chosen = selection.sort_values("validation_error", kind="stable")
    others = chosen[chosen["method"] != baseline].head(1)
    picked = pd.concat([chosen[chosen["method"] == baseline], others])
    return dict(zip(picked["method"], picked["hparams_seed"].astype(int), strict=True))


@stage("DG ablation")
def simulator_ablation(
    synthetic: bool,
    data: str | Path,
    shifts_off: Callable[..., Path],
    out_dir: str | Path,
    records: pd.DataFrame,
    dg: Mapping[str, Any],
    scheduler: str | None = None,
    n_workers: int = 2,
    n_boot: int = 1000,
) -> pd.DataFrame:
    """On simulated data: ERM and the best other method (:func:`ablation_draws`) retrained
    with each of the profile's ``ablation_switches`` off (``ablation_seeds``), every change
    marked when it exceeds the main sweep's seed range; intervals from ``n_boot`` bootstrap
    resamples (``summary.summarise``). On real data: no rows."""
    if not synthetic:
        return pd.DataFrame(columns=ABLATION_COLUMNS)
    table = run_ablation(
        data,
        shifts_off,
        out_dir,
        draws=ablation_draws(select_draws(records)),
        seeds=dg["ablation_seeds"],
        switches=dg["ablation_switches"],
        scheduler=scheduler,
        n_workers=n_workers,
        n_boot=n_boot,
        **sweep_settings(dg),
    )
    return against_seed_range(table, seed_range(records))[ABLATION_COLUMNS]
