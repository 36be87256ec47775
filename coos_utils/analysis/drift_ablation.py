"""The drift ablation: Table 3 rows on the same synthetic design with the class-specific
test3 drifts switched off, so a reader sees that the claim checks can fail.

Only possible on simulated data: the simulator's ``drift_endosome`` and ``drift_golgi``
(:data:`coos_utils.synthetic.CLASS_DRIFTS`) make early endosomes and the Golgi of the later
plates look like other compartments, which is what the paper observed on test3. Switched off,
test3 keeps only its generic drifts (cell size, expression, chromatin texture). The data with
the drifts off come from the run's own simulation (``RunContext.with_shifts_off``); on data the
simulator did not make, :func:`run_drift_ablation` says so instead of computing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from coos_utils.analysis.claims import TABLE_CLAIMS, Evidence, Verdict, check_claims, verdicts
from coos_utils.benchmark.representations import make_representation
from coos_utils.benchmark.table3 import run_table3
from coos_utils.data import load_splits
from coos_utils.data.errors import CoosDataError
from coos_utils.profiles import Profile
from coos_utils.stages import stage
from coos_utils.synthetic import CLASS_DRIFTS

AS_SIMULATED, DRIFTS_SWITCHED_OFF = "as simulated", "class-specific test3 drifts off"
TABLE_FILE, CLAIMS_FILE = "ablation_table3.csv", "ablation_claims.csv"
NOT_SIMULATED = (
    "These data were not made by the simulator (the real COOS-7, or data without stored "
    "simulation parameters): there are no shifts to switch off, so there is no ablation here."
)


@dataclass(frozen=True)
class DriftAblation:
    """The ablation's rows and verdicts (see :func:`drift_ablation`), or, when it could not
    run, empty frames and the reason (``skipped``)."""

    rows: pd.DataFrame
    claims: pd.DataFrame
    skipped: str = ""

    def write(self, write_csv: Callable[[pd.DataFrame, str], Path]) -> list[Path]:
        """:data:`TABLE_FILE` and :data:`CLAIMS_FILE` through ``write_csv(frame, name)`` (a
        chapter's ``ChapterRun.write_csv``); the paths written, none when skipped."""
        if self.skipped:
            return []
        return [write_csv(self.rows, TABLE_FILE), write_csv(self.claims, CLAIMS_FILE)]


@stage("drift ablation")
def run_drift_ablation(
    shifts_off: Callable[..., Path],
    table: pd.DataFrame,
    profile: Profile,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    n_jobs: int | None = -1,
) -> DriftAblation:
    """:func:`drift_ablation` of the texture kNN and L1 LR rows when ``shifts_off`` (the run
    context's ``with_shifts_off``) can switch :data:`~coos_utils.synthetic.CLASS_DRIFTS` off;
    when it refuses (a ``CoosDataError``: the data were not simulated), a skipped ablation
    saying so."""
    try:
        data = shifts_off(*CLASS_DRIFTS)
    except CoosDataError:
        return DriftAblation(pd.DataFrame(), pd.DataFrame(), skipped=NOT_SIMULATED)
    rows, claims = drift_ablation(
        data, table, profile, seed=seed, cache_dir=cache_dir, n_jobs=n_jobs
    )
    return DriftAblation(rows, claims)


def drift_ablation(
    drifts_off: Path,
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
    rows cannot inform on either data are left out).

    ``drifts_off``: the run's data simulated again with
    :data:`~coos_utils.synthetic.CLASS_DRIFTS` off (``with_shifts_off(*CLASS_DRIFTS)`` of the
    run context).
    """
    rep = make_representation(
        representation,
        profile.representation_params.get(representation),
        n_jobs=n_jobs,
        progress=False,
    )
    off = run_table3(
        load_splits(drifts_off),
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
