"""What the features chapter (``02_features``) shows: which networks it runs, their training
records written one file per network, the headline figure of their validation curves (rows
cut short marked as in every table), and its tables and notes made for reading.

Every function takes what the chapter computed (the training history of
:func:`coos_utils.benchmark.learned.train_representations`, the features table of
:func:`~coos_utils.benchmark.learned.extract_all`, ``profile_changes.csv``) and returns
something to display, so that no branch or loop sits in a notebook cell.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from coos_utils.analysis.claims import RANDOM_INIT
from coos_utils.data import CoosSplit
from coos_utils.features import Representation
from coos_utils.models.vgg import FEW_GREY_LEVELS, grey_levels
from coos_utils.presentation.style import COLUMN_INCHES, OKABE_ITO, styled
from coos_utils.presentation.tables import DASH, cut_short_marks, readable
from coos_utils.profiles import Profile

FIXED = ("texture",)
"""Representations that are formulas, not networks: the features chapter leaves them out."""
SCORES = {
    "deeploc": "balanced error (%)",
    "pci": "inpainting loss (MSE)",
}
"""What each network's validation score is (lower is better for all)."""
DISPLAY = {"deeploc": "DeepLoc", "pci": "PCI", "vgg16": "VGG16"}
"""How the rows of Table 3 name each network (the first word of its outputs' names)."""
GREY_LEVELS_WARNING = ".*grey levels"
"""The message of VGG16's warning about the fixed 8-bit map (for ``warnings.filterwarnings``;
the chapter states the same fact with :func:`vgg_note`)."""


def network_names(requested: Sequence[str] | None, profile: Profile) -> list[str]:
    """The representations the chapter runs: ``requested``, or the profile's without the
    fixed formulas (:data:`FIXED`)."""
    if requested:
        return list(requested)
    return [name for name in profile.representations if name not in FIXED]


def write_training(history: pd.DataFrame, write: Callable[[pd.DataFrame, str], Path]) -> list[Path]:
    """Write each network's training record to ``training/<name>.csv`` with ``write`` (e.g.
    ``ChapterRun.write_csv``), without the timing column; the paths (none when nothing was
    trained)."""
    if history.empty:
        return []
    return [
        write(part.drop(columns="fit_seconds", errors="ignore"), f"training/{name}.csv")
        for name, part in history.groupby("representation", sort=False)
    ]


def _text(value: Any) -> str:
    """A profile parameter as text: tuples joined, numbers plain, missing as a dash."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return DASH
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def changes_table(changes: pd.DataFrame, label: str) -> Styler | Markdown:
    """``profile_changes.csv`` for reading, or a sentence when the profile changes nothing."""
    if changes.empty:
        return Markdown("This profile runs the paper's protocol unchanged.")
    shown = changes.copy()
    shown["representation"] = shown["representation"].map(lambda n: DISPLAY.get(n, n))
    for column in ("this profile", "paper protocol"):
        shown[column] = shown[column].map(_text)
    caption = f"Parameters this profile sets, beside the paper's protocol ({label})"
    return readable(shown, caption=caption)


def checkpoints_table(history: pd.DataFrame, label: str) -> Styler | Markdown:
    """The checkpoint each network keeps: its iteration, validation score, and the seconds
    its fit took on this run (close to 0 when a finished training was reused)."""
    if history.empty:
        return Markdown("No network was trained on this run.")
    chosen = history[history["chosen"].astype(bool)]
    shown = pd.DataFrame(
        {
            "network": chosen["representation"].map(lambda n: DISPLAY.get(n, n)),
            "checkpoint (iteration)": chosen["iteration"].astype(int),
            "validation score": chosen["val_score"].map(lambda v: f"{v:.3g}"),
            "score": chosen["representation"].map(lambda n: SCORES.get(n, "validation score")),
            "seconds on this run": chosen["fit_seconds"].round(0).astype(int),
        }
    )
    caption = f"The checkpoint each network keeps ({label})"
    return readable(shown, caption=caption)


def outputs_table(extracted: pd.DataFrame, label: str) -> Styler:
    """One row per output of every representation: its dimensions, whether every split came
    from the cache, and the time its network took for all its outputs and splits."""
    cached = extracted.groupby("output", sort=False)["from cache"].all()
    shown = extracted.drop_duplicates(["representation", "output"])
    shown = pd.DataFrame(
        {
            "output": shown["output"],
            "dimensions": shown["dimensions"],
            "from cache": shown["output"].map(cached).astype(bool),
            "seconds on this run (network)": shown["seconds (all outputs and splits)"],
        }
    )
    caption = f"Feature outputs computed for every split ({label})"
    return readable(shown, 0, caption)


def vgg_note(reps: Sequence[Representation], splits: Mapping[str, CoosSplit]) -> str:
    """Markdown saying plainly when VGG16 ran with random weights (no ImageNet checkpoint)
    and when the authors' fixed 8-bit input map left the cells few grey levels (the fact
    VGG16's warning states); "" when neither."""
    notes = []
    for rep in reps:
        if rep.name != "vgg16":
            continue
        if any(RANDOM_INIT in name for name in rep.outputs().values()):
            notes.append(
                "**VGG16 ran with random weights.** No ImageNet checkpoint "
                "(`vgg16-397923af.pth`) was found in the torch hub cache, so its rows are "
                f"marked *{RANDOM_INIT}* everywhere and the claims that need ImageNet "
                "features are reported as not checkable. `coos weights vgg16` fetches the "
                "checkpoint where a network connection allows it."
            )
        if getattr(rep, "input_scaling", None) == "authors":
            notes.append(_grey_levels_note(splits, rep.input_max))
    return "\n\n".join(note for note in notes if note)


def _grey_levels_note(splits: Mapping[str, CoosSplit], input_max: float) -> str:
    levels = {name: grey_levels(split, input_max) for name, split in splits.items()}
    few = {name: n for name, n in levels.items() if n < FEW_GREY_LEVELS}
    if not few:
        return ""
    counts = ", ".join(f"{name} {n:g}" for name, n in few.items())
    return (
        f"**VGG16 saw few grey levels.** Under the authors' fixed 8-bit map (0..{input_max:,.0f} "
        f"onto 0..255) the protein channel of a cell keeps only a few distinct grey levels "
        f"(median per cell: {counts}; fewer than {FEW_GREY_LEVELS} is flagged), so VGG16 sees "
        "little more than a silhouette and its features will be poor. This is the authors' "
        "method on these files; for 12-bit data read as 16-bit, set `input_max` to the "
        "camera's range (e.g. 4095) or `input_scaling='per_image'`."
    )


def training_caption(history: pd.DataFrame, cut_short: Mapping[str, str], label: str) -> str:
    """The caption of :func:`plot_validation_curves`."""
    if history.empty:
        return f"No network was trained on this run ({label}); nothing to plot."
    text = (
        f"Validation score (top, lower is better; on the held-out 20% of `train`) and "
        f"training loss (bottom) by iteration, one column per network ({label}). The circle "
        "marks the checkpoint each network keeps."
    )
    if cut_short:
        text += (
            " Networks drawn dashed and marked in their title were cut short of the paper's "
            "protocol (the note under the figure says how)."
        )
    else:
        text += " No network was cut short of its validation optimum."
    return text


@styled
def plot_validation_curves(
    history: pd.DataFrame, title: str, cut_short: Mapping[str, str] | None = None
) -> Figure:
    """Validation score (top row) and training loss (bottom row) by iteration, one column per
    network; the kept checkpoint circled; networks in ``cut_short`` drawn dashed and marked
    in their title with the tables' footnote marks, explained under the figure."""
    if history.empty:
        fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, "No network was trained on this run.", ha="center", va="center")
        fig.suptitle(title)
        return fig
    names = list(dict.fromkeys(history["representation"]))
    shown = pd.Series([DISPLAY.get(str(n), str(n)) for n in names], dtype=object)
    marks, footnote = cut_short_marks(shown, cut_short or {})
    fig, axes = plt.subplots(
        2, len(names), figsize=(COLUMN_INCHES, 5.4), squeeze=False, sharex="col"
    )
    for k, (name, mark) in enumerate(zip(names, marks, strict=True)):
        heading, style = f"{shown[k]} {mark}".strip(), "--" if mark else "-"
        part = history[history["representation"] == name]
        scored = part.dropna(subset=["val_score"])
        val_ax, loss_ax = axes[0, k], axes[1, k]
        val_ax.plot(scored["iteration"], scored["val_score"], style, marker="o", color=OKABE_ITO[1])
        chosen = scored[scored["chosen"].astype(bool)]
        val_ax.scatter(
            chosen["iteration"],
            chosen["val_score"],
            s=120,
            facecolors="none",
            edgecolors="black",
            zorder=3,
        )
        loss_ax.plot(part["iteration"], part["train_loss"], style, color=OKABE_ITO[0])
        val_ax.set_title(heading)
        val_ax.set_ylabel(SCORES.get(str(name), "validation score"))
        loss_ax.set_ylabel("training loss")
        loss_ax.set_xlabel("iteration")
    fig.suptitle(title)
    fig.tight_layout()
    if footnote:
        width = int(COLUMN_INCHES * 13)
        fig.text(0.01, -0.01, textwrap.fill(footnote, width), ha="left", va="top")
    return fig
