"""Scoring rules of the eval sets: how an answer is normalised and compared with a reference.

Pure functions of text: no model, no file. The rules are the same for every target (a local
model, a variant, an endpoint), so their answers are scored alike.
"""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.eval.sets import EvalItem, EvalSet

DEFAULT_TOLERANCE = 0.01
# Stripped from both ends of an answer: ASCII punctuation, whitespace and typographic quotes.
_STRIP = string.punctuation + string.whitespace + "“”‘’«»„‚…–—"
# Thousands separators only between groups of three digits, so "3,4" stays two numbers.
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
_INTEGER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)")


def normalise_answer(text: Any) -> str:
    """An answer or reference as scoring compares it: the first non-empty line, lower case,
    runs of whitespace as one space, and no punctuation, quotes or spaces at either end.

    >>> normalise_answer('  "Billing."\\nBecause the ticket...')
    'billing'
    """
    lines = str(text).strip().splitlines()
    first = lines[0] if lines else ""
    return " ".join(first.lower().split()).strip(_STRIP)


def first_number(text: Any) -> float | None:
    """The first number written in ``text`` (thousands commas removed), or ``None``.

    >>> first_number("About 1,250.5 km")
    1250.5
    """
    match = _NUMBER.search(str(text))
    return float(match.group().replace(",", "")) if match else None


def score_answer(answer: Any, item: EvalItem, eval_set: EvalSet | None = None) -> bool:
    """Whether ``answer`` is correct for ``item`` under the item's scoring rule.

    * ``label`` and ``nearest-neighbour``: the normalised answer equals the normalised
      reference, or starts with it followed by a non-letter ("Billing - refund" counts for
      ``billing``; "not billing" and "billings" do not).
    * ``exact``: the normalised answer equals the normalised reference.
    * ``number``: the first number in the answer is within the item's relative ``tolerance``
      of the reference; with no tolerance, equal to an integer reference or within 1% of any
      other.

    Parameters
    ----------
    answer
        What the model said (a predicted label for an embeddings set).
    item
        The item, with its reference and rule.
    eval_set
        The set the item belongs to (accepted for symmetry; the item carries its own rule).

    Returns
    -------
    bool
    """
    del eval_set  # every rule the item needs is on the item
    if item.scoring == "number":
        return _number_matches(answer, item)
    said, wanted = normalise_answer(answer), normalise_answer(item.reference)
    if not said:
        return False
    if item.scoring == "exact":
        return said == wanted
    return said == wanted or (
        said.startswith(wanted) and not said[len(wanted)].isalpha() and bool(wanted)
    )


def _number_matches(answer: Any, item: EvalItem) -> bool:
    said = first_number(answer)
    if said is None:
        return False
    wanted = float(item.reference.replace(",", ""))
    tolerance = item.tolerance
    if tolerance is None:
        if _INTEGER.fullmatch(item.reference.strip()):
            return said == wanted
        tolerance = DEFAULT_TOLERANCE
    return abs(said - wanted) <= tolerance * abs(wanted)


def is_number_text(text: str) -> bool:
    """Whether ``text`` is one plain number (``42``, ``-3.5``, ``1,250``), as a number-scored
    reference must be."""
    return bool(_NUMBER.fullmatch(text.strip()))


__all__ = [
    "DEFAULT_TOLERANCE",
    "first_number",
    "is_number_text",
    "normalise_answer",
    "score_answer",
]
