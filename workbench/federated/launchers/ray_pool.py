"""ClientApp actors that outlive a run: Flower's Ray backend with its actor pool kept.

Flower's ``RayBackend`` starts one ``ClientAppActor`` per ``client_num_cpus`` slot when a run
starts and, when it ends, kills them and calls ``ray.shutdown()``; every run then paid for
connecting to Ray again and for starting each actor's Python and importing flwr, torch and the
workbench in it (7-11 s per warm run on 2 cores, ``benchmarks/bench_fed_ray.py``).

:class:`KeptActorsBackend` is that backend with two changes: :meth:`~KeptActorsBackend.build`
takes its actors from a pool kept in this process (checked with a ping, topped up when short),
and :meth:`~KeptActorsBackend.terminate` hands them back and stays connected. A run still gets
its own link state, nodes and contexts from Flower; only the worker processes carry over, and
what they keep between runs (task data, partitions, one model whose weights every message
overwrites) does not change a result: every draw depends on (seed, round, client) alone.

The kept actors belong to this process's Ray connection: :func:`forget` (called whenever this
process disconnects, :func:`~.ray_cluster.stop_ray` included) lets them go, and Ray ends them
with the connection; a killed workbench leaves them to the head's watchdog
(:mod:`.ray_reaper`) like every other Ray process.

:func:`kept_backend` installs the backend for the duration of one ``run_simulation`` call:
Flower 1.42 builds its backend from ``flwr.server.superlink.fleet.vce.backend.raybackend``
by name at that moment (``vce_api.start_vce``), the module attribute this replaces.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ray
from flwr.server.superlink.fleet.vce.backend import raybackend
from flwr.simulation.ray_transport.ray_actor import BasicActorPool, ClientAppActor

PING_TIMEOUT_S = 10.0  # a kept actor that does not answer a ping within this is replaced

_LOCK = threading.Lock()


@dataclass
class _Pool:
    """The actors kept for one (cluster connection, client resources)."""

    key: tuple[Any, ...] = ()
    actors: list[Any] = field(default_factory=list)
    created: int = 0  # actors started since the process began (for tests and benchmarks)
    reused: int = 0  # runs that found their actors ready


_POOL = _Pool()


def stats() -> dict[str, int]:
    """How many actors are kept now, have been started, and how many runs reused them."""
    with _LOCK:
        return {"kept": len(_POOL.actors), "created": _POOL.created, "reused": _POOL.reused}


def forget() -> None:
    """Drop the kept actors (this process is disconnecting; Ray ends them with it)."""
    with _LOCK:
        _POOL.key, _POOL.actors = (), []


def _kill(actors: list[Any]) -> None:
    for actor in actors:
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)


def _alive(actors: list[Any]) -> bool:
    if not actors:
        return True
    try:
        ray.get([actor.__ray_ready__.remote() for actor in actors], timeout=PING_TIMEOUT_S)
    except Exception:
        return False
    return True


class KeptActorsBackend(raybackend.RayBackend):
    """Flower's ``RayBackend`` whose actors are taken from, and given back to, a kept pool."""

    def build(self, app_fn) -> None:
        """Make the actor pool from the kept actors, starting only those that are missing."""
        pool = BasicActorPool(
            actor_type=ClientAppActor,
            client_resources=self.client_resources,
            actor_kwargs=self.actor_kwargs,
        )
        key = _pool_key(self.client_resources, self.actor_kwargs)
        wanted = pool.actors_capacity
        with _LOCK:
            actors, _POOL.actors = _POOL.actors, []
            if _POOL.key != key or not _alive(actors):
                _kill(actors)  # other resources, or one of them died: start afresh
                actors = []
            elif actors:
                _POOL.reused += 1
            if len(actors) > wanted:
                _kill(actors[wanted:])
                actors = actors[:wanted]
            _POOL.key = key
            missing = wanted - len(actors)
            _POOL.created += max(missing, 0)
        pool.pool.extend(actors)
        pool.num_actors = len(actors)
        self.pool, self._handed_out = pool, list(actors)  # terminate() gives these back
        if missing > 0:
            pool.add_actors_to_pool(missing)
            self._handed_out = list(pool.pool)
        self.app_fn = app_fn

    def terminate(self) -> None:
        """Give the idle actors back to the kept pool; kill any that is still busy; stay
        connected (Flower's backend would call ``ray.shutdown()``)."""
        if self.pool is None:
            return
        idle = list(self.pool.pool)
        handed_out = getattr(self, "_handed_out", [])
        busy = [a for a in handed_out if not any(a is b for b in idle)]
        _kill(busy)  # a run that ended mid-message: its actor's state is unknown
        key = _pool_key(self.client_resources, self.actor_kwargs)
        with _LOCK:
            if _POOL.key == key and not _POOL.actors:
                _POOL.actors = idle
            else:  # forgotten (disconnected) or replaced meanwhile
                _kill(idle)
        self.pool = None


def _pool_key(client_resources: dict[str, Any], actor_kwargs: dict[str, Any]) -> tuple[Any, ...]:
    from workbench.federated.launchers.ray_cluster import connection_id

    options = {k: v for k, v in actor_kwargs.items() if not callable(v)}
    hooks = sorted(
        getattr(v, "__qualname__", repr(v)) for v in actor_kwargs.values() if callable(v)
    )
    return (
        connection_id(),
        json.dumps(client_resources, sort_keys=True),
        json.dumps(options, sort_keys=True, default=repr),
        tuple(hooks),
    )


@contextlib.contextmanager
def kept_backend() -> Iterator[None]:
    """Let Flower's simulation engine build :class:`KeptActorsBackend` instead of its own."""
    original = raybackend.RayBackend
    raybackend.RayBackend = KeptActorsBackend
    try:
        yield
    finally:
        raybackend.RayBackend = original


__all__ = ["KeptActorsBackend", "forget", "kept_backend", "stats"]
