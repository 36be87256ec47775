"""Benchmark: wall time of the paper's random-forest search on the training texture features.

Run from the repository root::

    .venv/bin/python bench/bench_rf_search.py                  # all 100 draws x 5 folds
    .venv/bin/python bench/bench_rf_search.py --draws 10       # a measured tenth, extrapolated
    .venv/bin/python bench/bench_rf_search.py --data-dir DIR   # any data load_split reads

The features come from the package's cache (computed first if needed; ``bench_texture.py``
reports that cost). The search evaluates exactly the draws that
``coos_utils.classifiers.make_model("RF")`` evaluates under the ``paper`` profile (same
sampler, seed, folds and scoring). With ``--draws k < 100`` it evaluates a seeded random
subset of those 100 draws and extrapolates the time to all 100 twice: in proportion to the
number of draws, and in proportion to the number of trees (the main driver of cost). The
final refit of the best draw on all training images is timed separately.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import psutil
from sklearn.model_selection import GridSearchCV, ParameterSampler

from coos_utils.benchmark.classifiers import make_model
from coos_utils.data import load_split
from coos_utils.features import TextureRepresentation, features_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, default=Path("data/synthetic"))
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--draws", type=int, default=100, help="how many of the 100 draws to run")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    if args.data_dir is None:
        from coos_utils.synthetic import ensure_synthetic

        args.data_dir = ensure_synthetic(args.work_dir, "paper", args.seed)
    train = load_split(args.data_dir, "train")
    rep = TextureRepresentation(n_jobs=args.n_jobs)
    found = features_for(rep, {"train": train}, cache_dir=args.cache_dir)
    entry = found.entries["texture"]["train"]
    x, y = entry.values, train.labels
    how = "cached" if entry.hit else "computed"
    print(f"data: {train.data_label}; train features {x.shape} ({how})")

    paper = make_model(
        "RF", seed=args.seed, search_draws=100, cv_folds=args.folds, n_jobs=args.n_jobs
    )
    draws = list(ParameterSampler(paper.param_distributions, 100, random_state=args.seed))
    k = min(args.draws, len(draws))
    chosen = sorted(np.random.default_rng(args.seed).choice(len(draws), k, replace=False))
    subset = [draws[i] for i in chosen]
    search = GridSearchCV(
        paper.estimator,
        param_grid=[{name: [value] for name, value in draw.items()} for draw in subset],
        scoring=paper.scoring,
        cv=paper.cv,
        n_jobs=args.n_jobs,
        refit=False,
    )
    print(
        f"cores: {psutil.cpu_count()}, n_jobs={args.n_jobs}; {k} of 100 draws x {args.folds} folds"
    )
    start = time.perf_counter()
    search.fit(x, y)
    search_s = time.perf_counter() - start

    best = search.best_params_
    final = paper.estimator.set_params(**best)
    start = time.perf_counter()
    final.fit(x, y)
    refit_s = time.perf_counter() - start

    trees = [d["model__n_estimators"] for d in draws]
    by_draws = search_s * len(draws) / k
    by_trees = search_s * sum(trees) / sum(trees[i] for i in chosen)
    print(
        f"search: {k} draws x {args.folds} folds = {k * args.folds} fits in {search_s / 60:.1f} min"
    )
    if k < len(draws):
        print(
            f"extrapolated to all 100 draws: {by_draws / 60:.0f} min by number of draws, "
            f"{by_trees / 60:.0f} min by number of trees"
        )
    print(f"refit of the best draw on all {len(y)} training images: {refit_s:.0f} s")
    print(f"best draw: {best}, cross-validated balanced accuracy {search.best_score_:.3f}")


if __name__ == "__main__":
    main()
