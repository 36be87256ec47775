"""The published-results page: numbers read from the reference CSVs, unlike metrics in separate
columns, book and ``coos evaluate`` rows labelled with their data and linked to provenance."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

import coos_utils.reference as reference
from coos_utils.benchmark.evaluation import evaluate
from coos_utils.data import load_split
from coos_utils.presentation.published import (
    PAGE,
    SYNTHETIC_NOTE,
    comparison_table,
    evaluation_comparison,
    published_rows,
    results_rows,
    write_published_results,
)
from coos_utils.reference import SPLIT_NAMES, TEST_SPLITS, published_results
from coos_utils.results.evaluation import evaluation_folder, write_evaluation
from coos_utils.results.provenance import COMPLETE, FAILED, mark_chapter, record_run

CYTO = "Hua et al. 2021 (CytoImageNet)"
MICROSNOOP = "Xun et al. 2023 (Microsnoop)"
PAPER = "Lu et al. 2019 (the paper, Table 3)"
SYNTHETIC = {"data_id": "synthetic-tiny-seed0", "data_source": "synthetic", "data_label": "tiny"}


def _row(table: pd.DataFrame, source: str, representation: str) -> pd.Series:
    match = table[
        (table[("", "source")] == source) & (table[("", "representation")] == representation)
    ]
    assert len(match) == 1, (source, representation)
    return match.iloc[0]


def _book_folder(root: Path, profile: str, table: pd.DataFrame, status: str = COMPLETE) -> Path:
    folder = root / SYNTHETIC["data_id"] / profile
    folder.mkdir(parents=True)
    record_run(folder, "03_classifiers", SYNTHETIC, profile, {}, "abcdef0123456789")
    mark_chapter(folder, "03_classifiers", status, "boom" if status == FAILED else None)
    table.to_csv(folder / "table3.csv", index=False)
    return folder


def _table3(errors: list[float], **extra: list[float]) -> pd.DataFrame:
    row = {"features": "Texture", "model": "L1 LR", "train": 1.0, "chosen_by_cv": True}
    row.update(dict(zip(TEST_SPLITS, errors, strict=True)))
    for name, values in extra.items():
        row.update({f"{s}_{name}": v for s, v in zip(TEST_SPLITS, values, strict=True)})
    other = {**row, "model": "RF", "chosen_by_cv": False}
    return pd.DataFrame([row, other])


@pytest.fixture(scope="module")
def evaluation_folder_(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``coos evaluate`` folder on the tiny synthetic data: every label right except
    class 3 predicted as 4 on the test sets."""
    predictions = tmp_path_factory.mktemp("predictions") / "mymodel"
    predictions.mkdir()
    for split in SPLIT_NAMES:
        labels = load_split(tiny_data, split).labels
        wrong = labels if split == "train" else np.where(labels == 3, 4, labels)
        pd.DataFrame({"index": np.arange(len(labels)), "label": wrong}).to_csv(
            predictions / f"{split}.csv", index=False
        )
    found = evaluate(predictions, tiny_data, bootstrap_samples=20)
    results = tmp_path_factory.mktemp("project") / "results"
    folder = evaluation_folder(results, found)
    write_evaluation(folder, found, "smoke", {"name": found.name})
    return folder


def test_the_shipped_csv_holds_the_numbers_of_the_sources() -> None:
    rows = published_results().set_index(["source", "representation", "split"])["value"]
    quoted = {
        (CYTO, "EfficientNet-B0, ImageNet weights"): [88.87, 88.93, 75.91, 82.19],
        (CYTO, "EfficientNet-B0, CytoImageNet weights"): [88.58, 89.37, 65.97, 78.52],
        (CYTO, "EfficientNet-B0, ImageNet + CytoImageNet features concatenated"): [
            94.80,
            95.07,
            78.97,
            87.47,
        ],  # fmt: skip
        (CYTO, "EfficientNet-B0, random weights"): [65.68, 67.81, 48.77, 51.88],
        (MICROSNOOP, "Microsnoop, version 20220904"): [97.25, 97.19, 89.72, 96.24],
    }
    for (source, representation), values in quoted.items():
        assert [rows[(source, representation, s)] for s in TEST_SPLITS] == values
    metrics = published_results().groupby("source")["metric"].unique()
    assert list(metrics[CYTO]) == ["accuracy"] and list(metrics[MICROSNOOP]) == ["unstated"]
    assert published_results()["url"].str.startswith("https://").all()


def test_numbers_are_read_from_the_reference_csvs(tmp_path: Path, monkeypatch) -> None:
    for path in files(reference).iterdir():
        if path.name.endswith(".csv"):
            shutil.copy(str(path), tmp_path / path.name)
    later = pd.read_csv(tmp_path / "published_results.csv")
    later.loc[(later["source"] == CYTO) & (later["split"] == "test3"), "value"] = 12.34
    later.to_csv(tmp_path / "published_results.csv", index=False)
    paper = pd.read_csv(tmp_path / "paper_table3.csv")
    paper.loc[paper["model"] == "End-to-End", "test4"] = 9.9
    paper.to_csv(tmp_path / "paper_table3.csv", index=False)
    monkeypatch.setattr(reference, "_HERE", tmp_path)
    table = comparison_table(published_rows())
    assert _row(table, CYTO, "EfficientNet-B0, random weights")[("accuracy", "test3")] == 12.34
    assert _row(table, PAPER, "DeepLoc")[("balanced_error", "test4")] == 9.9


def test_a_bad_published_csv_is_refused_naming_it(tmp_path: Path, monkeypatch) -> None:
    rows = published_results()
    rows.loc[0, "metric"] = "acuracy"
    rows.to_csv(tmp_path / "published_results.csv", index=False)
    monkeypatch.setattr(reference, "_HERE", tmp_path)
    with pytest.raises(ValueError, match=r"published_results\.csv .*unknown metric 'acuracy'"):
        published_results()


def test_unlike_metrics_never_share_a_column(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _book_folder(results, "default", _table3([5.0, 6.0, 30.0, 40.0]))
    _book_folder(results, "paper", _table3([5.0, 6.0, 30.0, 40.0], accuracy=[96, 95, 71, 62]))
    ours, left_out = results_rows(results, tmp_path)
    assert left_out == [] and set(ours["classifier"]) == {"L1 LR"}  # chosen_by_cv rows only
    table = comparison_table(pd.concat([published_rows(), ours], ignore_index=True))
    errors = [("balanced_error", s) for s in TEST_SPLITS]
    accuracy = [("accuracy", s) for s in TEST_SPLITS]
    unstated = [("unstated", s) for s in TEST_SPLITS]
    paper = table[table[("", "source")] == PAPER]
    assert paper[errors].notna().all().all() and paper[accuracy + unstated].isna().all().all()
    cyto = table[table[("", "source")] == CYTO]
    assert cyto[accuracy].notna().all().all() and cyto[errors + unstated].isna().all().all()
    snoop = table[table[("", "source")] == MICROSNOOP]
    assert snoop[unstated].notna().all().all() and snoop[errors + accuracy].isna().all().all()
    default = _row(table, "this book, default profile", "Texture")
    assert default[errors].tolist() == [5.0, 6.0, 30.0, 40.0]
    assert default[accuracy].isna().all()  # never 100 - error, never another metric's values
    both = _row(table, "this book, paper profile", "Texture")
    assert both[errors].tolist() == [5.0, 6.0, 30.0, 40.0]
    assert both[accuracy].tolist() == [96, 95, 71, 62]


def test_a_synthetic_evaluation_is_labelled_synthetic_and_linked_to_its_provenance(
    evaluation_folder_: Path,
) -> None:
    results = evaluation_folder_.parent.parent
    book = results.parent / "book"
    book.mkdir(exist_ok=True)
    ours, left_out = results_rows(results, book)
    assert left_out == []
    row = ours.iloc[0]
    assert row["kind"] == "evaluate" and row["source"] == "coos evaluate: mymodel"
    assert row["data"] == "synthetic (synthetic-tiny-seed0)" and bool(row["synthetic"])
    assert row["link"] == "../results/synthetic-tiny-seed0/eval-mymodel/provenance.json"
    assert (book / row["link"]).is_file()
    expected = pd.read_csv(evaluation_folder_ / "table3.csv")
    errors = ours[ours["metric"] == "balanced_error"].set_index("split")["value"]
    assert [errors[s] for s in TEST_SPLITS] == expected.loc[0, list(TEST_SPLITS)].tolist()
    printed = evaluation_comparison(evaluation_folder_, results.parent)
    line = next(x for x in printed.splitlines() if "coos evaluate: mymodel" in x)
    assert "results/synthetic-tiny-seed0/eval-mymodel/provenance.json" in line
    assert "| synthetic (synthetic-tiny-seed0) |" in line
    assert "| 14.3 |" in line  # class 3 of 7 all wrong: 100 / 7
    assert SYNTHETIC_NOTE in printed and f"| {CYTO} <https://arxiv.org/abs/2111.11646>" in printed


def test_an_evaluation_shows_accuracy_only_when_its_scores_have_it(
    evaluation_folder_: Path, tmp_path: Path
) -> None:
    folder = shutil.copytree(evaluation_folder_, tmp_path / "results" / "x" / "eval-copy")
    table = pd.read_csv(folder / "table3.csv")  # an evaluation made before accuracy was kept
    table.drop(columns=[c for c in table if c.endswith("_accuracy")]).to_csv(
        folder / "table3.csv", index=False
    )
    scores = pd.read_csv(folder / "scores.csv").drop(columns="accuracy")
    scores.to_csv(folder / "scores.csv", index=False)
    before, _ = results_rows(tmp_path / "results", tmp_path)
    assert set(before["metric"]) == {"balanced_error"}
    scores.assign(accuracy=np.arange(len(scores)) + 50.0).to_csv(folder / "scores.csv", index=False)
    after, _ = results_rows(tmp_path / "results", tmp_path)
    accuracy = after[after["metric"] == "accuracy"].set_index("split")["value"]
    by_split = dict(zip(scores["split"], np.arange(len(scores)) + 50.0, strict=True))
    assert {s: accuracy[s] for s in TEST_SPLITS} == {s: by_split[s] for s in TEST_SPLITS}
    scores.assign(accuracy=0.5 + 100).to_csv(folder / "scores.csv", index=False)
    _, left_out = results_rows(tmp_path / "results", tmp_path)
    assert len(left_out) == 1 and "scores.csv" in left_out[0] and "[0, 100]" in left_out[0]


def test_the_generated_page_renders_every_source_and_its_figure(
    evaluation_folder_: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    shutil.copytree(evaluation_folder_.parent.parent, results)
    figures_at = _book_folder(results, "smoke", _table3([5.0, 6.0, 30.0, 40.0]))
    _book_folder(results, "default", _table3([1.0, 1.0, 1.0, 1.0]), status=FAILED)
    generated = tmp_path / "book" / "_generated"
    page = write_published_results(results, generated, figures_at)
    assert page == generated / PAGE
    text = page.read_text(encoding="utf-8")
    html = MarkdownIt("commonmark", {"html": True}).render(text)
    soup = BeautifulSoup(html, "html.parser")
    image = soup.find("img")
    assert (page.parent.parent / image["src"]).is_file()
    assert image["src"] == "../results/synthetic-tiny-seed0/smoke/figures/published_results.png"
    caption = next(p.get_text() for p in soup.find_all("p") if p.get_text().startswith("Figure 1"))
    for source in (PAPER, CYTO, MICROSNOOP, "this book's results folders"):
        assert source in caption.split("Source:")[1]
    links = {a["href"]: a.get_text() for a in soup.find_all("a")}
    assert links["https://arxiv.org/abs/1906.07282"] == PAPER
    assert links["https://arxiv.org/abs/2111.11646"] == CYTO
    assert links["https://github.com/cellimnet/microsnoop-publish"] == MICROSNOOP
    assert links["../results/synthetic-tiny-seed0/smoke/provenance.json"] == (
        "this book, smoke profile"
    )
    assert "../results/synthetic-tiny-seed0/eval-mymodel/provenance.json" in links
    assert "../results/synthetic-tiny-seed0/default/provenance.json" not in links
    tables = {t["data-metric"]: t for t in soup.select("table.published-results")}
    assert list(tables) == ["balanced_error", "accuracy", "unstated"]
    headers = [t.select("thead th")[4].get_text() for t in tables.values()]
    assert headers == [
        "balanced error (%), lower is better",
        "accuracy (%), higher is better",
        "score as reported (%), metric not stated by the source",
    ]
    sources = {m: {a.get_text() for a in t.select("tbody a")} for m, t in tables.items()}
    assert sources["accuracy"] == {CYTO, "coos evaluate: mymodel"}
    assert sources["unstated"] == {MICROSNOOP}
    assert PAPER in sources["balanced_error"] and CYTO not in sources["balanced_error"]
    assert "coos evaluate: mymodel" in sources["balanced_error"]
    assert SYNTHETIC_NOTE.replace("*", "") in soup.get_text()
    assert "03_classifiers is failed here; not shown" in soup.get_text()
    for verified in ("arXiv:2111.11646v2 Table 2", "metric and COOS-7 protocol not stated"):
        assert verified in soup.get_text()
