"""What chapters 03 and 04 show: the classifiers the text discusses, pooled tables that add
up, folded lists that count what they fold, and rows cut short only when trained."""

from pathlib import Path

import numpy as np
import pandas as pd

from coos_utils.presentation.chapter_confusion import (
    POOLED,
    confusion_links,
    discussed_classifiers,
    paper_sensitivities_view,
    shift_comparison_all,
    top_confusions_all,
)
from coos_utils.presentation.chapter_table3 import (
    errors_caption,
    files_written,
    headline_caption,
    href,
    run_cut_short,
    shifted_block,
)
from coos_utils.reference import TEST_SPLITS, paper_table3

NAMES = ["a", "b", "c"]


def _matrix(errors: int) -> pd.DataFrame:
    counts = np.diag([10, 10, 10])
    counts[0, 1] = errors
    return pd.DataFrame(counts, index=NAMES, columns=NAMES)


def _link(path: Path) -> str:
    return f"[`{path.name}`](../../results/{path.name})"


def test_discussed_are_the_best_on_the_shifted_sets_texture_and_deeploc() -> None:
    assert discussed_classifiers(paper_table3()) == [
        ("DeepLoc (FC2)", "RF"),
        ("DeepLoc (FC2)", "L1 LR"),
        ("Texture", "L1 LR"),
        ("DeepLoc", "End-to-End"),
    ]


def test_random_init_rows_are_not_discussed_and_missing_rows_are_left_out() -> None:
    table = paper_table3()
    table = table[table["features"].str.startswith(("VGG16", "Texture"))].copy()
    table["features"] = table["features"].str.replace("VGG16", "VGG16 (random init)")
    table.loc[table["features"].str.startswith("VGG16"), ["test3", "test4"]] = 0.0
    assert discussed_classifiers(table)[0][0] == "Texture"
    assert ("DeepLoc", "End-to-End") not in discussed_classifiers(table)


def test_pooled_rows_sum_the_followed_classifiers() -> None:
    followed = pd.DataFrame({"features": ["X", "Y"], "model": ["kNN", "kNN"]})
    matrices = {(f, "kNN", s): _matrix(2 if f == "X" else 4) for f in "XY" for s in TEST_SPLITS}
    top = top_confusions_all(matrices, followed, k=1)
    pooled = top[(top["features"] == POOLED[0]) & (top["model"] == POOLED[1])]
    assert list(pooled["split"]) == list(TEST_SPLITS)
    assert set(pooled["images"]) == {6} and len(top) == 3 * len(TEST_SPLITS)
    shifts = shift_comparison_all(matrices, followed, min_share=0.05)
    assert list(shifts["features"]) == [POOLED[0], "X", "Y"]


def test_confusion_links_fold_every_matrix_of_every_row() -> None:
    table = pd.DataFrame({"features": ["Texture"], "model": ["L1 LR"], "test3": [1.0]})
    shown = confusion_links(table, Path("results/x/smoke"), _link).data
    assert "All 1 confusion matrices" in shown and "<details" in shown
    assert 'href="../../results/Texture__L1_LR__test3.csv"' in shown


def test_files_written_lists_tables_and_counts_confusion_matrices() -> None:
    paths = [Path("r/table3.csv"), Path("r/confusion/a.csv"), Path("r/confusion/b.csv")]
    text = files_written(paths, _link).data
    assert "this chapter (1), besides 2 confusion matrices" in text
    assert "table3.csv" in text and "a.csv" not in text
    assert href(_link(Path("r/t.csv"))) == "../../results/t.csv"


def test_cut_short_is_empty_without_training_records(tmp_path: Path) -> None:
    assert run_cut_short(tmp_path) == {}
    (tmp_path / "training").mkdir()
    record = "representation,iteration,train_loss,val_score,chosen\npci,10,1,2,False\n"
    (tmp_path / "training" / "pci.csv").write_text(record + "pci,20,1,1,True\n")
    assert "still improving at iteration 20" in run_cut_short(tmp_path)["pci"]


def test_shifted_block_marks_rows_cut_short_and_shows_cv_error() -> None:
    table = paper_table3().assign(cv_error=1.0)
    heading, styler, note = shifted_block(table, "synthetic", {"deeploc": "cut short"})
    shown = styler.data
    assert list(shown.columns) == ["representation", "classifier", "cv error", "test3", "test4"]
    assert shown["representation"].iloc[0] == "DeepLoc †"
    assert "† DeepLoc: cut short." in note.data


def test_captions_mention_rows_cut_short_only_when_the_figure_shows_one() -> None:
    table = paper_table3().assign(cv_error=1.0)
    texture = table[table["features"] == "Texture"]
    assert "far short" in errors_caption(table, "synthetic", {"pci": "stopped early"})
    assert "far short" not in errors_caption(texture, "synthetic", {"pci": "stopped early"})
    assert "far short" not in headline_caption(table, "synthetic", {})
    assert "synthetic" in headline_caption(table, "synthetic", {})


def test_paper_sensitivities_one_row_per_quote_and_matching_classifier() -> None:
    sens = pd.DataFrame(
        {
            "features": ["PCI Conv2", "PCI Conv3", "Texture"],
            "model": ["L1 LR", "L1 LR", "L1 LR"],
            "split": ["test3"] * 3,
            "class": ["Golgi"] * 3,
            "sensitivity": [0.5, 0.6, 0.9],
        }
    )
    shown = paper_sensitivities_view(sens).data
    pci = shown[(shown["paper's classifier"] == "PCI + L1 LR") & (shown["split"] == "test3")]
    assert list(pci["our classifier"]) == ["PCI Conv2 + L1 LR", "PCI Conv3 + L1 LR"]
    assert list(pci["paper"]) == [0.749, 0.749]
    vgg = shown[shown["paper's classifier"] == "VGG16 + L1 LR"]
    assert set(vgg["our classifier"]) == {"–"} and vgg["this run"].isna().all()
