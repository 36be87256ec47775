"""The sweep on a local dask cluster, resuming after an interruption, and the summary:
selection on validation only, intervals over seeds, paired verdicts against ERM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coos_utils.dg.shift import selected_features
from coos_utils.dg.summary import compare_to_erm, seed_range, select_draws, summarise
from coos_utils.dg.sweep import (
    TRIALS_FOLDER,
    estimated_cost,
    launch_order,
    make_sweep,
    next_ready,
    pending,
    run_search,
    run_sweep,
)
from coos_utils.dg.trial import trial_folder
from coos_utils.metrics import t_interval
from coos_utils.reference import TEST_SPLITS
from tests.helpers import DG_TINY
from tests.test_dg_intervals import fake_records

TINY = DG_TINY


def test_sweep_on_two_dask_workers_resumes_after_an_interruption(
    tiny_data: Path, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    specs = make_sweep(tiny_data, ["ERM", "CORAL", "TestTimeBN"], n_draws=1, seeds=[0], **TINY)
    records = run_sweep(specs, tmp_path, n_workers=2, progress=False)
    trials = tmp_path / TRIALS_FOLDER
    assert pending(specs, trials) == []
    assert set(records["trial_id"]) == {s.trial_id for s in specs}
    assert set(records["split"]) == {"validation", *TEST_SPLITS}
    assert (trial_folder(trials, specs[0]) / "model.pt").exists()  # ERM keeps its weights
    assert not (trial_folder(trials, specs[1]) / "model.pt").exists()
    features = selected_features(tmp_path, records, "ERM", max_images=20)
    assert set(features) == {"train", *TEST_SPLITS}
    assert features["test1"].shape == (20, 8)  # small_cnn at width 0.25: 8 features

    # interrupted: one trial died before its done marker, another never started
    (trial_folder(trials, specs[1]) / "done").unlink()
    shutil.rmtree(trial_folder(trials, specs[2]))
    kept = trial_folder(trials, specs[0]) / "record.json"
    stamp = kept.stat().st_mtime_ns
    assert pending(specs, trials) == specs[1:]
    again = run_sweep(specs, tmp_path, serial=True, progress=False)  # resumes in-process
    assert pending(specs, trials) == []
    assert kept.stat().st_mtime_ns == stamp  # the finished trial was not run again
    assert set(again["trial_id"]) == {s.trial_id for s in specs}


def test_costliest_trials_start_first_and_a_reuser_after_its_trainer(tiny_data: Path) -> None:
    specs = make_sweep(tiny_data, ["ERM", "TestTimeBN", "ContriMix"], seeds=[0, 1], **TINY)
    assert estimated_cost(specs[4]) == 4.0 * (1 + 5)  # the authors' 5 mixes
    order = launch_order(specs)
    assert [s.method for s in order] == ["ContriMix"] * 2 + ["ERM", "ERM"] + ["TestTimeBN"] * 2
    assert [s.seed for s in order] == [0, 1] * 3  # ties keep their order
    waits = {specs[2].trial_id: specs[0], specs[3].trial_id: specs[1]}
    assert next_ready(order[4:], waits, set()) is None  # both wait for their ERM
    assert next_ready(order[4:], waits, {specs[1].trial_id}) == specs[3]


def test_a_dask_sweep_keeps_one_trial_per_slot_costliest_first(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trials go to the cluster one per free worker thread, in :func:`launch_order`, so
    that no worker queues a long trial while another idles; TestTimeBN after its ERM."""
    distributed = pytest.importorskip("distributed")
    specs = make_sweep(tiny_data, ["ERM", "TestTimeBN", "ContriMix"], seeds=[0], **TINY)
    submitted, futures = [], []
    submit = distributed.Client.submit

    def watched(client, function, spec, *args, **kwargs):
        in_flight = sum(not f.done() for f in futures)
        erm_done = all(f.done() for f in futures[: len(submitted)] if "ERM" in f.key)
        submitted.append((spec.method, in_flight, erm_done))
        futures.append(submit(client, function, spec, *args, **kwargs))
        return futures[-1]

    monkeypatch.setattr(distributed.Client, "submit", watched)
    run_sweep(specs, tmp_path, n_workers=2, progress=False)
    assert [m for m, _, _ in submitted] == ["ContriMix", "ERM", "TestTimeBN"], submitted
    assert max(n for _, n, _ in submitted) < 2, submitted  # a free slot for each
    assert submitted[2][2], "TestTimeBN was sent before ERM had finished"


def test_two_stage_search_runs_the_chosen_draw_on_the_other_seeds(
    tiny_data: Path, tmp_path: Path
) -> None:
    records = run_search(
        tiny_data, tmp_path, ["ERM"], n_draws=2, seeds=(0, 1), serial=True, progress=False, **TINY
    )
    trials = records[["hparams_seed", "seed"]].drop_duplicates()
    assert len(trials) == 3
    first_stage = records[records["seed"] == 0]
    chosen = int(select_draws(first_stage)["hparams_seed"].iloc[0])
    assert set(trials[trials["seed"] == 1]["hparams_seed"]) == {chosen}
    assert int(select_draws(records)["hparams_seed"].iloc[0]) == chosen


def _records(rows: list[tuple[str, int, int, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["method", "hparams_seed", "seed", "split", "value"])
    frame["metric"] = "balanced_error"
    frame["trial_id"] = (
        frame["method"] + frame["hparams_seed"].astype(str) + frame["seed"].astype(str)
    )
    frame["hparams"] = frame["hparams_seed"].map(lambda h: json.dumps({"lr": h}))
    return frame


def test_selection_uses_validation_never_test(tmp_path: Path) -> None:
    rows = []
    for seed in (0, 1, 2):
        # draw 1 is best on every test set but worse on validation: it must not be chosen
        rows += [
            ("CORAL", 0, seed, "validation", 10.0 + seed),
            ("CORAL", 1, seed, "validation", 12.0),
        ]
        rows += [("CORAL", 0, seed, name, 30.0 + seed) for name in TEST_SPLITS]
        rows += [("CORAL", 1, seed, name, 1.0) for name in TEST_SPLITS]
    records = fake_records(rows, tmp_path)
    chosen = select_draws(records)
    assert chosen.to_dict("records") == [
        {"method": "CORAL", "hparams_seed": 0, "validation_error": 11.0, "seeds": 3}
    ]
    summary = summarise(records, n_boot=100)
    assert summary.loc[summary["metric"] == "balanced_error", "mean"].tolist() == pytest.approx(
        [31.0] * len(TEST_SPLITS)
    )
    assert (summary["seeds"] == 3).all()


def test_seed_range_is_over_the_chosen_draws_seeds() -> None:
    rows = [("ERM", 0, seed, "validation", 1.0) for seed in (0, 1, 2)]
    rows += [("ERM", 1, seed, "validation", 9.0) for seed in (0, 1, 2)]
    rows += [("ERM", 0, seed, "test3", 10.0 + 2 * seed) for seed in (0, 1, 2)]
    rows += [("ERM", 1, seed, "test3", 50.0 * seed) for seed in (0, 1, 2)]  # not chosen
    rows += [("CORAL", 0, 0, "validation", 1.0), ("CORAL", 0, 0, "test3", 7.0)]
    table = seed_range(_records(rows)).set_index("method")
    assert table.loc["ERM", "seed_range"] == 4.0 and table.loc["ERM", "seeds"] == 3
    assert np.isnan(table.loc["CORAL", "seed_range"])  # one seed: no spread


def test_selection_compares_draws_on_their_shared_seeds_only() -> None:
    rows = [
        ("ERM", 0, 0, "validation", 5.0),
        ("ERM", 1, 0, "validation", 6.0),
        ("ERM", 0, 1, "validation", 50.0),  # an extra seed of draw 0 does not count
    ]
    assert int(select_draws(_records(rows))["hparams_seed"].iloc[0]) == 0


def test_intervals_and_verdicts(tmp_path: Path) -> None:
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and np.isclose(high - mean, 4.302653 * 1.0 / np.sqrt(3), rtol=1e-5)
    assert np.isnan(t_interval([4.0])[1])
    rows = []
    for seed, noise in enumerate((-1.0, 0.0, 1.0)):
        for name in TEST_SPLITS:
            rows.append(("ERM", 0, seed, name, 20.0 + noise))
            better = 10.0 if name == "test4" else 20.0  # helps on test4 only
            rows.append(("MixStyle", 0, seed, name, better + noise))
        rows += [("ERM", 0, seed, "validation", 1.0), ("MixStyle", 0, seed, "validation", 1.0)]
    records = fake_records(rows, tmp_path)
    assert list(summarise(records, n_boot=100).columns) == [
        *("method", "split", "metric", "mean", "ci_low", "ci_high", "interval", "seeds"),
        "note",
    ]
    paired = compare_to_erm(records, n_boot=100)
    verdicts = paired[paired["metric"] == "balanced_error"].set_index("split")
    assert (verdicts["seeds"] == 3).all()
    assert verdicts.loc["test4", "mean_diff"] == pytest.approx(-10.0)
    assert verdicts.loc["test4", "helps"] and not verdicts.loc["test4", "hurts"]
    assert not verdicts.loc[["test1", "test2", "test3"], "helps"].any()
