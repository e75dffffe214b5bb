"""Cost formulas, whole-unit sizing, break-even and cost curves on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from workbench.cost import (
    ApiOption,
    BreakEven,
    InstanceOption,
    OptionCost,
    OwnedOption,
    Workload,
    api_cost_per_request,
    break_even,
    cost_curve,
    instance_cost_per_token,
    option_cost,
    option_from_dict,
    units_needed,
)
from workbench.devices import Device
from workbench.kit.errors import InvalidInputError

# 730 hours = 2,628,000 seconds: this volume is exactly 1 request/s on average.
ONE_PER_SECOND = 2_628_000


def device(price_usd: float | None = 1200.0, power_w: float | None = 100.0) -> Device:
    """A made-up device with a price and a power draw."""
    return Device(
        name="test-box",
        display_name="Test Box",
        kind="sbc",
        fp32_tflops=1.0,
        fp16_tflops=None,
        int8_tops=None,
        memory_gb=8.0,
        memory_bandwidth_gbs=50.0,
        power_w=power_w,
        price_usd=price_usd,
        source="written by the test",
        as_of="2026-01-01",
    )


# --------------------------------------------------------------------------------------------
# Per-token API


def test_api_cost_per_request_adds_input_and_output_tokens():
    """1000 in x $0.15/Mtok + 500 out x $0.60/Mtok = $0.00015 + $0.0003 = $0.00045."""
    option = ApiOption("api", input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)
    workload = Workload(requests_per_month=100_000, input_tokens=1000, output_tokens=500)

    assert api_cost_per_request(option, workload) == pytest.approx(0.00045)


def test_api_cost_per_1k_requests_and_per_month():
    """At $0.00045 a request: $0.45 per 1,000 and $45 for 100,000 requests a month."""
    option = ApiOption("api", input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)
    workload = Workload(requests_per_month=100_000, input_tokens=1000, output_tokens=500)

    result = option_cost(option, workload)

    assert result.usd_per_1k_requests == pytest.approx(0.45)
    assert result.monthly_usd == pytest.approx(45.0)
    assert result.units is None and result.capacity_requests_per_s is None


# --------------------------------------------------------------------------------------------
# Dedicated instances


def test_instance_cost_per_token_follows_the_reference_formula():
    """$3.60/h / (3600 x 100 tokens/s x 0.5) = $0.00002 per token."""
    assert instance_cost_per_token(3.6, 100.0, 0.5) == pytest.approx(2e-5)


def test_instance_monthly_cost_is_replicas_times_hourly_price_times_hours():
    """10 req/s x 0.5 = 5 req/s per replica; a 4 req/s peak needs 1 replica: 1 x $1 x 730 h."""
    option = InstanceOption("gpu", usd_per_hour=1.0, requests_per_s=10.0, utilization=0.5)
    workload = Workload(requests_per_month=1_000_000, peak_requests_per_s=4.0)

    result = option_cost(option, workload)

    assert result.units == 1
    assert result.capacity_per_unit_requests_per_s == pytest.approx(5.0)
    assert result.monthly_usd == pytest.approx(730.0)
    assert result.usd_per_request == pytest.approx(730.0 / 1_000_000)


def test_instance_hours_per_month_is_configurable():
    """With 720 hours a month one $1/h replica costs $720."""
    option = InstanceOption("gpu", usd_per_hour=1.0, requests_per_s=10.0, utilization=0.5)
    workload = Workload(requests_per_month=1_000_000, peak_requests_per_s=4.0, hours_per_month=720)

    assert option_cost(option, workload).monthly_usd == pytest.approx(720.0)


def test_demand_just_above_one_replica_needs_two():
    """A 5.001 req/s peak over 5 req/s replicas needs 2 replicas, $1,460 a month."""
    option = InstanceOption("gpu", usd_per_hour=1.0, requests_per_s=10.0, utilization=0.5)
    workload = Workload(requests_per_month=1_000_000, peak_requests_per_s=5.001)

    result = option_cost(option, workload)

    assert result.units == 2
    assert result.monthly_usd == pytest.approx(1460.0)


def test_demand_equal_to_capacity_fits_one_replica():
    """A peak of exactly one replica's capacity needs one replica."""
    assert units_needed(5.0, 5.0) == 1


def test_units_needed_ignores_float_noise():
    """2.1 / 0.7 is 3.0000000000000004 in floats, but 3 units carry it."""
    assert units_needed(2.1, 0.7) == 3


def test_units_needed_keeps_the_minimum():
    """An idle service still runs min_units."""
    assert units_needed(0.0, 5.0, min_units=2) == 2


def test_throughput_in_tokens_becomes_requests_through_output_tokens():
    """100 tokens/s / 50 tokens per reply = 2 req/s, x 0.5 = 1 req/s; a 1.5 req/s peak needs 2."""
    option = InstanceOption("gpu", usd_per_hour=1.0, tokens_per_s=100.0, utilization=0.5)
    workload = Workload(requests_per_month=100_000, output_tokens=50, peak_requests_per_s=1.5)

    result = option_cost(option, workload)

    assert result.capacity_per_unit_requests_per_s == pytest.approx(1.0)
    assert result.units == 2


def test_throughput_in_tokens_needs_output_tokens():
    """tokens/s cannot become requests/s when a request generates nothing."""
    option = InstanceOption("gpu", usd_per_hour=1.0, tokens_per_s=100.0)

    with pytest.raises(InvalidInputError, match="output_tokens"):
        option_cost(option, Workload(requests_per_month=100_000))


def test_peak_beyond_max_replicas_is_infeasible_with_a_reason():
    """One replica of 5 req/s at most cannot carry a 6 req/s peak."""
    option = InstanceOption(
        "gpu", usd_per_hour=1.0, requests_per_s=10.0, utilization=0.5, max_replicas=1
    )

    result = option_cost(option, Workload(requests_per_month=1_000_000, peak_requests_per_s=6.0))

    assert not result.feasible
    assert math.isnan(result.monthly_usd)
    assert "max_replicas" in result.reason


def test_working_shows_the_replica_formula():
    """The working spells out the ceil that sized the replicas."""
    option = InstanceOption("gpu", usd_per_hour=1.0, requests_per_s=10.0, utilization=0.5)

    result = option_cost(option, Workload(requests_per_month=1_000_000, peak_requests_per_s=6.0))

    assert any("ceil(6 peak requests/s / 5)) = 2" in line for line in result.working)


# --------------------------------------------------------------------------------------------
# Owned hardware


def test_owned_monthly_cost_is_amortization_plus_energy_plus_operations():
    """$3,600 / 36 = $100; 0.5 kW x 730 h x PUE 1.5 x $0.20 = $109.50; + $50 ops = $259.50."""
    option = OwnedOption(
        "box",
        hardware_usd=3600.0,
        amortization_months=36,
        power_w=500.0,
        pue=1.5,
        usd_per_kwh=0.20,
        ops_usd_per_month=50.0,
        requests_per_s=10.0,
        utilization=1.0,
    )

    result = option_cost(option, Workload(requests_per_month=1_000_000))

    assert result.components == pytest.approx(
        {"hardware": 100.0, "energy": 109.5, "operations": 50.0}
    )
    assert result.monthly_usd == pytest.approx(259.5)


def test_owned_energy_is_weighted_by_load_when_idle_power_is_given():
    """Idle 100 W all month ($14.60) + 400 W more for 3.6 M x 0.1 s = 100 h ($8.00)."""
    option = OwnedOption(
        "box",
        hardware_usd=0.0,
        amortization_months=12,
        power_w=500.0,
        idle_power_w=100.0,
        usd_per_kwh=0.20,
        requests_per_s=10.0,
        utilization=1.0,
    )

    result = option_cost(option, Workload(requests_per_month=3_600_000))

    assert result.fixed_usd_per_month == pytest.approx(14.6)
    assert result.variable_usd_per_request * 3_600_000 == pytest.approx(8.0)
    assert result.monthly_usd == pytest.approx(22.6)


def test_owned_units_step_like_replicas():
    """Units of 5 req/s: a 12 req/s peak needs 3, tripling hardware, energy and operations."""
    option = OwnedOption(
        "box",
        hardware_usd=1200.0,
        amortization_months=12,
        power_w=100.0,
        usd_per_kwh=0.20,
        ops_usd_per_month=10.0,
        requests_per_s=5.0,
        utilization=1.0,
    )

    result = option_cost(option, Workload(requests_per_month=1_000_000, peak_requests_per_s=12.0))

    assert result.units == 3
    assert result.monthly_usd == pytest.approx(3 * (100.0 + 14.6 + 10.0))


def test_owned_option_takes_price_and_power_from_the_device_catalog():
    """A $1,200, 100 W device over 12 months at $0.20/kWh: $100 + $14.60."""
    option = OwnedOption.from_device(
        "box", device(), amortization_months=12, usd_per_kwh=0.20, requests_per_s=5.0
    )

    assert option.hardware_usd == 1200.0 and option.power_w == 100.0
    assert option_cost(option, Workload(requests_per_month=1000)).monthly_usd == pytest.approx(
        114.6
    )


def test_owned_option_without_a_device_price_asks_for_hardware_usd():
    """A device with no price_usd needs the price given."""
    with pytest.raises(InvalidInputError, match="hardware_usd"):
        OwnedOption.from_device(
            "box", device(price_usd=None), amortization_months=12, usd_per_kwh=0.2, requests_per_s=1
        )


def test_owned_pue_below_one_is_refused():
    """PUE is facility over IT power, never below 1."""
    with pytest.raises(InvalidInputError, match="pue"):
        OwnedOption(
            "box", 100.0, 12, 50.0, usd_per_kwh=0.2, pue=0.9, requests_per_s=1.0, utilization=1.0
        )


# --------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("volume", [0, -5])
def test_volume_of_zero_or_below_names_requests_per_month(volume):
    """A workload needs some requests."""
    with pytest.raises(InvalidInputError, match="requests_per_month"):
        Workload(requests_per_month=volume)


@pytest.mark.parametrize("objective", [0, -1.0])
def test_latency_objective_of_zero_or_below_names_it(objective):
    """A latency objective is a time a request may take: above zero."""
    with pytest.raises(InvalidInputError, match="latency_objective_ms"):
        Workload(requests_per_month=1000, latency_objective_ms=objective)


def test_negative_token_price_is_refused():
    """Prices are never negative."""
    with pytest.raises(InvalidInputError, match="input_usd_per_mtok"):
        ApiOption("api", input_usd_per_mtok=-0.1, output_usd_per_mtok=0.1)


def test_negative_hourly_price_is_refused():
    """An instance costs something per hour."""
    with pytest.raises(InvalidInputError, match="usd_per_hour"):
        InstanceOption("gpu", usd_per_hour=-1.0, requests_per_s=1.0)


@pytest.mark.parametrize("share", [0.0, 1.5, -0.2])
def test_utilization_outside_zero_to_one_is_refused(share):
    """Utilization is a share of measured throughput, in (0, 1]."""
    with pytest.raises(InvalidInputError, match="utilization"):
        InstanceOption("gpu", usd_per_hour=1.0, requests_per_s=1.0, utilization=share)


def test_peak_below_the_average_rate_is_refused():
    """2,628,000 requests in 730 h average 1 req/s, so a 0.5 req/s peak is impossible."""
    with pytest.raises(InvalidInputError, match="peak_requests_per_s"):
        Workload(requests_per_month=ONE_PER_SECOND, peak_requests_per_s=0.5)


# --------------------------------------------------------------------------------------------
# Break-even


def _api_per_request(usd: float) -> ApiOption:
    """An API charging ``usd`` per request of 1,000 input tokens (see WORKLOAD_1K)."""
    return ApiOption("api", input_usd_per_mtok=usd * 1000.0, output_usd_per_mtok=0.0)


WORKLOAD_1K = Workload(requests_per_month=50_000, input_tokens=1000)


def _owned_flat(fixed_usd: float, **values) -> OwnedOption:
    """Owned hardware costing exactly ``fixed_usd`` a month (free energy), 1000 req/s a unit."""
    settings = {"requests_per_s": 1000.0, "utilization": 1.0, **values}
    return OwnedOption(
        "owned",
        hardware_usd=fixed_usd * 12,
        amortization_months=12,
        power_w=10.0,
        usd_per_kwh=0.0,
        **settings,
    )


def test_break_even_on_a_hand_case():
    """$100 a month fixed against $0.001 a request: they cost the same at 100,000 requests."""
    result = break_even(_api_per_request(0.001), _owned_flat(100.0), WORKLOAD_1K)

    assert result.requests_per_month == pytest.approx(100_000)
    assert result.cheaper_below == "api" and result.cheaper_above == "owned"
    assert result.reason == ""


def test_break_even_is_none_with_a_reason_when_one_option_is_always_cheaper():
    """At $0.000001 a request the API stays below $100 up to 5 M requests (it would cross at 100 M)."""
    result = break_even(_api_per_request(0.000001), _owned_flat(100.0), WORKLOAD_1K)

    assert result.requests_per_month is None
    assert result.crossings == ()
    assert "api is cheaper at every volume" in result.reason
    assert result.searched_up_to == pytest.approx(5_000_000)


def test_break_even_is_none_when_capacity_runs_out_before_the_costs_cross():
    """One unit of 1 req/s serves 2,628,000 requests, before the 100,000,000 crossing."""
    owned = _owned_flat(100.0, requests_per_s=1.0, max_units=1)

    result = break_even(
        _api_per_request(0.000001), owned, WORKLOAD_1K, max_requests_per_month=200_000_000
    )

    assert result.requests_per_month is None
    assert result.valid_up_to == pytest.approx(ONE_PER_SECOND)
    assert "most units" in result.reason


def test_break_even_respects_replica_steps():
    """$730/replica of 1 req/s against $0.0003 a request, flat load, searched to 5 M.

    One replica: the costs meet at 730 / 0.0003 = 2,433,333. At 2,628,000 a second replica
    doubles the instance cost, so the API is cheaper again; with two replicas they meet at
    1460 / 0.0003 = 4,866,667. A single fixed / variable division finds only the first.
    """
    instance = InstanceOption("instance", usd_per_hour=1.0, requests_per_s=1.0, utilization=1.0)
    workload = Workload(requests_per_month=1_000_000, input_tokens=1000)

    result = break_even(
        _api_per_request(0.0003), instance, workload, max_requests_per_month=5_000_000
    )

    assert result.crossings == pytest.approx((730 / 0.0003, ONE_PER_SECOND, 1460 / 0.0003))
    assert result.requests_per_month == pytest.approx(730 / 0.0003)
    assert result.cheaper_above == "instance"


def test_break_even_of_identical_options_says_they_cost_the_same():
    """Two copies of one price never cross."""
    first = _api_per_request(0.001)
    second = ApiOption("copy", first.input_usd_per_mtok, first.output_usd_per_mtok)

    result = break_even(first, second, WORKLOAD_1K)

    assert result.requests_per_month is None
    assert "cost the same" in result.reason


def test_cost_curve_adds_a_replica_past_capacity():
    """At 3,000,000 requests (1.14 req/s) the 1 req/s instance runs 2 replicas: $1,460."""
    instance = InstanceOption("instance", usd_per_hour=1.0, requests_per_s=1.0, utilization=1.0)
    workload = Workload(requests_per_month=1_000_000, input_tokens=1000)

    curve = cost_curve([instance, _api_per_request(0.0003)], workload, [1_000_000, 3_000_000])

    row = curve[(curve["option"] == "instance") & (curve["requests_per_month"] == 3_000_000)]
    assert int(row["units"].iloc[0]) == 2
    assert float(row["monthly_usd"].iloc[0]) == pytest.approx(1460.0)
    assert len(curve) == 4


def test_cost_curve_default_grid_spans_a_hundredth_to_a_hundred_times_the_volume():
    """61 log-spaced volumes from 1/100 to 100 x the workload's volume, per option."""
    curve = cost_curve([_api_per_request(0.001)], WORKLOAD_1K)

    assert len(curve) == 61
    assert curve["requests_per_month"].min() == pytest.approx(500)
    assert curve["requests_per_month"].max() == pytest.approx(5_000_000)


def test_at_volume_keeps_the_peak_to_average_ratio():
    """Doubling the volume doubles a given peak."""
    workload = Workload(requests_per_month=ONE_PER_SECOND, peak_requests_per_s=3.0)

    assert workload.at_volume(2 * ONE_PER_SECOND).peak_requests_per_s == pytest.approx(6.0)


# --------------------------------------------------------------------------------------------
# Round trips


def test_option_cost_round_trips_through_a_dict():
    """What to_dict saves, from_dict loads back equal."""
    option = InstanceOption("gpu", usd_per_hour=1.0, requests_per_s=10.0, utilization=0.5)
    result = option_cost(option, Workload(requests_per_month=1_000_000, peak_requests_per_s=6.0))

    assert OptionCost.from_dict(result.to_dict()) == result


def test_break_even_round_trips_through_a_dict():
    """What to_dict saves, from_dict loads back equal."""
    result = break_even(_api_per_request(0.001), _owned_flat(100.0), WORKLOAD_1K)

    assert BreakEven.from_dict(result.to_dict()) == result


def test_options_and_workload_round_trip_through_dicts():
    """Every option kind and the workload load back equal from their dicts."""
    options = [
        _api_per_request(0.001),
        _owned_flat(100.0),
        InstanceOption("i", 1.0, requests_per_s=2.0),
    ]
    workload = Workload(requests_per_month=10, latency_objective_ms=5.0)

    assert [option_from_dict(o.to_dict()) for o in options] == options
    assert Workload.from_dict(workload.to_dict()) == workload


def test_two_apis_never_cross_and_the_reason_says_why():
    """Two per-request prices differ at every volume; no search limit is blamed."""
    result = break_even(
        _api_per_request(0.001), _api_per_request_named("cheap", 0.0005), WORKLOAD_1K
    )

    assert result.requests_per_month is None
    assert result.reason == (
        "cheap is cheaper at every volume: both charge per request and nothing else"
    )


def _api_per_request_named(name: str, usd: float) -> ApiOption:
    """Like _api_per_request, with a name."""
    return ApiOption(name, input_usd_per_mtok=usd * 1000.0, output_usd_per_mtok=0.0)


def test_option_cost_to_frame_is_one_row_with_components():
    """The frame has the monthly cost and one column per component."""
    option = OwnedOption(
        "box", 1200.0, 12, 100.0, usd_per_kwh=0.2, requests_per_s=5.0, utilization=1.0
    )

    frame = option_cost(option, Workload(requests_per_month=1000)).to_frame()

    assert len(frame) == 1
    assert frame["component_hardware_usd"].iloc[0] == pytest.approx(100.0)
    assert frame["monthly_usd"].iloc[0] == pytest.approx(114.6)
