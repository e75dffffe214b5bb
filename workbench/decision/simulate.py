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
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from workbench.decision.arrivals import generate_arrivals
from workbench.decision.config import CloudConfig, HybridConfig
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
from workbench.decision.queue_stats import (
    interval_note,
    judge_steadiness,
    offered_capacity,
    queue_percentile_interval,
)
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

PolicySpec = RoutingPolicy | str | Mapping[str, Any]


@dataclass(frozen=True, eq=False)
class SimulationTrace:
    """What happened to every request of one simulation, times in seconds.

    ``cold_start`` marks the cloud requests that waited for a cold start (all false unless the
    cloud scales to zero); ``may_route_local``/``may_route_cloud`` are the policy's, and
    ``cloud_mean_s`` the mean of the cloud latencies drawn for the run.
    """

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
    cold_start: np.ndarray | None = None
    may_route_local: bool = True
    may_route_cloud: bool = True
    cloud_mean_s: float = math.nan

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

    Whether the latencies mean anything (see :mod:`workbench.decision.queue_stats`):
    ``overloaded`` is true when the offered load meets or exceeds the capacity the policy may
    use, or the run did not reach a steady state; then every latency figure (percentiles,
    their intervals, means, goodput, queue length) is NaN, never a number that only measures
    how long the simulation ran, and charts and the Pareto front leave the row out. ``status``
    is ``"ok"``, ``"overloaded: needs 3 workers (utilization 2.00 with 1; 3 bring it to
    0.67)"`` or ``"not steady: ..."``. ``offered_utilization`` is the stream's peak rate over
    that capacity (NaN when the policy can send any excess to an unlimited cloud);
    ``workers_needed`` the fewest local workers that carry the stream at 80% utilization or
    below, on overloaded rows (else ``None``); ``independent_latencies`` about how many
    independent latencies the correlated run is worth (NaN when not judged).

    ``p50_low_ms`` to ``p95_high_ms`` are 95% order-statistic intervals from nearly
    independent latencies; NaN with ``interval_note`` saying why ("too few samples ...", or no
    interval for a diurnal stream). ``cold_start_share`` is the share of requests that waited
    for the cloud to start. ``local_monthly_cost`` is the local workers' hardware, operations
    and energy (0 for a policy that never serves locally); ``monthly_cost`` adds the cloud's.
    A cost that cannot be known is NaN with ``cost_note`` saying why, never 0.
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
    overloaded: bool = False
    status: str = "ok"
    offered_utilization: float = math.nan
    workers_needed: int | None = None
    independent_latencies: float = math.nan
    p50_low_ms: float = math.nan
    p50_high_ms: float = math.nan
    p95_low_ms: float = math.nan
    p95_high_ms: float = math.nan
    interval_note: str = ""
    cold_start_share: float = 0.0
    local_monthly_cost: float = 0.0
    cost_note: str = ""

    @classmethod
    def from_trace(cls, trace: SimulationTrace, config: HybridConfig) -> PolicyResult:
        """Summarise a trace, judging its steadiness and pricing it with the config's costs."""
        latency_ms = trace.latency_s * 1000.0
        n = int(latency_ms.size)
        offloaded = float(np.count_nonzero(trace.offloaded)) / n
        span = trace.simulated_s
        capacity = trace.workers * span
        capacity_judged = offered_capacity(
            rate_per_s=config.arrivals.peak_rate_per_s,
            mean_service_s=config.local.mean_service_s,
            workers=trace.workers,
            cloud_mean_s=trace.cloud_mean_s,
            cloud_limit=config.cloud.concurrency_limit,
            may_route_local=trace.may_route_local,
            may_route_cloud=trace.may_route_cloud,
        )
        stationary = config.arrivals.pattern != "diurnal"
        # To the microsecond: ``finish - arrival`` carries rounding noise that grows with the
        # clock, which would read as a drift in a series of equal latencies.
        latency_us = np.round(latency_ms, 3)
        steady = judge_steadiness(latency_us, capacity_judged, stationary=stationary)
        cold = trace.cold_start
        return cls(
            policy=trace.policy,
            seed=trace.seed,
            num_requests=n,
            simulated_s=span,
            arrival_rate_per_s=n / span if span > 0 else math.nan,
            latency_objective_ms=float(config.latency_objective_s) * 1000.0,
            local_utilization=trace.local_busy_s / capacity if capacity > 0 else 0.0,
            offloaded_share=offloaded,
            overloaded=steady.overloaded,
            status=steady.status,
            offered_utilization=steady.utilization,
            workers_needed=steady.workers_needed,
            independent_latencies=steady.independent_latencies,
            cold_start_share=0.0 if cold is None else float(np.count_nonzero(cold)) / n,
            **_latency_figures(trace, config, latency_us, steady.overloaded, stationary),
            **_cost_figures(trace, config, offloaded),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyResult:
        """The inverse of :meth:`to_dict` (fields a dict lacks take their defaults)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def to_frame(self) -> pd.DataFrame:
        """A one-row table."""
        return pd.DataFrame([self.to_dict()])


#: The :class:`PolicyResult` fields an overloaded policy leaves NaN: its latency percentiles,
#: their intervals, means, queue length and goodput (a queue that grows without bound has no
#: latency to report, only a figure that measures how long the stream ran).
NO_LATENCY_FIELDS = (
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "mean_latency_ms",
    "mean_wait_ms",
    "mean_queue_length",
    "goodput_share",
    "p50_low_ms",
    "p50_high_ms",
    "p95_low_ms",
    "p95_high_ms",
)
_DIURNAL_NOTE = (
    "no interval: the arrival rate follows a day, so the latencies are not one stationary sample"
)


def _latency_figures(
    trace: SimulationTrace,
    config: HybridConfig,
    latency_ms: np.ndarray,
    overloaded: bool,
    stationary: bool,
) -> dict[str, Any]:
    """Percentiles, their intervals, means and goodput; NaN throughout for an overloaded run."""
    if overloaded:
        return dict.fromkeys(NO_LATENCY_FIELDS, math.nan)
    n = int(latency_ms.size)
    p50, p95, p99 = np.percentile(latency_ms, [50, 95, 99])
    figures: dict[str, Any] = {
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_latency_ms": float(latency_ms.mean()),
        "mean_wait_ms": float(trace.wait_s.mean() * 1000.0),
        "mean_queue_length": trace.mean_queue_length,
        "goodput_share": float(np.count_nonzero(trace.latency_s <= config.latency_objective_s)) / n,
    }
    if not stationary:
        figures["interval_note"] = _DIURNAL_NOTE
        return figures
    notes = []
    for percentile, point in ((50, p50), (95, p95)):
        interval = queue_percentile_interval(latency_ms, percentile, float(point))
        if interval.ok:
            figures[f"p{percentile}_low_ms"] = interval.low
            figures[f"p{percentile}_high_ms"] = interval.high
        notes.append(interval_note(interval, n))
    figures["interval_note"] = "; ".join(note for note in notes if note)
    return figures


def _cost_figures(trace: SimulationTrace, config: HybridConfig, offloaded: float) -> dict[str, Any]:
    """Local, cloud and total monthly cost, and why a cost is unknown when it is."""
    volume = float(config.requests_per_month)
    cloud = offloaded * volume * config.cloud.cost_per_request
    local, note = 0.0, ""
    if trace.may_route_local:
        if config.local_fixed_monthly_cost is None:
            local = math.nan
            note = config.local_cost_note or "the local workers' monthly cost is unknown"
        else:
            local = float(config.local_fixed_monthly_cost) + (
                (1.0 - offloaded) * volume * config.local_cost_per_request
            )
    return {
        "cloud_monthly_cost": float(cloud),
        "local_monthly_cost": local,
        "monthly_cost": local + float(cloud),
        "cost_note": note,
    }


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

    Notes
    -----
    With a cloud that scales to zero (:attr:`CloudConfig.scales_to_zero`), a request routed to
    the cloud after it has been idle longer than ``idle_timeout_s`` waits ``cold_start_s``
    before its cloud latency starts, and so does every request arriving during that start.
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
    fast = _single_queue_trace(chosen, config, seed, arrivals, service, cloud)
    if fast is not None:
        return fast
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
    loop = _EventLoop(state, arrivals, service, cloud, config.cloud)
    loop.run(chosen)
    return loop.trace(chosen, seed, arrivals, float(cloud.mean()))


def _single_queue_trace(
    policy: RoutingPolicy,
    config: HybridConfig,
    seed: int,
    arrivals: np.ndarray,
    service: np.ndarray,
    cloud: np.ndarray,
) -> SimulationTrace | None:
    """local-only and cloud-only without the event loop: one FIFO queue, same trace.

    Every request goes to one side, so no router looks at the state and each request simply
    takes the server that frees up first (the FIFO multi-server recursion). The time-averaged
    number waiting is the total wait over the simulated time. A cloud that scales to zero, or a
    policy other than exactly these two, returns ``None``: the event loop handles it.
    """
    kind = type(policy)
    if kind is LocalOnly:
        servers, durations, offloaded = config.local.workers, service, False
    elif kind is CloudOnly and not config.cloud.scales_to_zero:
        servers, durations, offloaded = config.cloud.concurrency_limit, cloud, True
    else:
        return None
    if servers is None:  # an unlimited cloud: nobody waits
        start = arrivals
        finish = arrivals + durations
    else:
        start, finish = _fifo(arrivals.tolist(), durations.tolist(), servers)
    last = float(finish.max())
    return SimulationTrace(
        policy=policy.label,
        seed=seed,
        arrival_s=arrivals,
        start_s=start,
        finish_s=finish,
        offloaded=np.full(arrivals.size, offloaded),
        local_busy_s=0.0 if offloaded else float(durations.sum()),
        workers=config.local.workers,
        mean_queue_length=float((start - arrivals).sum()) / last if last > 0 else 0.0,
        simulated_s=last,
        cold_start=np.zeros(arrivals.size, dtype=bool),
        may_route_local=policy.may_route_local,
        may_route_cloud=policy.may_route_cloud,
        cloud_mean_s=float(cloud.mean()),
    )


def _fifo(arrival: list[float], duration: list[float], servers: int) -> tuple[np.ndarray, ...]:
    """Start and finish times of a FIFO queue with ``servers`` identical servers."""
    free = [0.0] * servers  # a heap of the times each server frees up
    start, finish = [0.0] * len(arrival), [0.0] * len(arrival)
    replace = heapq.heapreplace
    for i, now in enumerate(arrival):
        first = free[0]
        begin = now if first <= now else first
        end = begin + duration[i]
        replace(free, end)
        start[i], finish[i] = begin, end
    return np.asarray(start), np.asarray(finish)


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
        The columns of :class:`PolicyResult`, in the order the policies were given. Rows with
        ``overloaded`` true have no latency figures; charts must leave them out.

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
    rows with a missing value are never on the front, and neither are rows marked
    ``overloaded`` (their latencies mean nothing; charts leave them out too).

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
    latency = table[latency_column].to_numpy(dtype=np.float64).copy()
    cost = table[cost_column].to_numpy(dtype=np.float64)
    if "overloaded" in table.columns:
        latency[table["overloaded"].fillna(True).to_numpy(dtype=bool)] = np.nan
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
        cloud_config: CloudConfig,
    ) -> None:
        n = int(arrivals.size)
        cloud_limit = cloud_config.concurrency_limit
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
        # Scale to zero: the cloud is warm at time 0 (idle since then); ``cloud_ready`` is when
        # the replica being started serves.
        self.scales_to_zero = cloud_config.scales_to_zero
        self.cold_start_s = float(cloud_config.cold_start_s)
        self.idle_timeout_s = (
            math.inf if cloud_config.idle_timeout_s is None else float(cloud_config.idle_timeout_s)
        )
        self.cloud_idle_since: float | None = 0.0
        self.cloud_ready = 0.0
        self.cold = np.zeros(n, dtype=bool)

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

    # The time-weighted queue length is advanced inline at each event (a method call per event
    # costs about a tenth of the loop).

    def _complete(self) -> None:
        now, _, slot, _ = heapq.heappop(self.heap)
        self.waiting_area += (len(self.waiting) + len(self.cloud_waiting)) * (now - self.last)
        self.last = now
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
            if state.cloud_in_flight == 0:
                self.cloud_idle_since = now

    def _arrive(self, policy: RoutingPolicy, i: int) -> None:
        now = self.arrival[i]
        self.waiting_area += (len(self.waiting) + len(self.cloud_waiting)) * (now - self.last)
        self.last = now
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
        service = self.service_s[j]
        self.start[j] = now
        self.finish[j] = end = now + service
        self.state._started_s[slot] = now
        self.local_busy += service
        heapq.heappush(self.heap, (end, self.sequence, slot, j))
        self.sequence += 1

    def _start_cloud(self, j: int, now: float) -> None:
        if self.scales_to_zero:
            now = self._warm_cloud(j, now)
        self.start[j] = now
        self.finish[j] = end = now + self.cloud_s[j]
        heapq.heappush(self.heap, (end, self.sequence, -1, j))
        self.sequence += 1

    def _warm_cloud(self, j: int, now: float) -> float:
        """When request ``j`` can start in the cloud: after a cold start if the cloud was idle
        past its timeout, or after the start already under way."""
        idle_since = self.cloud_idle_since
        if idle_since is not None:
            if now - idle_since > self.idle_timeout_s:
                self.cloud_ready = now + self.cold_start_s
            self.cloud_idle_since = None
        if self.cloud_ready > now:
            self.cold[j] = True
            return self.cloud_ready
        return now

    def trace(
        self, policy: RoutingPolicy, seed: int, arrivals: np.ndarray, cloud_mean_s: float
    ) -> SimulationTrace:
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
            cold_start=self.cold,
            may_route_local=policy.may_route_local,
            may_route_cloud=policy.may_route_cloud,
            cloud_mean_s=cloud_mean_s,
        )
