"""Autoscaled replicas hour by hour and billing as providers bill, on hand-computed cases and
on worked examples published on providers' pricing pages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.cost import (
    ApiOption,
    InstanceOption,
    LoadProfile,
    OptionCost,
    Workload,
    billed_seconds,
    break_even,
    cold_start_delays_s,
    hourly_plan,
    option_cost,
    replica_sessions_usd,
    sensitivity,
)
from workbench.kit.errors import InvalidInputError

# 720 hours = 30 days, so a daily pattern repeats exactly 30 times.
THIRTY_DAYS = 720.0


def _two_level() -> LoadProfile:
    """Hours 0-11 carry 1/36 of a day each, hours 12-23 2/36: twice as busy after noon."""
    return LoadProfile("two-level", (1 / 36,) * 12 + (2 / 36,) * 12)


def _daytime() -> LoadProfile:
    """No requests 00:00-07:59, then 1/16 of the day in each hour 08:00-23:59."""
    return LoadProfile("daytime", (0.0,) * 8 + (1 / 16,) * 16)


def _replica(**values) -> InstanceOption:
    """A replica serving 1 request/s, planned at full load."""
    settings = {"usd_per_hour": 2.0, "requests_per_s": 1.0, "utilization": 1.0, **values}
    return InstanceOption("gpu", **settings)


# --------------------------------------------------------------------------------------------
# Hand-computed cases


def test_flat_load_prices_as_today_to_the_cent():
    """Peak 4 req/s over replicas of 2 x 0.7 = 1.4 req/s: 3 replicas x $1.006/h x 730 h."""
    option = InstanceOption("g5", usd_per_hour=1.006, requests_per_s=2.0, utilization=0.7)
    workload = Workload(requests_per_month=5_000_000, peak_requests_per_s=4.0)

    result = option_cost(option, workload)

    assert result.monthly_usd == 3 * 1.006 * 730
    assert round(result.monthly_usd, 2) == 2203.14
    assert [row.replicas for row in result.hourly] == [3] * 24


def test_flat_load_that_may_scale_to_zero_but_never_idles_prices_as_today():
    """At 1 request/s every hour, scale to zero changes nothing: 1 x $2/h x 720 h = $1,440."""
    option = _replica(min_replicas=0, cold_start_s=60.0)
    workload = Workload(requests_per_month=2_592_000, hours_per_month=THIRTY_DAYS)

    assert option_cost(option, workload).monthly_usd == pytest.approx(1440.0, abs=0.005)


def test_two_level_profile_by_hand():
    """1 req/s before noon (1 replica), 2 req/s after (2 replicas), at $1.50/h over 30 days.

    A day: 12 x 1 + 12 x 2 = 36 replica-hours, plus the second replica kept 300 s (5 min,
    billed per minute) after midnight when load falls back: 36 + 1/12 replica-hours.
    A month: 36.0833 x 30 days x $1.50 = $1,623.75 (sized for the peak all month: $2,160).
    """
    workload = Workload(
        requests_per_month=3_888_000, hours_per_month=THIRTY_DAYS, load_profile=_two_level()
    )

    result = option_cost(_replica(usd_per_hour=1.5), workload)

    assert round(result.monthly_usd, 2) == 1623.75
    assert [row.replicas for row in result.hourly] == [1] * 12 + [2] * 12
    assert result.hourly[0].billed_hours == pytest.approx(1 + 5 / 60)
    assert result.units == 2


def test_two_level_profile_without_a_scale_down_delay():
    """With no delay the day is exactly 36 replica-hours: 36 x 30 x $1.50 = $1,620."""
    workload = Workload(
        requests_per_month=3_888_000, hours_per_month=THIRTY_DAYS, load_profile=_two_level()
    )

    result = option_cost(_replica(usd_per_hour=1.5, scale_down_after_s=0), workload)

    assert round(result.monthly_usd, 2) == 1620.00


def test_scale_to_zero_overnight_by_hand():
    """1 req/s from 08:00 to midnight, nothing at night, scale to zero after 15 min, $2/h.

    A day: 16 hours of 1 replica, then the last replica is kept 900 s after midnight:
    16.25 replica-hours; 30 days x 16.25 x $2 = $975.00 (one replica always on: $1,440).
    The first request at 08:00 finds no replica: 1 of the hour's 3,600 requests waits.
    """
    workload = Workload(
        requests_per_month=1_728_000, hours_per_month=THIRTY_DAYS, load_profile=_daytime()
    )
    option = _replica(min_replicas=0, cold_start_s=120.0, scale_to_zero_after_s=900.0)

    result = option_cost(option, workload)

    assert round(result.monthly_usd, 2) == 975.00
    states = [row.state for row in result.hourly]
    assert states == ["idle"] + ["off"] * 7 + ["on"] * 16
    assert result.hourly[8].cold_start_share == pytest.approx(1 / 3600)
    assert result.hourly[9].cold_start_share == 0.0


def test_an_inactivity_period_longer_than_the_night_keeps_the_replica_up():
    """Kept 9 h after the last request, the replica outlasts the 8 idle hours: 24 h a day,
    $1,440, and nobody waits for a cold start."""
    workload = Workload(
        requests_per_month=1_728_000, hours_per_month=THIRTY_DAYS, load_profile=_daytime()
    )
    option = _replica(min_replicas=0, cold_start_s=120.0, scale_to_zero_after_s=9 * 3600.0)

    result = option_cost(option, workload)

    assert round(result.monthly_usd, 2) == 1440.00
    assert result.hourly[8].cold_start_share == 0.0


@pytest.mark.parametrize(
    ("granularity", "expected"), [("second", 970.00), ("minute", 970.00), ("hour", 1020.00)]
)
def test_billing_granularity_rounds_the_idle_tail(granularity, expected):
    """The overnight case, kept 600 s: per second or minute 16 h 10 min a day ($970.00);
    per hour the 10 minutes bill a whole hour, 17 h a day ($1,020.00)."""
    workload = Workload(
        requests_per_month=1_728_000, hours_per_month=THIRTY_DAYS, load_profile=_daytime()
    )
    option = _replica(
        min_replicas=0,
        cold_start_s=120.0,
        scale_to_zero_after_s=600.0,
        billing_granularity=granularity,
    )

    assert round(option_cost(option, workload).monthly_usd, 2) == expected


def test_billed_seconds_rounds_up_to_the_step():
    """61 s is 61 s per second, 2 minutes per minute, 1 hour per hour; 0 s costs nothing."""
    assert billed_seconds(61, "second") == 61
    assert billed_seconds(61, "minute") == 120
    assert billed_seconds(61, "hour") == 3600
    assert billed_seconds(0, "hour") == 0


def test_an_hour_of_few_requests_starts_its_replica_on_demand():
    """2 requests a day, both 12:00-12:59; cold start 60 s, work 1 s, gone 900 s after.

    ``p = exp(-2/3600 x 900)`` of requests find no replica; ``sessions = 2p`` a day, up
    ``3600 (1 - p) + sessions x 61`` s, each session billed per minute at its mean length;
    30 days at $1/h.
    """
    workload = Workload(
        requests_per_month=60,
        hours_per_month=THIRTY_DAYS,
        load_profile=LoadProfile("noon", (0.0,) * 12 + (1.0,) + (0.0,) * 11),
    )
    option = _replica(
        usd_per_hour=1.0, min_replicas=0, cold_start_s=60.0, scale_to_zero_after_s=900.0
    )
    p = math.exp(-2 / 3600 * 900)
    sessions = 2 * p
    up = 3600 * (1 - p) + sessions * 61
    billed = sessions * math.ceil(up / sessions / 60) * 60

    result = option_cost(option, workload)

    noon = result.hourly[12]
    assert noon.state == "on demand" and noon.cold_start_share == pytest.approx(p)
    assert noon.up_hours == pytest.approx(up / 3600)
    assert result.monthly_usd == pytest.approx(billed / 3600 * 30)
    assert round(result.monthly_usd, 2) == 12.74


def test_an_hour_needing_more_than_max_replicas_is_infeasible():
    """2 req/s after noon needs 2 replicas; with at most 1 the option cannot serve."""
    workload = Workload(
        requests_per_month=3_888_000, hours_per_month=THIRTY_DAYS, load_profile=_two_level()
    )

    result = option_cost(_replica(max_replicas=1), workload)

    assert not result.feasible and math.isnan(result.monthly_usd)
    assert "max_replicas" in result.reason
    assert len(result.hourly) == 24


def test_a_given_peak_scales_every_hour_alike():
    """A 4 req/s peak on the two-level day is twice its busiest hour: every hour sized x 2."""
    workload = Workload(
        requests_per_month=3_888_000,
        hours_per_month=THIRTY_DAYS,
        peak_requests_per_s=4.0,
        load_profile=_two_level(),
    )

    plan = hourly_plan(_replica(), workload)

    assert plan.burst == pytest.approx(2.0)
    assert [row.replicas for row in plan.rows] == [2] * 12 + [4] * 12


def test_break_even_follows_the_replica_steps_of_each_hour():
    """The two-level day (no scale-down delay) against an API at $0.0006 a request.

    Up to 1,944,000 requests every hour runs 1 replica ($1,080): they meet at 1,800,000. Past
    it the afternoon runs 2 ($1,620) while the API costs $1,166.40: cheaper again. The API
    reaches $1,620 at 2,700,000.
    """
    workload = Workload(
        requests_per_month=3_888_000,
        hours_per_month=THIRTY_DAYS,
        input_tokens=1000,
        load_profile=_two_level(),
    )
    api = ApiOption("api", input_usd_per_mtok=0.6, output_usd_per_mtok=0.0)
    instance = _replica(usd_per_hour=1.5, scale_down_after_s=0)

    result = break_even(api, instance, workload, max_requests_per_month=3_000_000)

    assert result.crossings == pytest.approx((1_800_000, 1_944_000, 2_700_000))


def test_break_even_solves_a_curved_scale_to_zero_cost():
    """Where a scale-to-zero option starts replicas on demand, the crossing found is where the
    two monthly costs meet."""
    workload = Workload(requests_per_month=30_000, input_tokens=1000, load_profile=_daytime())
    api = ApiOption("api", input_usd_per_mtok=50.0, output_usd_per_mtok=0.0)
    option = _replica(
        usd_per_hour=1.0, min_replicas=0, cold_start_s=60.0, scale_to_zero_after_s=300.0
    )

    result = break_even(option, api, workload)

    assert result.requests_per_month is not None
    at = workload.at_volume(result.requests_per_month)
    assert hourly_plan(option, at).has_on_demand_hours
    assert option_cost(option, at).monthly_usd == pytest.approx(
        option_cost(api, at).monthly_usd, rel=1e-6
    )


def test_sensitivity_moves_the_cold_start_of_a_scale_to_zero_option():
    """Scaling to zero adds cold_start_s and scale_to_zero_after_s to the inputs moved."""
    workload = Workload(requests_per_month=60, load_profile=_daytime())
    option = _replica(min_replicas=0, cold_start_s=60.0)

    frame = sensitivity(option, workload)

    assert {"cold_start_s", "scale_to_zero_after_s", "scale_down_after_s"} <= set(frame["input"])


def test_sensitivity_of_an_always_on_flat_option_is_unchanged():
    """A flat load with one replica at least moves only the price and throughput inputs."""
    frame = sensitivity(_replica(), Workload(requests_per_month=1000))

    assert not {"cold_start_s", "scale_to_zero_after_s", "scale_down_after_s"} & set(frame["input"])


def test_option_cost_with_an_hourly_plan_round_trips_through_a_dict():
    """What to_dict saves, hourly plan included, from_dict loads back equal."""
    workload = Workload(requests_per_month=1_728_000, load_profile=_daytime())
    result = option_cost(_replica(min_replicas=0, cold_start_s=30.0), workload)

    assert OptionCost.from_dict(result.to_dict()) == result
    assert len(result.hourly_frame()) == 24


# --------------------------------------------------------------------------------------------
# Cold starts as the routing simulation sees them


def test_requests_after_idle_wait_for_the_cold_start():
    """Start 60 s, gone 900 s after the last request: arrivals at 0, 10, 100, 2000, 2030 s.

    0 starts a replica (waits 60 s), 10 waits the 50 s left, 100 finds it up; the replica goes
    at 1000 s, so 2000 starts another (60 s) and 2030 waits 30 s.
    """
    option = _replica(min_replicas=0, cold_start_s=60.0, scale_to_zero_after_s=900.0)

    delays = cold_start_delays_s(option, [0, 10, 100, 2000, 2030])

    assert delays.tolist() == [60, 50, 0, 60, 30]


def test_no_request_waits_for_a_cold_start_with_a_replica_always_up():
    """With min_replicas 1 nobody waits."""
    assert not np.any(cold_start_delays_s(_replica(), [0, 5000, 90000]))


def test_a_warm_start_spares_the_first_request():
    """A replica up at time 0 serves the first requests at once."""
    option = _replica(min_replicas=0, cold_start_s=60.0)

    assert cold_start_delays_s(option, [0, 10], warm_at_start=True).tolist() == [0, 0]


def test_unsorted_arrivals_are_refused():
    """Arrival times must be in order."""
    with pytest.raises(InvalidInputError, match="arrival_times_s"):
        cold_start_delays_s(_replica(), [10, 0])


# --------------------------------------------------------------------------------------------
# Bad input


def test_scale_to_zero_needs_a_cold_start():
    """min_replicas 0 without cold_start_s is refused, naming the field and the fix."""
    with pytest.raises(InvalidInputError, match=r"`cold_start_s`.*min_replicas"):
        _replica(min_replicas=0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("billing_granularity", "day"),
        ("cold_start_s", -1.0),
        ("scale_down_after_s", 7200.0),
        ("scale_to_zero_after_s", -5.0),
        ("min_replicas", -1),
    ],
)
def test_bad_autoscaling_settings_are_refused_naming_the_field(field, value):
    """Each new setting is checked where the option is built."""
    with pytest.raises(InvalidInputError, match=f"`{field}`"):
        _replica(**{"cold_start_s": 10.0, field: value})


# --------------------------------------------------------------------------------------------
# Worked examples published on providers' pricing pages


def test_hugging_face_basic_example():
    """Hugging Face Inference Endpoints, "Pricing examples: Basic Example".

    Page: https://huggingface.co/docs/inference-endpoints/support/pricing (its source,
    docs/source/support/pricing.mdx in huggingface/hf-endpoints-documentation at commit
    05c783d3a783ef5d4f3a67c1c29672d0a4f61de1; the stored copy shows no date, read on
    2026-12-03). "AWS CPU intel-spr x2 ... Autoscaling (minimum 1 replica, maximum 1
    replica)": "$0.064/hr * (730hr * 1 replica) = $46.72/month". (The page's hourly line
    uses $0.067/hr, its monthly line $0.064/hr; the monthly figure is reproduced.)
    """
    option = InstanceOption(
        "intel-spr x2", usd_per_hour=0.064, requests_per_s=10.0, min_replicas=1, max_replicas=1
    )

    result = option_cost(option, Workload(requests_per_month=100_000))

    assert round(result.monthly_usd, 2) == 46.72


def test_hugging_face_advanced_example():
    """Hugging Face Inference Endpoints, "Pricing examples: Advanced Example" (same page,
    commit and reading date as the basic example).

    "AWS GPU small ... Autoscaling (minimum 1 replica, maximum 3 replica), every hour a spike
    in traffic scales the Endpoint from 1 to 3 replicas for 15 minutes": "$0.5/hr * ((1hr *
    1 replica) + (0.25hr * 2 replicas)) = $0.75/hr" and "$0.5/hr * ((730hr * 1 replica) +
    (182.5hr * 2 replicas)) = $547.5/month", billed per minute. A 15-minute spike is finer
    than the hourly load profile, so it is reproduced with the replica sessions the plan
    bills: one replica up all month, two more up 900 s each hour.
    """
    hour = replica_sessions_usd(0.5, [3600, 900, 900], "minute")
    month = replica_sessions_usd(0.5, [730 * 3600] + [900] * (730 * 2), "minute")

    assert round(hour, 2) == 0.75
    assert round(month, 2) == 547.50


def test_edgeone_edge_inference_example():
    """Tencent EdgeOne edge inference, "Billing example" (Entry-level GPU, A-tier).

    Page: https://edgeone.ai/document/78862 ("Edge inference fee (postpaid)"; also at
    https://www.tencentcloud.com/document/product/1145/78862); the stored copy shows no date,
    read on 2026-12-03. Billed per second at 0.000217 USD/second: 1 instance from 10:00 to
    11:00 ("0.000217 x 3600 x 1 = 0.7812 USD"), 2 instances from 11:00 to 12:00 ("0.000217 x
    3600 x 2 = 1.5624 USD"), "Total cost for two hours: 0.7812 + 1.5624 = 2.3436 USD". (The
    page also quotes "0.002050 CNY/second"; its arithmetic uses the USD list price.)

    Modelled as a one-day month (hours_per_month 24) whose requests fall 1/3 in 10:00 and 2/3
    in 11:00 (1 and 2 req/s for replicas of 1 req/s), scaling to zero with no delay.
    """
    profile = LoadProfile("march-3", (0.0,) * 10 + (1 / 3, 2 / 3) + (0.0,) * 12)
    workload = Workload(requests_per_month=10_800, hours_per_month=24, load_profile=profile)
    option = InstanceOption(
        "entry-level gpu",
        usd_per_hour=0.000217 * 3600,
        requests_per_s=1.0,
        utilization=1.0,
        min_replicas=0,
        cold_start_s=0.0,
        scale_down_after_s=0.0,
        scale_to_zero_after_s=0.0,
        billing_granularity="second",
    )

    result = option_cost(option, workload)

    assert result.hourly[10].usd_per_month == pytest.approx(0.7812, abs=1e-9)
    assert result.hourly[11].usd_per_month == pytest.approx(1.5624, abs=1e-9)
    assert result.monthly_usd == pytest.approx(2.3436, abs=1e-9)
