"""Domain generalisation on COOS: methods, the sweep that trains them, shift measures, ablation.

Modules, one job each: ``algorithms`` (the methods and their registry), ``hparams`` (the
hyperparameter table), ``losses``/``mixstyle``/``contrimix`` (their building blocks),
``backbones`` (DeepLoc and a tiny test network), ``data`` (input pipeline, per-plate
batches; the validation hold-out is :func:`coos_utils.data.holdout`), ``guard`` (no test
split before the final evaluation), ``trial`` (one trained and scored model), ``sweep``
(many trials on dask), ``summary`` (selection on validation, intervals, paired verdicts
against ERM), ``adabn`` (exact whole-set batch-norm statistics for test-time BN), ``shift``
(train-to-test distances) and ``ablation`` (shifts switched off in the simulator). The
functions return tables, which the chapter writes; their figures are in
:mod:`coos_utils.presentation.dg_figures`.

A chapter needs only these::

    records = run_search(data_dir, out_dir, n_draws=2, seeds=(0, 1, 2), steps=120, ...)
    summary = summarise(records)                       # dg.csv
    verdicts = compare_to_erm(records)                 # paired, dg_vs_erm.csv
    features = selected_features(out_dir, records)     # ERM's FC2 features
    similarity = shift_table(data_dir, features=features)  # similarity.csv
    ablation = run_ablation(data_dir, run.with_shifts_off, out_dir, draws={...})  # ablation.csv
"""

from coos_utils.dg.ablation import ablation_data, run_ablation
from coos_utils.dg.algorithms import ALGORITHMS, Algorithm, TaskInfo, get_algorithm
from coos_utils.dg.guard import SplitAccessError, SplitGuard
from coos_utils.dg.hparams import HPARAMS, HParam, draw_hparams
from coos_utils.dg.shift import relate_to_error, selected_features, shift_table
from coos_utils.dg.summary import (
    best_other_method,
    compare_to_erm,
    not_run,
    paired_findings,
    select_draws,
    summarise,
)
from coos_utils.dg.sweep import (
    TRIALS_FOLDER,
    dask_scheduler,
    make_sweep,
    pending,
    records_table,
    run_search,
    run_sweep,
)
from coos_utils.dg.trial import TrialSpec, run_trial

__all__ = [
    "ALGORITHMS",
    "HPARAMS",
    "TRIALS_FOLDER",
    "Algorithm",
    "HParam",
    "SplitAccessError",
    "SplitGuard",
    "TaskInfo",
    "TrialSpec",
    "ablation_data",
    "best_other_method",
    "compare_to_erm",
    "dask_scheduler",
    "draw_hparams",
    "get_algorithm",
    "make_sweep",
    "not_run",
    "paired_findings",
    "pending",
    "records_table",
    "relate_to_error",
    "run_ablation",
    "run_search",
    "run_sweep",
    "run_trial",
    "select_draws",
    "selected_features",
    "shift_table",
    "summarise",
]
