"""The discrete-event simulation of local workers with overflow to the cloud, and its summaries.

Time is virtual: the simulation jumps from event to event and never sleeps. Arrivals are drawn
up front; completions wait in a heap keyed by (time, sequence number), and a completion at the
same instant as an arrival is handled first, so the worker it frees can take the new request.

Every policy run with the same seed sees the same requests: the same arrival times, the same
local service time and the same cloud latency for request ``i`` (common random numbers), so
differences between policies are the policies', not the dice's.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from workbench.decision.arrivals import generate_arrivals
from workbench.decision.config import HybridConfig
from workbench.decision.policies import (
    CLOUD,
    LOCAL,
    CloudOnly,
    Deadline,
    LocalOnly,
    Overflow,
    Request,
    RoutingPolicy,
    SystemState,
    first_free_estimator,
    parse_policy,
    percentile_estimator,
    residual_estimator,
)
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

PolicySpec = RoutingPolicy | str | Mapping[str, Any]


@dataclass(frozen=True, eq=False)
class SimulationTrace:
    """What happened to every request of one simulation, times in seconds."""

    policy: str
    seed: int
    arrival_s: np.ndarray
    start_s: np.ndarray
    finish_s: np.ndarray
    offloaded: np.ndarray
    local_busy_s: float
    workers: int
    mean_queue_length: float
    simulated_s: float

    @property
    def latency_s(self) -> np.ndarray:
        """Arrival to completion, per request."""
        return self.finish_s - self.arrival_s

    @property
    def wait_s(self) -> np.ndarray:
        """Arrival to start of service (local queue or cloud queue), per request."""
        return self.start_s - self.arrival_s

    def to_frame(self) -> pd.DataFrame:
        """One row per request: arrival, start, finish, wait, latency and route."""
        return pd.DataFrame(
            {
                "arrival_s": self.arrival_s,
                "start_s": self.start_s,
                "finish_s": self.finish_s,
                "wait_s": self.wait_s,
                "latency_s": self.latency_s,
                "route": np.where(self.offloaded, CLOUD, LOCAL),
            }
        )


@dataclass(frozen=True)
class PolicyResult:
    """Summary of one policy on one simulated stream.

    Latencies and waits are in milliseconds over all requests, local and cloud. Goodput is the
    share of requests completed within the latency objective. ``mean_queue_length`` is the
    time-averaged number of requests waiting (local and cloud queues), and ``arrival_rate_per_s``
    the number of requests over the simulated time, so Little's law reads
    ``mean_queue_length = arrival_rate_per_s x mean_wait_ms / 1000``.
    """

    policy: str
    seed: int
    num_requests: int
    simulated_s: float
    arrival_rate_per_s: float
    latency_objective_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_latency_ms: float
    mean_wait_ms: float
    mean_queue_length: float
    goodput_share: float
    offloaded_share: float
    local_utilization: float
    cloud_monthly_cost: float
    monthly_cost: float

    @classmethod
    def from_trace(cls, trace: SimulationTrace, config: HybridConfig) -> PolicyResult:
        """Summarise a trace, pricing it with the config's volume and prices."""
        latency_ms = trace.latency_s * 1000.0
        n = int(latency_ms.size)
        p50, p95, p99 = np.percentile(latency_ms, [50, 95, 99])
        offloaded = float(np.count_nonzero(trace.offloaded)) / n
        span = trace.simulated_s
        capacity = trace.workers * span
        cloud_cost = offloaded * float(config.requests_per_month) * config.cloud.cost_per_request
        return cls(
            policy=trace.policy,
            seed=trace.seed,
            num_requests=n,
            simulated_s=span,
            arrival_rate_per_s=n / span if span > 0 else float("nan"),
            latency_objective_ms=float(config.latency_objective_s) * 1000.0,
            p50_ms=float(p50),
            p95_ms=float(p95),
            p99_ms=float(p99),
            mean_latency_ms=float(latency_ms.mean()),
            mean_wait_ms=float(trace.wait_s.mean() * 1000.0),
            mean_queue_length=trace.mean_queue_length,
            goodput_share=float(np.count_nonzero(trace.latency_s <= config.latency_objective_s))
            / n,
            offloaded_share=offloaded,
            local_utilization=trace.local_busy_s / capacity if capacity > 0 else 0.0,
            cloud_monthly_cost=float(cloud_cost),
            monthly_cost=float(config.local_fixed_monthly_cost) + float(cloud_cost),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyResult:
        """The inverse of :meth:`to_dict`."""
        return cls(**{f.name: data[f.name] for f in fields(cls)})

    def to_frame(self) -> pd.DataFrame:
        """A one-row table."""
        return pd.DataFrame([self.to_dict()])


def simulate_trace(config: HybridConfig, policy: PolicySpec, seed: int = 0) -> SimulationTrace:
    """Run one policy over a seeded request stream and keep every request's times.

    Parameters
    ----------
    config
        The stream, the local workers, the cloud and the latency objective.
    policy
        A policy, or a spec such as ``"overflow(k=3)"`` (see :func:`parse_policy`).
    seed
        Seeds the arrivals, local service times and cloud latencies (separate streams).

    Raises
    ------
    InvalidInputError
        For a bad seed, a stream with no requests, or a policy answering other than
        ``"local"``/``"cloud"``.
    """
    chosen = parse_policy(policy)
    checks.whole("seed", seed, 0)
    arrival_seed, service_seed, cloud_seed = np.random.SeedSequence(seed).spawn(3)
    arrivals = generate_arrivals(config.arrivals, np.random.default_rng(arrival_seed))
    n = int(arrivals.size)
    if n == 0:
        raise InvalidInputError(
            f"No request arrived within `duration_s` = {config.arrivals.duration_s} s at "
            f"`rate_per_s` = {config.arrivals.rate_per_s}: lengthen the duration or raise the rate."
        )
    service = config.local.draw(np.random.default_rng(service_seed), n)
    cloud = config.cloud.draw(np.random.default_rng(cloud_seed), n)
    local = config.local
    state = SystemState(
        workers=local.workers,
        mean_service_s=local.mean_service_s,
        latency_objective_s=float(config.latency_objective_s),
        expected_residual_s=residual_estimator(local.service_samples_s, local.mean_service_s),
        service_sd_s=local.service_sd_s,
        service_percentile_s=percentile_estimator(local.service_samples_s, local.mean_service_s),
        first_free_s=(
            None
            if local.service_samples_s is None
            else first_free_estimator(local.service_samples_s)
        ),
    )
    loop = _EventLoop(state, arrivals, service, cloud, config.cloud.concurrency_limit)
    loop.run(chosen)
    return loop.trace(chosen, seed, arrivals)


def simulate(config: HybridConfig, policy: PolicySpec, seed: int = 0) -> PolicyResult:
    """Run one policy over a seeded request stream and summarise it.

    Parameters
    ----------
    config
        The stream, the local workers, the cloud, the latency objective and the costs.
    policy
        A policy, or a spec such as ``"overflow(k=3)"`` (see :func:`parse_policy`).
    seed
        The same seed gives the same result.

    Returns
    -------
    PolicyResult
        Latency percentiles, goodput, share offloaded, utilization and monthly cost.
    """
    return PolicyResult.from_trace(simulate_trace(config, policy, seed), config)


def default_policies() -> tuple[RoutingPolicy, ...]:
    """The policies compared when none are named: both extremes, overflow at several k, deadline."""
    return (
        LocalOnly(),
        CloudOnly(),
        *(Overflow(k=k) for k in (0, 1, 2, 5, 10)),
        Deadline(),
    )


def compare_policies(
    config: HybridConfig, policies: Sequence[PolicySpec] | None = None, seed: int = 0
) -> pd.DataFrame:
    """Simulate each policy on the same seeded stream: one row per policy.

    Parameters
    ----------
    config
        The deployment to simulate.
    policies
        Policies or specs (``"overflow(k=3)"``); :func:`default_policies` when None.
    seed
        One seed for all, so every policy sees the same requests.

    Returns
    -------
    pandas.DataFrame
        The columns of :class:`PolicyResult`, in the order the policies were given.

    Raises
    ------
    InvalidInputError
        If no policy is given or one is given twice.
    """
    chosen = [parse_policy(p) for p in (default_policies() if policies is None else policies)]
    if not chosen:
        raise InvalidInputError("`policies` is empty: name at least one policy to simulate.")
    labels = [p.label for p in chosen]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise InvalidInputError(f"`policies` lists {', '.join(twice)} more than once.")
    rows = [simulate(config, p, seed).to_dict() for p in chosen]
    return pd.DataFrame(rows, columns=[f.name for f in fields(PolicyResult)])


def pareto_front(
    table: pd.DataFrame, latency_column: str = "p95_ms", cost_column: str = "monthly_cost"
) -> pd.DataFrame:
    """Mark the rows no other row beats on both latency and cost.

    A row is dominated when another row is no worse on both columns and better on at least one;
    rows with a missing value are never on the front.

    Parameters
    ----------
    table
        One row per option, e.g. from :func:`compare_policies`.
    latency_column, cost_column
        The two columns to minimise.

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with a boolean ``pareto`` column.

    Raises
    ------
    InvalidInputError
        If a column is missing.
    """
    for name in (latency_column, cost_column):
        if name not in table.columns:
            raise InvalidInputError(
                f"The table has no column {name!r} to rank by; it has: "
                f"{', '.join(map(str, table.columns))}."
            )
    latency = table[latency_column].to_numpy(dtype=np.float64)
    cost = table[cost_column].to_numpy(dtype=np.float64)
    no_worse = (latency[:, None] <= latency[None, :]) & (cost[:, None] <= cost[None, :])
    better = (latency[:, None] < latency[None, :]) | (cost[:, None] < cost[None, :])
    dominated = (no_worse & better).any(axis=0)
    out = table.copy()
    out["pareto"] = ~dominated & np.isfinite(latency) & np.isfinite(cost)
    return out


class _EventLoop:
    """The queues and clocks of one simulation; :meth:`run` replays the arrivals event by event."""

    def __init__(
        self,
        state: SystemState,
        arrivals: np.ndarray,
        service: np.ndarray,
        cloud: np.ndarray,
        cloud_limit: int | None,
    ) -> None:
        n = int(arrivals.size)
        self.state = state
        # Plain lists: indexing them is several times faster than numpy scalars in this loop.
        self.arrival, self.service_s, self.cloud_s = (
            arrivals.tolist(),
            service.tolist(),
            cloud.tolist(),
        )
        self.start = [0.0] * n
        self.finish = [0.0] * n
        self.offloaded = np.zeros(n, dtype=bool)
        self.free = list(range(state.workers - 1, -1, -1))
        self.waiting: deque[int] = deque()
        self.cloud_waiting: deque[int] = deque()
        self.cloud_slots = n if cloud_limit is None else cloud_limit
        # Completions: (time, sequence, worker slot or -1 for the cloud, request index).
        self.heap: list[tuple[float, int, int, int]] = []
        self.sequence = 0
        self.waiting_area = 0.0
        self.last = 0.0
        self.local_busy = 0.0

    def run(self, policy: RoutingPolicy) -> None:
        """Handle every completion and arrival in time order (completions first on a tie)."""
        arrival, heap, n = self.arrival, self.heap, len(self.arrival)
        i = 0
        while i < n or heap:
            if heap and (i == n or heap[0][0] <= arrival[i]):
                self._complete()
            else:
                self._arrive(policy, i)
                i += 1

    def _advance(self, now: float) -> None:
        self.waiting_area += (len(self.waiting) + len(self.cloud_waiting)) * (now - self.last)
        self.last = now

    def _complete(self) -> None:
        now, _, slot, _ = heapq.heappop(self.heap)
        self._advance(now)
        state = self.state
        if slot >= 0 and self.waiting:
            self._start_local(self.waiting.popleft(), slot, now)
        elif slot >= 0:
            state._started_s[slot] = None
            self.free.append(slot)
            state.busy_workers -= 1
        elif self.cloud_waiting:
            self._start_cloud(self.cloud_waiting.popleft(), now)
        else:
            state.cloud_in_flight -= 1

    def _arrive(self, policy: RoutingPolicy, i: int) -> None:
        now = self.arrival[i]
        self._advance(now)
        state = self.state
        state.now_s = now
        state.queue_length = len(self.waiting)
        state.cloud_queue_length = len(self.cloud_waiting)
        where = policy.route(state, Request(i, now))
        if where == LOCAL:
            if self.free:
                state.busy_workers += 1
                self._start_local(i, self.free.pop(), now)
            else:
                self.waiting.append(i)
        elif where == CLOUD:
            self.offloaded[i] = True
            if state.cloud_in_flight < self.cloud_slots:
                state.cloud_in_flight += 1
                self._start_cloud(i, now)
            else:
                self.cloud_waiting.append(i)
        else:
            raise InvalidInputError(
                f"Policy {policy.label!r} routed request {i} to {where!r}: `route` must return "
                f"{LOCAL!r} or {CLOUD!r}."
            )

    def _start_local(self, j: int, slot: int, now: float) -> None:
        self.start[j], self.finish[j] = now, now + self.service_s[j]
        self.state._started_s[slot] = now
        self.local_busy += self.service_s[j]
        self._push(self.finish[j], slot, j)

    def _start_cloud(self, j: int, now: float) -> None:
        self.start[j], self.finish[j] = now, now + self.cloud_s[j]
        self._push(self.finish[j], -1, j)

    def _push(self, time_s: float, slot: int, j: int) -> None:
        heapq.heappush(self.heap, (time_s, self.sequence, slot, j))
        self.sequence += 1

    def trace(self, policy: RoutingPolicy, seed: int, arrivals: np.ndarray) -> SimulationTrace:
        """Every request's times, once :meth:`run` is done."""
        return SimulationTrace(
            policy=policy.label,
            seed=seed,
            arrival_s=arrivals,
            start_s=np.asarray(self.start),
            finish_s=np.asarray(self.finish),
            offloaded=self.offloaded,
            local_busy_s=self.local_busy,
            workers=self.state.workers,
            mean_queue_length=self.waiting_area / self.last if self.last > 0 else 0.0,
            simulated_s=self.last,
        )
