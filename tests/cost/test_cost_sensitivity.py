"""One-at-a-time sensitivity: each input moved by a percentage, ranked by its effect."""

from __future__ import annotations

import math

import pytest

from workbench.cost import (
    SENSITIVITY_COLUMNS,
    ApiOption,
    InstanceOption,
    OwnedOption,
    Workload,
    sensitivity,
)
from workbench.kit.errors import InvalidInputError

WORKLOAD = Workload(requests_per_month=100_000, input_tokens=1000, output_tokens=200)


def owned() -> OwnedOption:
    """$1,200 / 12 = $100 + 0.1 kW x 730 h x $0.20 = $14.60 + $200 operations = $314.60."""
    return OwnedOption(
        "box",
        hardware_usd=1200.0,
        amortization_months=12,
        power_w=100.0,
        usd_per_kwh=0.20,
        ops_usd_per_month=200.0,
        requests_per_s=1000.0,
        utilization=1.0,
    )


def test_the_input_with_the_largest_effect_comes_first():
    """At +-20%: operations swing $80, amortization $41.67, hardware $40, energy $5.84."""
    table = sensitivity(owned(), WORKLOAD, percent=20)

    first = table.iloc[0]
    assert first["input"] == "ops_usd_per_month"
    assert (first["cost_at_low"], first["cost_at_high"]) == pytest.approx((274.6, 354.6))
    assert first["swing"] == pytest.approx(80.0)
    assert list(table["input"][:3]) == ["ops_usd_per_month", "amortization_months", "hardware_usd"]
    assert table["swing"].iloc[1] == pytest.approx(1200 / 9.6 - 1200 / 14.4)


def test_the_table_has_the_tornado_columns_and_the_base_cost():
    """Every row carries input, both ends, both costs, the swing and the base cost."""
    table = sensitivity(owned(), WORKLOAD)

    assert tuple(table.columns) == SENSITIVITY_COLUMNS
    assert table["base_cost"].iloc[0] == pytest.approx(314.6)
    assert table.attrs["base_cost"] == pytest.approx(314.6)


def test_api_volume_moves_cost_most():
    """$0.001 in + $0.002 out a request, 100,000 requests: volume +-20% swings $120."""
    option = ApiOption("api", input_usd_per_mtok=1.0, output_usd_per_mtok=10.0)

    table = sensitivity(option, WORKLOAD)

    assert table.iloc[0]["input"] == "requests_per_month"
    assert table.iloc[0]["swing"] == pytest.approx(120.0)
    assert table.iloc[0]["owner"] == "workload"


def test_an_input_held_at_its_limit_is_noted():
    """Utilization 0.9 up 20% stops at 1.0, and the note says so."""
    option = InstanceOption("gpu", usd_per_hour=1.0, requests_per_s=10.0, utilization=0.9)

    table = sensitivity(option, WORKLOAD).set_index("input")

    assert table.loc["utilization", "high_value"] == 1.0
    assert "high end held at 1" in table.loc["utilization", "note"]


def test_versus_ranks_inputs_of_both_options_by_the_difference():
    """Owned ($314.60) minus an API ($300): the API's volume-driven cost moves the gap most."""
    api = ApiOption("api", input_usd_per_mtok=1.0, output_usd_per_mtok=10.0)

    table = sensitivity(owned(), WORKLOAD, versus=api)

    assert table.attrs["base_cost"] == pytest.approx(14.6)
    first = table.iloc[0]
    assert first["input"] == "requests_per_month"
    assert (first["cost_at_low"], first["cost_at_high"]) == pytest.approx((74.6, -45.4))
    assert set(table["owner"]) == {"workload", "box", "api"}


def test_ends_that_break_capacity_rank_first():
    """One unit of 0.04 req/s carries 0.038 req/s; 20% more volume or 20% less speed needs two."""
    option = OwnedOption(
        "box",
        1200.0,
        12,
        100.0,
        usd_per_kwh=0.2,
        requests_per_s=0.04,
        utilization=1.0,
        max_units=1,
    )

    table = sensitivity(option, WORKLOAD)

    top = table.iloc[:3]
    assert set(top["input"]) == {"requests_per_month", "requests_per_s", "utilization"}
    assert all(math.isinf(s) for s in top["swing"])
    assert not any(math.isinf(s) for s in table["swing"].iloc[3:])


@pytest.mark.parametrize("percent", [0, 100, -5])
def test_percent_outside_zero_to_hundred_is_refused(percent):
    """A move of 0% shows nothing; 100% or more would zero or flip inputs."""
    with pytest.raises(InvalidInputError, match="percent"):
        sensitivity(owned(), WORKLOAD, percent=percent)
