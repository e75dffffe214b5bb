"""Honest queues: an overloaded or unsettled policy shows no percentiles; intervals that hold.

What a user sees, by utilization of one worker serving everything (local-only, M/M/1 with a
0.1 s mean service time):

* 0.5: "ok", with percentiles and their intervals.
* 0.95: stable in theory, but the queue needs a long run to show it. At 2,000 requests (about
  one relaxation time) the run is judged "not steady" (for 19 of 20 seeds; the one judged
  steady has too few independent latencies for a p95 interval); at 200,000 it is "ok" and its
  percentiles match the theory. Between, the status says which, seed by seed.
* 1.0 and 2.0: "overloaded: needs N workers", no percentiles.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.decision import (
    ArrivalConfig,
    CloudConfig,
    HybridConfig,
    LocalServiceConfig,
    RoutingPolicy,
    compare_policies,
    pareto_front,
    simulate,
)
from workbench.decision.queue_stats import autocorrelation_time
from workbench.decision.simulate import NO_LATENCY_FIELDS

MEAN_SERVICE_S = 0.1


def mm1(utilization: float, num_requests: int = 20_000, **arrivals) -> HybridConfig:
    """One worker, exponential 0.1 s service, Poisson arrivals at the given utilization."""
    return HybridConfig(
        local=LocalServiceConfig(workers=1, service_mean_s=MEAN_SERVICE_S),
        cloud=CloudConfig(latency_samples_s=(0.2,)),
        arrivals=ArrivalConfig(
            rate_per_s=utilization / MEAN_SERVICE_S, num_requests=num_requests, **arrivals
        ),
    )


def mm1_percentile_ms(utilization: float, percentile: float) -> float:
    """M/M/1 FIFO time in system is exponential with rate mu - lambda."""
    rate = (1.0 - utilization) / MEAN_SERVICE_S
    return -math.log(1.0 - percentile / 100.0) / rate * 1000.0


def no_latency_figures(result) -> bool:
    return all(math.isnan(getattr(result, name)) for name in NO_LATENCY_FIELDS)


# The four utilizations


def test_half_loaded_queue_is_ok_with_percentiles_and_intervals():
    """At utilization 0.5 the row is ok, and the intervals hold the M/M/1 p50 and p95."""
    result = simulate(mm1(0.5), "local-only", seed=0)

    assert result.status == "ok" and not result.overloaded
    assert result.p50_low_ms <= mm1_percentile_ms(0.5, 50) <= result.p50_high_ms
    assert result.p95_low_ms <= mm1_percentile_ms(0.5, 95) <= result.p95_high_ms
    assert result.interval_note == ""


def test_queue_at_095_is_not_steady_in_a_short_run():
    """At 0.95, 2,000 requests are about one relaxation time: judged not steady, no figures."""
    results = [simulate(mm1(0.95, 2_000), "local-only", seed=seed) for seed in range(20)]

    unsettled = [r for r in results if r.overloaded]
    assert len(unsettled) >= 19
    assert all(r.status.startswith("not steady") and no_latency_figures(r) for r in unsettled)
    assert all("too few samples for a p95" in r.interval_note for r in results if not r.overloaded)


def test_queue_at_095_says_how_to_settle_it():
    """The not-steady row names a run length and the workers that would bring it to 0.8."""
    result = simulate(mm1(0.95, 2_000), "local-only", seed=1)

    assert "simulate at least" in result.status
    assert "or use 2 workers" in result.status
    assert result.workers_needed == 2


def test_queue_at_095_reaches_steady_state_in_a_long_run():
    """At 0.95, 200,000 requests settle: ok, and the intervals hold the M/M/1 percentiles."""
    result = simulate(mm1(0.95, 200_000), "local-only", seed=0)

    assert result.status == "ok"
    assert result.p50_low_ms <= mm1_percentile_ms(0.95, 50) <= result.p50_high_ms
    assert result.p95_low_ms <= mm1_percentile_ms(0.95, 95) <= result.p95_high_ms


@pytest.mark.parametrize(
    ("utilization", "workers"),
    [(1.0, 2), (2.0, 3)],
    ids=["utilization 1.0", "utilization 2.0"],
)
def test_saturated_queue_is_overloaded_and_names_the_workers_it_needs(utilization, workers):
    """At utilization 1.0 and 2.0: overloaded, no latency figure, and the workers for <= 0.8."""
    result = simulate(mm1(utilization), "local-only", seed=0)

    assert result.overloaded
    assert result.status.startswith(f"overloaded: needs {workers} workers")
    assert result.workers_needed == workers
    assert result.offered_utilization == pytest.approx(utilization)
    assert no_latency_figures(result)


def test_overloaded_row_still_reports_what_is_not_a_latency():
    """An overloaded row keeps its share offloaded, its measured utilization and its cost."""
    result = simulate(mm1(2.0), "local-only", seed=0)

    assert result.offloaded_share == 0.0
    assert result.local_utilization == pytest.approx(1.0, abs=0.01)
    assert result.monthly_cost == 0.0  # the config prices the worker at 0


# Other ways to overload


def test_diurnal_stream_is_judged_at_its_busiest_rate():
    """A day averaging 0.8 with a 50% swing peaks at 1.2: overloaded, though the mean is not."""
    result = simulate(mm1(0.8, period_s=500.0, amplitude=0.5, pattern="diurnal"), "local-only")

    assert result.overloaded
    assert result.offered_utilization == pytest.approx(1.2)


def test_diurnal_stream_within_capacity_has_percentiles_but_no_interval():
    """A day peaking at 0.9 gets percentiles; no interval, since its latencies follow the day."""
    result = simulate(mm1(0.6, period_s=500.0, amplitude=0.5, pattern="diurnal"), "local-only")

    assert result.status == "ok"
    assert not math.isnan(result.p95_ms) and math.isnan(result.p95_low_ms)
    assert result.interval_note.startswith("no interval: the arrival rate follows a day")


def test_cloud_with_a_concurrency_limit_can_be_overloaded():
    """cloud-only, one request at a time of 0.3 s, 5 requests/s: 1.5x, needs a limit of 2."""
    config = HybridConfig(
        local=LocalServiceConfig(service_mean_s=MEAN_SERVICE_S),
        cloud=CloudConfig(latency_samples_s=(0.3,), concurrency_limit=1),
        arrivals=ArrivalConfig(rate_per_s=5.0, num_requests=5_000),
    )

    cloud = simulate(config, "cloud-only")
    overflow = simulate(config, "overflow(k=0)")

    assert cloud.status.startswith("overloaded: needs a cloud concurrency limit of 2")
    assert overflow.status == "ok"  # the local worker takes what the cloud cannot


def test_a_custom_policy_whose_queue_grows_is_caught_by_the_steady_state_check():
    """A custom policy may use the cloud, so capacity cannot be judged; its growing waits can."""

    class KeepsEverything(RoutingPolicy):
        name = "keeps-everything"

        def route(self, state, request):
            return "local"

    result = simulate(mm1(1.5), KeepsEverything(), seed=0)

    assert result.status.startswith("not steady")
    assert no_latency_figures(result)


# Intervals


def test_interval_says_too_few_samples_when_the_run_is_short():
    """500 requests at 0.5 hold fewer nearly independent latencies than a p95 interval needs."""
    result = simulate(mm1(0.5, 500), "local-only", seed=0)

    assert result.status == "ok" and not math.isnan(result.p95_ms)
    assert math.isnan(result.p95_low_ms) and not math.isnan(result.p50_low_ms)
    assert "too few samples for a p95 interval" in result.interval_note
    assert "need ≥ 72" in result.interval_note


def test_queue_intervals_hold_their_coverage_despite_correlated_latencies():
    """Over 300 runs of M/M/1 at 0.7 (10,000 requests) the 95% intervals of p50 and p95 hold
    the true percentile in 93% to 99% of the runs that give one."""
    truth = {p: mm1_percentile_ms(0.7, p) for p in (50, 95)}
    held = {50: [], 95: []}

    for seed in range(300):
        result = simulate(mm1(0.7, 10_000), "local-only", seed=seed)
        for p in (50, 95):
            low, high = getattr(result, f"p{p}_low_ms"), getattr(result, f"p{p}_high_ms")
            if not math.isnan(low):
                held[p].append(low <= truth[p] <= high)

    assert len(held[50]) == 300 and len(held[95]) >= 250
    assert 0.93 <= np.mean(held[50]) <= 0.99
    assert 0.93 <= np.mean(held[95]) <= 0.99


def test_autocorrelation_time_of_independent_values_is_one():
    """Independent draws forget at once: tau near 1."""
    values = np.random.default_rng(0).normal(size=20_000)

    assert autocorrelation_time(values) == pytest.approx(1.0, abs=0.1)


def test_autocorrelation_time_of_an_ar1_series_matches_theory():
    """AR(1) with coefficient 0.8 has tau = (1 + 0.8) / (1 - 0.8) = 9."""
    rng = np.random.default_rng(0)
    noise = rng.normal(size=100_000)
    values = np.empty_like(noise)
    values[0] = noise[0]
    for i in range(1, values.size):
        values[i] = 0.8 * values[i - 1] + noise[i]

    assert autocorrelation_time(values) == pytest.approx(9.0, rel=0.15)


def test_autocorrelation_time_of_a_drifting_series_is_a_large_share_of_it():
    """A series that keeps growing has correlations that never die out: tau is huge."""
    values = np.arange(10_000.0) + np.random.default_rng(0).normal(size=10_000)

    assert autocorrelation_time(values, max_lag=2_500) > 10_000 / 30


def test_constant_series_counts_as_independent():
    """Equal latencies carry no correlation: tau is 1."""
    assert autocorrelation_time(np.full(100, 0.3)) == 1.0


# Tables and charts


def test_overloaded_rows_are_never_on_the_pareto_front():
    """A row marked overloaded cannot be on the front, however good its numbers look."""
    table = pd.DataFrame(
        {
            "policy": ["a", "b"],
            "p95_ms": [10.0, 100.0],
            "monthly_cost": [1.0, 5.0],
            "overloaded": [True, False],
        }
    )

    assert pareto_front(table)["pareto"].tolist() == [False, True]


def test_compare_policies_marks_overloaded_rows_for_charts_to_leave_out():
    """At 150% load local-only is overloaded and off the front; the offloading policies are not."""
    table = pareto_front(compare_policies(mm1(1.5, 5_000), seed=0)).set_index("policy")

    assert table.loc["local-only", "overloaded"]
    assert not table.loc["local-only", "pareto"]
    assert not table.loc["overflow(k=2)", "overloaded"]
    assert table.loc["cloud-only", "status"] == "ok"
