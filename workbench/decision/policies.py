"""Routing policies: for each arriving request, serve it on a local worker or in the cloud.

A policy is a small class with ``route(state, request) -> "local" | "cloud"``, selected by name
from :data:`POLICIES` with :func:`make_policy` or from a spec such as ``"overflow(k=3)"`` with
:func:`parse_policy`. Policies see only what a real router could: queue lengths, how long each
busy worker has been at its request, and the service time distribution of the measured local
run, never the service time the simulation drew for a request.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from statistics import NormalDist
from typing import Any, ClassVar, Literal

import numpy as np

from workbench.decision.errors import UnknownPolicyError, did_you_mean
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import check_fields, spec

LOCAL = "local"
CLOUD = "cloud"
_FIRST_FREE_POINTS = 64
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
    service_sd_s
        Standard deviation of the local service time (the mean, for exponential service).
    latency_objective_s
        The latency a request should complete within.
    """

    __slots__ = (
        "_first_free",
        "_percentile",
        "_residual",
        "_started_s",
        "busy_workers",
        "cloud_in_flight",
        "cloud_queue_length",
        "latency_objective_s",
        "mean_service_s",
        "now_s",
        "queue_length",
        "service_sd_s",
        "workers",
    )

    def __init__(
        self,
        *,
        workers: int,
        mean_service_s: float,
        latency_objective_s: float,
        expected_residual_s: Callable[[float], float],
        service_sd_s: float | None = None,
        service_percentile_s: Callable[[float], float] | None = None,
        first_free_s: Callable[[list[float]], tuple[float, float]] | None = None,
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
        # Without a measured distribution, service is exponential with the given mean.
        self.service_sd_s = mean_service_s if service_sd_s is None else service_sd_s
        self._percentile = service_percentile_s or percentile_estimator(None, mean_service_s)
        self._first_free = first_free_s
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

    def service_percentile_s(self, percentile: float) -> float:
        """The local service time that ``percentile`` % of requests stay within."""
        return self._percentile(percentile)

    def first_free_s(self) -> tuple[float, float]:
        """Mean and standard deviation of the time until the first busy worker frees up.

        From the measured distribution when the state was given one (see
        :func:`first_free_estimator`); otherwise each worker's remaining time is taken as
        exponential with its expected residual ``r_i``, so the first of them frees up after an
        exponential time of mean ``1 / sum(1 / r_i)``.
        """
        elapsed = self.busy_elapsed_s()
        if self._first_free is not None:
            return self._first_free(elapsed)
        total_rate = 0.0
        for served in elapsed:
            remaining = self._residual(served)
            if remaining <= 0.0:
                return 0.0, 0.0
            total_rate += 1.0 / remaining
        first_free = 1.0 / total_rate if total_rate > 0.0 else 0.0
        return first_free, first_free


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
    first_free = first_free_estimator(samples_s)  # one busy worker: its residual
    return lambda elapsed_s: first_free([elapsed_s])[0]


def percentile_estimator(
    samples_s: Sequence[float] | None, mean_s: float
) -> Callable[[float], float]:
    """The service time below which a given percentage of requests finish.

    From samples it is their percentile (linear interpolation); for exponential service (no
    samples) it is ``-mean x ln(1 - percentile / 100)``. The parameters are those of
    :func:`residual_estimator`.
    """
    if samples_s is None:
        return lambda percentile: -mean_s * math.log1p(-percentile / 100.0)
    ordered = np.sort(np.asarray(samples_s, dtype=np.float64))
    return functools.cache(lambda percentile: float(np.percentile(ordered, percentile)))


def first_free_estimator(
    samples_s: Sequence[float],
) -> Callable[[list[float]], tuple[float, float]]:
    """Mean and standard deviation of the time until the first of the busy workers frees up.

    Each worker's remaining time follows the measured service times above what it has already
    served, shifted by that (``S - a | S > a``); the workers are independent, so the first of
    them is still busy after ``t`` with probability ``prod_i P(S > a_i + t | S > a_i)``, and the
    moments are integrals of that step function. With one worker the mean is the expected
    residual of :func:`residual_estimator`; with several it is exact where the exponential race
    of :meth:`SystemState.first_free_s` is not (near-constant service, for example).

    Parameters
    ----------
    samples_s
        Measured service times in seconds.

    Returns
    -------
    callable
        ``first_free(elapsed_s) -> (mean_s, sd_s)`` for the busy workers' times served so far;
        ``(0, 0)`` once a worker has served longer than every sample.
    """
    ordered = np.sort(np.asarray(samples_s, dtype=np.float64))
    # One busy worker (the common case) in O(log n): tail means of S and S^2 give the residual's
    # moments. Several: the product of survivals on at most _FIRST_FREE_POINTS quantiles, which
    # keeps a decision in tens of microseconds however long the measured run was.
    values = ordered.tolist()
    counts = np.arange(ordered.size, 0, -1)
    tail_mean = (np.cumsum(ordered[::-1])[::-1] / counts).tolist()
    tail_square = (np.cumsum(ordered[::-1] ** 2)[::-1] / counts).tolist()
    if ordered.size > _FIRST_FREE_POINTS:
        levels = (np.arange(_FIRST_FREE_POINTS) + 0.5) / _FIRST_FREE_POINTS
        ordered = np.quantile(ordered, levels)

    def first_free(elapsed_s: list[float]) -> tuple[float, float]:
        if len(elapsed_s) == 1:
            served = elapsed_s[0]
            i = bisect.bisect_right(values, served)
            if i == len(values):
                return 0.0, 0.0
            mean = tail_mean[i] - served
            second = tail_square[i] - 2.0 * served * tail_mean[i] + served * served
            return mean, math.sqrt(max(0.0, second - mean * mean))
        served = np.asarray(elapsed_s, dtype=np.float64)
        alive = ordered.size - np.searchsorted(ordered, served, side="right")
        if served.size == 0 or not alive.all():
            return 0.0, 0.0
        steps = np.unique(np.subtract.outer(ordered, served))
        steps = steps[steps > 0]
        starts = np.concatenate(([0.0], steps[:-1]))
        still = ordered.size - np.searchsorted(ordered, served[:, None] + starts, side="right")
        survival = np.prod(still / alive[:, None], axis=0)
        mean = float(np.sum(survival * (steps - starts)))
        second = float(np.sum(survival * (steps**2 - starts**2)))
        return mean, math.sqrt(max(0.0, second - mean * mean))

    return first_free


def predicted_local_latency_s(state: SystemState, percentile: float | None = None) -> float:
    """Predicted latency of a request if it were queued locally now: its mean or a percentile.

    The mean is ``wait + mean service time``, where ``wait`` is 0 if a worker is idle, and
    otherwise ``first_free + queue_length / workers x mean service time``, ``first_free`` being
    the expected time until the first busy worker frees up (:meth:`SystemState.first_free_s`).
    The mean is exact for exponential service (M/M/c) and for deterministic service on one
    worker.

    With ``percentile`` (50 to 100), the prediction adds to the mean the root-sum-square of two
    independent excesses: the request's own service time at that percentile of the service
    distribution, above its mean; and ``z`` standard deviations of the wait (``z`` the normal
    quantile), whose variance is the first-free time's plus ``queue_length`` services shared by
    the workers (``queue_length x sd^2 / workers^2``). With a worker idle it is exactly the
    service percentile (never below the mean); with deterministic service, exactly the mean.
    """
    mean = state.mean_service_s
    if state.busy_workers < state.workers:
        if percentile is None:
            return mean
        return max(mean, state.service_percentile_s(percentile))
    first_free, first_free_sd = state.first_free_s()
    expected = first_free + state.queue_length / state.workers * mean + mean
    if percentile is None:
        return expected
    queue_variance = state.queue_length * (state.service_sd_s / state.workers) ** 2
    own_excess = max(0.0, state.service_percentile_s(percentile) - mean)
    wait_excess = _normal_quantile(percentile) * math.sqrt(first_free_sd**2 + queue_variance)
    return expected + math.hypot(own_excess, wait_excess)


@functools.cache
def _normal_quantile(percentile: float) -> float:
    return NormalDist().inv_cdf(percentile / 100.0)


class RoutingPolicy(ABC):
    """Decides where each request is served.

    ``may_route_local`` and ``may_route_cloud`` say which sides a policy can send requests to:
    the capacity it can count on (an overload check) and the hardware it needs (its cost).
    A custom policy keeps both true unless it never uses a side.
    """

    name: ClassVar[str]
    may_route_local: ClassVar[bool] = True
    may_route_cloud: ClassVar[bool] = True

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
    may_route_cloud: ClassVar[bool] = False

    def route(self, state: SystemState, request: Request) -> Route:
        """Always local."""
        return LOCAL


@dataclass(frozen=True)
class CloudOnly(RoutingPolicy):
    """Every request goes to the cloud."""

    name: ClassVar[str] = "cloud-only"
    may_route_local: ClassVar[bool] = False

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
    k: int = spec(0, help="most requests that may wait locally", low=0, whole=True)

    def __post_init__(self) -> None:
        check_fields(self, flags=False)

    def route(self, state: SystemState, request: Request) -> Route:
        """Cloud when the local queue is full, local otherwise."""
        if state.busy_workers >= state.workers and state.queue_length >= self.k:
            return CLOUD
        return LOCAL


@dataclass(frozen=True)
class Deadline(RoutingPolicy):
    """Cloud when the local latency at a planning percentile would break the objective.

    A request goes to the cloud when :func:`predicted_local_latency_s` at ``percentile`` (its
    wait and its own service time, from the measured service-time distribution) exceeds
    ``margin x`` the latency objective. Planning on the 95th percentile keeps each local
    request's chance of missing the objective near 5%, so the policy's p95 meets the objective
    whenever offloading can; planning on the mean (as ``percentile=50`` nearly does) lets p95
    overshoot. ``margin`` below 1 offloads earlier still. The cloud's own latency is not
    consulted.
    """

    name: ClassVar[str] = "deadline"
    margin: float = spec(1.0, help="share of the objective to plan for", low=0, low_open=True)
    percentile: float = spec(
        95.0,
        help="percentile of the local latency to plan on, 50 to below 100",
        low=50,
        high=100,
        high_open=True,
        fix="It is the local latency percentile the deadline plans on, 95 by default; "
        "lower plans closer to the median and offloads less.",
    )

    def __post_init__(self) -> None:
        check_fields(self, flags=False)

    @property
    def label(self) -> str:
        """``deadline``, or e.g. ``deadline(margin=0.8, percentile=90)`` for other settings."""
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != f.default
        ]
        return f"{self.name}({', '.join(changed)})" if changed else self.name

    def route(self, state: SystemState, request: Request) -> Route:
        """Cloud when the planned local latency is above the objective times the margin."""
        planned = predicted_local_latency_s(state, self.percentile)
        if planned > self.margin * state.latency_objective_s:
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
        raise UnknownPolicyError(
            f"Unknown policy {name!r}.{did_you_mean(name, POLICIES, 2)} Known policies: "
            f"{', '.join(POLICIES)}."
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
        params[key.strip()] = _parse_value(value.strip(), key.strip())
    return make_policy(name, **params)


def _parse_value(text: str, key: str) -> int | float:
    """The number a spec writes (``3``, ``0.8``); the policy's own fields check its range."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise checks.invalid(key, text, "a number", owner="the policy")
