"""Open models: the catalog, safe loading from local sources, one runner interface, and the
engines that run them (:mod:`workbench.models.engines`).

The names below load on first use, so that a light module (a benchmark config, the engine
registry) can import from this package without pulling in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "CatalogEntry": "workbench.models.catalog",
    "EmbeddingRunner": "workbench.models.runners",
    "Generation": "workbench.models.runners",
    "GenerationRunner": "workbench.models.runners",
    "LoadOptions": "workbench.models.config",
    "ModelInfo": "workbench.models.runners",
    "ModelRunner": "workbench.models.runners",
    "get_entry": "workbench.models.catalog",
    "load_catalog": "workbench.models.catalog",
    "load_model": "workbench.models.loader",
}

__all__ = [
    "CatalogEntry",
    "EmbeddingRunner",
    "Generation",
    "GenerationRunner",
    "LoadOptions",
    "ModelInfo",
    "ModelRunner",
    "get_entry",
    "load_catalog",
    "load_model",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'workbench.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
