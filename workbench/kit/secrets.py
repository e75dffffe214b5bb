"""Is a secret in this text, in any of the forms a file may have written it?

A credential in a run's table does not reach a shared file as it is: JSON escapes its quotes and
backslashes, HTML turns ``&`` into ``&amp;`` and ``<`` into ``&lt;``, CSV doubles its quotes, a
URL percent-encodes it. A scan that looks for the plain value only misses all of these, so
:func:`contains_secret` looks for every written form, and for the plain value in the text with
its HTML and CSV escapes undone.

>>> contains_secret('<td>a&amp;b&lt;c"d</td>', 'a&b<c"d')
True
>>> contains_secret('x,"a&b<c""d",y', 'a&b<c"d')
True
>>> contains_secret("nothing here", 'a&b<c"d')
False
"""

from __future__ import annotations

import html
import json
from urllib.parse import quote, quote_plus


def written_forms(value: str) -> set[str]:
    """Every form in which ``value`` may appear in a saved file: as it is, JSON-escaped,
    HTML-escaped, CSV-quoted, percent-encoded, and the escapes of one inside another (JSON in an
    HTML page, JSON in a CSV cell)."""
    json_form = json.dumps(value)[1:-1]
    ascii_json = json.dumps(value, ensure_ascii=True)[1:-1]
    forms = {value, json_form, ascii_json, quote(value, safe=""), quote_plus(value)}
    for form in list(forms):
        forms |= {html.escape(form, quote=True), html.escape(form, quote=False)}
        forms.add(form.replace('"', '""'))  # CSV doubles the quotes of a quoted cell
        forms.add(form.replace("'", "&#x27;").replace('"', "&quot;"))
    return {form for form in forms if form}


def contains_secret(text: str, value: str) -> bool:
    """Whether ``text`` holds ``value`` in any :func:`written_forms` form, or once HTML entities
    (``&amp;``, ``&#39;``) and CSV's doubled quotes are undone.

    Parameters
    ----------
    text
        What is about to be saved or published.
    value
        The secret; never printed.
    """
    if not value:
        return False
    forms = written_forms(value)
    plain = html.unescape(text)
    return any(
        form in candidate for candidate in (text, plain, plain.replace('""', '"')) for form in forms
    )


__all__ = ["contains_secret", "written_forms"]
