"""What chapters 05 and 06 show, made in the package so that their cells hold no control
flow: the profile line, tables for reading, captions, and the sections that differ between
simulated and real data or with and without the book's baselines."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from IPython.display import Markdown
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from coos_utils.dg.chapter import (
    ABLATION_COLUMNS,
    ablation_draws,
    simulator_ablation,
    sweep_settings,
)
from coos_utils.presentation import chapter_dg, chapter_your_model
from coos_utils.reference import TEST_SPLITS, paper_table3

matplotlib.use("Agg")

DG = {
    "methods": ("ERM", "CORAL"),
    "n_draws": 2,
    "seeds": (0, 1, 2),
    "steps": 120,
    "batch_size": 32,
    "eval_every": 40,
    "width": 0.125,
    "max_val_images": 300,
    "max_shift_images": 300,
    "ablation_seeds": (0,),
    "ablation_switches": ("test4_microscope",),
}


class FakeRun:
    """The members of a ChapterRun the display functions use; records what they show."""

    label = "synthetic tiny, profile smoke"

    def __init__(self, synthetic: bool) -> None:
        self.synthetic = synthetic
        self.figures: list[tuple[str, str]] = []

    def table_note(self, *paths: Path) -> Markdown:
        return Markdown(f"CSV: {', '.join(p.name for p in paths)}. Regenerate: `coos run x`")

    def site_link(self, path: Path) -> str:
        return f"[`{path.name}`](../../results/{path.name})"

    def show_figure(self, fig: Figure, name: str, caption: str) -> None:
        self.figures.append((name, caption))


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of everything the display functions display, in order."""
    seen: list[str] = []

    def record(obj: object) -> None:
        seen.append(obj.to_html() if isinstance(obj, Styler) else obj.data)

    monkeypatch.setattr(chapter_dg, "display", record)
    monkeypatch.setattr(chapter_your_model, "display", record)
    return seen


def _summary() -> pd.DataFrame:
    rows = [
        (method, split, metric, 10.0 + k, 9.0 + k, 11.0 + k, 3, "")
        for k, method in enumerate(["ERM", "MixStyle"])
        for split in TEST_SPLITS
        for metric in ("balanced_error", "macro_f1")
    ]
    rows += [
        ("CORAL", split, metric, float("nan"), float("nan"), float("nan"), 0, "no plate ids")
        for split in TEST_SPLITS
        for metric in ("balanced_error", "macro_f1")
    ]
    columns = ["method", "split", "metric", "mean", "ci_low", "ci_high", "seeds", "note"]
    return pd.DataFrame(rows, columns=columns)


def test_profile_line_names_fixed_hyperparameters_only_when_there_are_some() -> None:
    plain = chapter_dg.profile_line(DG)
    assert "2 methods, 2 hyperparameter draws, seeds 0, 1, 2, 120 training steps" in plain
    assert "Fixed here" not in plain
    fixed = chapter_dg.profile_line({**DG, "hparams_overrides": (("contrimix_mixings", 2),)})
    assert fixed.startswith(plain) and "`contrimix_mixings` = 2" in fixed


def test_sweep_settings_and_the_ablation_draws() -> None:
    settings = sweep_settings(DG)
    assert settings["hparams_overrides"] == () and "methods" not in settings
    assert settings["steps"] == 120 and settings["max_val_images"] == 300
    selection = pd.DataFrame(
        {"method": ["ERM", "A", "B"], "hparams_seed": [0, 1, 3], "validation_error": [9, 8, 7]}
    )
    assert ablation_draws(selection) == {"ERM": 0, "B": 3}
    assert ablation_draws(selection.iloc[:1]) == {"ERM": 0}


def test_real_data_has_no_ablation_and_shows_why(shown: list[str]) -> None:
    empty = simulator_ablation(False, "unused", None, "unused", pd.DataFrame(), DG)
    assert empty.empty and list(empty.columns) == ABLATION_COLUMNS
    run = FakeRun(synthetic=False)
    chapter_dg.show_ablation(run, empty, Path("dg_ablation.csv"))
    assert run.figures == [] and shown == [
        "Real data: the shifts cannot be switched off, so there is no ablation."
    ]


def test_simulated_data_shows_the_ablation_figure_with_its_caption(shown: list[str]) -> None:
    summary = _summary()
    ablation = pd.concat(
        [summary.assign(switch="none", change=0.0), summary.assign(switch="border", change=-1.0)]
    ).assign(seed_range=0.5, beyond_seed_range=True)
    ablation = ablation[ablation["seeds"] > 0]
    run = FakeRun(synthetic=True)
    chapter_dg.show_ablation(run, ablation, Path("dg_ablation.csv"))
    ((name, caption),) = run.figures
    assert name == "dg_ablation" and run.label in caption
    assert "border off, ERM: test1 -1.0" in shown[0] and "dg_ablation.csv" in shown[-1]


def test_tables_for_reading() -> None:
    summary = _summary()
    table = chapter_dg.summary_readable(summary)
    assert list(table.columns) == ["method", *TEST_SPLITS]
    assert table.set_index("method").loc["ERM", "test3"] == "10.0 (9.0–11.0)"
    assert table.set_index("method").loc["CORAL", "test4"] == "not run"
    relation = pd.DataFrame(
        {
            "measure": ["mmd_features", "mmd_features"],
            "method": ["CORAL", "ERM"],
            "rho": [0.8, 1.0],
            "p_exact": [0.33, 1 / 12],
            "splits": [4, 4],
        }
    )
    shown = chapter_dg.relation_readable(relation)
    assert shown["method"].tolist() == ["ERM", "CORAL"]
    assert shown.loc[0, "MMD (features)"] == "1.00 (p 0.08)"
    similarity = pd.DataFrame(
        {"split": ["test2", "test1"], "measure": ["mmd_features"] * 2, "value": [0.00168, 0.5]}
    )
    assert chapter_dg.similarity_readable(similarity)["MMD (features)"].tolist() == [
        "0.5",
        "0.00168",
    ]


def test_method_notes_name_methods_not_run_and_the_confound_only_when_coral_ran() -> None:
    records = pd.DataFrame({"method": ["CORAL", "ERM"], "note": ["no plate ids", ""]})
    summary = _summary()
    notes = chapter_dg.method_notes(records, summary, "plates hold 2 of 7 classes")
    assert "**CORAL: no numbers.** no plate ids" in notes and "CORAL's row" not in notes
    ran = summary.assign(seeds=3, note="")
    assert "CORAL's row" in chapter_dg.method_notes(records.iloc[1:], ran, "plates hold")
    assert chapter_dg.method_notes(records.iloc[1:], ran, "") == ""


def _yours() -> pd.DataFrame:
    values = {"test1": 29.8, "test2": 28.7, "test3": 39.6, "test4": 45.1}
    row = {"features": "small CNN", "model": "seed0", **values}
    row.update({f"{s}_ci_low": v - 2 for s, v in values.items()})
    row.update({f"{s}_ci_high": v + 2 for s, v in values.items()})
    return pd.DataFrame([row])


def _paired(diff: float = 1.8, seeds: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("VREx", split, "balanced_error", diff, float("nan"), float("nan"), seeds, False, False)
            for split in TEST_SPLITS
        ],
        columns=[
            *("method", "split", "metric", "mean_diff", "ci_low", "ci_high", "seeds"),
            *("helps", "hurts"),
        ],
    )


def test_your_model_finding_with_and_without_the_books_baselines() -> None:
    book = paper_table3().assign(test3=9.7, test4=9.8)
    text = chapter_your_model.your_model_finding(_yours(), book, _paired(), _summary(), "L", True)
    assert "39.6% on test3" in text and "worst test set is test4, +15.3 points" in text
    assert "book's DeepLoc (end to end) has 9.7% on test3" in text
    assert "VREx +1.8 on test1" in text and "one seed, so no verdict" in text
    assert "synthetic" in text
    ran = _summary().iloc[:0]
    alone = chapter_your_model.your_model_finding(
        _yours(), None, _paired().iloc[:0], ran, "L", False
    )
    assert "book's own DeepLoc is missing" in alone and "7.4% and 5.4%" in alone
    assert "No DG method was compared with ERM" in alone and "synthetic" not in alone


def test_comparison_puts_the_model_beside_the_book_and_the_paper() -> None:
    book = paper_table3().assign(test3=9.7)
    table, note = chapter_your_model.comparison_readable(_yours(), book)
    assert table["source"].tolist() == ["yours", "book", "book", "paper", "paper"]
    assert table.loc[0, "test3"] == "39.6 (37.6–41.6)" and table.loc[3, "test3"] == "7.4"
    assert "no intervals" in note
    without, _ = chapter_your_model.comparison_readable(_yours(), None)
    assert without["source"].tolist() == ["yours", "paper", "paper"]
    caption = chapter_your_model.yours_caption(None, "L")
    assert "No book rows" in caption and "  " not in caption


def test_show_paired_says_why_when_there_is_no_comparison(shown: list[str]) -> None:
    run = FakeRun(synthetic=True)
    ran = _summary().iloc[:0]
    chapter_your_model.show_paired(run, _paired().iloc[:0], ran, Path("dg_vs_erm.csv"), "T")
    assert len(shown) == 1 and "No paired comparison" in shown[0]
    chapter_your_model.show_paired(run, _paired(), ran, Path("dg_vs_erm.csv"), "T")
    assert "VREx" in shown[1] and f"T ({run.label})." in shown[1]
    assert "dg_vs_erm.csv" in shown[2] and "coos run" in shown[2]


def test_scores_read_with_intervals_inline_one_run_or_several() -> None:
    scores = pd.DataFrame(
        {
            "run": ["seed0", "seed0"],
            "split": ["test1", "test2"],
            "balanced_error": [29.84, 28.67],
            "ci_low": [27.4, 26.5],
            "ci_high": [32.3, 30.7],
            "well_ci_low": [26.9, float("nan")],
            "well_ci_high": [33.3, float("nan")],
            "macro_f1": [68.49, 70.28],
        }
    )
    one = chapter_your_model.scores_readable(scores, pd.DataFrame())
    assert one["balanced error"].tolist() == ["29.8 (26.9–33.3)", "28.7 (26.5–30.7)"]
    assert one["macro F1"].tolist() == ["68.5", "70.3"]
    summary = pd.DataFrame(
        {
            "split": ["test1", "test1"],
            "metric": ["balanced_error", "macro_f1"],
            "mean": [30.0, 70.0],
            "ci_low": [28.0, 68.0],
            "ci_high": [32.0, 72.0],
        }
    )
    several = chapter_your_model.scores_readable(scores.assign(run=["a", "b"]), summary)
    assert several.to_dict("list") == {
        "split": ["test1"],
        "balanced error": ["30.0 (28.0–32.0)"],
        "macro F1": ["70.0"],
    }


def test_the_full_comparison_holds_every_row_that_stands_for_the_papers() -> None:
    book = paper_table3().assign(chosen_by_cv=True)
    book.loc[0, "chosen_by_cv"] = False
    table, _ = chapter_your_model.comparison_readable(_yours(), book, every=True)
    counts = table["source"].value_counts()
    assert counts["yours"] == 1 and counts["paper"] == len(book)
    assert counts["book"] == len(book) - 1


def test_profile_line_counts_in_the_singular() -> None:
    line = chapter_dg.profile_line({**DG, "n_draws": 1, "methods": ("ERM",)})
    assert "1 method, 1 hyperparameter draw, seeds" in line


def test_headline_figure_lists_the_model_first_and_marks_missing_book_rows() -> None:
    book = paper_table3().assign(test3=9.7)
    fig = chapter_your_model.plot_your_model(_yours(), book, "t")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "small CNN (yours)" and len(labels) == 5
    alone = chapter_your_model.plot_your_model(_yours(), None, "t")
    assert not any("(book)" in t.get_text() for t in alone.axes[0].get_legend().get_texts())
