"""Whether a simulated queue's percentiles describe the long run, and how precisely.

A routing simulation starts with empty queues and runs for a number of requests. Its latency
percentiles describe the deployment only if the queues settle into a steady state well within
the run; otherwise they measure how long the simulation ran. Three judgements, in order:

Overloaded (capacity)
    The stream's busiest rate (``ArrivalConfig.peak_rate_per_s``: the mean rate, or a diurnal
    stream's noon rate) against the capacity of the sides a policy may use:
    ``workers / mean service time`` locally, ``concurrency_limit / mean cloud latency`` in the
    cloud (unlimited when the cloud has no limit). Utilization ``rate / capacity >= 1`` means
    the queue grows without bound (at exactly 1 too: the queue is then null recurrent, its
    waits grow like the square root of the run). The row names the fewest workers (or cloud
    concurrency) that bring utilization to :data:`TARGET_UTILIZATION` (0.8) or below: a queue
    just under 1 is stable in theory but takes so long to settle that no run of a usable
    length shows its steady state (at 0.9 an M/M/1 queue needs about 20,000 requests, at 0.8
    a few thousand; see below).

Not steady (the run against the queue's memory)
    Consecutive latencies in a queue are correlated: a long wait follows a long wait. The
    integrated autocorrelation time ``tau = 1 + 2 sum_k rho_k`` of the latency series (Geyer's
    initial monotone sequence estimator, the usual one for correlated simulation output) is
    how many requests the queue takes to forget its state, and ``n / tau`` is how many nearly
    independent latencies the run holds. A run is steady when that is at least
    :data:`MIN_INDEPENDENT_LATENCIES`: the empty start, which takes a few ``tau`` to forget, is
    then a few percent of the run; a queue still growing or settling has correlations that do
    not die out within the run, so ``tau`` is of the order of the run and the check fails.
    Measured on M/M/1 (Poisson arrivals, exponential service, local-only), share of seeds
    judged not steady: utilization 0.5, 0% at 2,000 requests (16% at 300); 0.8, 2% at 5,000;
    0.9, 5% at 20,000 (52% at 5,000); 0.95, 95% at 2,000 (about one relaxation time of that
    queue), 56% at 20,000 and 0% at 200,000; 0.99, 98% at 20,000. The check applies to
    stationary streams (poisson, bursty, constant); a diurnal stream's latencies follow the
    simulated day by design, so for it only the capacity at its busiest rate is judged.

Intervals (how precisely)
    A percentile's interval comes from order statistics
    (:func:`workbench.kit.intervals.percentile_interval`), which assume independent samples.
    On all ``n`` correlated latencies that interval is far too narrow: on M/M/1 at 20,000
    requests it held the true p50 and p95 in 68% and 63% of runs at utilization 0.5, 28% and
    19% at 0.8. So the interval is computed on every ``k``-th latency,
    ``k = ceil(THINNING_FACTOR x tau_p)`` with ``tau_p`` the integrated autocorrelation time of
    the indicator ``latency <= p-th percentile`` (the series whose correlation sets a
    percentile's precision). That far apart the kept latencies are nearly independent (at
    twice ``tau_p`` the queue's slow busy-period swings still narrowed the p50 interval to 92%
    coverage at utilization 0.5); keeping fewer than all costs precision, not coverage. When
    the kept ones are fewer than the order statistics need, the row says "too few samples".
    Coverage of the 95% intervals on M/M/1 at 20,000 requests: p50 95.8% and p95 96.5% over
    400 runs at utilization 0.5; 94.0% and 96.6% (350 runs with a p95 interval) at 0.8; at
    0.9, p50 96.1% over 285 steady runs, and a p95 interval in only 27 of them (92.6%): the
    others say "too few samples". A diurnal stream gets no interval: its latencies are not
    one stationary sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.kit.intervals import PercentileInterval, percentile_interval

#: Utilization the "needs N workers" advice brings a queue to.
TARGET_UTILIZATION = 0.8
#: Nearly independent latencies a run must hold to count as steady.
MIN_INDEPENDENT_LATENCIES = 30
#: Latencies kept for an interval are this many autocorrelation times apart.
THINNING_FACTOR = 3.0
#: Lags examined for the autocorrelation time, as a share of the run.
_MAX_LAG_SHARE = 0.25


def autocorrelation_time(series: np.ndarray, max_lag: int | None = None) -> float:
    """The integrated autocorrelation time of a series: requests it takes to forget its state.

    Geyer's initial monotone sequence estimator: the sums of adjacent autocorrelations
    ``rho_2k + rho_2k+1`` are added while positive, each capped by the one before, and
    ``tau = 2 x their sum - 1``. 1 for an independent (or constant) series.

    Parameters
    ----------
    series
        The values in time order.
    max_lag
        The largest lag examined (default a quarter of the series).

    Returns
    -------
    float
        At least 1. When the sums are still positive at ``max_lag`` (a series still growing or
        settling, whose correlations do not die out) it is the sum so far: a lower bound, and
        for a drifting series already a large share of its length.
    """
    values = np.asarray(series, dtype=np.float64)
    n = int(values.size)
    if n < 2 or np.ptp(values) == 0:
        return 1.0
    centred = values - values.mean()
    lags = n - 1 if max_lag is None else min(int(max_lag), n - 1)
    lags = max(lags, 1)
    size = 1 << (n + lags).bit_length()  # no wrap-around up to ``lags``
    spectrum = np.fft.rfft(centred, size)
    covariance = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, size)[: lags + 1]
    if covariance[0] <= 0:
        return 1.0
    correlation = covariance / covariance[0]
    pairs = (lags + 1) // 2
    sums = correlation[: 2 * pairs].reshape(pairs, 2).sum(axis=1)
    ended = np.flatnonzero(sums <= 0)
    positive = np.minimum.accumulate(sums[: ended[0]] if ended.size else sums)
    return max(1.0, 2.0 * float(positive.sum()) - 1.0)


def independent_latencies(latency: np.ndarray) -> float:
    """``n / tau``: about how many independent latencies a correlated series is worth."""
    n = int(np.asarray(latency).size)
    if n == 0:
        return 0.0
    return n / autocorrelation_time(latency, max(1, int(n * _MAX_LAG_SHARE)))


def _ceil(value: float) -> int:
    return math.ceil(value - 1e-9)


@dataclass(frozen=True)
class Capacity:
    """The offered load against what a policy may use.

    ``utilization`` is the stream's peak rate over the capacity of the sides the policy may
    route to (NaN when it may send any excess to a cloud without a concurrency limit: no queue
    can grow there). ``workers_needed`` is the fewest local workers that carry the peak at
    :data:`TARGET_UTILIZATION` or below (with the cloud's limited capacity, if the policy uses
    it), ``None`` for a policy that never serves locally; ``cloud_needed`` the same for a
    limited cloud's concurrency, ``None`` when the cloud is unlimited or unused.
    """

    utilization: float
    workers: int
    workers_needed: int | None
    cloud_limit: int | None
    cloud_needed: int | None

    @property
    def overloaded(self) -> bool:
        """Whether the offered load meets or exceeds the capacity."""
        return self.utilization >= 1.0

    def advice(self) -> str:
        """``"needs 3 workers"``, ``"needs a cloud concurrency limit of 4"``, or both."""
        parts = []
        if self.workers_needed is not None:
            parts.append(f"{self.workers_needed} workers")
        if self.cloud_needed is not None:
            parts.append(f"a cloud concurrency limit of {self.cloud_needed}")
        return "needs " + " or ".join(parts) if parts else ""


def offered_capacity(
    *,
    rate_per_s: float,
    mean_service_s: float,
    workers: int,
    cloud_mean_s: float,
    cloud_limit: int | None,
    may_route_local: bool,
    may_route_cloud: bool,
) -> Capacity:
    """Utilization of the sides a policy may use at the stream's peak rate, and what would carry it.

    Parameters
    ----------
    rate_per_s
        The stream's busiest rate (:attr:`ArrivalConfig.peak_rate_per_s`).
    mean_service_s, workers
        The local side: mean service time and workers.
    cloud_mean_s, cloud_limit
        The cloud side: mean latency and concurrency limit (``None`` = unlimited).
    may_route_local, may_route_cloud
        Which sides the policy may send requests to.
    """
    local_rate = workers / mean_service_s if may_route_local and mean_service_s > 0 else 0.0
    unlimited_cloud = may_route_cloud and cloud_limit is None
    cloud_rate = 0.0
    if may_route_cloud and cloud_limit is not None:
        cloud_rate = cloud_limit / cloud_mean_s if cloud_mean_s > 0 else math.inf
    capacity = math.inf if unlimited_cloud else local_rate + cloud_rate
    utilization = math.nan if math.isinf(capacity) else rate_per_s / capacity
    required = rate_per_s / TARGET_UTILIZATION
    workers_needed = cloud_needed = None
    if may_route_local and not unlimited_cloud:
        workers_needed = max(1, _ceil((required - cloud_rate) * mean_service_s))
    if may_route_cloud and cloud_limit is not None and not math.isinf(cloud_rate):
        cloud_needed = max(1, _ceil((required - local_rate) * cloud_mean_s))
    return Capacity(utilization, workers, workers_needed, cloud_limit, cloud_needed)


@dataclass(frozen=True)
class Steadiness:
    """Whether a policy's latencies describe the long run: the columns a policy row shows.

    ``overloaded`` is true when they do not (capacity exceeded, or no steady state within the
    run): the row then shows no percentile and charts leave it out. ``status`` says ``"ok"`` or
    why not and what would fix it. ``independent_latencies`` is ``n / tau`` (NaN when not
    judged: a capacity overload, or a diurnal stream).
    """

    overloaded: bool
    status: str
    utilization: float
    workers_needed: int | None
    independent_latencies: float


def judge_steadiness(latency_s: np.ndarray, capacity: Capacity, *, stationary: bool) -> Steadiness:
    """Judge a policy's run: capacity first, then (stationary streams) the run's length.

    Parameters
    ----------
    latency_s
        Every request's latency, in arrival order.
    capacity
        From :func:`offered_capacity`.
    stationary
        Whether the arrival rate is constant over the run (not diurnal).
    """
    workers_needed = capacity.workers_needed
    if capacity.overloaded:
        status = f"overloaded: {capacity.advice()} (utilization {capacity.utilization:.2f}"
        if capacity.workers_needed is not None and capacity.cloud_needed is None:
            now = capacity.utilization * capacity.workers / capacity.workers_needed
            status += f" with {capacity.workers}; {capacity.workers_needed} bring it to {now:.2f}"
        status += ")"
        return Steadiness(True, status, capacity.utilization, workers_needed, math.nan)
    if not stationary:
        return Steadiness(False, "ok", capacity.utilization, None, math.nan)
    n = int(np.asarray(latency_s).size)
    independent = independent_latencies(latency_s)
    if independent >= MIN_INDEPENDENT_LATENCIES:
        return Steadiness(False, "ok", capacity.utilization, None, independent)
    status = (
        f"not steady: {n:,} requests hold about {independent:.0f} independent latencies "
        f"(need {MIN_INDEPENDENT_LATENCIES}), so the queue may still be settling or growing; "
    )
    if independent > 0 and math.isfinite(independent):
        wanted = _round_up(n * MIN_INDEPENDENT_LATENCIES / independent)
        status += f"simulate at least {wanted:,} requests"
    else:
        status += "simulate many more requests"
    if workers_needed is not None and workers_needed > capacity.workers:
        status += (
            f", or use {workers_needed} workers (utilization {capacity.utilization:.2f} "
            f"with {capacity.workers})"
        )
    return Steadiness(True, status, capacity.utilization, workers_needed, independent)


def _round_up(value: float) -> int:
    """Up to two significant digits: 38,412 -> 39,000."""
    if value <= 100:
        return _ceil(value)
    scale = 10 ** (int(math.log10(value)) - 1)
    return _ceil(value / scale) * scale


def queue_percentile_interval(
    latency: np.ndarray, percentile: float, point: float
) -> PercentileInterval:
    """The order-statistic interval of a percentile from nearly independent latencies.

    Keeps every ``k``-th latency, ``k = ceil(THINNING_FACTOR x tau)`` with ``tau`` the
    integrated autocorrelation time of ``latency <= point`` (see the module text), and applies
    :func:`workbench.kit.intervals.percentile_interval` to them; its ``count`` is then the
    number kept.

    Parameters
    ----------
    latency
        Latencies in arrival order (any unit).
    percentile
        E.g. 50 or 95.
    point
        The percentile's point estimate from all latencies.
    """
    values = np.asarray(latency, dtype=np.float64)
    below = (values <= point).astype(np.float64)
    tau = autocorrelation_time(below, max(1, int(values.size * _MAX_LAG_SHARE)))
    return percentile_interval(values[:: max(1, math.ceil(THINNING_FACTOR * tau))], percentile)


def interval_note(interval: PercentileInterval, total: int) -> str:
    """``""`` when the interval has bounds, else "too few samples for a p95 interval (n = 40
    nearly independent of 20,000; need ≥ 72)"."""
    if interval.ok:
        return ""
    return (
        f"too few samples for a p{interval.percentile:g} interval (n = {interval.count} nearly "
        f"independent of {total:,}; need ≥ {interval.needed})"
    )


__all__ = [
    "MIN_INDEPENDENT_LATENCIES",
    "TARGET_UTILIZATION",
    "THINNING_FACTOR",
    "Capacity",
    "Steadiness",
    "autocorrelation_time",
    "independent_latencies",
    "interval_note",
    "judge_steadiness",
    "offered_capacity",
    "queue_percentile_interval",
]
