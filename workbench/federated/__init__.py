"""Federated training across synthetic edge clients, on Flower.

* :mod:`.config`: :class:`FedConfig`, the settings of one experiment (fields with help and bounds);
* :mod:`.tasks`, :mod:`.partition`, :mod:`.learning`, :mod:`.fleet`: data, splits, models and the
  simulated device fleet, in plain Python (no flwr);
* :mod:`.apps` and :mod:`.server`: the Flower ClientApp and ServerApp;
* :mod:`.launchers`: where they run (inline, Ray, a Flower deployment);
* :mod:`.runner`: :func:`run_federated`, which records a :class:`FedResult` (:mod:`.result`);
* :mod:`.plots`: the charts the notebook, panel and dashboard share.

Importing this package is quick: flwr and torch load on first use of the names that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

from workbench.federated.config import FedConfig

_LAZY = {
    "FedResult": "workbench.federated.result",
    "FederationError": "workbench.federated.server",
    "ROUND_COLUMNS": "workbench.federated.result",
    "run_federated": "workbench.federated.runner",
}

__all__ = ["ROUND_COLUMNS", "FedConfig", "FedResult", "FederationError", "run_federated"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
