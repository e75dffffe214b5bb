"""Field checks the cloud configs share: each names the field and the accepted range."""

from __future__ import annotations

import math
from typing import Any

from workbench.errors import InvalidInputError


def is_number(value: Any) -> bool:
    """True for a finite int or float (a bool is not a number here)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def check_number(obj: Any, name: str, minimum: float = 0.0, *, exclusive: bool = False) -> None:
    """Raise unless ``obj.name`` is a finite number >= ``minimum`` (> with ``exclusive``)."""
    value = getattr(obj, name)
    if not is_number(value) or not (value > minimum if exclusive else value >= minimum):
        bound = f"> {minimum:g}" if exclusive else f">= {minimum:g}"
        raise InvalidInputError(f"`{name}` must be a finite number {bound}, got {value!r}.")


def check_whole(obj: Any, name: str, minimum: int) -> None:
    """Raise unless ``obj.name`` is an int >= ``minimum`` (a bool is not)."""
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInputError(f"`{name}` must be a whole number >= {minimum}, got {value!r}.")
