"""Helpers every command-line module shares: checking an output path, JSON-ready values."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from workbench.errors import InvalidInputError


def check_writable(path: str | Path) -> None:
    """Refuse a ``--json`` file whose folder does not exist, before any work is done."""
    folder = Path(path).expanduser().resolve().parent
    if not folder.is_dir():
        raise InvalidInputError(
            f"--json {path}: the folder {folder} does not exist; create it or choose another file."
        )


def json_ready(value: Any) -> Any:
    """Copies for standard JSON: NaN, infinities and pandas' missing values become null, numpy
    scalars Python ones."""
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
