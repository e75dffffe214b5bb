"""Routing policies: for each arriving request, serve it on a local worker or in the cloud.

A policy is a small class with ``route(state, request) -> "local" | "cloud"``, selected by name
from :data:`POLICIES` with :func:`make_policy` or from a spec such as ``"overflow(k=3)"`` with
:func:`parse_policy`. Policies see only what a real router could: queue lengths, how long each
busy worker has been at its request, and the service time distribution of the measured local
run, never the service time the simulation drew for a request.
"""

from __future__ import annotations

import bisect
import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal

import numpy as np

from workbench.errors import InvalidInputError
from workbench.hybrid.config import _above, _whole
from workbench.hybrid.errors import UnknownPolicyError

LOCAL = "local"
CLOUD = "cloud"
Route = Literal["local", "cloud"]


@dataclass(frozen=True, slots=True)
class Request:
    """An arriving request: its position in the stream and its arrival time."""

    index: int
    arrival_s: float


class SystemState:
    """What a router sees when a request arrives; the simulator updates it, policies only read.

    Attributes
    ----------
    now_s
        The current simulated time.
    workers
        Local workers in all.
    busy_workers
        Local workers serving a request now.
    queue_length
        Requests waiting for a local worker (not those in service).
    cloud_in_flight, cloud_queue_length
        Cloud requests being served, and waiting for a slot when the cloud has a limit.
    mean_service_s
        Mean local service time of the measured run (or of the exponential model).
    latency_objective_s
        The latency a request should complete within.
    """

    __slots__ = (
        "_residual",
        "_started_s",
        "busy_workers",
        "cloud_in_flight",
        "cloud_queue_length",
        "latency_objective_s",
        "mean_service_s",
        "now_s",
        "queue_length",
        "workers",
    )

    def __init__(
        self,
        *,
        workers: int,
        mean_service_s: float,
        latency_objective_s: float,
        expected_residual_s: Callable[[float], float],
        started_s: list[float | None] | None = None,
        now_s: float = 0.0,
        queue_length: int = 0,
        cloud_in_flight: int = 0,
        cloud_queue_length: int = 0,
    ) -> None:
        self.workers = workers
        self.mean_service_s = mean_service_s
        self.latency_objective_s = latency_objective_s
        self._residual = expected_residual_s
        # One entry per worker: when its current request started, or None while it is idle.
        self._started_s: list[float | None] = (
            [None] * workers if started_s is None else list(started_s)
        )
        self.busy_workers = sum(s is not None for s in self._started_s)
        self.now_s = now_s
        self.queue_length = queue_length
        self.cloud_in_flight = cloud_in_flight
        self.cloud_queue_length = cloud_queue_length

    def busy_elapsed_s(self) -> list[float]:
        """For each busy worker, how long it has been serving its current request."""
        now = self.now_s
        return [now - s for s in self._started_s if s is not None]

    def expected_residual_s(self, elapsed_s: float) -> float:
        """Expected remaining service time of a request that has been served ``elapsed_s``."""
        return self._residual(elapsed_s)


def residual_estimator(
    samples_s: Sequence[float] | None, mean_s: float
) -> Callable[[float], float]:
    """The expected remaining service time given the time already served.

    From samples it is ``E[S - a | S > a]`` over the samples (0 once ``a`` passes the largest);
    for exponential service (no samples) it is the mean, whatever was served (memorylessness).

    Parameters
    ----------
    samples_s
        Measured service times in seconds, or None for exponential service.
    mean_s
        The mean service time, used when there are no samples.
    """
    if samples_s is None:
        return lambda elapsed_s: mean_s
    ordered = np.sort(np.asarray(samples_s, dtype=np.float64))
    tail_sums = np.cumsum(ordered[::-1])[::-1]
    counts = np.arange(ordered.size, 0, -1)
    tail_means = (tail_sums / counts).tolist()
    values = ordered.tolist()

    def residual(elapsed_s: float) -> float:
        i = bisect.bisect_right(values, elapsed_s)
        return tail_means[i] - elapsed_s if i < len(values) else 0.0

    return residual


def predicted_local_latency_s(state: SystemState) -> float:
    """Predicted latency of a request if it were queued locally now.

    The prediction is ``wait + mean service time``, where ``wait`` is 0 if a worker is idle, and
    otherwise ``first_free + queue_length / workers x mean service time``. ``first_free``, the
    remaining busy time estimate, is the expected time until the first busy worker frees up,
    treating each worker's remaining time as exponential with the expected residual service
    time ``r_i`` given how long it has served: ``1 / sum(1 / r_i)``. The prediction is exact in
    expectation for exponential service (M/M/c) and for deterministic service on one worker.
    """
    mean = state.mean_service_s
    if state.busy_workers < state.workers:
        return mean
    total_rate = 0.0
    first_free = 0.0
    for elapsed in state.busy_elapsed_s():
        remaining = state.expected_residual_s(elapsed)
        if remaining <= 0.0:
            total_rate = 0.0
            break
        total_rate += 1.0 / remaining
    if total_rate > 0.0:
        first_free = 1.0 / total_rate
    return first_free + state.queue_length / state.workers * mean + mean


class RoutingPolicy(ABC):
    """Decides where each request is served."""

    name: ClassVar[str]

    @property
    def label(self) -> str:
        """The name with its parameters, e.g. ``overflow(k=3)``; :func:`parse_policy` reads it."""
        params = asdict(self) if hasattr(self, "__dataclass_fields__") else {}
        if not params:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in params.items())})"

    @abstractmethod
    def route(self, state: SystemState, request: Request) -> Route:
        """``"local"`` or ``"cloud"`` for this request."""

    def to_dict(self) -> dict[str, Any]:
        """The name and parameters."""
        params = asdict(self) if hasattr(self, "__dataclass_fields__") else {}
        return {"name": self.name, **params}


@dataclass(frozen=True)
class LocalOnly(RoutingPolicy):
    """Every request waits for a local worker."""

    name: ClassVar[str] = "local-only"

    def route(self, state: SystemState, request: Request) -> Route:
        """Always local."""
        return LOCAL


@dataclass(frozen=True)
class CloudOnly(RoutingPolicy):
    """Every request goes to the cloud."""

    name: ClassVar[str] = "cloud-only"

    def route(self, state: SystemState, request: Request) -> Route:
        """Always cloud."""
        return CLOUD


@dataclass(frozen=True)
class Overflow(RoutingPolicy):
    """At most ``k`` requests wait locally; the rest go to the cloud.

    A request goes to the cloud when every worker is busy and ``k`` or more requests are already
    waiting, i.e. when queueing it would make the local queue (waiting, not in service) exceed
    ``k``. ``k = 0`` sends every request that would have to wait.
    """

    name: ClassVar[str] = "overflow"
    k: int = field(default=0, metadata={"help": "most requests that may wait locally"})

    def __post_init__(self) -> None:
        _whole("k", self.k, 0)

    def route(self, state: SystemState, request: Request) -> Route:
        """Cloud when the local queue is full, local otherwise."""
        if state.busy_workers >= state.workers and state.queue_length >= self.k:
            return CLOUD
        return LOCAL


@dataclass(frozen=True)
class Deadline(RoutingPolicy):
    """Cloud when the predicted local latency would break the objective.

    A request goes to the cloud when :func:`predicted_local_latency_s` exceeds ``margin x`` the
    latency objective. ``margin`` below 1 offloads earlier, leaving room for service times above
    the mean. The cloud's own latency is not consulted.
    """

    name: ClassVar[str] = "deadline"
    margin: float = field(default=1.0, metadata={"help": "share of the objective to plan for"})

    def __post_init__(self) -> None:
        _above("margin", self.margin, 0)

    @property
    def label(self) -> str:
        """``deadline``, or ``deadline(margin=0.8)`` for a margin other than 1."""
        return self.name if self.margin == 1.0 else f"{self.name}(margin={self.margin!r})"

    def route(self, state: SystemState, request: Request) -> Route:
        """Cloud when the predicted local latency is above the objective times the margin."""
        if predicted_local_latency_s(state) > self.margin * state.latency_objective_s:
            return CLOUD
        return LOCAL


POLICIES: dict[str, type[RoutingPolicy]] = {
    "local-only": LocalOnly,
    "cloud-only": CloudOnly,
    "overflow": Overflow,
    "deadline": Deadline,
}


def make_policy(name: str, **params: Any) -> RoutingPolicy:
    """The registered policy ``name`` built with ``params``.

    Raises
    ------
    UnknownPolicyError
        If ``name`` is not registered; the message suggests close names.
    InvalidInputError
        If a parameter is unknown or outside its range.
    """
    if name not in POLICIES:
        close = difflib.get_close_matches(str(name), list(POLICIES), n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownPolicyError(
            f"Unknown policy {name!r}.{hint} Known policies: {', '.join(POLICIES)}."
        )
    kind = POLICIES[name]
    accepted = [f.name for f in fields(kind)] if hasattr(kind, "__dataclass_fields__") else []
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        takes = f"takes {', '.join(accepted)}" if accepted else "takes no parameters"
        raise InvalidInputError(
            f"Policy {name!r} has no parameter {', '.join(unknown)}; it {takes}."
        )
    return kind(**params)


_SPEC = re.compile(r"^\s*([\w-]+)\s*(?:\((.*)\)|:(.*))?\s*$")


def parse_policy(spec: str | RoutingPolicy | Mapping[str, Any]) -> RoutingPolicy:
    """A policy from a spec: ``"overflow(k=3)"``, ``"overflow:k=3"``, a dict, or a policy.

    Raises
    ------
    UnknownPolicyError, InvalidInputError
        For an unknown name, an unknown parameter, or a spec that does not parse.
    """
    if isinstance(spec, RoutingPolicy):
        return spec
    if isinstance(spec, Mapping):
        params = dict(spec)
        return make_policy(params.pop("name", None), **params)
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise InvalidInputError(
            f"Cannot read the policy {spec!r}: write a name with optional parameters, such as "
            f"'overflow(k=3)' or 'deadline:margin=0.8'. Known policies: {', '.join(POLICIES)}."
        )
    name, inner = match.group(1), match.group(2) or match.group(3) or ""
    params = {}
    for part in filter(None, (p.strip() for p in inner.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise InvalidInputError(
                f"Cannot read {part!r} in the policy {spec!r}: write parameters as key=value."
            )
        params[key.strip()] = _number(value.strip(), key.strip())
    return make_policy(name, **params)


def _number(text: str, key: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise InvalidInputError(
                f"Policy parameter `{key}` must be a number, got {text!r}."
            ) from None
