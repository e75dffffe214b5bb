"""Plain JSON values from what pandas and numpy hand back."""

from __future__ import annotations

import math
from typing import Any


def json_ready(value: Any) -> Any:
    """A copy for standard JSON: NaN, infinities and pandas' missing values become null, numpy
    scalars Python ones, tuples lists."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value.__class__.__name__ in ("NAType", "NaTType"):
        return None
    return value


__all__ = ["json_ready"]
