"""The AI deployment workbench: the headless core shared by the CLI, the widgets and notebooks.

Heavy modules (torch, transformers) load on first use, so ``import workbench`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "InvalidInputError": "workbench.kit.errors",
    "LoadOptions": "workbench.models",
    "ModelInfo": "workbench.models",
    "WorkbenchError": "workbench.kit.errors",
    "load_catalog": "workbench.models",
    "load_model": "workbench.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
