"""Numbers written for people: dollars with cents, milliseconds or seconds, percentages, counts
with thousands separators, ✓ and ✗.

Every function takes one value and returns the text to show. A missing value (``None``, NaN,
``pandas.NA``) becomes ``missing``: an en dash unless the caller names the word, e.g.
``usd(None, missing="unknown")``. Panels, dashboards, the static export and the decision report
all use these, so one figure reads the same everywhere.

>>> usd(1234.5), usd(0.00123), duration_ms(850), duration_ms(1250), percent(0.985)
('$1,234.50', '$0.0012', '850 ms', '1.25 s', '98.5%')
>>> count(60000), check(True), check(False), usd(float("nan"), missing="unknown")
('60,000', '✓', '✗', 'unknown')
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

#: What a missing value reads as unless the caller names another word.
MISSING = "–"


def is_missing(value: Any) -> bool:
    """Whether ``value`` stands for no figure: ``None``, NaN or ``pandas.NA``.

    Parameters
    ----------
    value
        Anything; text and other objects are not missing.
    """
    if value is None:
        return True
    if type(value).__name__ == "NAType":  # pandas.NA, without importing pandas
        return True
    try:
        return isinstance(value, Real) and math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def usd(value: Any, *, missing: str = MISSING) -> str:
    """An amount in US dollars with cents and thousands separators: ``"$1,234.56"``.

    An amount under a cent (a price per request or per token) keeps two significant digits
    instead of rounding to ``"$0.00"``: ``usd(0.00123) == "$0.0012"``. Zero is ``"$0.00"``; a
    negative amount is ``"-$12.50"``; an infinite one ``"$∞"``.

    Parameters
    ----------
    value
        The amount in dollars.
    missing
        The text for a missing amount (e.g. ``"unknown"``).
    """
    if is_missing(value):
        return missing
    amount = float(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if math.isinf(amount):
        return f"{sign}$∞"
    if amount == 0 or round(amount, 2) >= 0.01:
        return f"{sign}${amount:,.2f}"
    digits = 1 - math.floor(math.log10(amount))  # two significant digits
    return f"{sign}${amount:.{digits}f}"


def duration_ms(value: Any, *, missing: str = MISSING) -> str:
    """A duration given in milliseconds: ``"850 ms"`` under a second, ``"1.25 s"`` from one.

    Under a second: whole milliseconds from 10 ms (``"587 ms"``), one decimal from 1 ms
    (``"4.2 ms"``), two significant digits below (``"0.42 ms"``). From a second: three
    significant digits up to 100 s (``"1.25 s"``, ``"12.5 s"``), then whole seconds with
    thousands separators (``"4,368 s"``).

    Parameters
    ----------
    value
        The duration in milliseconds.
    missing
        The text for a missing duration.
    """
    if is_missing(value):
        return missing
    ms = float(value)
    if math.isinf(ms):
        return "∞ s" if ms > 0 else "-∞ s"
    size = abs(ms)
    if round(size) < 1000:
        if size >= 9.95:
            return f"{ms:.0f} ms"
        if size >= 1 or size == 0:
            return f"{ms:.1f} ms" if size else "0 ms"
        return f"{ms:.2g} ms"
    seconds = ms / 1000.0
    if round(abs(seconds), 1) < 100:
        return f"{seconds:.3g} s" if abs(seconds) >= 10 else f"{seconds:.2f} s"
    return f"{seconds:,.0f} s"


def percent(value: Any, *, digits: int = 1, missing: str = MISSING) -> str:
    """A share (0.985) as a percentage with ``digits`` decimals: ``"98.5%"``.

    Parameters
    ----------
    value
        The share, 1.0 being 100%.
    digits
        Decimals after the point.
    missing
        The text for a missing share.
    """
    if is_missing(value):
        return missing
    return f"{float(value) * 100:.{digits}f}%"


def count(value: Any, *, missing: str = MISSING) -> str:
    """A count, rounded to a whole number, with thousands separators: ``"60,000"``.

    Parameters
    ----------
    value
        The number (requests, replicas, tokens).
    missing
        The text for a missing count.
    """
    if is_missing(value):
        return missing
    number = float(value)
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return f"{number:,.0f}"


def check(value: Any, *, missing: str = MISSING) -> str:
    """``"✓"`` for a true value, ``"✗"`` for a false one (feasible, meets the objective).

    Parameters
    ----------
    value
        A bool (or numpy bool, or 0/1).
    missing
        The text for a missing value.
    """
    if is_missing(value):
        return missing
    return "✓" if bool(value) else "✗"


__all__ = ["MISSING", "check", "count", "duration_ms", "is_missing", "percent", "usd"]
