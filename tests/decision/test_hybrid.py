"""Hybrid routing simulation: queueing theory, policies, arrivals, Pareto front and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.decision import (
    ArrivalConfig,
    CloudConfig,
    CloudOnly,
    Deadline,
    HybridConfig,
    LocalOnly,
    LocalServiceConfig,
    NetworkModel,
    Overflow,
    PolicyResult,
    RoutingPolicy,
    SimulationTooLargeError,
    SystemState,
    UnknownPatternError,
    UnknownPolicyError,
    compare_policies,
    default_policies,
    diurnal_rate_per_s,
    first_free_estimator,
    generate_arrivals,
    make_policy,
    pareto_front,
    parse_policy,
    percentile_estimator,
    predicted_local_latency_s,
    residual_estimator,
    simulate,
    simulate_trace,
)
from workbench.kit.errors import InvalidInputError


def exponential_config(workers: int, utilization: float, num_requests: int) -> HybridConfig:
    """M/M/c: Poisson arrivals, exponential service with mean 0.1 s, at the given utilization."""
    mean_service_s = 0.1
    return HybridConfig(
        local=LocalServiceConfig(workers=workers, service_mean_s=mean_service_s),
        cloud=CloudConfig(latency_samples_s=(0.2,)),
        arrivals=ArrivalConfig(
            rate_per_s=utilization * workers / mean_service_s, num_requests=num_requests
        ),
    )


def hand_config(**overrides) -> HybridConfig:
    """Four requests at 1, 2, 3 and 4 s; one worker taking exactly 1.5 s; cloud exactly 0.3 s."""
    values = {
        "local": LocalServiceConfig(workers=1, service_samples_s=(1.5,)),
        "cloud": CloudConfig(latency_samples_s=(0.3,), cost_per_request=0.01),
        "arrivals": ArrivalConfig(pattern="constant", rate_per_s=1.0, num_requests=4),
        "latency_objective_s": 2.0,
        "requests_per_month": 1000.0,
        "local_fixed_monthly_cost": 100.0,
    }
    return HybridConfig(**{**values, **overrides})


def overload_config() -> HybridConfig:
    """One worker with exponential 0.1 s service and 15 requests/s: 150% of its capacity."""
    return HybridConfig(
        local=LocalServiceConfig(workers=1, service_mean_s=0.1),
        cloud=CloudConfig(latency_samples_s=(0.3,)),
        arrivals=ArrivalConfig(rate_per_s=15.0, num_requests=20_000),
        latency_objective_s=1.0,
    )


def mixed_config(num_requests: int = 5_000) -> HybridConfig:
    """Two workers on bootstrapped samples near saturation, cloud from a network model."""
    return HybridConfig(
        local=LocalServiceConfig(workers=2, service_samples_s=(0.05, 0.1, 0.2, 0.3)),
        cloud=CloudConfig(
            sampler=NetworkModel(floor_s=0.2, extra_mean_s=0.05), cost_per_request=2e-3
        ),
        arrivals=ArrivalConfig(pattern="bursty", rate_per_s=12.0, num_requests=num_requests),
        latency_objective_s=0.8,
        local_fixed_monthly_cost=400.0,
    )


def steady_pair_config() -> HybridConfig:
    """Two workers taking 0.95-1.05 s, 2.4 requests/s (120% load), objective 1.5 s."""
    return HybridConfig(
        local=LocalServiceConfig(workers=2, service_samples_s=(0.95, 1.0, 1.05)),
        cloud=CloudConfig(latency_samples_s=(0.3,)),
        arrivals=ArrivalConfig(rate_per_s=2.4, num_requests=5_000),
        latency_objective_s=1.5,
    )


def erlang_c(workers: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c, with offered load a = lambda / mu."""
    utilization = offered_load / workers
    tail = offered_load**workers / math.factorial(workers) / (1 - utilization)
    head = sum(offered_load**k / math.factorial(k) for k in range(workers))
    return tail / (head + tail)


def inter_arrival_cv(times: np.ndarray) -> float:
    gaps = np.diff(times)
    return float(gaps.std() / gaps.mean())


# Queueing theory


def test_mm1_mean_wait_matches_formula():
    """M/M/1 at utilization 0.7: mean wait in queue is rho / (mu - lambda) within 5%."""
    # Prepare
    config = exponential_config(workers=1, utilization=0.7, num_requests=500_000)
    mu, lam = 10.0, 7.0
    expected_s = (lam / mu) / (mu - lam)

    # Execute
    result = simulate(config, "local-only", seed=0)

    # Assert
    assert result.mean_wait_ms / 1000 == pytest.approx(expected_s, rel=0.05)


def test_mmc_mean_wait_matches_erlang_c():
    """M/M/4 at utilization 0.7: mean wait in queue is C(c, a) / (c mu - lambda) within 5%."""
    # Prepare
    config = exponential_config(workers=4, utilization=0.7, num_requests=500_000)
    mu, lam = 10.0, 28.0
    expected_s = erlang_c(4, lam / mu) / (4 * mu - lam)

    # Execute
    result = simulate(config, "local-only", seed=0)

    # Assert
    assert result.mean_wait_ms / 1000 == pytest.approx(expected_s, rel=0.05)


def test_local_utilization_matches_offered_load():
    """M/M/2 at utilization 0.7 keeps its workers busy 70% of the time, within 2%."""
    config = exponential_config(workers=2, utilization=0.7, num_requests=200_000)

    result = simulate(config, "local-only", seed=0)

    assert result.local_utilization == pytest.approx(0.7, rel=0.02)


def test_littles_law_links_queue_length_and_wait():
    """Time-averaged number waiting equals arrival rate times mean wait, both queues counted."""
    # Prepare: a cloud limited to one request at a time, so both queues fill.
    base = exponential_config(workers=2, utilization=0.9, num_requests=20_000)
    config = HybridConfig(
        local=base.local,
        cloud=CloudConfig(latency_samples_s=(0.05, 0.1), concurrency_limit=1),
        arrivals=base.arrivals,
    )

    # Execute
    result = simulate(config, Overflow(k=2), seed=3)

    # Assert
    assert result.mean_queue_length > 0.5
    assert result.mean_queue_length == pytest.approx(
        result.arrival_rate_per_s * result.mean_wait_ms / 1000, rel=1e-9
    )


# Reproducibility


@pytest.mark.parametrize("policy", default_policies(), ids=lambda p: p.label)
def test_same_seed_gives_identical_results(policy: RoutingPolicy):
    """Every policy run twice with one seed gives the same result, field for field."""
    config = mixed_config()

    first = simulate(config, policy, seed=11)
    second = simulate(config, policy, seed=11)

    assert first.to_dict() == second.to_dict()


@pytest.mark.parametrize("policy", default_policies(), ids=lambda p: p.label)
def test_different_seed_gives_different_results(policy: RoutingPolicy):
    """Every policy run with two seeds gives two different latency distributions."""
    config = mixed_config()

    first = simulate(config, policy, seed=11)
    second = simulate(config, policy, seed=12)

    assert first.p95_ms != second.p95_ms


def test_policies_see_the_same_requests_for_one_seed():
    """Two policies on one seed get the same arrival times (common random numbers)."""
    config = mixed_config()

    local = simulate_trace(config, "local-only", seed=5)
    cloud = simulate_trace(config, "cloud-only", seed=5)

    np.testing.assert_array_equal(local.arrival_s, cloud.arrival_s)


# Policies


def test_local_only_offloads_nothing():
    """local-only serves every request locally."""
    result = simulate(mixed_config(), LocalOnly(), seed=0)

    assert result.offloaded_share == 0.0


def test_cloud_only_offloads_everything_and_idles_local_workers():
    """cloud-only sends every request to the cloud; the local workers never work."""
    result = simulate(mixed_config(), CloudOnly(), seed=0)

    assert result.offloaded_share == 1.0
    assert result.local_utilization == 0.0


def test_overflow_with_no_queue_offloads_more_than_with_five():
    """overflow with k=0 sends a larger share to the cloud than with k=5."""
    config = mixed_config()

    none_waiting = simulate(config, Overflow(k=0), seed=0)
    five_waiting = simulate(config, Overflow(k=5), seed=0)

    assert none_waiting.offloaded_share > five_waiting.offloaded_share > 0


def test_overflow_hand_case_routes_requests_that_would_wait():
    """overflow(k=0), 1.5 s service, arrivals 1 s apart: requests 2 and 4 find the worker busy."""
    trace = simulate_trace(hand_config(), Overflow(k=0))

    assert trace.offloaded.tolist() == [False, True, False, True]


def test_overflow_with_room_for_one_keeps_the_hand_case_local():
    """overflow(k=1) in the hand case never finds a request already waiting: all stay local."""
    trace = simulate_trace(hand_config(), Overflow(k=1))

    assert not trace.offloaded.any()


def test_deadline_hand_case_offloads_the_request_predicted_late():
    """deadline, objective 2 s: request 3 would wait 1 s then take 1.5 s, so it goes to the cloud."""
    # Request 2 arrives with the worker 0.5 s from done (predicted 2.0 s: kept);
    # request 3 arrives 0.5 s into request 2 (predicted 1.0 + 1.5 = 2.5 s: offloaded);
    # request 4 arrives as request 2 completes (predicted 1.5 s: kept).
    trace = simulate_trace(hand_config(), Deadline())

    assert trace.offloaded.tolist() == [False, False, True, False]


@pytest.mark.parametrize(
    "config",
    [overload_config(), mixed_config(20_000), steady_pair_config()],
    ids=["exponential at 150% load", "bursty on samples", "two steady workers at 120% load"],
)
def test_deadline_keeps_p95_within_the_objective_where_local_only_cannot(config):
    """Where local-only is overloaded (no percentiles), deadline's p95 meets the objective."""
    # Before the overload check local-only printed a p95 above the objective here; with the
    # queue overloaded (or, bursty at 97.5%, not steady) that number only measured the run.
    local = simulate(config, "local-only", seed=0)
    deadline = simulate(config, "deadline", seed=0)

    assert local.overloaded
    assert math.isnan(local.p95_ms)
    assert not deadline.overloaded
    assert deadline.p95_ms <= deadline.latency_objective_ms


def test_deadline_planning_on_the_median_overshoots_where_p95_planning_does_not():
    """At 150% load planning on the median lets p95 pass the objective; on the p95 it does not."""
    config = overload_config()

    median = simulate(config, Deadline(percentile=50), seed=0)
    p95 = simulate(config, Deadline(percentile=95), seed=0)

    assert median.p95_ms > median.latency_objective_ms
    assert p95.p95_ms <= p95.latency_objective_ms
    assert p95.offloaded_share > median.offloaded_share  # the price of meeting it


def test_deadline_with_margin_keeps_p95_within_the_objective_under_overload():
    """At 150% load, deadline planning for 70% of the objective keeps p95 under the objective."""
    result = simulate(overload_config(), Deadline(margin=0.7), seed=0)

    assert result.p95_ms <= result.latency_objective_ms


def test_local_only_hand_case_waits_grow_request_by_request():
    """1.5 s service, arrivals 1 s apart: latencies 1.5, 2, 2.5, 3 s, waits 0, 0.5, 1, 1.5 s."""
    trace = simulate_trace(hand_config(), "local-only")

    assert trace.latency_s.tolist() == pytest.approx([1.5, 2.0, 2.5, 3.0])
    assert trace.wait_s.tolist() == pytest.approx([0.0, 0.5, 1.0, 1.5])


def test_local_only_hand_case_is_overloaded_and_names_the_workers_it_needs():
    """1.5 s of work a second on one worker is 150% load: no percentiles, needs 2 workers."""
    # This case used to report p50 2,250 ms and goodput 50%: figures of a queue that grows.
    result = simulate(hand_config(), "local-only")

    assert result.overloaded
    assert result.offered_utilization == pytest.approx(1.5)
    assert result.workers_needed == 2
    assert result.status.startswith("overloaded: needs 2 workers")
    assert math.isnan(result.p50_ms) and math.isnan(result.goodput_share)


def test_goodput_hand_case():
    """overflow(k=0), 1.5 s service, arrivals 1 s apart: local 1.5 s and cloud 0.3 s alternate,
    so half meet a 1 s objective, nobody waits, and the median is halfway, 0.9 s."""
    config = hand_config(
        arrivals=ArrivalConfig(pattern="constant", rate_per_s=1.0, num_requests=40),
        latency_objective_s=1.0,
    )

    result = simulate(config, Overflow(k=0))

    assert result.status == "ok"
    assert result.goodput_share == pytest.approx(0.5)
    assert result.mean_wait_ms == pytest.approx(0.0)
    assert result.p50_ms == pytest.approx(900.0)


def test_monthly_cost_is_fixed_plus_offloaded_share_times_volume_times_price():
    """Half of 1000 requests a month at 0.01 each, on top of 100 fixed, costs 105."""
    result = simulate(hand_config(), Overflow(k=0))

    assert result.cloud_monthly_cost == pytest.approx(5.0)
    assert result.monthly_cost == pytest.approx(105.0)


def test_cloud_only_pays_no_local_workers():
    """cloud-only needs no local worker: 1000 requests at 0.01 cost 10, with no fixed 100."""
    result = simulate(hand_config(), CloudOnly())

    assert result.local_monthly_cost == 0.0
    assert result.monthly_cost == pytest.approx(10.0)


def test_local_cost_per_request_is_paid_for_local_requests_only():
    """Half of 1000 requests served locally at 0.002 each add 1 to the fixed 100 and cloud 5."""
    result = simulate(hand_config(local_cost_per_request=0.002), Overflow(k=0))

    assert result.local_monthly_cost == pytest.approx(101.0)
    assert result.monthly_cost == pytest.approx(106.0)


def test_unknown_local_cost_is_nan_with_its_reason_never_zero():
    """Local workers that cannot be priced leave every policy using them unpriced, saying why."""
    config = hand_config(local_fixed_monthly_cost=None, local_cost_note="no local option")

    overflow = simulate(config, Overflow(k=0))
    cloud = simulate(config, CloudOnly())

    assert math.isnan(overflow.monthly_cost) and overflow.cost_note == "no local option"
    assert overflow.cloud_monthly_cost == pytest.approx(5.0)
    assert cloud.monthly_cost == pytest.approx(10.0) and cloud.cost_note == ""


def test_cloud_concurrency_limit_queues_cloud_requests():
    """A cloud taking one request at a time, 1.5 s each, makes requests 1 s apart wait 0, 0.5, 1 s."""
    config = hand_config(
        cloud=CloudConfig(latency_samples_s=(1.5,), concurrency_limit=1),
        arrivals=ArrivalConfig(pattern="constant", rate_per_s=1.0, num_requests=3),
    )

    trace = simulate_trace(config, "cloud-only")

    assert trace.wait_s.tolist() == pytest.approx([0.0, 0.5, 1.0])


def test_policy_answering_neither_local_nor_cloud_raises():
    """A custom policy that routes to 'edge' is refused with the accepted answers named."""

    class Edge(RoutingPolicy):
        name = "edge"

        def route(self, state, request):
            return "edge"

    with pytest.raises(InvalidInputError, match="'local' or 'cloud'"):
        simulate(hand_config(), Edge())


class LocalOnlyByTheLoop(LocalOnly):
    """local-only under another name, so the event loop runs it instead of the FIFO shortcut."""

    name = "local-only-by-the-loop"


class CloudOnlyByTheLoop(CloudOnly):
    """cloud-only under another name, run by the event loop."""

    name = "cloud-only-by-the-loop"


@pytest.mark.parametrize(
    ("config", "fast", "loop"),
    [
        (exponential_config(3, 0.9, 5_000), LocalOnly(), LocalOnlyByTheLoop()),
        (mixed_config(), LocalOnly(), LocalOnlyByTheLoop()),
        (mixed_config(), CloudOnly(), CloudOnlyByTheLoop()),
        (
            hand_config(cloud=CloudConfig(latency_samples_s=(0.5, 2.5), concurrency_limit=2)),
            CloudOnly(),
            CloudOnlyByTheLoop(),
        ),
    ],
    ids=["M/M/3", "local on samples", "unlimited cloud", "cloud of two"],
)
def test_single_queue_shortcut_matches_the_event_loop(config, fast, loop):
    """local-only and cloud-only without the event loop give the event loop's trace."""
    shortcut = simulate_trace(config, fast, seed=4)
    looped = simulate_trace(config, loop, seed=4)

    np.testing.assert_array_equal(shortcut.start_s, looped.start_s)
    np.testing.assert_array_equal(shortcut.finish_s, looped.finish_s)
    assert shortcut.local_busy_s == pytest.approx(looped.local_busy_s)
    assert shortcut.mean_queue_length == pytest.approx(looped.mean_queue_length)
    assert shortcut.simulated_s == looped.simulated_s


# Scale to zero


def cold_config(rate_per_s: float, num_requests: int, cold_start_s: float, idle_timeout_s: float):
    """Constant arrivals, a cloud taking exactly 0.3 s that scales to zero."""
    return hand_config(
        cloud=CloudConfig(
            latency_samples_s=(0.3,), cold_start_s=cold_start_s, idle_timeout_s=idle_timeout_s
        ),
        arrivals=ArrivalConfig(
            pattern="constant", rate_per_s=rate_per_s, num_requests=num_requests
        ),
    )


def test_cold_start_is_paid_after_the_idle_timeout_only():
    """Requests 10 s apart, 8 s timeout, 2 s cold start: the first finds the cloud idle 10 s
    (cold, 2.3 s), the second idle 7.7 s (warm, 0.3 s), the third idle 9.7 s (cold again)."""
    trace = simulate_trace(cold_config(0.1, 3, 2.0, 8.0), "cloud-only")

    assert trace.latency_s.tolist() == pytest.approx([2.3, 0.3, 2.3])
    assert trace.cold_start.tolist() == [True, False, True]


def test_requests_arriving_during_a_cold_start_wait_for_it():
    """1 s apart, 1.5 s cold start, 0.5 s timeout: request 1 starts the cloud (ready at 2.5 s),
    request 2 waits for it (0.8 s), request 3 finds it warm 0.2 s after the last finished."""
    trace = simulate_trace(cold_config(1.0, 3, 1.5, 0.5), "cloud-only")

    assert trace.latency_s.tolist() == pytest.approx([1.8, 0.8, 0.3])
    assert trace.wait_s.tolist() == pytest.approx([1.5, 0.5, 0.0])
    assert simulate(cold_config(1.0, 3, 1.5, 0.5), "cloud-only").cold_start_share == (
        pytest.approx(2 / 3)
    )


def test_without_an_idle_timeout_the_cloud_never_goes_cold():
    """The default cloud (no idle timeout) serves every request in its own latency."""
    trace = simulate_trace(hand_config(), "cloud-only")

    assert trace.latency_s.tolist() == pytest.approx([0.3] * 4)
    assert not trace.cold_start.any()


def test_overflow_pays_the_cold_start_on_its_first_offloaded_request():
    """overflow(k=0) in the hand case sends requests 2 and 4 to a cloud with a 1 s timeout:
    both find it idle longer (2 s, then 1.2 s) and pay the 0.5 s cold start."""
    config = hand_config(
        cloud=CloudConfig(latency_samples_s=(0.3,), cold_start_s=0.5, idle_timeout_s=1.0)
    )

    trace = simulate_trace(config, Overflow(k=0))

    assert trace.latency_s.tolist() == pytest.approx([1.5, 0.8, 1.5, 0.8])


# The deadline predictor


def test_residual_estimator_from_samples():
    """Samples 1, 2, 3 s: 2 s expected at start, 1 s after 1.5 s served, 0 after 3 s."""
    residual = residual_estimator((1.0, 2.0, 3.0), mean_s=2.0)

    assert [residual(0.0), residual(1.5), residual(3.0)] == pytest.approx([2.0, 1.0, 0.0])


def test_residual_estimator_of_exponential_service_is_the_mean():
    """Exponential service is memoryless: the expected remaining time is the mean, always."""
    residual = residual_estimator(None, mean_s=0.1)

    assert residual(5.0) == pytest.approx(0.1)


def test_percentile_estimator_from_samples_interpolates():
    """Samples 1, 2, 3, 4 s: the 95th percentile is 3 + 0.85 x (4 - 3) = 3.85 s."""
    assert percentile_estimator((4.0, 1.0, 3.0, 2.0), mean_s=2.5)(95) == pytest.approx(3.85)


def test_percentile_estimator_of_exponential_service():
    """Exponential service with mean 0.1 s: 95% finish within -0.1 ln(0.05) = 0.2996 s."""
    assert percentile_estimator(None, mean_s=0.1)(95) == pytest.approx(0.1 * math.log(20))


def test_first_free_of_one_worker_is_its_residual_with_its_spread():
    """Samples 1, 2, 3 s served 1.5 s: 0.5 or 1.5 s remain, so mean 1 s and sd 0.5 s."""
    mean, sd = first_free_estimator((1.0, 2.0, 3.0))([1.5])

    assert (mean, sd) == pytest.approx((1.0, 0.5))


def test_first_free_of_two_steady_workers_is_the_nearer_finish():
    """Two workers taking exactly 1 s, 0.2 and 0.7 s in: the first frees up in exactly 0.3 s."""
    mean, sd = first_free_estimator((1.0,))([0.2, 0.7])

    assert (mean, sd) == pytest.approx((0.3, 0.0))


def test_first_free_of_two_workers_on_two_values_hand_case():
    """Service 1 or 3 s, both workers 0.5 s in: each frees at 0.5 or 2.5 s, the first at 0.5 s
    with chance 3/4, so mean 0.5 x 3/4 + 2.5 x 1/4 = 1 s and sd sqrt(0.75 x 0.25 x 2^2)."""
    mean, sd = first_free_estimator((1.0, 3.0))([0.5, 0.5])

    assert (mean, sd) == pytest.approx((1.0, math.sqrt(0.75)))


def test_predicted_percentile_with_an_idle_worker_is_the_service_percentile():
    """With a worker idle, planning on p95 gives the p95 service time, 3.85 s for 1-4 s samples."""
    samples = (1.0, 2.0, 3.0, 4.0)
    state = SystemState(
        workers=1,
        mean_service_s=2.5,
        latency_objective_s=10.0,
        expected_residual_s=residual_estimator(samples, 2.5),
        service_percentile_s=percentile_estimator(samples, 2.5),
    )

    assert predicted_local_latency_s(state, percentile=95) == pytest.approx(3.85)


def test_predicted_percentile_of_steady_service_is_the_mean():
    """Constant 1 s service, one busy worker 0.4 s in, one waiting: 0.6 + 1 + 1 s at any percentile."""
    state = SystemState(
        workers=1,
        mean_service_s=1.0,
        latency_objective_s=10.0,
        expected_residual_s=residual_estimator((1.0,), 1.0),
        service_sd_s=0.0,
        service_percentile_s=percentile_estimator((1.0,), 1.0),
        first_free_s=first_free_estimator((1.0,)),
        started_s=[0.0],
        now_s=0.4,
        queue_length=1,
    )

    assert predicted_local_latency_s(state, percentile=99) == pytest.approx(2.6)


def test_predicted_percentile_of_exponential_queue_adds_z_standard_deviations():
    """Exponential 0.1 s service, busy, 3 waiting: 0.5 s mean; the wait's sd is sqrt(4) x 0.1 s,
    the own excess 0.1 ln 20 - 0.1 s, combined as a root-sum-square over the mean."""
    state = SystemState(
        workers=1,
        mean_service_s=0.1,
        latency_objective_s=1.0,
        expected_residual_s=lambda elapsed: 0.1,
        started_s=[0.0],
        now_s=0.05,
        queue_length=3,
    )
    z95 = 1.6448536269514722
    expected = 0.5 + math.hypot(0.1 * math.log(20) - 0.1, z95 * 0.2)

    assert predicted_local_latency_s(state, percentile=95) == pytest.approx(expected)


def test_predicted_latency_with_an_idle_worker_is_the_mean_service_time():
    """With a worker idle, a request starts at once and is predicted to take the mean."""
    state = SystemState(
        workers=2,
        mean_service_s=0.1,
        latency_objective_s=1.0,
        expected_residual_s=lambda elapsed: 0.1,
        started_s=[0.0, None],
        now_s=0.05,
    )

    assert predicted_local_latency_s(state) == pytest.approx(0.1)


def test_predicted_latency_of_mmc_is_queue_plus_one_departures_plus_service():
    """Two busy exponential workers, 3 waiting: (3 + 1) / 2 x 0.1 s wait plus 0.1 s service."""
    state = SystemState(
        workers=2,
        mean_service_s=0.1,
        latency_objective_s=1.0,
        expected_residual_s=lambda elapsed: 0.1,
        started_s=[0.0, 0.02],
        now_s=0.05,
        queue_length=3,
    )

    assert predicted_local_latency_s(state) == pytest.approx(0.3)


# Arrivals


def test_poisson_count_over_a_long_horizon_is_near_rate_times_duration():
    """5 requests/s for 10,000 s gives 50,000 arrivals within four standard deviations."""
    config = ArrivalConfig(pattern="poisson", rate_per_s=5.0, duration_s=10_000.0)

    times = generate_arrivals(config, np.random.default_rng(0))

    assert abs(times.size - 50_000) < 4 * math.sqrt(50_000)
    assert times.max() < 10_000.0


def test_num_requests_gives_exactly_that_many_sorted_arrivals():
    """A stream bounded by a request count has exactly that many, in increasing order."""
    config = ArrivalConfig(pattern="diurnal", rate_per_s=3.0, num_requests=1234, period_s=60.0)

    times = generate_arrivals(config, np.random.default_rng(0))

    assert times.size == 1234
    assert np.all(np.diff(times) >= 0)


def test_constant_arrivals_are_evenly_spaced():
    """constant at 4 requests/s for 1 s arrives at 0.25, 0.5 and 0.75 s."""
    config = ArrivalConfig(pattern="constant", rate_per_s=4.0, duration_s=1.0)

    times = generate_arrivals(config, np.random.default_rng(0))

    assert times.tolist() == [0.25, 0.5, 0.75]


def test_diurnal_mean_rate_matches_over_whole_periods():
    """A diurnal stream over 50 whole periods averages its configured rate (4 sd)."""
    config = ArrivalConfig(
        pattern="diurnal", rate_per_s=10.0, duration_s=5_000.0, period_s=100.0, amplitude=0.8
    )

    times = generate_arrivals(config, np.random.default_rng(1))

    assert abs(times.size - 50_000) < 4 * math.sqrt(50_000)


def test_diurnal_rate_peaks_at_midday():
    """Around midday (0.4 to 0.6 of a period) arrivals follow the integrated sinusoidal rate."""
    # Prepare: rate x (0.2 P + a P / (2 pi) x (sin(0.8 pi) - sin(1.2 pi))) per period.
    config = ArrivalConfig(
        pattern="diurnal", rate_per_s=10.0, duration_s=5_000.0, period_s=100.0, amplitude=0.8
    )
    per_period = 10.0 * (
        20.0 + 0.8 * 100.0 / (2 * math.pi) * (math.sin(0.8 * math.pi) - math.sin(1.2 * math.pi))
    )

    # Execute
    times = generate_arrivals(config, np.random.default_rng(1))
    phase = (times % 100.0) / 100.0
    midday = np.count_nonzero((phase >= 0.4) & (phase < 0.6))

    # Assert
    assert midday == pytest.approx(50 * per_period, rel=0.03)
    assert diurnal_rate_per_s(config, np.array([50.0]))[0] == pytest.approx(18.0)


def test_bursty_inter_arrivals_vary_more_than_poisson():
    """Bursty inter-arrival times have a higher coefficient of variation than Poisson's (1)."""
    poisson = ArrivalConfig(pattern="poisson", rate_per_s=10.0, num_requests=50_000)
    bursty = ArrivalConfig(pattern="bursty", rate_per_s=10.0, num_requests=50_000)

    poisson_cv = inter_arrival_cv(generate_arrivals(poisson, np.random.default_rng(0)))
    bursty_cv = inter_arrival_cv(generate_arrivals(bursty, np.random.default_rng(0)))

    assert bursty_cv > 2 * poisson_cv


def test_bursty_inter_arrival_cv_and_rate_match_the_config():
    """Gamma inter-arrivals with cv 2 at 10 requests/s: cv within 5%, mean gap within 2%."""
    config = ArrivalConfig(pattern="bursty", rate_per_s=10.0, num_requests=200_000, burstiness_cv=2)

    times = generate_arrivals(config, np.random.default_rng(0))

    assert inter_arrival_cv(times) == pytest.approx(2.0, rel=0.05)
    assert np.diff(times).mean() == pytest.approx(0.1, rel=0.02)


# Comparing policies and the Pareto front


def test_compare_policies_gives_one_row_per_policy_in_order():
    """The default comparison has a row per policy, overflow at several k among them."""
    table = compare_policies(mixed_config(2_000), seed=0)

    assert table["policy"].tolist() == [p.label for p in default_policies()]
    assert table["policy"].str.startswith("overflow").sum() >= 3


def test_compare_policies_refuses_a_policy_named_twice():
    """Naming overflow(k=2) twice is refused, naming it."""
    with pytest.raises(InvalidInputError, match=r"overflow\(k=2\)"):
        compare_policies(mixed_config(), ["overflow(k=2)", Overflow(k=2)])


def test_pareto_front_on_a_hand_made_table():
    """Only rows no other row beats on both p95 and cost are marked; ties stay, NaN never."""
    # Prepare: c is beaten by a on both; e by b on latency at equal cost; d ties a.
    table = pd.DataFrame(
        {
            "policy": ["a", "b", "c", "d", "e", "f"],
            "p95_ms": [100.0, 200.0, 150.0, 100.0, 300.0, float("nan")],
            "monthly_cost": [10.0, 5.0, 12.0, 10.0, 5.0, 1.0],
        }
    )

    # Execute
    marked = pareto_front(table)

    # Assert
    assert marked["pareto"].tolist() == [True, True, False, True, False, False]
    assert "pareto" not in table.columns


def test_pareto_front_names_a_missing_column():
    """Ranking by a column the table lacks names that column."""
    table = pd.DataFrame({"p95_ms": [1.0], "cost": [2.0]})

    with pytest.raises(InvalidInputError, match="monthly_cost"):
        pareto_front(table)


# Serialisation


def test_policy_result_round_trips_through_a_dict():
    """A result saved with to_dict loads back equal with from_dict."""
    result = simulate(mixed_config(), "deadline", seed=2)

    assert PolicyResult.from_dict(result.to_dict()) == result


def test_policy_result_frame_is_one_row():
    """to_frame gives one row whose columns are the result's fields."""
    result = simulate(mixed_config(), "overflow(k=1)", seed=2)

    frame = result.to_frame()

    assert frame.shape[0] == 1
    assert frame.loc[0, "policy"] == "overflow(k=1)"


def test_hybrid_config_round_trips_through_a_dict():
    """A config with samples and a network model loads back equal from its dict."""
    config = mixed_config()

    assert HybridConfig.from_dict(config.to_dict()) == config


def test_hybrid_config_with_a_cold_cloud_and_unknown_local_cost_round_trips():
    """Scale-to-zero settings and an unknown local cost with its note load back equal."""
    config = hand_config(
        cloud=CloudConfig(latency_samples_s=(0.3,), cold_start_s=20.0, idle_timeout_s=900.0),
        local_fixed_monthly_cost=None,
        local_cost_note="no local option",
    )

    assert HybridConfig.from_dict(config.to_dict()) == config


def test_custom_sampler_is_named_but_cannot_be_loaded_back():
    """A custom cloud sampler is recorded by name, and loading it asks for the callable."""

    def slow_network(rng, n):
        return np.full(n, 0.5)

    data = CloudConfig(sampler=slow_network).to_dict()

    assert data["sampler"].endswith("slow_network")
    with pytest.raises(InvalidInputError, match="sampler"):
        CloudConfig.from_dict(data)


@pytest.mark.parametrize(
    "policy",
    [*default_policies(), Deadline(percentile=90), Deadline(margin=0.8, percentile=99.5)],
    ids=lambda p: p.label,
)
def test_policy_labels_parse_back_to_the_policy(policy: RoutingPolicy):
    """Every default policy's label, and deadlines with other settings, parse back equal."""
    assert parse_policy(policy.label) == policy


def test_policy_spec_with_colon_and_dict_forms():
    """'deadline:margin=0.8' and {'name': 'overflow', 'k': 3} build the matching policies."""
    assert parse_policy("deadline:margin=0.8") == Deadline(margin=0.8)
    assert parse_policy({"name": "overflow", "k": 3}) == Overflow(k=3)


def test_trace_frame_has_one_row_per_request_with_its_route():
    """The per-request table of the hand case has four rows, routes local/cloud."""
    frame = simulate_trace(hand_config(), Overflow(k=0)).to_frame()

    assert frame["route"].tolist() == ["local", "cloud", "local", "cloud"]
    assert frame["latency_s"].tolist() == pytest.approx([1.5, 0.3, 1.5, 0.3])


# Bad input


def local(**kwargs) -> LocalServiceConfig:
    return LocalServiceConfig(**{"service_mean_s": 0.1, **kwargs})


def cloud(**kwargs) -> CloudConfig:
    return CloudConfig(**{"latency_samples_s": (0.2,), **kwargs})


def hybrid(**kwargs) -> HybridConfig:
    return HybridConfig(**{"local": local(), "cloud": cloud(), **kwargs})


def wrong_shape_sampler(rng, n):
    return np.zeros(n + 1)


BAD_INPUTS = {
    "zero rate": (lambda: ArrivalConfig(rate_per_s=0), "rate_per_s"),
    "negative rate": (lambda: ArrivalConfig(rate_per_s=-2.0), "rate_per_s"),
    "nan rate": (lambda: ArrivalConfig(rate_per_s=float("nan")), "rate_per_s"),
    "zero duration": (lambda: ArrivalConfig(duration_s=0.0), "duration_s"),
    "duration and count": (lambda: ArrivalConfig(duration_s=5.0, num_requests=5), "num_requests"),
    "amplitude above one": (lambda: ArrivalConfig(amplitude=1.5), "amplitude"),
    "zero burstiness": (lambda: ArrivalConfig(burstiness_cv=0), "burstiness_cv"),
    "zero period": (lambda: ArrivalConfig(period_s=0), "period_s"),
    "zero workers": (lambda: local(workers=0), "workers"),
    "boolean workers": (lambda: local(workers=True), "workers"),
    "no service model": (lambda: LocalServiceConfig(), "service_samples_s"),
    "empty service samples": (
        lambda: LocalServiceConfig(service_samples_s=[]),
        "service_samples_s",
    ),
    "negative service sample": (
        lambda: LocalServiceConfig(service_samples_s=[0.1, -0.2]),
        "service_samples_s",
    ),
    "zero service mean": (lambda: LocalServiceConfig(service_mean_s=0), "service_mean_s"),
    "empty cloud samples": (lambda: CloudConfig(latency_samples_s=()), "latency_samples_s"),
    "negative cloud sample": (
        lambda: CloudConfig(latency_samples_s=(-1.0,)),
        "latency_samples_s",
    ),
    "samples and sampler": (
        lambda: CloudConfig(latency_samples_s=(0.1,), sampler=NetworkModel()),
        "sampler",
    ),
    "zero cloud concurrency": (lambda: cloud(concurrency_limit=0), "concurrency_limit"),
    "negative cloud price": (lambda: cloud(cost_per_request=-0.1), "cost_per_request"),
    "negative cold start": (lambda: cloud(cold_start_s=-1.0), "cold_start_s"),
    "cold start without a timeout": (lambda: cloud(cold_start_s=30.0), "idle_timeout_s"),
    "negative idle timeout": (lambda: cloud(idle_timeout_s=-1.0), "idle_timeout_s"),
    "zero objective": (lambda: hybrid(latency_objective_s=0), "latency_objective_s"),
    "negative objective": (lambda: hybrid(latency_objective_s=-1.0), "latency_objective_s"),
    "zero volume": (lambda: hybrid(requests_per_month=0), "requests_per_month"),
    "negative fixed cost": (
        lambda: hybrid(local_fixed_monthly_cost=-5.0),
        "local_fixed_monthly_cost",
    ),
    "plain dict for local": (lambda: hybrid(local={"workers": 1}), "local"),
    "negative k": (lambda: Overflow(k=-1), "`k`"),
    "negative k in a spec": (lambda: parse_policy("overflow(k=-1)"), "`k`"),
    "unknown policy parameter": (
        lambda: make_policy("overflow", q=1),
        "no parameter q; it takes k",
    ),
    "zero margin": (lambda: Deadline(margin=0), "margin"),
    "percentile of 100": (lambda: Deadline(percentile=100), "percentile"),
    "percentile below the median": (lambda: parse_policy("deadline(percentile=30)"), "percentile"),
    "percentile as text": (lambda: Deadline(percentile="p95"), "percentile"),
    "negative seed": (lambda: simulate(hybrid(), "local-only", seed=-1), "seed"),
    "sampler of the wrong shape": (
        lambda: simulate(hybrid(cloud=CloudConfig(sampler=wrong_shape_sampler)), "cloud-only"),
        "sampler",
    ),
    "no arrival in the duration": (
        lambda: simulate(hybrid(arrivals=ArrivalConfig(duration_s=0.01, rate_per_s=1)), "deadline"),
        "duration_s",
    ),
}


@pytest.mark.parametrize(("build", "field_name"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_raises_naming_the_field(build, field_name: str):
    """Each bad value raises InvalidInputError whose message names the field at fault."""
    with pytest.raises(InvalidInputError) as caught:
        build()

    assert field_name in str(caught.value)


def test_unknown_pattern_suggests_the_close_name():
    """The pattern 'poison' is refused with 'poisson' suggested."""
    with pytest.raises(UnknownPatternError, match="Did you mean 'poisson'"):
        ArrivalConfig(pattern="poison")


def test_unknown_policy_suggests_the_close_name():
    """The policy 'overflw' is refused with 'overflow' suggested."""
    with pytest.raises(UnknownPolicyError, match="Did you mean 'overflow'"):
        simulate(hybrid(), "overflw(k=2)")


def test_too_many_requests_by_count_says_how_far_to_lower_it():
    """Three million requests is over the 2 million cap; the message says lower num_requests."""
    with pytest.raises(
        SimulationTooLargeError,
        match=r"--requests \(`num_requests` in a config\) to at most 2,000,000",
    ):
        ArrivalConfig(num_requests=3_000_000)


def test_too_long_a_duration_says_how_far_to_shorten_it():
    """1,000 requests/s for a day is over the cap; the message gives the longest duration."""
    with pytest.raises(SimulationTooLargeError, match="shorten `duration_s` to at most 2,000 s"):
        ArrivalConfig(rate_per_s=1_000.0, duration_s=86_400.0)
