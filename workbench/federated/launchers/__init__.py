"""Where the federated apps run: each launcher takes the same ServerApp, ClientApp and config.

* :mod:`.inline`: every app in this process, on :class:`~.inline.InlineGrid` (no Ray);
* :mod:`.ray`: Flower's simulation engine on a Ray cluster, polled through
  :class:`~.ray.PollingGrid`;
* :mod:`.deployment`: a SuperLink and SuperNodes, driven by ``flwr run`` (not started from
  :func:`~workbench.federated.runner.run_federated`).

A launcher is a callable ``launch(server_app, client_app, config)`` that returns when the
ServerApp has finished; results come back through the ServerApp's sink.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.federated.config import FedConfig
from workbench.kit import checks

Launcher = Callable[[Any, Any, FedConfig], None]


def launcher_for(config: FedConfig) -> Launcher:
    """The launcher ``config.launcher`` names (Ray is imported only when it is asked for).

    Raises
    ------
    InvalidInputError
        For ``deployment``, which runs with ``flwr run``, not from here.
    """
    if config.launcher == "inline":
        from workbench.federated.launchers.inline import launch_inline

        return launch_inline
    if config.launcher == "ray":
        from workbench.federated.launchers.ray import run_on_ray

        return run_on_ray
    raise checks.invalid(
        "launcher",
        config.launcher,
        "inline or ray to simulate",
        owner="run_federated",
        flag="--launcher",
        fix="A deployment runs with `flwr run` against a SuperLink and its SuperNodes (see "
        "workbench.federated.launchers.deployment).",
    )


__all__ = ["Launcher", "launcher_for"]
