"""Every published COOS-7 result in one table, beside the book's rows and each ``coos evaluate``.

Three kinds of row, each with its data, metric and a link to where it comes from:

* ``published``: the paper's Table 3 (``paper_table3.csv``, balanced error) and the results
  published since (``published_results.csv``: accuracy, or a score whose source does not say
  which metric it is), all on the real COOS-7, each linked to its source;
* ``book``: per profile folder ``<results>/<data-id>/<profile>/``, the ``table3.csv`` rows
  that stand for the paper's (``chosen_by_cv`` not False): balanced error, and accuracy only
  where the file has ``<split>_accuracy`` columns;
* ``evaluate``: per folder written by ``coos evaluate`` (its ``provenance.json`` records the
  ``evaluate`` run): balanced error from ``table3.csv``, accuracy from the ``accuracy`` column
  of ``scores.csv`` (or ``<split>_accuracy`` columns of ``table3.csv``) when there is one, the
  mean over its runs.

Book and evaluate rows link to their ``provenance.json`` (a relative link) and name their data,
real or synthetic. Unlike metrics never share a column: :func:`comparison_table` has one column
group per metric (test1..test4 each) and a row has values only in the groups its source
reports. All numbers are percent.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coos_utils.atomic import atomic_write_text
from coos_utils.data.errors import CoosDataError
from coos_utils.presentation.comparison import to_markdown
from coos_utils.presentation.style import COLUMN_INCHES, NEUTRAL, colours, styled
from coos_utils.reference import (
    PUBLISHED_METRICS,
    TEST_SPLITS,
    paper_table3,
    published_results,
)
from coos_utils.results.collect import results_folders
from coos_utils.results.provenance import COMPLETE, PROVENANCE, chapter_status, read_provenance
from coos_utils.results.store import save_figure

PAGE = "published_results.md"
"""Written into ``book/_generated/`` and included by ``book/published.md``."""
FIGURE = "published_results"
"""``figures/<FIGURE>.png`` and ``.svg`` in the results folder the page is built with."""
EVALUATION = "evaluate"
"""The ``chapters`` entry of ``provenance.json`` that ``coos evaluate`` records."""
BOOK_WRITER = "03_classifiers"
REAL_COOS7 = "real COOS-7"
PAPER = {
    "source": "Lu et al. 2019 (the paper, Table 3)",
    "url": "https://arxiv.org/abs/1906.07282",
    "protocol": (
        "Features of each representation with kNN, L1-regularised logistic regression or a "
        "random forest fitted on train, or DeepLoc trained end to end; balanced error"
    ),
    "verified": (
        "the package's reference copy (coos_utils/reference/paper_table3.csv); "
        "its numbers were not re-read from the paper for this page"
    ),
}
"""Where the paper's rows come from; its numbers are read from ``paper_table3.csv``."""
METRIC_HEADERS = {
    "balanced_error": "balanced error (%), lower is better",
    "accuracy": "accuracy (%), higher is better",
    "unstated": "score as reported (%), metric not stated by the source",
}
PANEL_TITLES = {
    "balanced_error": "balanced error (%)",
    "accuracy": "accuracy (%)",
    "unstated": "score, metric not stated",
}
METRIC_SHORT = {"balanced_error": "error", "accuracy": "acc.", "unstated": "score"}
KEYS = ["source", "data", "representation", "classifier"]
ROW = ["kind", "source", "link", "data", "synthetic", "representation", "classifier"]
LONG_COLUMNS = [*ROW, "verified", "protocol", "metric", "split", "value", "decimals"]
TABLES_NOTE = (
    "One table per metric: a number appears only under the metric its source reports, and a "
    "row measured with two metrics is in both tables. The source links to the publication, or "
    "to the `provenance.json` of the run."
)
SYNTHETIC_NOTE = (
    "Rows whose data say *synthetic* ran on the simulated stand-in for COOS-7: they test the "
    "code, and their numbers are not comparable with the rows on the real COOS-7."
)


# --- rows ------------------------------------------------------------------------------------


def published_rows() -> pd.DataFrame:
    """The paper's Table 3 (test sets) and every row of ``published_results.csv``, long
    (:data:`LONG_COLUMNS`), all on the real COOS-7 and linked to their source."""
    paper = paper_table3().rename_axis("row").reset_index()
    paper = paper.melt(
        id_vars=["row", "features", "model"], value_vars=list(TEST_SPLITS), var_name="split"
    ).sort_values("row", kind="stable")
    paper = paper.rename(columns={"features": "representation", "model": "classifier"})
    paper = paper.assign(
        kind="published",
        source=PAPER["source"],
        link=PAPER["url"],
        verified=PAPER["verified"],
        protocol=PAPER["protocol"],
        metric="balanced_error",
        decimals=1,
    )
    later = published_results().rename(columns={"url": "link"})
    later = later.assign(kind="published", decimals=2)
    rows = pd.concat([paper, later], ignore_index=True)
    rows["value"] = rows["value"].astype(float)
    return rows.assign(data=REAL_COOS7, synthetic=False)[LONG_COLUMNS]


def results_rows(results_dir: str | Path, link_from: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """The rows of every book and evaluate folder under ``results_dir`` (links relative to
    ``link_from``), and one line for each folder left out and why (never a partial row)."""
    frames, left_out = [], []
    for folder in results_folders(results_dir):
        try:
            frames.append(folder_rows(folder, link_from))
        except (CoosDataError, ValueError) as exc:
            left_out.append(str(exc))
    frames = [f for f in frames if len(f)]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LONG_COLUMNS)
    return rows, left_out


def folder_rows(folder: str | Path, link_from: str | Path) -> pd.DataFrame:
    """The rows of one results folder (module docstring), :data:`LONG_COLUMNS`; empty when it
    holds no ``table3.csv``. Raises :class:`CoosDataError` naming the file when its results
    are not complete, its data are not said to be real or synthetic, or a value is not a
    percentage."""
    folder = Path(folder)
    record = read_provenance(folder)
    if not (folder / "table3.csv").is_file():
        return pd.DataFrame(columns=LONG_COLUMNS)
    evaluation = EVALUATION in record.get("chapters", {})
    writer = EVALUATION if evaluation else BOOK_WRITER
    status = chapter_status(folder, writer)
    if status != COMPLETE:
        raise CoosDataError(folder, f"{writer} is {status or 'not recorded'} here; not shown")
    source = record.get("data_source")
    if source not in ("real", "synthetic"):
        raise CoosDataError(
            folder / PROVENANCE, "does not say whether the data are real or synthetic"
        )
    table = pd.read_csv(folder / "table3.csv")
    if table.empty:
        raise CoosDataError(folder / "table3.csv", "has no rows")
    if evaluation:
        values, name = _evaluation_values(folder, table), record.get("parameters", {}).get("name")
        label = f"coos evaluate: {name or folder.name}"
    else:
        values, label = (
            _book_values(table),
            f"this book, {record.get('profile', folder.name)} profile",
        )
    _check_percent(values, folder / "table3.csv")
    return values.dropna(subset=["value"]).assign(
        kind="evaluate" if evaluation else "book",
        source=label,
        link=Path(os.path.relpath(folder / PROVENANCE, link_from)).as_posix(),
        data=f"{source} ({record.get('data_id', folder.parent.name)})",
        synthetic=source == "synthetic",
        verified="computed by this package; see its provenance.json",
        protocol="as recorded in provenance.json",
        decimals=1,
    )[LONG_COLUMNS]


def _book_values(table: pd.DataFrame) -> pd.DataFrame:
    if "chosen_by_cv" in table:
        table = table[table["chosen_by_cv"].astype("boolean").fillna(True)]
    rows = []
    for r in table.to_dict("records"):
        for metric, column in (("balanced_error", "{}"), ("accuracy", "{}_accuracy")):
            rows += [
                [r["features"], r["model"], metric, split, r[column.format(split)]]
                for split in TEST_SPLITS
                if column.format(split) in r
            ]
    return pd.DataFrame(rows, columns=["representation", "classifier", "metric", "split", "value"])


def _evaluation_values(folder: Path, table: pd.DataFrame) -> pd.DataFrame:
    """One row for the whole evaluation: the mean over its runs of each metric it has."""
    classifier = table["model"].iloc[0] if len(table) == 1 else f"mean of {len(table)} runs"
    metrics = {"balanced_error": {s: table[s].mean() for s in TEST_SPLITS if s in table}}
    accuracy = [f"{s}_accuracy" for s in TEST_SPLITS if f"{s}_accuracy" in table]
    scores = folder / "scores.csv"
    if accuracy:
        metrics["accuracy"] = {c.removesuffix("_accuracy"): table[c].mean() for c in accuracy}
    elif scores.is_file() and "accuracy" in (frame := pd.read_csv(scores)):
        _check_percent(frame.rename(columns={"accuracy": "value"}), scores)
        tests = frame[frame["split"].isin(TEST_SPLITS)]
        metrics["accuracy"] = tests.groupby("split")["accuracy"].mean().to_dict()
    rows = [
        [table["features"].iloc[0], classifier, metric, split, value]
        for metric, by_split in metrics.items()
        for split, value in by_split.items()
    ]
    return pd.DataFrame(rows, columns=["representation", "classifier", "metric", "split", "value"])


def _check_percent(values: pd.DataFrame, path: Path) -> None:
    """Refuse a score that is not a number in [0, 100] (an empty cell means "not run")."""
    numbers = pd.to_numeric(values["value"], errors="coerce")
    if (values["value"].notna() & ~numbers.between(0, 100)).any():
        raise CoosDataError(path, "a score is not a percentage in [0, 100]")


# --- the table -------------------------------------------------------------------------------


def comparison_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per method (published first, then the book's, then evaluations), the columns
    ``("", key)`` for ``kind, source, link, data, synthetic, representation, classifier`` and
    ``(metric, split)`` for each metric present, in :data:`PUBLISHED_METRICS` order: a value
    appears only under the metric its source reports (NaN elsewhere)."""
    values = rows.pivot_table(
        index=ROW, columns=["metric", "split"], values="value", aggfunc="first", sort=False
    )
    metrics = [m for m in PUBLISHED_METRICS if m in set(rows["metric"])]
    values = values.reindex(columns=pd.MultiIndex.from_product([metrics, list(TEST_SPLITS)]))
    keys = values.index.to_frame(index=False)
    keys.columns = pd.MultiIndex.from_product([[""], keys.columns])
    return pd.concat([keys, values.reset_index(drop=True)], axis=1)


def _cell(value: float, decimals: int) -> str:
    return "–" if pd.isna(value) else f"{value:.{decimals}f}"


def _decimals(table: pd.DataFrame, rows: pd.DataFrame) -> list[int]:
    by_row = rows.groupby(ROW, sort=False)["decimals"].first()
    keys = table[[("", k) for k in ROW]].itertuples(index=False, name=None)
    return [int(by_row.loc[key]) for key in keys]


def comparison_markdown(table: pd.DataFrame, rows: pd.DataFrame) -> str:
    """``table`` as a Markdown table for a terminal: the source with its link, the data,
    representation and classifier, then ``error test1`` .. ``score test4`` ("–": not
    reported), with a legend of the column groups."""
    shown = pd.DataFrame(
        {
            "source": [
                f"{s} <{link}>"
                for s, link in zip(table[("", "source")], table[("", "link")], strict=True)
            ],
            **{k: table[("", k)] for k in KEYS[1:]},
        }
    )
    decimals = _decimals(table, rows)
    for metric, split in [c for c in table.columns if c[0]]:
        column = table[(metric, split)]
        shown[f"{METRIC_SHORT[metric]} {split}"] = [
            _cell(v, d) for v, d in zip(column, decimals, strict=True)
        ]
    legend = "; ".join(
        f"{METRIC_SHORT[m]}: {METRIC_HEADERS[m]}"
        for m in dict.fromkeys(c[0] for c in table.columns if c[0])
    )
    return f"{to_markdown(shown)}\n\n{legend}. –: not reported."


def comparison_html(table: pd.DataFrame, rows: pd.DataFrame) -> str:
    """``table`` as HTML, one table per metric so that each fits the book's column: the
    rows with a value under that metric, its header over test1..test4; the source cell links
    to the publication or to the row's ``provenance.json``. A row with two metrics is in both."""
    decimals = pd.Series(_decimals(table, rows), index=table.index)
    metrics = list(dict.fromkeys(c[0] for c in table.columns if c[0]))
    return "\n\n".join(
        _metric_html(table, decimals, metric)
        for metric in metrics
        if table[[(metric, s) for s in TEST_SPLITS]].notna().any(axis=None)
    )


def _metric_html(table: pd.DataFrame, decimals: pd.Series, metric: str) -> str:
    shown = table[table[[(metric, s) for s in TEST_SPLITS]].notna().any(axis=1)]
    top = "".join(f'<th rowspan="2">{k}</th>' for k in KEYS)
    top += f'<th colspan="{len(TEST_SPLITS)}">{METRIC_HEADERS[metric]}</th>'
    second = "".join(f"<th>{s}</th>" for s in TEST_SPLITS)
    body = []
    for index, row in shown.iterrows():
        link = html.escape(str(row[("", "link")]), quote=True)
        cells = [f'<td><a href="{link}">{html.escape(str(row[("", "source")]))}</a></td>']
        cells += [f"<td>{html.escape(str(row[('', k)]))}</td>" for k in KEYS[1:]]
        cells += [
            f'<td class="number">{_cell(row[(metric, s)], decimals[index])}</td>'
            for s in TEST_SPLITS
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="published-results" data-metric="{metric}">\n'
        f"<thead>\n<tr>{top}</tr>\n<tr>{second}</tr>\n</thead>\n"
        "<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"
    )


def sources_markdown(rows: pd.DataFrame) -> str:
    """One line per published source: link, metric, protocol and what was verified."""
    published = rows[rows["kind"] == "published"].drop_duplicates("source")
    return "\n".join(
        f"- [{r.source}]({r.link}): {METRIC_HEADERS[r.metric]}. Protocol: {r.protocol}. "
        f"Verified: {r.verified}."
        for r in published.itertuples(index=False)
    )


# --- the figure ------------------------------------------------------------------------------


@styled
def plot_published(rows: pd.DataFrame) -> Figure:
    """test3 (x) against test4 (y) for every row, one panel per metric, one colour per
    source; hollow markers for synthetic data; the dashed diagonal is test3 = test4."""
    metrics = [m for m in PUBLISHED_METRICS if m in set(rows["metric"])]
    fig, axes = plt.subplots(1, len(metrics), figsize=(COLUMN_INCHES, 3.4), squeeze=False)
    palette = colours(list(dict.fromkeys(rows["source"])))
    for ax, metric in zip(axes[0], metrics, strict=True):
        part = rows[(rows["metric"] == metric) & rows["split"].isin(["test3", "test4"])]
        points = part.pivot_table(index=ROW, columns="split", values="value", sort=False)
        points = points.dropna().reset_index()
        for source, group in points.groupby("source", sort=False):
            hollow = bool(group["synthetic"].iloc[0])
            ax.scatter(
                group["test3"], group["test4"], s=28, edgecolors=palette[source],
                facecolors="none" if hollow else palette[source],
                label=source + (" (synthetic)" if hollow else ""),
            )  # fmt: skip
        low, high = _limits(points[["test3", "test4"]].to_numpy())
        ax.plot([low, high], [low, high], "--", color=NEUTRAL, linewidth=1)
        ax.set(xlim=(low, high), ylim=(low, high), xlabel="test3", ylabel="test4")
        ax.set_title(PANEL_TITLES[metric])
    handles = {
        label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels(), strict=True)
    }
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.08 + 0.05 * ((len(handles) + 1) // 2), 1, 1))
    return fig


def _limits(values: np.ndarray) -> tuple[float, float]:
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max(1.0, 0.08 * (high - low))
    return max(0.0, low - pad), min(100.0, high + pad)


def figure_caption(rows: pd.DataFrame) -> str:
    """The figure's numbered caption, naming (and linking) every source it shows."""
    published = rows[rows["kind"] == "published"].drop_duplicates("source")
    sources = [f"[{r.source}]({r.link})" for r in published.itertuples(index=False)]
    if (rows["kind"] != "published").any():
        sources.append("this book's results folders (each linked in the tables below)")
    return (
        "**Figure 1.** test3 (x) against test4 (y) for every row of the tables below, one "
        "panel per metric: balanced error (lower is better) never shares a panel with accuracy "
        "or with a score whose metric its source does not state (higher is better). Hollow "
        "markers: synthetic data, not comparable with the rest. The dashed line is "
        f"test3 = test4. Source: {'; '.join(sources)}."
    )


# --- the page and the command ----------------------------------------------------------------


def published_markdown(
    results_dir: str | Path, page_dir: str | Path, figure_folder: str | Path
) -> str:
    """The generated part of the published-results page: the figure (saved under
    ``figure_folder/figures/``), the table, the sources and the folders left out; links are
    relative to ``page_dir`` (the folder of the page that includes it)."""
    ours, left_out = results_rows(results_dir, page_dir)
    rows = pd.concat([published_rows(), ours], ignore_index=True) if len(ours) else published_rows()
    fig = plot_published(rows)
    png = save_figure(fig, Path(figure_folder), FIGURE)[0]
    plt.close(fig)
    image = Path(os.path.relpath(png, page_dir)).as_posix()
    parts = [
        f"![test3 against test4 per published source and per run]({image})",
        figure_caption(rows),
        TABLES_NOTE,
        comparison_html(comparison_table(rows), rows),
    ]
    if rows["synthetic"].any():
        parts.append(f"**{SYNTHETIC_NOTE}**")
    if not len(ours):
        parts.append("No results folder of this book or of `coos evaluate` was found.")
    parts.append("Published sources:\n\n" + sources_markdown(rows))
    if left_out:
        parts.append("Left out:\n\n" + "\n".join(f"- {line}" for line in left_out))
    return "\n\n".join(parts) + "\n"


def write_published_results(
    results_dir: str | Path, generated: str | Path, figure_folder: str | Path
) -> Path:
    """Write :data:`PAGE` into ``generated`` (``book/_generated``; links relative to its
    parent, where ``book/published.md`` includes it); returns the page."""
    generated = Path(generated)
    page = generated / PAGE
    atomic_write_text(page, published_markdown(results_dir, generated.parent, figure_folder))
    return page


def evaluation_comparison(folder: str | Path, link_from: str | Path = ".") -> str:
    """What ``coos evaluate`` prints after writing ``folder``: the published rows and that
    folder's row in one Markdown table (links relative to ``link_from``)."""
    ours = folder_rows(folder, link_from)
    rows = pd.concat([published_rows(), ours], ignore_index=True)
    text = comparison_markdown(comparison_table(rows), rows)
    return f"{text}\n{SYNTHETIC_NOTE}" if ours["synthetic"].any() else text
