"""The checks every config shares: each turns a bad value into one paragraph that names the field
(and its flag, and the config it belongs to) and says what it accepts and how to fix it.

The message always has the same shape::

    `users` (--users) must be a whole number from 1 to 1000, got 0. Lower --users.

so a reader of any error in the workbench knows where to look.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from workbench.kit.errors import InvalidInputError


def is_number(value: Any) -> bool:
    """True for a finite int or float (a bool is not a number here)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(float(value))
    )


def label(name: str, *, owner: str = "", flag: str = "") -> str:
    """How an error names a field: ``\\`name\\` of owner (--flag)``, or the flag first when it is
    spelled otherwise than the field (``--cloud-ms-per-token (\\`cloud_ms_per_output_token\\`)``):
    the user typed the flag; the field is what a config file calls it."""
    if flag and flag != "--" + name.replace("_", "-"):
        return f"{flag}{f' of {owner}' if owner else ''} (`{name}`)"
    text = f"`{name}`"
    if owner:
        text += f" of {owner}"
    if flag:
        text += f" ({flag})"
    return text


def invalid(
    name: str, value: Any, rule: str, *, owner: str = "", flag: str = "", fix: str = ""
) -> InvalidInputError:
    """The error for a value that breaks ``rule`` ("a whole number >= 1")."""
    message = f"{label(name, owner=owner, flag=flag)} must be {rule}, got {value!r}."
    return InvalidInputError(f"{message} {fix}".strip())


def number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    whole: bool = False,
    owner: str = "",
    flag: str = "",
    fix: str = "",
) -> Any:
    """``value`` if it is a finite number within the bounds (an int when ``whole``), else raise.

    A whole number given as a float with no fraction (``8.0``, as TOML and JSON may give it)
    comes back as an int.
    """
    rule = _rule(low, high, low_open, high_open, whole)
    if not is_number(value):
        raise invalid(name, value, rule, owner=owner, flag=flag, fix=fix)
    if whole:
        if float(value) != int(value):
            raise invalid(name, value, rule, owner=owner, flag=flag, fix=fix)
        value = int(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise invalid(name, value, rule, owner=owner, flag=flag, fix=fix)
    return value


def whole(
    name: str, value: Any, minimum: int | None = None, maximum: int | None = None, **kw: Any
) -> int:
    """``value`` if it is an int from ``minimum`` to ``maximum``, else raise (see :func:`number`)."""
    return number(name, value, low=minimum, high=maximum, whole=True, **kw)


def choice(
    name: str,
    value: Any,
    choices: tuple[str, ...],
    *,
    owner: str = "",
    flag: str = "",
    fix: str = "",
) -> str:
    """``value`` if it is one of ``choices``, else raise listing them."""
    if value not in choices:
        rule = "one of " + ", ".join(str(c) for c in choices)
        raise invalid(name, value, rule, owner=owner, flag=flag, fix=fix)
    return value


def text(name: str, value: Any, *, owner: str = "", flag: str = "", fix: str = "") -> str:
    """``value`` if it is a non-empty string, else raise."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(name, value, "a non-empty string", owner=owner, flag=flag, fix=fix)
    return value


def _rule(
    low: float | None, high: float | None, low_open: bool, high_open: bool, whole: bool
) -> str:
    kind = "a whole number" if whole else "a finite number"
    if low is not None and high is not None:
        if whole and not low_open and not high_open:
            return f"{kind} from {low:g} to {high:g}"
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        return f"{kind} in {left}{low:g}, {high:g}{right}"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{kind} {'<' if high_open else '<='} {high:g}"
    return kind


__all__ = ["choice", "invalid", "is_number", "label", "number", "text", "whole"]
