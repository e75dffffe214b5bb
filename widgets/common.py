"""Pieces every panel shares: the error box, status lines and key-value tables."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
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


def frame_html(frame: pd.DataFrame, columns: list[str], *, whole_from: float = 1000) -> str:
    """The named columns of ``frame`` (those it has) as an escaped HTML table."""
    shown = frame[[c for c in columns if c in frame.columns]]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(format_cell(v, whole_from=whole_from))}</td>" for v in row)
        + "</tr>"
        for row in shown.itertuples(index=False)
    )
    return f'<table class="wb-card"><tr>{head}</tr>{body}</table>'
