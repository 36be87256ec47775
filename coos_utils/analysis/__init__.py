"""Analysis of what the benchmark computed: confusion and sensitivity (``confusion``), model
selection on ``train`` (``selection``), the paper's claims (``claims``), the same claims with
the simulated drifts switched off (``drift_ablation``) and the dataset chapter's
measurements (``dataset_stats``).

The prediction metrics themselves (balanced error, macro F1, intervals) are the base module
:mod:`coos_utils.metrics`, which the layers below use too.
"""
