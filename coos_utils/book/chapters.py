"""The one declaration of the book's chapters: their order, what each reads and writes.

The pipeline runs chapters in this order; a chapter is rerun when the result files of a
chapter it ``reads`` change. ``writes`` are glob patterns relative to the results folder
``results/<data-id>/<profile>/``. ``_toc.yml`` must list the same chapters (a test checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from coos_utils.registry import lookup


@dataclass(frozen=True)
class ChapterSpec:
    """One chapter: its notebook ``notebooks/<name>.md`` and its place among the others."""

    name: str
    title: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


CHAPTERS: tuple[ChapterSpec, ...] = (
    ChapterSpec(
        "01_dataset",
        "The data set",
        writes=("table2.csv", "image_statistics_medians.csv", "metadata_overview.csv"),
    ),
    ChapterSpec(
        "02_features",
        "Learned representations",
        writes=("training/*.csv", "profile_changes.csv", "features_extracted.csv"),
    ),
    ChapterSpec(
        "03_classifiers",
        "Table 3",
        reads=("02_features",),
        writes=("table3.csv", "sensitivity.csv", "confusion/*.csv", "ablation_*.csv"),
    ),
    ChapterSpec(
        "04_confusion",
        "Confusion analysis",
        reads=("03_classifiers",),
        writes=("sensitivity_ci.csv", "top_confusions.csv", "shift_comparison.csv"),
    ),
    ChapterSpec(
        "05_domain_generalization",
        "Domain generalisation",
        # reads nothing of another chapter: its trials train on the data themselves (until
        # 2026-12-04 it declared 02_features, so every rerun of chapter 02, whose
        # features_extracted.csv carries timings, made this chapter run again)
        writes=("dg*.csv", "similarity.csv"),
    ),
    ChapterSpec(
        "06_your_model",
        "Benchmark your own model",
        reads=("03_classifiers",),  # the book's baselines beside the user's row
        writes=("your_model/**/*.csv", "your_model/**/*.json"),
    ),
)
BY_NAME = {c.name: c for c in CHAPTERS}


def chapter(name: str) -> ChapterSpec:
    """The declared chapter ``name``, or an error listing them."""
    return lookup(BY_NAME, name, "chapter")


def with_dependencies(names: list[str], available: tuple[ChapterSpec, ...] = CHAPTERS) -> list[str]:
    """``names`` and every chapter they read, directly or not, in book order."""
    wanted, todo = set(), list(names)
    while todo:
        spec = chapter(todo.pop())
        if spec.name not in wanted:
            wanted.add(spec.name)
            todo.extend(spec.reads)
    return [c.name for c in available if c.name in wanted]


def check_order(chapters: tuple[ChapterSpec, ...] = CHAPTERS) -> None:
    """Raise unless every chapter reads only chapters declared before it."""
    seen: set[str] = set()
    for spec in chapters:
        late = [r for r in spec.reads if r not in seen]
        if late:
            raise ValueError(f"chapter {spec.name} reads {late}, which do not come before it")
        seen.add(spec.name)
