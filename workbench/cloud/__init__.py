"""Cloud endpoints: measure OpenAI-compatible APIs, and a loopback cloud to measure offline.

* :mod:`workbench.cloud.config`: the configs (``EndpointConfig``, ``CloudBenchConfig``,
  ``ServiceProfile``), every field with its help, bounds and CLI flag.
* :mod:`workbench.cloud.network`: region presets (fiber floor + gamma extra delay).
* :mod:`workbench.cloud.server`: the loopback cloud (``LoopbackCloud``, ``serve``): its profile,
  the emulated service, the OpenAI API handlers and the process that runs them.
* :mod:`workbench.cloud.client`: one measured request (``EndpointClient``).
* :mod:`workbench.cloud.loadgen`: closed/open-loop load tests recorded as runs of kind
  ``"cloud"`` (``run_endpoint_benchmark``, ``EndpointBenchResult``).
* :mod:`workbench.cloud.cli`: ``workbench cloud serve`` and ``workbench cloud bench``.

aiohttp is imported only when a server or client is started, so importing this package is quick.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CloudBenchConfig": "workbench.cloud.config",
    "EndpointBenchResult": "workbench.cloud.loadgen",
    "EndpointClient": "workbench.cloud.client",
    "EndpointConfig": "workbench.cloud.config",
    "EndpointError": "workbench.cloud.client",
    "LoopbackCloud": "workbench.cloud.server",
    "NetworkProfile": "workbench.cloud.network",
    "ServiceProfile": "workbench.cloud.config",
    "check_endpoint": "workbench.cloud.client",
    "get_network_profile": "workbench.cloud.network",
    "load_network_profiles": "workbench.cloud.network",
    "run_endpoint_benchmark": "workbench.cloud.loadgen",
    "serve": "workbench.cloud.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'workbench.cloud' has no attribute {name!r}")
