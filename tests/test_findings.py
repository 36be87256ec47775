"""The chapters' opening sentences are generated from the numbers and say what they show."""

import pandas as pd

from coos_utils.analysis.claims import TABLE_CLAIMS, Evidence, check_claims
from coos_utils.presentation.findings import (
    at_a_glance,
    cut_short_from_training,
    dg_finding,
    table3_finding,
)
from coos_utils.reference import IN_DISTRIBUTION, SHIFTED, paper_table3

PAPER = "the paper's Table 3 (real COOS-7)"


def test_on_the_papers_table_the_claims_hold() -> None:
    text = table3_finding(paper_table3(), PAPER, synthetic=False)
    assert "Claims 1, 2, 3a, 3b and 3c hold" in text
    assert "does not hold" not in text
    assert "DeepLoc (FC2) + RF on test3 (6.8%)" in text
    assert "DeepLoc (FC2) + L1 LR on test4 (4.1%)" in text
    assert "Texture + L1 LR is at 12.0% and 12.1%" in text
    assert "synthetic" not in text


def test_when_claim_1_fails_the_sentences_say_so_and_why() -> None:
    table = paper_table3()
    table[list(SHIFTED)] = table[list(IN_DISTRIBUTION)].to_numpy()  # no drop under shift
    text = table3_finding(table, "synthetic stand-in, profile smoke", synthetic=True)
    assert "Claim 1 (Every method does well" in text
    assert "does not hold on this run" in text
    assert "0.99 times as high" in text and "0 of 25 do worse" in text  # why, in numbers
    assert "Claims 2, 3a, 3b and 3c hold on this run" in text
    assert "synthetic" in text and "test the code, not cells" in text


def test_synthetic_data_are_named_synthetic() -> None:
    text = table3_finding(paper_table3(), "SYNTHETIC COOS-7 stand-in (scale=small)", True)
    assert "synthetic COOS-7 stand-in" in text and "SYNTHETIC" not in text


def test_cut_short_from_training_names_still_improving_and_far_short() -> None:
    history = pd.DataFrame(
        {
            "representation": ["pci"] * 3 + ["deeploc"] * 3,
            "iteration": [50, 100, 150] * 2,
            "val_score": [3.0, 2.0, 1.0, 3.0, 1.0, 2.0],
            "chosen": [False, False, True, False, True, False],
        }
    )
    changes = pd.DataFrame(
        {
            "representation": ["deeploc", "deeploc"],
            "parameter": ["iterations", "batch_size"],
            "this profile": ["150", "64"],
            "paper protocol": ["10000", "128"],
        }
    )
    reasons = cut_short_from_training(history, changes)
    assert "still improving at iteration 150" in reasons["pci"]
    assert reasons["deeploc"] == (
        "trained on 1% of the paper's training images (150 iterations of 64; the paper: "
        "10,000 of 128)"
    )
    # at the paper's schedule and no longer improving: not cut short
    full = history.assign(iteration=[50, 100, 150, 8000, 9000, 10000])
    at_paper = changes.assign(**{"this profile": ["10000", "128"]})
    assert "deeploc" not in cut_short_from_training(full, at_paper)


def test_dg_finding_names_the_methods_that_beat_erm_and_the_largest_gain() -> None:
    paired = pd.DataFrame(
        {
            "method": ["A", "A", "B", "B"],
            "split": ["test3", "test4"] * 2,
            "metric": "balanced_error",
            "mean_diff": [-5.0, -1.0, 2.0, 8.0],
            "ci_low": [-7.0, -3.0, -1.0, 6.0],
            "ci_high": [-3.0, 1.0, 5.0, 10.0],
            "seeds": 3,
            "helps": [True, False, False, False],
            "hurts": [False, False, False, True],
        }
    )
    summary = pd.DataFrame({"method": ["C"], "seeds": [0]})
    text = dg_finding(paired, summary, "synthetic data, profile default", True)
    assert "beaten by A on test3" in text
    assert "Worse than ERM by the same test: B on test4" in text
    assert "A on test3: 5.0 points lower" in text
    assert "Not run: C" in text


def test_at_a_glance_sets_the_run_beside_the_papers_table() -> None:
    table = paper_table3()
    table[list(SHIFTED)] = table[list(IN_DISTRIBUTION)].to_numpy()
    run = check_claims(Evidence(table, synthetic=True), TABLE_CLAIMS)
    text = at_a_glance("synthetic stand-in", "small data", run, synthetic=True)
    row = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    assert "| does not hold | holds |" in row
    assert "03_classifiers.html#" in row
    assert "synthetic" in text
