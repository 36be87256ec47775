"""The Dask path: features and Table 3 on a dask.distributed cluster equal the local ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coos_utils.benchmark.classifiers import fit_table3
from coos_utils.data import load_split
from coos_utils.features import TextureRepresentation, features_for
from tests.handmade import write_handmade

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_gives_the_same_features_and_table(scheduler: str, tmp_path: Path) -> None:
    root = write_handmade(tmp_path / "data", per_class=3)
    features: dict[str, dict[str, np.ndarray]] = {"local": {}, "dask": {}}
    labels = {}
    for split_name in ("train", "test1", "test4"):
        split = load_split(root, split_name)
        labels[split_name] = split.labels
        for where, address in (("local", None), ("dask", scheduler)):
            rep = TextureRepresentation(scheduler=address, n_jobs=2, progress=False)
            found = features_for(rep, {split_name: split}, cache_dir=tmp_path / where)
            entry = found.entries["texture"][split_name]
            assert not entry.hit
            features[where][split_name] = entry.values
        np.testing.assert_array_equal(features["dask"][split_name], features["local"][split_name])

    kwargs = {"search_draws": 3, "cv_folds": 2, "bootstrap_samples": 30, "progress": False}
    local, local_pred = fit_table3(features["local"], labels, n_jobs=2, **kwargs)
    remote, remote_pred = fit_table3(features["dask"], labels, scheduler=scheduler, **kwargs)
    pd.testing.assert_frame_equal(remote, local)
    assert remote_pred.keys() == local_pred.keys()
    for key, pred in local_pred.items():
        np.testing.assert_array_equal(remote_pred[key], pred)


def test_the_work_runs_on_the_cluster(scheduler: str, tmp_path: Path) -> None:
    split = load_split(write_handmade(tmp_path / "data", per_class=1), "test2")
    with distributed.Client(scheduler) as client, distributed.get_task_stream(client) as stream:
        rep = TextureRepresentation(scheduler=scheduler, progress=False)
        features_for(rep, {"test2": split}, cache_dir=tmp_path)
    assert len(stream.data) >= 1
