"""A model's Table 3 rows beside the paper's and the book's baselines, as Markdown or LaTeX.

Rows come from three sources: ``yours`` (each run, and the mean over runs with its 95%
bootstrap interval when there are several: every seed scored on the same resample of test
wells or images), ``paper`` (the published Table 3, no
intervals) and ``book`` (the baselines' ``table3.csv`` computed on the same data, only the rows
that stand for the paper's: ``chosen_by_cv`` not False). Only the splits the model was scored
on are shown. Cells read ``error [low, high]``; then each row's worst test set among them and,
in columns of their own (``<split> accuracy``), the accuracy (%) where the row has it (the
paper reports none): balanced error and accuracy never share a column.

:func:`collected_caption` is the caption of ``coos results collect``'s table.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from coos_utils.metrics import IMAGES, RANGE, WELLS
from coos_utils.presentation.tables import IMAGE, WELL, interval_kind, with_intervals
from coos_utils.reference import TEST_SPLITS, paper_table3
from coos_utils.results.collect import OUT_OF_RANGE, T_OVER_SEEDS, UNNAMED, accuracy_column

WORST_COLUMN = "worst test"
KIND_TEXT = {
    WELLS: "95% percentile bootstrap, wells (plate + well) resampled within each class",
    IMAGES: "95% percentile bootstrap, images resampled within each class",
    RANGE: "lowest and highest value over the seeds",
    T_OVER_SEEDS: "95% t-interval over the seeds (older files)",
    UNNAMED: "an interval whose kind dg.csv does not name",
}
"""What the collected table's caption says of each interval kind (others quoted as written)."""
SEEDS_NOTE = (
    "a bootstrap of a mean over seeds scores every seed on the same resample of the test "
    "images or wells"
)
"""The caption's note for rows that are means over seeds."""
KEYS = ["source", "features", "model"]
LATEX_SPECIALS = {
    "&": r"\&",
    "%": r"\%",
    "_": r"\_",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
}


def mean_row(table: pd.DataFrame, summary: pd.DataFrame, splits: Sequence[str]) -> dict:
    """A Table 3 row for the mean over runs: ``summary``'s balanced-error means and bootstrap
    intervals of the mean over seeds, written under both interval kinds so that either
    display shows them, and its mean accuracy."""
    errors = summary[summary["metric"] == "balanced_error"].set_index("split")
    accuracy = summary[summary["metric"] == "accuracy"].set_index("split")["mean"]
    row = {"features": table["features"].iloc[0], "model": f"mean of {len(table)} seeds"}
    for split in splits:
        mean, low, high = errors.loc[split, ["mean", "ci_low", "ci_high"]]
        row.update({split: mean, f"{split}_ci_low": low, f"{split}_ci_high": high})
        row.update({f"{split}_well_ci_low": low, f"{split}_well_ci_high": high})
        if split in accuracy:
            row[accuracy_column(split)] = accuracy[split]
    return row


def _worst(table: pd.DataFrame, splits: Sequence[str]) -> list[str]:
    values = table[[s for s in TEST_SPLITS if s in splits]].astype(float)
    return [f"{row.max():.1f} ({row.idxmax()})" for _, row in values.iterrows()]


def _accuracy(table: pd.DataFrame, splits: Sequence[str]) -> dict[str, list[str]]:
    """``<split> accuracy`` -> the rows' accuracy as text ("" where the row has none)."""
    columns = {}
    for split in splits:
        column = accuracy_column(split)
        values = table[column] if column in table else pd.Series(float("nan"), table.index)
        columns[f"{split} accuracy"] = ["" if pd.isna(v) else f"{v:.1f}" for v in values]
    return columns


def _shown(table: pd.DataFrame, source: str, splits: Sequence[str], kind: str) -> pd.DataFrame:
    shown = with_intervals(table, kind).reset_index()[["features", "model", *splits]]
    shown.insert(0, "source", source)
    shown[WORST_COLUMN] = _worst(table, splits)
    return shown.assign(**_accuracy(table.reset_index(drop=True), splits))


def _paper(splits: Sequence[str]) -> pd.DataFrame:
    paper = paper_table3()
    shown = paper[["features", "model"]].copy()
    for split in splits:
        shown[split] = [f"{v:.1f}" for v in paper[split]]
    shown.insert(0, "source", "paper")
    shown[WORST_COLUMN] = _worst(paper, splits)
    return shown.assign(**_accuracy(paper, splits))


def comparison_table(
    ours: pd.DataFrame,
    summary: pd.DataFrame | None = None,
    baselines: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, str]:
    """Our rows (and their mean over runs), the paper's and the book's ``baselines`` in one
    text table with the columns source, features, model, the splits we scored (balanced
    error), the worst of the test sets we scored and the accuracy on each split we scored;
    and a caption naming the intervals shown."""
    splits = [s for s in ("train", *TEST_SPLITS) if s in ours.columns]
    if summary is not None and len(ours) > 1:
        ours = pd.concat([ours, pd.DataFrame([mean_row(ours, summary, splits)])], ignore_index=True)
    if baselines is not None and "chosen_by_cv" in baselines:
        baselines = baselines[baselines["chosen_by_cv"].astype("boolean").fillna(True)]
    tables = [ours] + ([baselines] if baselines is not None and len(baselines) else [])
    kind = WELL if all(interval_kind(t) == WELL for t in tables) else IMAGE
    parts = [_shown(ours, "yours", splits, kind), _paper(splits)]
    if len(tables) > 1:
        parts.append(_shown(tables[1], "book", splits, kind))
    return pd.concat(parts, ignore_index=True), _caption(kind, len(ours) > 1)


def _caption(kind: str, several: bool) -> str:
    what = "wells (plate + well)" if kind == WELL else "images"
    text = (
        "Balanced error (%). Intervals: 95% bootstrap, "
        f"{what} resampled within each class (as in the book's Table 3)"
    )
    if several:
        text += (
            "; the mean-of-seeds row: 95% percentile bootstrap of the mean over seeds (every "
            "seed scored on the same resample of test wells or images)"
        )
    return text + (
        ". The paper's rows have no intervals and no accuracy. Accuracy (%) in the "
        "'accuracy' columns: the share of images predicted correctly."
    )


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (``|`` in cells escaped)."""
    cells = [[str(c) for c in frame.columns]] + frame.astype(str).to_numpy().tolist()
    cells = [[c.replace("|", r"\|") for c in row] for row in cells]
    lines = ["| " + " | ".join(row) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("---" for _ in frame.columns) + "|")
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in text)


def to_latex(frame: pd.DataFrame, caption: str | None = None) -> str:
    """A booktabs ``tabular`` (in a ``table`` with ``caption`` when given)."""
    header = " & ".join(_latex_escape(str(c)) for c in frame.columns) + r" \\"
    body = [
        " & ".join(_latex_escape(str(v)) for v in row) + r" \\"
        for row in frame.astype(str).to_numpy()
    ]
    align = "".join("l" if i < len(KEYS) else "r" for i in range(len(frame.columns)))
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule", header, r"\midrule", *body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines = [r"\begin{table}", r"\centering", *lines]
        lines += [rf"\caption{{{_latex_escape(caption)}}}", r"\end{table}"]
    return "\n".join(lines)


def _with_interval(value: float, low: float, high: float) -> str:
    if pd.isna(low):
        return f"{value:.1f}"
    return f"{value:.1f} [{low:.1f}, {high:.1f}]"


def scores_table(scores: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per split: balanced error, accuracy and macro F1 (%) as text. One run: its bootstrap
    interval (wells when the split has one, else images); several: mean over seeds with the
    balanced error's bootstrap interval (the summary's ``interval`` column names its kind)
    and the range over seeds of accuracy and macro F1."""
    if scores["run"].nunique() == 1:
        rows = []
        for row in scores.itertuples(index=False):
            well = not pd.isna(row.well_ci_low)
            low, high = (row.well_ci_low, row.well_ci_high) if well else (row.ci_low, row.ci_high)
            rows.append(
                [
                    row.split,
                    _with_interval(row.balanced_error, low, high),
                    f"{row.accuracy:.1f}",
                    f"{row.macro_f1:.1f}",
                ]
            )
        return pd.DataFrame(rows, columns=["split", "balanced error", "accuracy", "macro F1"])
    cells = {
        (r.split, r.metric): _with_interval(r.mean, r.ci_low, r.ci_high)
        for r in summary.itertuples(index=False)
    }
    splits = list(dict.fromkeys(summary["split"]))
    return pd.DataFrame(
        {
            "split": splits,
            "balanced error": [cells[(s, "balanced_error")] for s in splits],
            "accuracy": [cells.get((s, "accuracy"), "") for s in splits],
            "macro F1": [cells.get((s, "macro_f1"), "") for s in splits],
        }
    )


def collected_caption(long: pd.DataFrame) -> str:
    """The caption of a collected table (:func:`coos_utils.results.collect.wide` of ``long``):
    what each interval kind in the balanced-error rows' ``interval`` column (one or several
    joined by ``; ``) is, and where the accuracy is."""
    errors = long[long["metric"] == "balanced_error"] if "metric" in long else long
    kinds = errors["interval"].astype(str).str.split(";").explode().str.strip()
    named = [k for k in dict.fromkeys(kinds) if k != OUT_OF_RANGE]
    said = "; ".join(f"{k}: {KIND_TEXT.get(k, 'as its file names it')}" for k in named)
    text = f"Balanced error (%), mean [interval]; the interval column names each row's: {said}"
    if (kinds == OUT_OF_RANGE).any():
        text += f"; {OUT_OF_RANGE}: the file's interval leaves the error's range"
    if (errors["interval"].isin([WELLS, IMAGES]) & (errors["seeds"] > 1)).any():
        text += f". Rows that are means over seeds: {SEEDS_NOTE}"
    if "metric" in long and (long["metric"] == "accuracy").any():
        text += (
            ". Accuracy (%) in the '<split> accuracy' columns: the mean (over seeds where a "
            "row has several), without interval; empty where a folder has none"
        )
    return text + "."
