"""The drift ablation: Table 3 rows on the same synthetic design with the class-specific
test3 drifts switched off, so a reader sees that the claim checks can fail.

Only possible on simulated data: the simulator's ``drift_endosome`` and ``drift_golgi`` make
early endosomes and the Golgi of the later plates look like other compartments, which is
what the paper observed on test3. Switched off, test3 keeps only its generic drifts (cell
size, expression, chromatin texture).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from coos_utils.analysis.claims import TABLE_CLAIMS, Evidence, Verdict, check_claims, verdicts
from coos_utils.benchmark.table3 import load_splits, run_table3
from coos_utils.data import CoosSplit
from coos_utils.features.registry import make_representation
from coos_utils.profiles import Profile, default_data_root
from coos_utils.synthetic import SimulationParams, ensure_synthetic

DRIFTS_OFF = {"drift_endosome": 0.0, "drift_golgi": 0.0}
AS_SIMULATED, DRIFTS_SWITCHED_OFF = "as simulated", "class-specific test3 drifts off"


def drifts_off_data(train: CoosSplit, root: Path | None = None) -> Path:
    """The same synthetic design (scale, seed, parameters) with the two drifts switched off,
    simulated once and cached beside the default data."""
    if not train.is_synthetic:
        raise ValueError(f"{train.path} is not synthetic: the drifts exist only in the simulator")
    params = SimulationParams.from_json(train.attrs["parameters"])
    scale, seed = str(train.attrs["scale"]), int(train.attrs["seed"])
    root = root or default_data_root() / "synthetic"
    return ensure_synthetic(root, scale, seed, params=replace(params, **DRIFTS_OFF))


def drift_ablation(
    train: CoosSplit,
    table: pd.DataFrame,
    profile: Profile,
    representation: str = "texture",
    models: Sequence[str] = ("kNN", "L1 LR"),
    seed: int = 0,
    cache_dir: str | Path | None = None,
    n_jobs: int | None = -1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of ``representation`` x ``models`` from ``table`` beside the same rows on the
    drifts-off data, and the table claims' verdicts on each (claim x data; claims that these
    rows cannot inform on either data are left out)."""
    rep = make_representation(
        representation,
        profile.representation_params.get(representation),
        n_jobs=n_jobs,
        progress=False,
    )
    off = run_table3(
        load_splits(drifts_off_data(train)),
        [rep],
        profile,
        models,
        seed,
        cache_dir,
        n_jobs,
        progress=False,
    ).table
    display = rep.outputs()
    on = table[table["features"].isin(display.values()) & table["model"].isin(models)]
    both = pd.concat(
        [on.assign(data=AS_SIMULATED), off.assign(data=DRIFTS_SWITCHED_OFF)], ignore_index=True
    )
    claims = pd.concat(
        [
            verdicts(check_claims(Evidence(on, synthetic=True), TABLE_CLAIMS), AS_SIMULATED),
            verdicts(
                check_claims(Evidence(off, synthetic=True), TABLE_CLAIMS), DRIFTS_SWITCHED_OFF
            ),
        ],
        axis=1,
    )
    claims.index.name = "claim"
    informed = (claims != str(Verdict.UNCHECKABLE)).any(axis=1)
    return both, claims[informed].reset_index()


def ablation_summary(both: pd.DataFrame) -> str:
    """One sentence per row: how its test3 error moved when the drifts were switched off,
    with its test1/test2 errors for scale and its test4 error, which these drifts leave alone."""
    on = both[both["data"] == AS_SIMULATED].set_index(["features", "model"])
    off = both[both["data"] == DRIFTS_SWITCHED_OFF].set_index(["features", "model"])
    lines = []
    for key in on.index.intersection(off.index):
        a, b = on.loc[key], off.loc[key]
        lines.append(
            f"- {key[0]} + {key[1]}: test3 {a['test3']:.1f}% as simulated, {b['test3']:.1f}% "
            f"with the drifts off (test1 {b['test1']:.1f}%, test2 {b['test2']:.1f}%); "
            f"test4 {a['test4']:.1f}% and {b['test4']:.1f}%."
        )
    return "\n".join(lines)
