"""What one option costs a month at one workload, as pure functions of plain numbers.

* **Per-token API**: ``cost per request = input tokens x input price + output tokens x output
  price`` (prices per million tokens); nothing is paid when nothing is sent.
* **Dedicated instances** rented by the hour, sized from measured throughput: a replica serves
  ``throughput x utilization`` requests per second; ``replicas = ceil(peak / that)`` in whole
  steps (at least ``min_replicas``); ``monthly = replicas x hourly price x hours per month``
  for a flat load. With a load profile or scale to zero, replicas are sized hour by hour and
  billed as the provider bills (:mod:`workbench.cost.autoscaling`); ``OptionCost.hourly``
  holds the plan.
* **Owned hardware**: ``purchase / amortization months + kW x hours x PUE x price per kWh +
  operations``, per unit, with units sized like replicas. With an idle power the energy is
  weighted by load: ``idle + (typical - idle) x load``.

Each option's monthly cost is ``fixed(units) + variable per request x requests``, where the
fixed part jumps when a unit is added (:func:`linear_cost`); :mod:`workbench.cost.curves`
walks those pieces to find break-even volumes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pandas as pd

from workbench.cost.autoscaling import (
    HOURLY_COLUMNS,
    HourlyPlan,
    HourRow,
    hourly_plan,
    plan_working,
)
from workbench.cost.config import (
    ApiOption,
    CostOption,
    InstanceOption,
    OwnedOption,
    Workload,
    check_option,
    check_workload,
)
from workbench.cost.sizing import capacity_per_unit, raw_requests_per_s, units_needed
from workbench.kit import checks

_POSITIVE = {"low": 0, "low_open": True}


def api_cost_per_request(option: ApiOption, workload: Workload) -> float:
    """``input_tokens x input price + output_tokens x output price`` in USD (prices per 1e6).

    Parameters
    ----------
    option
        The API's prices.
    workload
        Token counts per request.
    """
    return (
        workload.input_tokens * option.input_usd_per_mtok
        + workload.output_tokens * option.output_usd_per_mtok
    ) / 1e6


def instance_cost_per_token(usd_per_hour: float, tokens_per_s: float, utilization: float) -> float:
    """USD per token on a dedicated instance: ``usd_per_hour / (3600 x tokens_per_s x utilization)``.

    Raises
    ------
    InvalidInputError
        For a non-positive price or throughput, or a utilization outside (0, 1].
    """
    owner = "instance_cost_per_token"
    price = checks.number("usd_per_hour", usd_per_hour, owner=owner, **_POSITIVE)
    rate = checks.number("tokens_per_s", tokens_per_s, owner=owner, **_POSITIVE)
    share = checks.number("utilization", utilization, high=1, owner=owner, **_POSITIVE)
    return price / (3600.0 * rate * share)


# ---------------------------------------------------------------------------------------------
# The result


@dataclass(frozen=True)
class OptionCost:
    """What one option costs at one workload, with the working shown.

    ``monthly_usd = fixed_usd_per_month + variable_usd_per_request x requests_per_month``.
    ``units`` and the capacities are ``None`` for an API (no capacity to size). An option that
    cannot serve the peak within its ``max_units`` is ``feasible=False``, its costs NaN and
    ``reason`` says why. ``components`` splits the monthly cost (USD) by what it pays for;
    ``working`` is the calculation in words, one step a line. ``hourly`` is an instance
    option's replicas hour by hour (:class:`~workbench.cost.autoscaling.HourRow`, empty for
    other kinds; :meth:`hourly_frame` as a table); for an instance ``units`` is the busiest
    hour's replicas.
    """

    option: str
    kind: str
    requests_per_month: float
    peak_requests_per_s: float
    monthly_usd: float
    fixed_usd_per_month: float
    variable_usd_per_request: float
    units: int | None = None
    capacity_per_unit_requests_per_s: float | None = None
    capacity_requests_per_s: float | None = None
    feasible: bool = True
    reason: str = ""
    components: dict[str, float] = field(default_factory=dict)
    working: tuple[str, ...] = ()
    hourly: tuple[HourRow, ...] = ()

    @property
    def usd_per_request(self) -> float:
        """``monthly_usd / requests_per_month``."""
        return self.monthly_usd / self.requests_per_month

    @property
    def usd_per_1k_requests(self) -> float:
        """``1000 x usd_per_request``."""
        return 1000.0 * self.usd_per_request

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with the derived ``usd_per_request`` and ``usd_per_1k_requests``."""
        data = asdict(self)
        data["working"] = list(self.working)
        data["hourly"] = [row.to_dict() for row in self.hourly]
        data["usd_per_request"] = self.usd_per_request
        data["usd_per_1k_requests"] = self.usd_per_1k_requests
        return data

    def to_frame(self) -> pd.DataFrame:
        """One row for tables: the scalar fields, ``component_<name>_usd`` columns, and the
        working joined with ``" | "`` (the hourly plan is :meth:`hourly_frame`)."""
        data = self.to_dict()
        data.pop("hourly")
        components = data.pop("components")
        data["working"] = " | ".join(self.working)
        data.update({f"component_{k}_usd": v for k, v in components.items()})
        return pd.DataFrame([data])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptionCost:
        """The inverse of :meth:`to_dict`; derived and unknown keys are ignored."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["working"] = tuple(values.get("working", ()))
        values["components"] = dict(values.get("components", {}))
        values["hourly"] = tuple(
            row if isinstance(row, HourRow) else HourRow.from_dict(row)
            for row in values.get("hourly", ())
        )
        return cls(**values)

    def hourly_frame(self) -> pd.DataFrame:
        """The hourly plan as a table, columns
        :data:`~workbench.cost.autoscaling.HOURLY_COLUMNS` (no rows for an API or owned option)."""
        return pd.DataFrame([row.to_dict() for row in self.hourly], columns=list(HOURLY_COLUMNS))


@dataclass(frozen=True)
class LinearCost:
    """One option at a fixed number of units: ``fixed + variable x requests`` (USD a month)."""

    fixed: float
    variable: float
    components_fixed: dict[str, float]
    components_variable: dict[str, float]


def _api_linear(option: ApiOption, workload: Workload) -> LinearCost:
    tokens_in = workload.input_tokens * option.input_usd_per_mtok / 1e6
    tokens_out = workload.output_tokens * option.output_usd_per_mtok / 1e6
    return LinearCost(
        0.0, tokens_in + tokens_out, {}, {"input_tokens": tokens_in, "output_tokens": tokens_out}
    )


def _instance_linear(option: InstanceOption, workload: Workload, units: int) -> LinearCost:
    fixed = units * option.usd_per_hour * workload.hours_per_month
    return LinearCost(fixed, 0.0, {"instances": fixed}, {})


def _owned_linear(option: OwnedOption, workload: Workload, units: int) -> LinearCost:
    hardware = units * option.hardware_usd / option.amortization_months
    operations = units * option.ops_usd_per_month
    usd_per_kwh_delivered = option.pue * option.usd_per_kwh
    base_w = option.power_w if option.idle_power_w is None else option.idle_power_w
    energy_fixed = units * base_w / 1000.0 * workload.hours_per_month * usd_per_kwh_delivered
    busy_variable = 0.0
    if option.idle_power_w is not None:
        # (typical - idle) for the seconds one request keeps a unit busy at full speed.
        seconds = 1.0 / raw_requests_per_s(option, workload)
        busy_kwh = (option.power_w - option.idle_power_w) / 1000.0 * seconds / 3600.0
        busy_variable = busy_kwh * usd_per_kwh_delivered
    return LinearCost(
        hardware + operations + energy_fixed,
        busy_variable,
        {"hardware": hardware, "operations": operations, "energy": energy_fixed},
        {"energy": busy_variable},
    )


def linear_cost(option: CostOption, workload: Workload, units: int | None) -> LinearCost:
    """``option``'s cost running ``units`` units (``None`` for an API), split into its parts."""
    if isinstance(option, ApiOption):
        return _api_linear(option, workload)
    if isinstance(option, InstanceOption):
        return _instance_linear(option, workload, int(units or 0))
    return _owned_linear(option, workload, int(units or 0))


def units_at(option: CostOption, workload: Workload) -> int | None:
    """Whole units ``option`` runs to serve ``workload``'s peak (``None`` for an API)."""
    if isinstance(option, ApiOption):
        return None
    low, _ = option.unit_limits()
    return units_needed(workload.peak_rate, capacity_per_unit(option, workload), low)


def option_cost(option: CostOption, workload: Workload) -> OptionCost:
    """The monthly cost of ``option`` serving ``workload``, with its working.

    Parameters
    ----------
    option
        An :class:`ApiOption`, :class:`InstanceOption` or :class:`OwnedOption`.
    workload
        Volume, peak rate and tokens per request.

    Returns
    -------
    OptionCost
        ``feasible=False`` (costs NaN) when the peak needs more units than ``max_units``.

    Raises
    ------
    InvalidInputError
        For inputs of the wrong type, or a throughput in tokens with no output tokens.
    """
    check_option(option)
    check_workload(workload)
    return _cached_cost(option, workload)


@functools.lru_cache(maxsize=4096)
def _cached_cost(option: CostOption, workload: Workload) -> OptionCost:
    """The cost, computed once per (option, workload): both are frozen values, and a cost curve
    or a break-even search prices the same pair many times over."""
    if isinstance(option, ApiOption):
        return _api_cost(option, workload)
    return _sized_cost(option, workload)


def _api_cost(option: ApiOption, workload: Workload) -> OptionCost:
    volume = workload.requests_per_month
    part = _api_linear(option, workload)
    monthly = part.variable * volume
    working = (
        f"cost per request = {workload.input_tokens:g} input tokens x "
        f"${option.input_usd_per_mtok:g}/Mtok + {workload.output_tokens:g} output tokens x "
        f"${option.output_usd_per_mtok:g}/Mtok = ${part.variable:.6g}",
        f"monthly = ${part.variable:.6g} x {volume:,.0f} requests = ${monthly:,.2f}",
    )
    return OptionCost(
        option=option.name,
        kind=option.kind,
        requests_per_month=volume,
        peak_requests_per_s=workload.peak_rate,
        monthly_usd=monthly,
        fixed_usd_per_month=0.0,
        variable_usd_per_request=part.variable,
        components={k: v * volume for k, v in part.components_variable.items()},
        working=working,
    )


def _sized_cost(option: InstanceOption | OwnedOption, workload: Workload) -> OptionCost:
    volume, peak = workload.requests_per_month, workload.peak_rate
    per_unit = capacity_per_unit(option, workload)
    low, high = option.unit_limits()
    units = units_needed(peak, per_unit, low)
    word = "replicas" if isinstance(option, InstanceOption) else "units"
    plan = hourly_plan(option, workload) if isinstance(option, InstanceOption) else None
    hourly = plan.rows if plan is not None else ()
    by_hour = plan is not None and not plan.uniform
    working = [
        *_capacity_working(option, workload),
        f"{word}{' in the busiest hour' if by_hour else ''} = max({low}, ceil({peak:.6g} peak "
        f"requests/s / {per_unit:.6g})) = {units}",
    ]
    sized = {
        "option": option.name,
        "kind": option.kind,
        "requests_per_month": volume,
        "peak_requests_per_s": peak,
        "units": units,
        "capacity_per_unit_requests_per_s": per_unit,
    }
    if high is not None and units > high:
        reason = (
            f"the peak of {peak:.6g} requests/s needs {units} {word} of {per_unit:.6g} "
            f"requests/s, more than the {high} allowed (max_{word})"
        )
        nan = math.nan
        return OptionCost(
            **sized,
            monthly_usd=nan,
            fixed_usd_per_month=nan,
            variable_usd_per_request=nan,
            capacity_requests_per_s=high * per_unit,
            feasible=False,
            reason=reason,
            working=(*working, f"not feasible: {reason}"),
            hourly=hourly,
        )
    if by_hour:
        return _plan_cost(plan, option, workload, sized, working)
    part = linear_cost(option, workload, units)
    monthly = part.fixed + part.variable * volume
    components = dict(part.components_fixed)
    for key, value in part.components_variable.items():
        components[key] = components.get(key, 0.0) + value * volume
    working += _monthly_working(option, workload, units, part, monthly)
    return OptionCost(
        **sized,
        monthly_usd=monthly,
        fixed_usd_per_month=part.fixed,
        variable_usd_per_request=part.variable,
        capacity_requests_per_s=units * per_unit,
        components=components,
        working=tuple(working),
        hourly=hourly,
    )


def _plan_cost(
    plan: HourlyPlan,
    option: InstanceOption,
    workload: Workload,
    sized: dict[str, Any],
    working: list[str],
) -> OptionCost:
    """An instance option whose replicas change over the day: the plan's sum over the hours.

    Whole-hour replicas (and those kept while scaling down) are the fixed part; what the
    on-demand hours of a scale-to-zero option cost grows with the requests, so it is given as
    a cost per request at this volume.
    """
    volume = workload.requests_per_month
    monthly = plan.monthly_usd
    on_demand = (
        option.usd_per_hour * (plan.on_demand_billed_hours_per_day * workload.hours_per_month) / 24
    )
    working = [*working, *plan_working(plan, option, workload)]
    working.append(
        f"per request = ${monthly:,.2f} / {volume:,.0f} requests = ${monthly / volume:.6g}"
    )
    return OptionCost(
        **sized,
        monthly_usd=monthly,
        fixed_usd_per_month=monthly - on_demand,
        variable_usd_per_request=on_demand / volume,
        capacity_requests_per_s=sized["units"] * sized["capacity_per_unit_requests_per_s"],
        components={"instances": monthly},
        working=tuple(working),
        hourly=plan.rows,
    )


def _capacity_working(option: InstanceOption | OwnedOption, workload: Workload) -> list[str]:
    raw = raw_requests_per_s(option, workload)
    if option.tokens_per_s is not None:
        raw_text = (
            f"{option.tokens_per_s:g} tokens/s / {workload.output_tokens:g} output tokens "
            f"per request = {raw:.6g} requests/s"
        )
    else:
        raw_text = f"{raw:.6g} requests/s"
    per_unit = raw * option.utilization
    return [
        f"capacity per unit = {raw_text} x utilization {option.utilization:g} = "
        f"{per_unit:.6g} requests/s"
    ]


def _monthly_working(
    option: InstanceOption | OwnedOption,
    workload: Workload,
    units: int,
    part: LinearCost,
    monthly: float,
) -> list[str]:
    if isinstance(option, InstanceOption):
        lines = [
            f"monthly = {units} x ${option.usd_per_hour:g}/h x {workload.hours_per_month:g} h "
            f"= ${monthly:,.2f}"
        ]
    else:
        lines = _owned_working(option, workload, units, part, monthly)
    volume = workload.requests_per_month
    lines.append(
        f"per request = ${monthly:,.2f} / {volume:,.0f} requests = ${monthly / volume:.6g}"
    )
    return lines


def _owned_working(
    option: OwnedOption, workload: Workload, units: int, part: LinearCost, monthly: float
) -> list[str]:
    lines = [
        f"hardware = {units} x ${option.hardware_usd:,.2f} / {option.amortization_months:g} months "
        f"= ${part.components_fixed['hardware']:,.2f}",
    ]
    delivered = f"x PUE {option.pue:g} x ${option.usd_per_kwh:g}/kWh"
    if option.idle_power_w is None:
        lines.append(
            f"energy = {units} x {option.power_w:g} W / 1000 x {workload.hours_per_month:g} h "
            f"{delivered} = ${part.components_fixed['energy']:,.2f}"
        )
    else:
        busy = part.variable * workload.requests_per_month
        lines.append(
            f"energy = {units} x {option.idle_power_w:g} W idle / 1000 x "
            f"{workload.hours_per_month:g} h {delivered} + ({option.power_w:g} - "
            f"{option.idle_power_w:g}) W for each request's busy time = "
            f"${part.components_fixed['energy']:,.2f} + ${busy:,.2f}"
        )
    lines.append(
        f"operations = {units} x ${option.ops_usd_per_month:,.2f} = "
        f"${part.components_fixed['operations']:,.2f}"
    )
    lines.append(f"monthly = ${monthly:,.2f}")
    return lines


__all__ = [
    "LinearCost",
    "OptionCost",
    "api_cost_per_request",
    "capacity_per_unit",
    "instance_cost_per_token",
    "linear_cost",
    "option_cost",
    "raw_requests_per_s",
    "units_at",
    "units_needed",
]
