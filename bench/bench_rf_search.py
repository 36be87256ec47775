"""Benchmark: Table 3's forest search with its nested error, the old way and this package's.

Run from the repository root::

    .venv/bin/python bench/bench_rf_search.py                     # the default profile's search
    .venv/bin/python bench/bench_rf_search.py --profile paper     # 100 draws x 5 folds
    .venv/bin/python bench/bench_rf_search.py --data-dir DIR      # any data load_split reads

On the training texture features (from the package's cache, computed first if needed) it
times, on the same ``--n-jobs`` processes:

* scikit-learn's composition, as the package ran it until 2026-12-03: ``RandomizedSearchCV``
  (fits in a pool, then the refit on one core) and, for ``cv_error``, the same search rerun
  inside each outer fold (the inner choice by cross-validation, then its refit);
* :class:`~coos_utils.benchmark.forest_search.NestedForestSearch`: the main search's fits in
  one pool, the nested choice made in each outer fold by out-of-bag balanced accuracy from
  those same fits, the final refit's trees spread over the processes.

It prints both wall times (median of ``--repeats``), their ratio (both sides use the same
processes, so the ratio per core is the same), the number of forests each fits, whether the
main choice and the predictions of the refitted forest agree (they must), and the two nested
procedures side by side: the draw each chooses in every outer fold and the ``cv_error`` each
gives (these may differ: that is the change of method the departures page lists).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import psutil
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold

from coos_utils.benchmark.classifiers import make_model
from coos_utils.data import load_split
from coos_utils.features import TextureRepresentation, features_for
from coos_utils.metrics import balanced_error
from coos_utils.profiles import get_profile


def _search(draws: int, folds: int, seed: int, jobs: int) -> RandomizedSearchCV:
    ours = make_model("RF", seed, draws, folds, jobs)
    return RandomizedSearchCV(
        ours.estimator,
        ours.param_distributions,
        n_iter=draws,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
        scoring="balanced_accuracy",
        random_state=seed,
        n_jobs=jobs,
    )


def sklearn_composition(x: np.ndarray, y: np.ndarray, draws: int, folds: int, seed: int, jobs: int):
    """The search refitted on all rows, and the search rerun in each outer fold (its choice
    there and its held-out predictions), as before."""
    search = _search(draws, folds, seed, jobs).fit(x, y)
    nested, chosen = np.empty_like(y), []
    outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in outer.split(x, y):
        inner = _search(draws, folds, seed, jobs).fit(x[train], y[train])
        chosen.append(search.cv_results_["params"].index(inner.best_params_))
        nested[test] = inner.predict(x[test])
    return search.best_params_, search.predict(x), chosen, nested


def nested_search(x: np.ndarray, y: np.ndarray, draws: int, folds: int, seed: int, jobs: int):
    """The same search; the nested choice made out of bag from its fits."""
    search = make_model("RF", seed, draws, folds, jobs).fit(x, y)
    return (
        search.best_params_,
        search.predict(x),
        search.nested_draws_,
        search.out_of_fold(folds, seed),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, default=Path("data/synthetic"))
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=psutil.cpu_count())
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    profile = get_profile(args.profile)
    draws, folds = profile.rf_search_draws, profile.cv_folds

    if args.data_dir is None:
        from coos_utils.synthetic import ensure_synthetic

        args.data_dir = ensure_synthetic(args.work_dir, profile.synthetic_scale, args.seed)
    train = load_split(args.data_dir, "train")
    found = features_for(
        TextureRepresentation(n_jobs=args.n_jobs), {"train": train}, args.cache_dir
    )
    x, y = found.entries["texture"]["train"].values, train.labels
    print(f"data: {train.data_label}; train texture features {x.shape}")
    print(
        f"cores: {psutil.cpu_count()}; both sides n_jobs={args.n_jobs}; "
        f"{draws} draws x {folds} folds"
    )

    fits = {
        "scikit-learn composition": draws * folds + 1 + folds * (draws * folds + 1),
        "NestedForestSearch": draws * folds + 1,
    }  # counted in tests/test_forest_search.py
    results, times = {}, {}
    for name, run in (
        ("scikit-learn composition", sklearn_composition),
        ("NestedForestSearch", nested_search),
    ):
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            results[name] = run(x, y, draws, folds, args.seed, args.n_jobs)
            seconds.append(time.perf_counter() - start)
        times[name] = statistics.median(seconds)
        print(f"{name:26s} {times[name]:8.1f} s (median of {args.repeats}), {fits[name]} forests")
    (params_a, fitted_a, chosen_a, oof_a), (params_b, fitted_b, chosen_b, oof_b) = results.values()
    old, new = times.values()
    print(
        f"ratio (composition / nested): {old / new:.2f}x "
        "(same processes on both sides: the same per core)"
    )
    print(
        f"same main choice: {params_a == params_b}; "
        f"same refitted forest's predictions: {np.array_equal(fitted_a, fitted_b)}"
    )
    print(f"draw chosen in each outer fold: search rerun {chosen_a}, out of bag {chosen_b}")
    print(
        f"cv_error: search rerun {balanced_error(y, oof_a):.2f}%, "
        f"out of bag {balanced_error(y, oof_b):.2f}%"
    )


if __name__ == "__main__":
    main()
