"""The intro page's "at a glance" block, written by the pipeline after the chapters ran.

``book/intro.md`` includes ``book/_generated/at_a_glance.md``: the run's data and profile, each
claim's verdict on this run beside its verdict on the paper's own Table 3 (linking to the
section that checks it), and the figure that tells the paper's story, error per test set per
representation, ours beside the paper's. When the classifiers chapter did not complete, the
block says so instead of showing verdicts.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from coos_utils.analysis.claims import TABLE_CLAIMS, Evidence, check_claims
from coos_utils.analysis.selection import followed_classifiers
from coos_utils.atomic import atomic_path, atomic_write_text
from coos_utils.book.run_context import RunContext
from coos_utils.presentation.figures import plot_headline
from coos_utils.presentation.findings import at_a_glance, cut_short_from_training
from coos_utils.results.provenance import COMPLETE, chapter_status
from coos_utils.results.store import (
    read_confusions,
    read_profile_changes,
    read_table3,
    read_training,
)

GLANCE_PAGE = "at_a_glance.md"
"""Included by ``book/intro.md``; paths in it are relative to ``book/``."""
GLANCE_FIGURE = "at_a_glance_errors.png"
CONFUSION_CLAIMS = ("4a", "4b", "4c", "4d", "5a", "5b")


def glance_markdown(run: RunContext, figure: Path) -> str:
    """The block for ``run`` (its results folder as the chapters left it); draws the headline
    figure to ``figure`` when Table 3 is there."""
    folder = run.folder
    if (
        chapter_status(folder, "03_classifiers") != COMPLETE
        or not (folder / "table3.csv").is_file()
    ):
        return (
            "**Not available on this build:** the classifiers chapter did not complete, so "
            "there are no verdicts to show here."
        )
    table = read_table3(folder)
    evidence, claims = Evidence(table, synthetic=run.synthetic), TABLE_CLAIMS
    if chapter_status(folder, "04_confusion") == COMPLETE:
        matrices = read_confusions(folder, table)
        evidence = Evidence(table, matrices, followed_classifiers(table), run.synthetic)
        claims = TABLE_CLAIMS + CONFUSION_CLAIMS
    cut_short = cut_short_from_training(read_training(folder), read_profile_changes(folder))
    fig = plot_headline(table, f"Balanced error per test set ({run.label})", cut_short)
    with atomic_path(figure) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    block = at_a_glance(
        run.label,
        run.profile.description,
        check_claims(evidence, claims),
        synthetic=run.synthetic,
    )
    caption = (
        "**Figure 1.** Balanced error (%) on each test set for each representation, with the "
        "classifier chosen by cross-validation on `train`: this run (left) beside the paper's "
        "numbers on the real COOS-7 (right). Where the paper's pattern holds, the lines rise "
        "from `test1` to `test4` in both panels."
    )
    image = f"![Error per test set, ours beside the paper's](_generated/{figure.name})"
    return f"{block}\n\n{image}\n\n{caption}\n"


def write_glance(run: RunContext, generated: Path) -> Path:
    """Write ``at_a_glance.md`` (and its figure) into ``generated``; returns the page."""
    page = generated / GLANCE_PAGE
    text = glance_markdown(run, generated / GLANCE_FIGURE)
    atomic_write_text(page, text)
    return page
