"""Break-even volumes between two options, and cost curves over volumes for charts.

Each option's monthly cost is ``fixed(units) + variable per request x requests``, where the
fixed part jumps when a unit is added. :func:`break_even` walks those pieces exactly instead
of sampling a grid, so a crossing at a capacity step is found where it happens.

The peak rate scales with volume: :meth:`Workload.at_volume` keeps the peak-to-average ratio,
so a curve over volumes keeps the workload's shape.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from workbench.cost.autoscaling import always_on_monthly_usd, hourly_plan, replica_steps
from workbench.cost.config import (
    ApiOption,
    CostOption,
    InstanceOption,
    Workload,
    check_option,
    check_workload,
)
from workbench.cost.monthly import (
    LinearCost,
    capacity_per_unit,
    linear_cost,
    option_cost,
    units_at,
)
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

#: Break-even search goes up to this multiple of the workload's volume unless told otherwise.
BREAK_EVEN_RANGE = 100.0
#: Most capacity steps one break-even search walks through.
_MAX_SEGMENTS = 2_000_000


@dataclass(frozen=True)
class BreakEven:
    """Where two options cost the same per month, searched from 0 to ``searched_up_to``.

    ``requests_per_month`` is the lowest crossing, ``None`` when they never cross in the valid
    range (``reason`` says why: one is cheaper throughout, or one runs out of capacity first).
    ``crossings`` lists every volume where the cheaper option changes: with capacity steps
    there can be several. ``cheaper_below`` / ``cheaper_above`` name the cheaper option at the
    start and at the end of the valid range (empty where they cost the same).
    """

    option_a: str
    option_b: str
    requests_per_month: float | None
    crossings: tuple[float, ...]
    cheaper_below: str
    cheaper_above: str
    searched_up_to: float
    valid_up_to: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        data = asdict(self)
        data["crossings"] = list(self.crossings)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BreakEven:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["crossings"] = tuple(values.get("crossings", ()))
        return cls(**values)


def _steps(option: CostOption, workload: Workload, limit: float) -> tuple[list[float], float]:
    """Volumes in (0, limit) where ``option`` adds a unit, and the volume where it runs out."""
    if isinstance(option, ApiOption):
        return [], math.inf
    if isinstance(option, InstanceOption) and not workload.load_profile.is_flat:
        steps, ceiling = replica_steps(option, workload, limit)
        if len(steps) > _MAX_SEGMENTS:
            raise InvalidInputError(
                f"Option {option.name!r} would change its replicas more than {_MAX_SEGMENTS:,} "
                f"times before {limit:,.0f} requests/month; lower `max_requests_per_month`."
            )
        return steps, ceiling
    per_unit = capacity_per_unit(option, workload)
    # units(v) = ceil(peak(v) / per_unit) with peak(v) = v x ratio / seconds per month.
    volume_per_unit = per_unit * workload.seconds_per_month / workload.peak_to_average
    low, high = option.unit_limits()
    ceiling = math.inf if high is None else high * volume_per_unit
    last = min(limit, ceiling)
    count = int(last / volume_per_unit)
    if count - low > _MAX_SEGMENTS:
        raise InvalidInputError(
            f"Option {option.name!r} would add more than {_MAX_SEGMENTS:,} units before "
            f"{limit:,.0f} requests/month; lower `max_requests_per_month`."
        )
    steps = [k * volume_per_unit for k in range(max(low, 1), count + 1)]
    return [s for s in steps if 0 < s < last], ceiling


def _sign(value: float, scale: float) -> int:
    if abs(value) <= 1e-12 * max(1.0, scale):
        return 0
    return 1 if value > 0 else -1


def break_even(
    option_a: CostOption,
    option_b: CostOption,
    workload: Workload,
    *,
    max_requests_per_month: float | None = None,
) -> BreakEven:
    """The monthly volume where ``option_a`` and ``option_b`` cost the same.

    Each option's cost is ``fixed(units) + variable x volume``; its units step up where the
    scaled peak outgrows the capacity of the units it has. Between steps the cost difference
    is a straight line, solved exactly: ``volume = fixed difference / variable difference``.
    At a step the difference jumps, and a change of sign there is a crossing too.

    Parameters
    ----------
    option_a, option_b
        The two options.
    workload
        Tokens per request and the peak-to-average shape; its volume sets the default range.
    max_requests_per_month
        Search up to this volume; default :data:`BREAK_EVEN_RANGE` x the workload's volume.

    Returns
    -------
    BreakEven
        ``requests_per_month=None`` with a ``reason`` when the options never cross below
        the search limit or the volume where one of them runs out of capacity.

    Raises
    ------
    InvalidInputError
        For inputs of the wrong type or a non-positive ``max_requests_per_month``.
    """
    check_option(option_a)
    check_option(option_b)
    check_workload(workload)
    limit = _limit(workload, max_requests_per_month)
    steps_a, ceiling_a = _steps(option_a, workload, limit)
    steps_b, ceiling_b = _steps(option_b, workload, limit)
    valid = min(limit, ceiling_a, ceiling_b)
    bounds = [b for b in sorted({0.0, valid, *steps_a, *steps_b}) if b <= valid]
    crossings, first_sign, last_sign = _walk(option_a, option_b, workload, bounds)
    names = {1: option_b.name, -1: option_a.name, 0: ""}
    reason = ""
    if not crossings:
        reason = _no_crossing_reason(
            option_a, option_b, first_sign, valid, limit, ceiling_a, ceiling_b
        )
    return BreakEven(
        option_a=option_a.name,
        option_b=option_b.name,
        requests_per_month=crossings[0] if crossings else None,
        crossings=tuple(crossings),
        cheaper_below=names[first_sign],
        cheaper_above=names[last_sign],
        searched_up_to=limit,
        valid_up_to=valid,
        reason=reason,
    )


def _limit(workload: Workload, max_requests_per_month: Any) -> float:
    if max_requests_per_month is None:
        return BREAK_EVEN_RANGE * workload.requests_per_month
    owner = "break_even"
    return float(
        checks.number(
            "max_requests_per_month", max_requests_per_month, owner=owner, low=0, low_open=True
        )
    )


def _walk(
    option_a: CostOption, option_b: CostOption, workload: Workload, bounds: list[float]
) -> tuple[list[float], int, int]:
    """The crossings between consecutive ``bounds``, and the sign of ``a - b`` first and last.

    Between two bounds both options run a fixed number of units, so ``a - b`` is a line; a
    sign change inside it, or across a bound (where a unit is added), is a crossing. Where a
    scale-to-zero option starts replicas on demand its cost is not a line: the segment is
    sampled and each sign change solved numerically (:func:`_walk_curved`).
    """
    crossings: list[float] = []
    first_sign = last_sign = 0
    scale = 1.0
    for start, end in itertools.pairwise(bounds):
        if end <= start:
            continue
        line_a = _line(option_a, workload, start, end)
        line_b = _line(option_b, workload, start, end)
        if line_a is None or line_b is None:
            signs, found, scale = _walk_curved(option_a, option_b, workload, start, end, scale)
            sign_start, sign_end = signs[0], signs[-1]
            if sign_start and last_sign and sign_start != last_sign:
                crossings.append(start)
            crossings += found
            first_sign = first_sign or next((x for x in signs if x), 0)
            last_sign = next((x for x in reversed(signs) if x), last_sign)
            continue
        fixed = line_a.fixed - line_b.fixed
        variable = line_a.variable - line_b.variable
        scale = max(scale, abs(line_a.fixed), abs(line_b.fixed))
        sign_start = _sign(fixed + variable * start, scale)
        sign_end = _sign(fixed + variable * end, scale)
        if sign_start and last_sign and sign_start != last_sign:
            crossings.append(start)  # the difference jumps across zero at a capacity step
        if sign_start and sign_end and sign_start != sign_end:
            crossings.append(-fixed / variable)
        elif sign_start == 0 and sign_end and last_sign and sign_end != last_sign:
            crossings.append(start)
        first_sign = first_sign or sign_start or sign_end
        last_sign = sign_end or sign_start or last_sign
    return sorted(set(crossings)), first_sign, last_sign


#: Points a curved segment is sampled at to find where the cheaper option changes.
_CURVED_SAMPLES = 64


def _inside(start: float, end: float) -> tuple[float, float]:
    """Volumes just inside ``(start, end)``: the units there are those of the segment."""
    step = 1e-9 * (end - start)
    return start + step, end - step


def _line(option: CostOption, workload: Workload, start: float, end: float) -> LinearCost | None:
    """``option``'s cost between two bounds as a line, or ``None`` where it is curved."""
    middle = workload.at_volume((start + end) / 2)
    if isinstance(option, InstanceOption) and not (
        workload.load_profile.is_flat and not option.scales_to_zero
    ):
        if not option.scales_to_zero:
            monthly = always_on_monthly_usd(option, middle)
            return LinearCost(monthly, 0.0, {"instances": monthly}, {})
        plan = hourly_plan(option, middle)
        low, high = _inside(start, end)
        ends = (hourly_plan(option, workload.at_volume(v)) for v in (low, high))
        if plan.has_on_demand_hours or any(p.has_on_demand_hours for p in ends):
            return None
        monthly = plan.monthly_usd
        return LinearCost(monthly, 0.0, {"instances": monthly}, {})
    return linear_cost(option, middle, units_at(option, middle))


def _walk_curved(
    option_a: CostOption,
    option_b: CostOption,
    workload: Workload,
    start: float,
    end: float,
    scale: float,
) -> tuple[list[int], list[float], float]:
    """Signs of ``a - b`` at points across a curved segment, the crossings between them (solved
    with Brent's method on the true costs), and the updated scale of the costs."""
    low, high = _inside(start, end)
    floor = max(low, high * 1e-9)
    points = np.unique(np.concatenate(([low], np.geomspace(floor, high, _CURVED_SAMPLES))))

    def difference(volume: float) -> float:
        at = workload.at_volume(float(volume))
        return option_cost(option_a, at).monthly_usd - option_cost(option_b, at).monthly_usd

    values = []
    for volume in points:
        at = workload.at_volume(float(volume))
        cost_a, cost_b = (
            option_cost(option_a, at).monthly_usd,
            option_cost(option_b, at).monthly_usd,
        )
        scale = max(scale, abs(cost_a), abs(cost_b))
        values.append(cost_a - cost_b)
    signs = [_sign(value, scale) for value in values]
    found = [
        float(_brentq()(difference, float(left), float(right), xtol=1e-9 * float(right)))
        for (left, right), (sign_left, sign_right) in zip(
            itertools.pairwise(points), itertools.pairwise(signs), strict=True
        )
        if sign_left and sign_right and sign_left != sign_right
    ]
    return signs, found, scale


def _no_crossing_reason(
    option_a: CostOption,
    option_b: CostOption,
    sign: int,
    valid: float,
    limit: float,
    ceiling_a: float,
    ceiling_b: float,
) -> str:
    if sign == 0:
        return (
            f"{option_a.name} and {option_b.name} cost the same at every volume up to "
            f"{valid:,.0f} requests/month"
        )
    cheaper = option_b.name if sign > 0 else option_a.name
    if isinstance(option_a, ApiOption) and isinstance(option_b, ApiOption):
        return f"{cheaper} is cheaper at every volume: both charge per request and nothing else"
    text = f"{cheaper} is cheaper at every volume up to {valid:,.0f} requests/month"
    if valid < limit:
        full = option_a.name if ceiling_a <= ceiling_b else option_b.name
        text += (
            f", where {full} reaches its most units (max_units/max_replicas) and can serve "
            "no more, so the comparison ends there"
        )
    else:
        text += f" (searched up to {limit:,.0f}; raise max_requests_per_month to look further)"
    return text


# ---------------------------------------------------------------------------------------------
# Curves for charts


CURVE_COLUMNS = (
    "requests_per_month",
    "option",
    "kind",
    "monthly_usd",
    "usd_per_1k_requests",
    "units",
    "feasible",
)


def cost_curve(
    options: list[CostOption] | tuple[CostOption, ...],
    workload: Workload,
    volumes: list[float] | np.ndarray | None = None,
    *,
    points: int = 61,
) -> pd.DataFrame:
    """Monthly cost of each option over a range of volumes: the data of a cost-versus-volume chart.

    Parameters
    ----------
    options
        The options to compare.
    workload
        The workload whose shape (peak-to-average, tokens) is kept at every volume.
    volumes
        Monthly volumes to evaluate; default ``points`` volumes spaced evenly on a log scale from
        1/100 to 100 times the workload's volume.
    points
        How many volumes when ``volumes`` is not given (at least 2).

    Returns
    -------
    pandas.DataFrame
        One row per (volume, option), columns :data:`CURVE_COLUMNS`; ``units`` is missing for
        APIs and infeasible rows have NaN costs.
    """
    check_workload(workload)
    for option in options:
        check_option(option)
    if volumes is None:
        count = checks.whole("points", points, 2, owner="cost_curve")
        base = workload.requests_per_month
        volumes = np.geomspace(base / 100.0, base * 100.0, count)
    rows = []
    for volume in volumes:
        at = workload.at_volume(float(volume))
        for option in options:
            result = option_cost(option, at)
            rows.append(
                {
                    "requests_per_month": float(volume),
                    "option": option.name,
                    "kind": option.kind,
                    "monthly_usd": result.monthly_usd,
                    "usd_per_1k_requests": result.usd_per_1k_requests,
                    "units": result.units,
                    "feasible": result.feasible,
                }
            )
    frame = pd.DataFrame(rows, columns=list(CURVE_COLUMNS))
    frame["units"] = frame["units"].astype("Int64")
    return frame


def _brentq() -> Any:
    """scipy's root finder, imported when a break-even is searched (scipy.optimize takes about
    0.6 s to import: a dashboard page that reads a kept decision never needs it)."""
    from scipy.optimize import brentq

    return brentq


__all__ = ["BREAK_EVEN_RANGE", "CURVE_COLUMNS", "BreakEven", "break_even", "cost_curve"]
