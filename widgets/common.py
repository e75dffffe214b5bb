"""Pieces every panel shares: the error box, status lines and key-value tables."""

from __future__ import annotations

import html
from collections.abc import Iterable

from workbench.errors import describe

ERROR_CLASS = "wb-error"
STYLE = """
<style>
.wb-error {border-left: 4px solid #c62828; background: #fdecea; padding: 6px 10px; color: #611a15;}
.wb-status {color: #555; padding: 2px 0;}
.wb-card td {padding: 1px 10px 1px 0; vertical-align: top;}
.wb-card td:first-child {color: #555; white-space: nowrap;}
.wb-result {font-family: var(--jp-code-font-family, monospace); white-space: pre-wrap;}
</style>
"""


def error_html(exc: BaseException) -> str:
    """An exception as a one-paragraph error box (never a traceback)."""
    return f'<div class="{ERROR_CLASS}">{html.escape(describe(exc))}</div>'


def status_html(text: str) -> str:
    """A quiet status line."""
    return f'<div class="wb-status">{html.escape(text)}</div>'


def table_html(rows: Iterable[tuple[str, str]], css_class: str = "wb-card") -> str:
    """Label-value pairs as a small HTML table, escaped."""
    body = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f'<table class="{css_class}">{body}</table>'
