"""The Ray launcher: the same Flower apps on Flower's simulation engine.

:func:`run_on_ray` hands the ServerApp and ClientApp to ``flwr.simulation.run_simulation`` on the
cluster :mod:`.ray_cluster` keeps ready (a local head started once per process, or
``config.ray_address``). :class:`PollingGrid` is the grid the ServerApp sees: it polls for replies
and stops waiting when the engine has stopped.

The ClientApp actors outlive a run: Flower's backend is replaced, for the length of each
``run_simulation`` call, by :class:`~.ray_pool.KeptActorsBackend`, which takes its actors from a
pool kept on this process's Ray connection and hands them back at the end. Only the first run
(and a run that asks for other resources) starts actor processes; a warm run pays for Flower's
link state and threads, the discovery round and the engine's shutdown (its workers notice the
stop within a second).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flwr.serverapp import Grid, ServerApp

from workbench.federated.config import FedConfig
from workbench.federated.launchers.ray_cluster import (
    LOCK,
    RayCluster,
    RayLauncherError,
    disconnect,
    ensure_ray,
    node_cpus,
    quiet,
    stop_ray,
    use_cluster,
)
from workbench.federated.server import GridView
from workbench.kit.errors import WorkbenchError

SUPERVISOR_GRACE_S = 30.0  # how long the ServerApp thread may take to notice a stop
POLL_S = 0.05  # how often the ServerApp polls for replies (Flower's in-memory grid: 0.1 s)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def run_on_ray(
    server_app, client_app, config: FedConfig, *, client_num_cpus: float | None = None
) -> None:
    """Run ``server_app`` against ``config.num_clients`` virtual SuperNodes on Flower's Ray engine.

    Parameters
    ----------
    server_app, client_app
        The Flower apps (:func:`~workbench.federated.apps.make_server_app`,
        :data:`~workbench.federated.apps.client_app`); results come back through the server
        app's ``sink``, as on every launcher.
    config
        The experiment; ``ray_address`` picks the cluster (empty: a local head started once per
        process), ``round_timeout_s`` bounds every wait for replies.
    client_num_cpus
        CPUs per ClientApp actor. Default: all of a node's CPUs (one actor per node), the fastest
        setting for small models, where more actors only add process start-up.

    Raises
    ------
    RayLauncherError
        If Ray cannot start, the cluster does not answer, or the simulation engine crashes.
    WorkbenchError
        Whatever the ServerApp raised (for example every client failing), unchanged.
    """
    from workbench.federated.launchers.inline import _ONE_SERVER

    with LOCK, _ONE_SERVER:  # Flower keeps the server's identity process-wide
        cluster = ensure_ray(config.ray_address or None)
        use_cluster(cluster.address)
        cpus = _client_cpus(cluster.address, client_num_cpus)
        supervised, state = _supervised(server_app)
        saved = _task_identity()
        try:
            _simulate(supervised, client_app, config.num_clients, cluster.address, cpus, state)
        except RayLauncherError:
            disconnect()  # the engine crashed: the next run starts from a fresh connection
            raise
        finally:
            state.stop.set()
            state.finished.wait(SUPERVISOR_GRACE_S)
            _restore_task_identity(saved)
        if state.server_error is not None:
            raise state.server_error


def _client_cpus(address: str, client_num_cpus: float | None) -> float:
    """CPUs per ClientApp actor: ``client_num_cpus``, else the smallest node's, checked."""
    nodes = node_cpus()
    cpus = float(client_num_cpus) if client_num_cpus else min(nodes)
    if cpus <= 0 or cpus > max(nodes):
        raise RayLauncherError(
            f"client_num_cpus = {client_num_cpus} does not fit the Ray cluster at "
            f"{address}, whose nodes have {', '.join(f'{c:g}' for c in nodes)} "
            "CPUs; use a value above 0 and at most the largest node's CPUs."
        )
    return cpus


def _simulate(server_app, client_app, num_clients: int, address: str, cpus: float, state) -> None:
    """``run_simulation`` on the cluster, its failures turned into the ServerApp's error or ours."""
    from flwr.simulation import run_simulation

    from workbench.federated.launchers.ray_pool import kept_backend

    backend_config = {
        "init_args": {"address": address, "logging_level": logging.ERROR, "log_to_driver": False},
        "client_resources": {"num_cpus": cpus, "num_gpus": 0.0},
    }
    try:
        with quiet(), kept_backend():
            run_simulation(
                server_app=server_app,
                client_app=client_app,
                num_supernodes=num_clients,
                backend_config=backend_config,
            )
    except BaseException as exc:
        if state.server_error is not None:
            raise state.server_error from None
        if isinstance(exc, WorkbenchError | KeyboardInterrupt):
            raise
        raise RayLauncherError(
            f"Flower's simulation engine stopped with an error on the Ray cluster at "
            f"{address}: {_cause(exc)}. Run the same config with launcher = 'inline' "
            "to see whether the apps or Ray are at fault; if Ray, stop_ray() (or a new "
            "process) starts a fresh one."
        ) from exc


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return f"{type(exc).__name__}: {exc}"


def _task_identity() -> tuple[Any, Any, Any]:
    from flwr.supercore.task_identity import TaskIdentity

    return TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id


def _restore_task_identity(saved: tuple[Any, Any, Any]) -> None:
    from flwr.supercore.task_identity import TaskIdentity

    TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


# --------------------------------------------------------------------------------------------
# Supervising the ServerApp thread
# --------------------------------------------------------------------------------------------


@dataclass
class _Supervision:
    stop: threading.Event
    finished: threading.Event
    server_error: BaseException | None = None


def _supervised(server_app: ServerApp) -> tuple[ServerApp, _Supervision]:
    """Wrap ``server_app`` so that it stops waiting for replies once the engine has stopped.

    ``run_simulation`` runs the ServerApp in a non-daemon thread and does not wait for it when the
    engine crashes; that thread would then sit out ``round_timeout_s`` and keep the process from
    exiting. The wrapper's grid returns as soon as ``stop`` is set.
    """
    state = _Supervision(threading.Event(), threading.Event())
    app = ServerApp()

    @app.main()
    def _main(grid, context) -> None:
        try:
            server_app(grid=PollingGrid(grid, state.stop), context=context)
        except BaseException as exc:
            state.server_error = exc
            raise
        finally:
            state.finished.set()

    return app, state


class PollingGrid(GridView):
    """A view of a Flower grid that polls for replies every ``poll_s`` and can be stopped.

    Flower's in-memory grid polls every 0.1 s and its HTTP grid (deployment) every 3 s; a round
    makes two waits (train, evaluate), so on small models the poll interval is most of a round.
    When ``stop`` is set, a wait ends with an error instead of sitting out its timeout.
    """

    def __init__(
        self, grid: Grid, stop: threading.Event | None = None, *, poll_s: float = POLL_S
    ) -> None:
        super().__init__(grid)
        self._stop = stop if stop is not None else threading.Event()
        self._poll_s = poll_s

    def send_and_receive(self, messages, *, timeout=None):
        """Push, then pull until every reply is in, ``timeout`` passes, or the engine stops."""
        pending = set(self.push_messages(messages))
        deadline = None if timeout is None else time.monotonic() + timeout
        replies = []
        while pending:
            if self._stop.is_set():
                raise RayLauncherError(
                    "Flower's simulation engine stopped while the server waited for client "
                    "replies; see the error raised by the run."
                )
            got = list(self.pull_messages(pending))
            replies.extend(got)
            pending.difference_update(m.metadata.reply_to_message_id for m in got)
            if not pending or (deadline is not None and time.monotonic() >= deadline):
                break
            self._stop.wait(self._poll_s)
        return replies


__all__ = [
    "PollingGrid",
    "RayCluster",
    "RayLauncherError",
    "ensure_ray",
    "run_on_ray",
    "stop_ray",
]
