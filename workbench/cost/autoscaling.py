"""Autoscaled replicas, hour by hour over the workload's day, billed as providers bill.

A rented instance option (:class:`~workbench.cost.config.InstanceOption`) is sized for each
hour of the day from the workload's load profile, and the month's cost is the sum over the
hours times the days. This module says what "a replica is up" means, hour by hour; it is a
model, kept simple so that every figure can be checked by hand:

1. **Rates.** Hour ``h`` averages ``lambda_h = requests_per_month x share_h / (days x 3600)``
   requests/s (``days = hours_per_month / 24``). Replicas are sized for ``lambda_h x burst``,
   where ``burst = peak_rate / busiest hour's average`` (1 when the workload gives no peak):
   the busiest hour is sized for the peak, the others in proportion.
2. **Replicas.** ``replicas_h = max(min_replicas, ceil(sizing rate / capacity per replica))``;
   an hour that needs more than ``max_replicas`` makes the option infeasible. An hour without
   requests and ``min_replicas`` 0 runs no replica ("off").
3. **Whole hours.** A replica that serves an hour's steady load is up the whole hour ("on").
   Whole hours are multiples of every billing step, so a flat load with one replica at least
   prices exactly as ``replicas x usd_per_hour x hours_per_month``.
4. **On demand** (``min_replicas`` 0, one replica needed): when requests are few, the replica
   starts on the first request after idle, pays the cold start, serves, and goes
   ``scale_to_zero_after_s`` after the last request. With Poisson arrivals at ``lambda``, a
   request finds no replica up with probability ``p = exp(-lambda x W)`` (``W`` the inactivity
   period), so the hour has ``sessions = N x p`` starts (``N = 3600 x lambda`` requests) and
   the replica is up ``3600 x (1 - p) + sessions x (cold_start_s + 1 / throughput)`` seconds;
   when that reaches the hour, the hour is "on". Few requests: each pays ``cold start + work +
   W``. Each session is billed rounded up to the billing step at the mean session length.
5. **Scaling down.** When fewer whole replicas are needed than the hour before, the ones no
   longer needed are kept ``scale_down_after_s`` (billed, rounded up to the step). When the
   endpoint goes to zero, the last replica is kept ``scale_to_zero_after_s``, across idle hours
   if the period is longer than an hour ("idle"); if load returns before it ends, the
   endpoint never went down and nobody waits for a cold start.
6. **Cold starts.** ``cold_start_share`` is the expected share of an hour's requests that find
   no replica up and wait ``cold_start_s``: ``p`` in an on-demand hour, ``1 / N`` in a whole
   hour that starts from zero (its first request), 0 otherwise. For a request-level view (the
   routing simulation), :func:`cold_start_delays_s` replays given arrival times.

The day repeats: hour 23 precedes hour 0. An on-demand hour's idle tails are counted in that
hour. Load within an hour is taken as steady around the hour's average, so a spike shorter
than an hour is not seen: give ``peak_requests_per_s`` to size every hour for it, or price
explicit replica sessions with :func:`replica_sessions_usd`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from workbench.cost.config import GRANULARITY_S, InstanceOption, Workload
from workbench.cost.load_profile import HOURS_PER_DAY
from workbench.cost.sizing import capacity_per_unit, raw_requests_per_s
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

SECONDS_PER_HOUR = 3600.0
#: Where an hour's replicas come from: see the module docstring.
HOUR_STATES = ("on", "on demand", "idle", "off")
HOURLY_COLUMNS = (
    "hour",
    "state",
    "requests_per_s",
    "sizing_requests_per_s",
    "replicas",
    "up_hours",
    "billed_hours",
    "usd_per_month",
    "cold_start_share",
)
_STEP_TOLERANCE = 1e-9
#: A replica up all but this share of an hour counts as up the whole hour.
_WHOLE_TOLERANCE = 1e-6


def billed_seconds(up_s: float, granularity: str) -> float:
    """One stretch of ``up_s`` seconds that a replica is up, as the provider bills it: rounded
    up to a whole ``granularity`` ("second", "minute" or "hour"); 0 stays 0.

    Raises
    ------
    InvalidInputError
        For a negative time or an unknown granularity.
    """
    owner = "billed_seconds"
    seconds = checks.number("up_s", up_s, low=0, owner=owner)
    step = GRANULARITY_S[checks.choice("granularity", granularity, tuple(GRANULARITY_S))]
    if seconds == 0:
        return 0.0
    return math.ceil(seconds / step - _STEP_TOLERANCE) * step


def replica_sessions_usd(
    usd_per_hour: float, sessions_s: Iterable[float], granularity: str
) -> float:
    """What replica sessions cost: each session (seconds one replica was up, from its start,
    initialisation included, to its stop) rounded up to ``granularity``, at ``usd_per_hour``.

    Parameters
    ----------
    usd_per_hour
        Price of one replica per hour, USD.
    sessions_s
        Up-time of each session, seconds.
    granularity
        "second", "minute" or "hour".
    """
    price = checks.number("usd_per_hour", usd_per_hour, low=0, owner="replica_sessions_usd")
    total = math.fsum(billed_seconds(s, granularity) for s in sessions_s)
    return price * total / SECONDS_PER_HOUR


@dataclass(frozen=True)
class HourRow:
    """One hour of the day in an :class:`HourlyPlan`.

    ``requests_per_s`` is the hour's average rate and ``sizing_requests_per_s`` what its
    replicas are sized for; ``up_hours`` and ``billed_hours`` are replica-hours in this hour of
    one day (before and after rounding up to the billing step, lingering replicas included);
    ``usd_per_month`` is this hour's share of the month (``billed_hours x price x days``);
    ``cold_start_share`` the expected share of its requests that wait for a cold start.
    """

    hour: int
    state: str
    requests_per_s: float
    sizing_requests_per_s: float
    replicas: int
    up_hours: float
    billed_hours: float
    usd_per_month: float
    cold_start_share: float

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HourRow:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class HourlyPlan:
    """An instance option's replicas hour by hour over one day, and what the month costs.

    ``monthly_usd = usd_per_hour x billed replica-hours a day x hours_per_month / 24``; NaN
    when ``feasible`` is false (an hour needs more than ``max_replicas``; ``reason`` says which).
    """

    option: str
    profile: str
    usd_per_hour: float
    hours_per_month: float
    billing_granularity: str
    rows: tuple[HourRow, ...]
    burst: float = 1.0
    feasible: bool = True
    reason: str = ""

    @property
    def replicas_peak(self) -> int:
        """The most replicas any hour runs."""
        return max(row.replicas for row in self.rows)

    @property
    def billed_hours_per_day(self) -> float:
        """Replica-hours billed in one day."""
        return math.fsum(row.billed_hours for row in self.rows)

    @property
    def on_demand_billed_hours_per_day(self) -> float:
        """Replica-hours billed a day in on-demand (scale-to-zero) hours."""
        return math.fsum(row.billed_hours for row in self.rows if row.state == "on demand")

    @property
    def has_on_demand_hours(self) -> bool:
        """Whether some hour starts its replica on demand (its cost is not linear in volume)."""
        return any(row.state == "on demand" for row in self.rows)

    @property
    def uniform(self) -> bool:
        """Every hour the same replicas, up and billed the whole hour: today's flat formula."""
        first = self.rows[0].replicas
        return all(
            row.state == "on" and row.replicas == first and row.billed_hours == row.replicas
            for row in self.rows
        )

    @property
    def monthly_usd(self) -> float:
        """The month's cost, USD (NaN when infeasible)."""
        if not self.feasible:
            return math.nan
        return self.usd_per_hour * (self.billed_hours_per_day * self.hours_per_month) / 24.0

    def to_frame(self) -> pd.DataFrame:
        """One row per hour, columns :data:`HOURLY_COLUMNS`."""
        return pd.DataFrame([row.to_dict() for row in self.rows], columns=list(HOURLY_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (``rows`` as a list of dicts)."""
        data = asdict(self)
        data["rows"] = [row.to_dict() for row in self.rows]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HourlyPlan:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["rows"] = tuple(HourRow.from_dict(r) for r in values.get("rows", ()))
        return cls(**values)


@dataclass
class _Hour:
    """Working state of one hour while the plan is built."""

    rate: float
    sizing: float
    replicas: int
    state: str
    up_s: float = 0.0
    billed_s: float = 0.0
    cold_share: float = 0.0
    on_demand_p: float = 0.0


def sizing_rates(workload: Workload) -> tuple[tuple[float, ...], float]:
    """Each hour's sizing rate (requests/s) and the burst factor applied to the hourly averages.

    The busiest hour is sized for ``workload.peak_rate`` exactly; the others for their
    average times ``peak_rate / busiest hour's average``.
    """
    rates = workload.hourly_requests_per_s
    peak = workload.peak_rate
    if workload.load_profile.is_flat:
        return (peak,) * HOURS_PER_DAY, peak / workload.average_requests_per_s
    busiest = max(rates)
    burst = max(1.0, peak / busiest)
    return tuple(peak if rate == busiest else rate * burst for rate in rates), burst


def hourly_plan(option: InstanceOption, workload: Workload) -> HourlyPlan:
    """Replicas hour by hour for ``option`` at ``workload``, billed as the option's provider bills.

    See the module docstring for the model. Pure: no clock, no files.

    Raises
    ------
    InvalidInputError
        For inputs of the wrong type, or a throughput in tokens with no output tokens.
    """
    if not isinstance(option, InstanceOption):
        raise InvalidInputError(
            f"`option` must be an InstanceOption (only rented replicas autoscale), got "
            f"{type(option).__name__}."
        )
    if not isinstance(workload, Workload):
        raise InvalidInputError(f"`workload` must be a Workload, got {type(workload).__name__}.")
    per_unit = capacity_per_unit(option, workload)
    sizing, burst = sizing_rates(workload)
    rates = workload.hourly_requests_per_s
    hours = []
    for rate, size in zip(rates, sizing, strict=True):
        replicas = max(option.min_replicas, _replicas_for(size, per_unit))
        hours.append(_Hour(rate, size, replicas, "on" if replicas else "off"))
    base = {
        "option": option.name,
        "profile": workload.load_profile.name,
        "usd_per_hour": float(option.usd_per_hour),
        "hours_per_month": float(workload.hours_per_month),
        "billing_granularity": option.billing_granularity,
        "burst": burst,
    }
    high = option.max_replicas
    if high is not None and max(h.replicas for h in hours) > high:
        busiest = max(range(HOURS_PER_DAY), key=lambda i: (hours[i].replicas, -i))
        worst = hours[busiest]
        reason = (
            f"the peak of {worst.sizing:.3g} requests/s needs {worst.replicas} replicas of "
            f"{per_unit:.3g} requests/s, more than the {high} allowed (max_replicas)"
        )
        rows = tuple(_row(i, h, math.nan, math.nan) for i, h in enumerate(hours))
        return HourlyPlan(**base, rows=rows, feasible=False, reason=reason)
    _on_demand(option, workload, hours)
    _whole_hours(option, hours)
    _scale_down(option, hours)
    days = workload.hours_per_month / 24.0
    rows = tuple(
        _row(i, h, h.billed_s / SECONDS_PER_HOUR * option.usd_per_hour * days, h.cold_share)
        for i, h in enumerate(hours)
    )
    return HourlyPlan(**base, rows=rows)


def _replicas_for(rate: float, per_unit: float) -> int:
    """``ceil(rate / per_unit)`` ignoring float noise, at least 1 for any load at all: the
    arithmetic of :func:`workbench.cost.sizing.units_needed` without its argument checks (the
    caller checked them once), so cheap enough to run for every hour."""
    if rate <= 0:
        return 0
    ratio = rate / per_unit
    return max(1, math.ceil(ratio - _STEP_TOLERANCE * max(1.0, ratio)))


def _row(index: int, hour: _Hour, usd: float, cold_share: float) -> HourRow:
    return HourRow(
        hour=index,
        state=hour.state,
        requests_per_s=hour.rate,
        sizing_requests_per_s=hour.sizing,
        replicas=hour.replicas,
        up_hours=hour.up_s / SECONDS_PER_HOUR,
        billed_hours=hour.billed_s / SECONDS_PER_HOUR,
        usd_per_month=usd,
        cold_start_share=cold_share,
    )


def _on_demand(option: InstanceOption, workload: Workload, hours: list[_Hour]) -> None:
    """Mark the scale-to-zero hours whose single replica is up less than the whole hour."""
    if not option.scales_to_zero:
        return
    window = float(option.scale_to_zero_after_s)
    per_session = float(option.cold_start_s or 0.0) + 1.0 / raw_requests_per_s(option, workload)
    for hour in hours:
        if hour.replicas != 1 or hour.rate <= 0:
            continue
        p = math.exp(-hour.rate * window)
        sessions = SECONDS_PER_HOUR * hour.rate * p
        up = SECONDS_PER_HOUR * (1.0 - p) + sessions * per_session
        if sessions <= 0 or up >= SECONDS_PER_HOUR * (1 - _WHOLE_TOLERANCE):
            continue
        hour.state = "on demand"
        hour.on_demand_p = p
        hour.cold_share = p
        hour.up_s = up
        hour.billed_s = sessions * billed_seconds(up / sessions, option.billing_granularity)


def _whole_hours(option: InstanceOption, hours: list[_Hour]) -> None:
    """Whole-hour replicas; the first request of a whole hour that starts from zero pays."""
    for index, hour in enumerate(hours):
        if hour.state != "on":
            continue
        hour.up_s = hour.billed_s = hour.replicas * SECONDS_PER_HOUR
        if not option.scales_to_zero:
            continue
        before = hours[index - 1]
        requests = SECONDS_PER_HOUR * hour.rate
        if before.state == "off":
            hour.cold_share = min(1.0, 1.0 / requests)
        elif before.state == "on demand":
            hour.cold_share = min(1.0, before.on_demand_p / requests)


def _scale_down(option: InstanceOption, hours: list[_Hour]) -> None:
    """Replicas no longer needed are kept for the scale-down delay (the last one for the
    scale-to-zero period, across idle hours); the day wraps around."""
    step = option.billing_granularity
    delay = float(option.scale_down_after_s)
    whole = [h.replicas if h.state == "on" else 0 for h in hours]
    for index, hour in enumerate(hours):
        drop = whole[index - 1] - hour.replicas
        if drop <= 0:
            continue
        to_zero = hour.replicas == 0
        kept = drop - 1 if to_zero else drop
        hour.up_s += kept * delay
        hour.billed_s += kept * billed_seconds(delay, step)
        if to_zero:
            _linger(option, hours, index)


def _linger(option: InstanceOption, hours: list[_Hour], start: int) -> None:
    """The last replica stays ``scale_to_zero_after_s`` from the start of idle hour ``start``."""
    remaining = float(option.scale_to_zero_after_s)
    index = start
    for _ in range(HOURS_PER_DAY):
        hour = hours[index]
        if hour.replicas != 0 or remaining <= 0:
            break
        chunk = min(remaining, SECONDS_PER_HOUR)
        remaining -= chunk
        hour.up_s += chunk
        hour.billed_s += billed_seconds(chunk, option.billing_granularity)
        hour.state = "idle"
        index = (index + 1) % HOURS_PER_DAY
    after = hours[index]
    if after.replicas and remaining > 0:
        after.cold_share = 0.0  # the endpoint never went down: nobody waits


def always_on_monthly_usd(option: InstanceOption, workload: Workload) -> float:
    """:attr:`HourlyPlan.monthly_usd` of an option that never scales to zero, without building
    the plan's rows: whole-hour replicas plus those kept while scaling down. For the many
    evaluations of a break-even search."""
    if option.scales_to_zero:
        raise InvalidInputError(
            f"always_on_monthly_usd is for options that keep a replica up; {option.name!r} "
            "scales to zero: use hourly_plan."
        )
    per_unit = capacity_per_unit(option, workload)
    sizing, _ = sizing_rates(workload)
    replicas = [max(option.min_replicas, _replicas_for(size, per_unit)) for size in sizing]
    kept = billed_seconds(float(option.scale_down_after_s), option.billing_granularity)
    billed = math.fsum(
        (count * SECONDS_PER_HOUR + max(0, replicas[index - 1] - count) * kept) / SECONDS_PER_HOUR
        for index, count in enumerate(replicas)
    )
    return option.usd_per_hour * (billed * workload.hours_per_month) / 24.0


def replica_steps(
    option: InstanceOption, workload: Workload, limit: float
) -> tuple[list[float], float]:
    """Monthly volumes in ``(0, limit)`` where some hour's replica count changes, and the volume
    where the busiest hour needs more than ``max_replicas`` (infinite without a maximum).

    Every hour's sizing rate is proportional to the volume (the profile and the peak-to-average
    ratio are kept), so hour ``h`` adds its ``j``-th replica at ``j x capacity / a_h`` with
    ``a_h`` its sizing rate per request a month.
    """
    per_unit = capacity_per_unit(option, workload)
    sizing, _ = sizing_rates(workload)
    slopes = sorted({size / workload.requests_per_month for size in sizing if size > 0})
    low = max(option.min_replicas, 1)
    high = option.max_replicas
    ceiling = math.inf if high is None else high * per_unit / max(slopes)
    last = min(limit, ceiling)
    steps: set[float] = set()
    for slope in slopes:
        volume_per_unit = per_unit / slope
        steps.update(k * volume_per_unit for k in range(low, int(last / volume_per_unit) + 1))
    return sorted(s for s in steps if 0 < s < last), ceiling


def plan_working(plan: HourlyPlan, option: InstanceOption, workload: Workload) -> list[str]:
    """The plan in words, one step a line, for :class:`~workbench.cost.monthly.OptionCost`."""
    profile = workload.load_profile
    busiest = workload.busiest_hour_requests_per_s
    where = ", ".join(
        part for part in (profile.source, profile.as_of and f"as of {profile.as_of}") if part
    )
    where = f" ({where})" if where else ""
    lines = [
        f"load profile {profile.name}{where}: busiest hour {profile.busiest_hour:02d}:00 at "
        f"{busiest:.6g} requests/s = {busiest / workload.average_requests_per_s:.3g} x the "
        "month's average"
    ]
    if plan.burst > 1 + 1e-12:
        lines.append(
            f"each hour sized for its average x {plan.burst:.6g} (peak {workload.peak_rate:.6g} "
            f"/ busiest hour {busiest:.6g} requests/s)"
        )
    marked = " (* on demand: started by the first request after idle)"
    lines.append(
        "replicas by hour: " + _runs(plan.rows) + (marked if plan.has_on_demand_hours else "")
    )
    if plan.has_on_demand_hours:
        count = sum(row.state == "on demand" for row in plan.rows)
        lines.append(
            f"scale to zero: in {count} hour(s) with few requests a replica starts on demand "
            f"(cold start {option.cold_start_s:g} s) and goes {option.scale_to_zero_after_s:g} s "
            f"after the last request: {plan.on_demand_billed_hours_per_day:.4g} replica-hours "
            "billed a day"
        )
    kept = math.fsum(
        row.billed_hours - (row.replicas if row.state == "on" else 0)
        for row in plan.rows
        if row.state != "on demand"
    )
    if kept > 0:
        lines.append(
            f"scaling down: replicas no longer needed are kept {option.scale_down_after_s:g} s "
            f"(the last one {option.scale_to_zero_after_s:g} s): {kept:.4g} replica-hours "
            "billed a day"
        )
    lines.append(
        f"monthly = {plan.billed_hours_per_day:.6g} replica-hours a day (billed per "
        f"{plan.billing_granularity}) x {workload.hours_per_month:g} h / 24 x "
        f"${option.usd_per_hour:g}/h = ${plan.monthly_usd:,.2f}"
    )
    return lines


def _runs(rows: Sequence[HourRow]) -> str:
    """``00-06: 0, 07: 1, 08-17: 2`` (on-demand hours marked ``*``)."""
    parts = []
    start = 0
    for index in range(1, len(rows) + 1):
        if index < len(rows) and _label(rows[index]) == _label(rows[start]):
            continue
        span = f"{start:02d}" if index - 1 == start else f"{start:02d}-{index - 1:02d}"
        parts.append(f"{span}: {_label(rows[start])}")
        start = index
    return ", ".join(parts)


def _label(row: HourRow) -> str:
    return f"{row.replicas}*" if row.state == "on demand" else str(row.replicas)


def cold_start_delays_s(
    option: InstanceOption,
    arrival_times_s: Sequence[float] | np.ndarray,
    *,
    service_time_s: float = 0.0,
    warm_at_start: bool = False,
) -> np.ndarray:
    """The extra wait of each request for a replica to start from zero (0 for most requests).

    With ``min_replicas`` 0 the endpoint has no replica once ``scale_to_zero_after_s`` passed
    since the last request finished. A request that arrives then starts one and waits
    ``cold_start_s``; a request arriving while that replica starts waits the rest of the
    start. With ``min_replicas`` >= 1 every delay is 0. Pure: add the result to each request's
    latency in a simulation.

    Parameters
    ----------
    option
        The instance option (its ``min_replicas``, ``cold_start_s`` and
        ``scale_to_zero_after_s``).
    arrival_times_s
        Arrival time of each request, seconds, in non-decreasing order.
    service_time_s
        How long a request keeps the replica busy (the inactivity period counts from its end).
    warm_at_start
        Whether a replica is up at time 0, as if a request had just finished (default: the
        window starts with no replica up, so the first request pays the cold start).

    Returns
    -------
    numpy.ndarray
        Seconds each request waits for a cold start, in the order given.

    Raises
    ------
    InvalidInputError
        For arrival times that are not finite or not in order, or a negative service time.
    """
    if not isinstance(option, InstanceOption):
        raise InvalidInputError(f"`option` must be an InstanceOption, got {type(option).__name__}.")
    owner = "cold_start_delays_s"
    service = float(checks.number("service_time_s", service_time_s, low=0, owner=owner))
    times = np.asarray(arrival_times_s, dtype=float)
    if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0):
        raise InvalidInputError(
            "`arrival_times_s` must be finite arrival times in seconds, in non-decreasing "
            "order; sort them first."
        )
    delays = np.zeros(len(times))
    if not option.scales_to_zero:
        return delays
    start = float(option.cold_start_s or 0.0)
    window = float(option.scale_to_zero_after_s)
    ready_at = 0.0 if warm_at_start else -math.inf
    down_at = window if warm_at_start else -math.inf
    for index, arrival in enumerate(times):
        if arrival > down_at:
            ready_at = arrival + start
        wait = max(0.0, ready_at - arrival)
        delays[index] = wait
        down_at = max(down_at, arrival + wait + service + window)
    return delays


__all__ = [
    "HOURLY_COLUMNS",
    "HOUR_STATES",
    "HourRow",
    "HourlyPlan",
    "always_on_monthly_usd",
    "billed_seconds",
    "cold_start_delays_s",
    "hourly_plan",
    "plan_working",
    "replica_sessions_usd",
    "replica_steps",
    "sizing_rates",
]
