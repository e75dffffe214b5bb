"""One-at-a-time sensitivity of a monthly cost: the data of a tornado chart.

Each numeric input (of the option, of a second option when comparing two, and of the
workload) is moved down and up by the same percentage while every other input stays at its
base value; the monthly cost (or the difference between two options) is recomputed at both
ends. The input whose move changes the result most comes first.

Inputs are kept inside their valid range: a utilization of 0.9 moved up 20% stops at 1.0, a
PUE does not go below 1, a peak not below the busiest hour's average rate. An instance option
that scales to zero also moves its cold start and inactivity period, and one on a load profile
that is not flat its scale-down delay. ``note`` says where that
happened, so a short bar is not mistaken for an insensitive input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from workbench.cost.config import CostOption, OwnedOption, Workload, check_option, check_workload
from workbench.cost.monthly import option_cost
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

#: Workload fields that are inputs to a cost (the latency objective and hours are not).
WORKLOAD_INPUTS = ("requests_per_month", "peak_requests_per_s", "input_tokens", "output_tokens")

SENSITIVITY_COLUMNS = (
    "input",
    "owner",
    "base_value",
    "low_value",
    "high_value",
    "cost_at_low",
    "cost_at_high",
    "swing",
    "base_cost",
    "note",
)


def _cost(option: CostOption, workload: Workload) -> float:
    result = option_cost(option, workload)
    return result.monthly_usd if result.feasible else math.nan


def _metric(option: CostOption, versus: CostOption | None, workload: Workload) -> float:
    cost = _cost(option, workload)
    return cost if versus is None else cost - _cost(versus, workload)


def _bounds(owner: Any, name: str, workload: Workload) -> tuple[float, float]:
    """The valid range of an input, to clip the moved values into."""
    if name == "utilization":
        return 0.0, 1.0
    if name == "pue":
        return 1.0, math.inf
    if name == "peak_requests_per_s":
        return workload.busiest_hour_requests_per_s, math.inf
    if name == "scale_down_after_s":
        return 0.0, 3600.0
    if name == "scale_to_zero_after_s":
        return 0.0, 86400.0
    if isinstance(owner, OwnedOption) and owner.idle_power_w is not None:
        if name == "idle_power_w":
            return 0.0, owner.power_w
        if name == "power_w":
            return owner.idle_power_w, math.inf
    return 0.0, math.inf


def _moved(
    base: float, share: float, low_limit: float, high_limit: float
) -> tuple[float, float, str]:
    low, high = base * (1 - share), base * (1 + share)
    notes = []
    if low < low_limit:
        low = low_limit
        notes.append(f"low end held at {low_limit:g}")
    if high > high_limit:
        high = high_limit
        notes.append(f"high end held at {high_limit:g}")
    return low, high, "; ".join(notes)


def sensitivity(
    option: CostOption,
    workload: Workload,
    *,
    percent: float = 20.0,
    versus: CostOption | None = None,
) -> pd.DataFrame:
    """Move each numeric input down and up by ``percent`` and rank inputs by their effect.

    Parameters
    ----------
    option
        The option whose monthly cost is studied.
    workload
        The base workload. Moving ``requests_per_month`` keeps the peak-to-average shape
        (:meth:`Workload.at_volume`); ``peak_requests_per_s`` is moved on its own when given.
    percent
        How far each input moves, in percent of its base value, in (0, 100).
    versus
        When given, the result is ``cost(option) - cost(versus)`` (positive: ``option`` is
        dearer) and the inputs of both options are moved.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SENSITIVITY_COLUMNS`, one row per input, largest ``swing`` first.
        ``owner`` is ``"workload"`` or an option's name; ``cost_at_low`` and ``cost_at_high``
        are USD per month (or the difference) with the input at ``low_value`` and
        ``high_value``; ``swing = |cost_at_high - cost_at_low|``. An end where the option cannot
        serve the peak is NaN and its swing infinite, so it ranks first.

    Raises
    ------
    InvalidInputError
        For a percent outside (0, 100), or inputs of the wrong type.
    """
    share = _check(option, workload, percent, versus) / 100.0
    base_cost = _metric(option, versus, workload)
    rows = _workload_rows(option, versus, workload, share, base_cost)
    for owner in [option] if versus is None else [option, versus]:
        rows += _option_rows(owner, option, versus, workload, share, base_cost)

    frame = pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))
    frame = frame.sort_values(
        ["swing", "owner", "input"], ascending=[False, True, True], kind="stable"
    )
    frame = frame.reset_index(drop=True)
    frame.attrs["base_cost"] = base_cost
    frame.attrs["metric"] = (
        f"monthly USD of {option.name}"
        if versus is None
        else f"monthly USD of {option.name} minus {versus.name}"
    )
    return frame


def _check(option: Any, workload: Any, percent: Any, versus: Any) -> float:
    """``percent`` as a float once every input is of the right kind."""
    check_option(option)
    check_workload(workload)
    if versus is not None:
        check_option(versus)
        if versus.name == option.name:
            raise InvalidInputError(
                f"`versus` must be another option than {option.name!r}: rename one of them."
            )
    return float(
        checks.number(
            "percent",
            percent,
            low=0,
            high=100,
            low_open=True,
            high_open=True,
            owner="sensitivity",
            fix="Give how far each input moves, e.g. 20.",
        )
    )


def _workload_rows(
    option: CostOption,
    versus: CostOption | None,
    workload: Workload,
    share: float,
    base_cost: float,
) -> list[dict[str, Any]]:
    """One row per workload input; moving the volume keeps the workload's shape."""
    rows = []
    for name in WORKLOAD_INPUTS:
        base = getattr(workload, name)
        if base is None:
            continue
        low_limit, high_limit = _bounds(workload, name, workload)
        if name == "requests_per_month":
            low_limit, high_limit = 0.0, math.inf
        low, high, note = _moved(float(base), share, low_limit, high_limit)

        def at(value: float, name: str = name) -> Workload:
            if name == "requests_per_month":
                return workload.at_volume(value)
            return replace(workload, **{name: value})

        def evaluate(candidate: Workload) -> float:
            return _metric(option, versus, candidate)

        rows.append(_row(name, "workload", base, low, high, note, base_cost, evaluate, at))
    return rows


def _option_rows(
    owner: CostOption,
    option: CostOption,
    versus: CostOption | None,
    workload: Workload,
    share: float,
    base_cost: float,
) -> list[dict[str, Any]]:
    """One row per input of ``owner`` (``option`` or ``versus``), the other held at its base."""
    rows = []
    for name in owner.sensitivity_inputs(workload):
        base = getattr(owner, name)
        if base is None:
            continue
        low_limit, high_limit = _bounds(owner, name, workload)
        low, high, note = _moved(float(base), share, low_limit, high_limit)

        def changed(value: float, name: str = name) -> CostOption:
            return replace(owner, **{name: value})

        def evaluate(candidate: CostOption) -> float:
            first = candidate if owner is option else option
            second = candidate if owner is versus else versus
            return _metric(first, second, workload)

        rows.append(_row(name, owner.name, base, low, high, note, base_cost, evaluate, changed))
    return rows


def _row(
    name: str,
    owner: str,
    base: float,
    low: float,
    high: float,
    note: str,
    base_cost: float,
    evaluate: Callable[[Any], float],
    build: Callable[[float], Any],
) -> dict[str, Any]:
    results = []
    notes = [note] if note else []
    for value in (low, high):
        try:
            results.append(evaluate(build(value)))
        except InvalidInputError as exc:
            results.append(math.nan)
            notes.append(f"{value:g} is not a valid {name}: {exc}")
    cost_low, cost_high = results
    if math.isnan(cost_low) or math.isnan(cost_high):
        swing = math.inf
        notes.append("the option cannot serve the peak at one end")
    else:
        swing = abs(cost_high - cost_low)
    if base == 0:
        notes.append("0 stays 0 when moved by a percentage")
    return {
        "input": name,
        "owner": owner,
        "base_value": float(base),
        "low_value": low,
        "high_value": high,
        "cost_at_low": cost_low,
        "cost_at_high": cost_high,
        "swing": swing,
        "base_cost": base_cost,
        "note": "; ".join(notes),
    }


__all__ = ["SENSITIVITY_COLUMNS", "WORKLOAD_INPUTS", "sensitivity"]
