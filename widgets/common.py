"""Pieces every panel shares: the error box, status lines, key-value tables, tables of a frame
with their numbers written for people, and the style that keeps tables and charts inside the
page."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench.kit.errors import describe

ERROR_CLASS = "wb-error"
STYLE = """
<style>
.wb-error {border-left: 4px solid #c62828; background: #fdecea; padding: 6px 10px; color: #611a15;}
.wb-status {color: #555; padding: 2px 0;}
.wb-card td {padding: 1px 10px 1px 0; vertical-align: top;}
.wb-card td:first-child {color: #555; white-space: nowrap;}
.wb-result {font-family: var(--jp-code-font-family, monospace); white-space: pre-wrap;}
.wb-empty {border-left: 4px solid #1565c0; background: #e3f2fd; padding: 6px 10px;}
.wb-loading {border-left: 4px solid #f9a825; background: #fffde7; padding: 6px 10px;}
.wb-sources, .wb-versus {border-collapse: collapse; font-size: 12px;}
.wb-sources th, .wb-sources td, .wb-versus th, .wb-versus td
  {padding: 2px 8px; border-bottom: 1px solid #e0e0e0; text-align: left; vertical-align: top;}
.wb-sources th, .wb-versus th {background: #f5f5f5;}
.wb-scroll {overflow-x: auto; max-width: 100%;}
.wb-card td {max-width: 22em; overflow-wrap: anywhere;}
.wb-card td.wb-num {text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;}
.wb-card td[title] {text-decoration: underline dotted #999;}
.wb-card th {text-align: left; vertical-align: bottom;}
.wb-card td.wb-note {color: #8a1c1c; font-style: italic;}
.wb-answer {border-left: 6px solid #2e7d32; background: #edf7ee; padding: 8px 12px; margin: 4px 0;}
.wb-answer p {font-size: 1.1em; font-weight: 600; margin: 2px 0;}
.wb-answer ul {margin: 4px 0 0; padding-left: 20px; color: #333;}
img.wb-chart {max-width: 100%; height: auto; min-width: 0; object-fit: contain;}
.wb-charts {min-width: 0;}
.wb-updating {opacity: 0.45; transition: opacity 0.2s;}
</style>
"""


def error_html(exc: BaseException) -> str:
    """An exception as a one-paragraph error box (never a traceback)."""
    return f'<div class="{ERROR_CLASS}">{html.escape(describe(exc))}</div>'


def status_html(text: str) -> str:
    """A quiet status line."""
    return f'<div class="wb-status">{html.escape(text)}</div>'


def loading_html(text: str) -> str:
    """A highlighted line saying what is being loaded or computed."""
    return f'<div class="wb-loading">{html.escape(text)}</div>'


def table_html(rows: Iterable[tuple[str, str]], css_class: str = "wb-card") -> str:
    """Label-value pairs as a small HTML table, escaped."""
    body = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f'<table class="{css_class}">{body}</table>'


def format_cell(value: Any, *, whole_from: float = 1000) -> str:
    """A table cell: blank when missing, four significant digits, whole numbers (with thousands
    separators) from ``whole_from`` up."""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        return f"{value:,.4g}" if abs(value) < whole_from else f"{value:,.0f}"
    if value is None or value is pd.NA:
        return ""
    return str(value)


#: A cell formatter: a value to the text to show (see :mod:`workbench.kit.formats`).
CellFormat = Callable[[Any], str]


def frame_html(
    frame: pd.DataFrame,
    columns: list[str],
    *,
    whole_from: float = 1000,
    formats: Mapping[str, CellFormat] | None = None,
    labels: Mapping[str, str] | None = None,
    tooltips: Mapping[str, str | Callable[[Mapping[str, Any]], str]] | None = None,
    notes: tuple[list[str], pd.Series] | None = None,
) -> str:
    """The named columns of ``frame`` (those it has) as an escaped HTML table that scrolls
    sideways inside its container rather than widening the page.

    Parameters
    ----------
    frame, columns
        The table and the columns to show, in order.
    whole_from
        For columns without a format: four significant digits below this, whole numbers above.
    formats
        Per column, the function that writes a value (e.g. ``workbench.kit.formats.usd``); its
        cells are right-aligned.
    labels
        Per column, the heading to show instead of the column name.
    tooltips
        Per column, what is shown when the pointer rests on the cell: another column's value
        (e.g. the reason a variant was chosen), or a function of the row's values.
    notes
        ``(columns, texts)``: in a row whose text is not empty, those adjacent columns are
        merged into one cell showing the text (e.g. "overloaded: needs 3 workers" in place of
        the percentiles).
    """
    formats, labels, tooltips = formats or {}, labels or {}, tooltips or {}
    shown = [c for c in columns if c in frame.columns]
    merged, texts = notes if notes is not None else ([], None)
    merged = [c for c in merged if c in shown]
    head = "".join(f"<th>{html.escape(labels.get(c, c))}</th>" for c in shown)
    rows = []
    for position, record in enumerate(frame.to_dict(orient="records")):
        note = "" if texts is None else texts.iloc[position]
        note = "" if note is None or (isinstance(note, float) and math.isnan(note)) else str(note)
        cells = []
        for column in shown:
            if note and column in merged:
                if column == merged[0]:
                    cells.append(
                        f'<td class="wb-note" colspan="{len(merged)}">{html.escape(note)}</td>'
                    )
                continue
            cells.append(_cell(record, column, formats, tooltips, whole_from))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    table = f'<table class="wb-card"><tr>{head}</tr>{"".join(rows)}</table>'
    return f'<div class="wb-scroll">{table}</div>'


def _cell(
    record: Mapping[str, Any],
    column: str,
    formats: Mapping[str, CellFormat],
    tooltips: Mapping[str, str | Callable[[Mapping[str, Any]], str]],
    whole_from: float,
) -> str:
    value = record[column]
    if column in formats:
        text, attributes = formats[column](value), ' class="wb-num"'
    else:
        text, attributes = format_cell(value, whole_from=whole_from), ""
    source = tooltips.get(column)
    tip = source(record) if callable(source) else record.get(source) if source else None
    if isinstance(tip, str) and tip:
        attributes += f' title="{html.escape(tip)}"'
    return f"<td{attributes}>{html.escape(text)}</td>"
