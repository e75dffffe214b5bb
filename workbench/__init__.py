"""The AI deployment workbench: the headless core shared by the CLI, the widgets and notebooks.

Heavy modules (torch, transformers) load on first use, so ``import workbench`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# The configs and entry points a user types; every room's package lists the rest.
_EXPORTS = {
    "BenchConfig": "workbench.bench",
    "CloudBenchConfig": "workbench.cloud",
    "EndpointConfig": "workbench.cloud",
    "FedConfig": "workbench.federated",
    "InvalidInputError": "workbench.kit.errors",
    "LoadOptions": "workbench.models",
    "ModelInfo": "workbench.models",
    "WorkbenchError": "workbench.kit.errors",
    "decide": "workbench.decision",
    "load_catalog": "workbench.models",
    "load_model": "workbench.models",
    "load_run": "workbench.runs",
    "load_scenario": "workbench.decision",
    "record": "workbench.runs",
    "run_benchmark": "workbench.bench",
    "run_endpoint_benchmark": "workbench.cloud",
    "run_federated": "workbench.federated",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
