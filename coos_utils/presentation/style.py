"""One figure style for the whole book: a seaborn theme, a colour-blind-safe palette, sizes
that fit the book's text column, and fonts that stay readable at the rendered size.

The book's column is about 750 px wide and figures are saved at :data:`SAVE_DPI` with a tight
bounding box, so a figure :data:`COLUMN_INCHES` wide is shown close to its natural size and a
10 pt tick label reads like 10 pt body text on paper. Figure functions are wrapped in
:func:`styled` (the style applies while they draw, nothing global changes); a chapter that
draws its own figures calls :func:`use_book_style` once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import matplotlib as mpl
import seaborn as sns
from cycler import cycler

OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
"""The Okabe-Ito palette (Okabe & Ito 2008), distinguishable with every common colour-vision
deficiency; yellow comes late because it is faint on white."""
NEUTRAL = "#7F7F7F"
"""Grey for what is neither better nor worse (an interval across zero, a reference line)."""
COLUMN_INCHES = 7.2
"""Width of a figure that fills the text column (about 750 px at the rendered size)."""
SAVE_DPI = 110
"""Resolution figures are saved at (``results.store.save_figure``)."""
TICK_POINTS = 10
LABEL_POINTS = 11
TITLE_POINTS = 11
ANNOTATION_POINTS = 9
"""Font sizes: ticks and labels never below 10 pt; cell annotations of heatmaps 9 pt."""
SEQUENTIAL = "viridis"
"""Colour map for magnitudes from 0 to 1 (perceptually uniform, colour-blind-safe)."""
DIVERGING = "vlag"
"""Colour map for signed differences."""

P = ParamSpec("P")
R = TypeVar("R")


def book_rc() -> dict[str, Any]:
    """The matplotlib settings of the book's style (seaborn ``whitegrid`` theme underneath)."""
    rc: dict[str, Any] = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper")}
    rc.update(
        {
            "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
            "figure.figsize": (COLUMN_INCHES, 0.6 * COLUMN_INCHES),
            "figure.dpi": SAVE_DPI,
            "savefig.dpi": SAVE_DPI,
            "savefig.bbox": "tight",
            "font.size": LABEL_POINTS,
            "axes.labelsize": LABEL_POINTS,
            "axes.titlesize": TITLE_POINTS,
            "figure.titlesize": TITLE_POINTS + 1,
            "xtick.labelsize": TICK_POINTS,
            "ytick.labelsize": TICK_POINTS,
            "legend.fontsize": TICK_POINTS,
            "legend.title_fontsize": TICK_POINTS,
            "grid.color": "#DDDDDD",
            "image.cmap": SEQUENTIAL,
            "hatch.color": "#444444",
        }
    )
    return rc


def use_book_style() -> None:
    """Set the book's figure style for everything drawn afterwards (a chapter's own plots)."""
    sns.set_theme(style="whitegrid", context="paper", palette=list(OKABE_ITO))
    mpl.rcParams.update(book_rc())


def styled(draw: Callable[P, R]) -> Callable[P, R]:
    """Decorate a figure function so that it draws in the book's style, leaving the caller's
    settings as they were."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with mpl.rc_context(book_rc()):
            return draw(*args, **kwargs)

    return wrapper


def colours(names: list[str]) -> dict[str, str]:
    """One palette colour per name, in order (names beyond the palette wrap around)."""
    return {name: OKABE_ITO[k % len(OKABE_ITO)] for k, name in enumerate(names)}
