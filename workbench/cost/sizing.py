"""Whole-unit sizing: what one unit (replica, machine) serves, and how many units a rate needs.

Shared by the monthly cost (:mod:`workbench.cost.monthly`) and the hour-by-hour autoscaling plan
(:mod:`workbench.cost.autoscaling`).
"""

from __future__ import annotations

import math

from workbench.cost.config import InstanceOption, OwnedOption, Workload
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

#: Whole-unit sizing ignores float noise smaller than this (so 2.0000000001 replicas is 2).
_UNIT_TOLERANCE = 1e-9
_POSITIVE = {"low": 0, "low_open": True}


def units_needed(peak_requests_per_s: float, capacity_per_unit: float, min_units: int = 1) -> int:
    """Whole units (replicas, machines) to serve a peak: ``max(min_units, ceil(peak / capacity))``.

    Parameters
    ----------
    peak_requests_per_s
        Demand to serve, requests per second.
    capacity_per_unit
        Requests per second one unit is planned for (throughput x utilization).
    min_units
        Units kept at least (1 by default: an idle service still runs one).

    Raises
    ------
    InvalidInputError
        For a negative peak or a non-positive capacity.
    """
    owner = "units_needed"
    peak = checks.number("peak_requests_per_s", peak_requests_per_s, low=0, owner=owner)
    capacity = checks.number("capacity_per_unit", capacity_per_unit, owner=owner, **_POSITIVE)
    ratio = peak / capacity
    steps = math.ceil(ratio - _UNIT_TOLERANCE * max(1.0, ratio))
    return max(int(min_units), steps)


def raw_requests_per_s(option: InstanceOption | OwnedOption, workload: Workload) -> float:
    """Requests one unit completes per second at full load.

    ``requests_per_s`` as given, or ``tokens_per_s / output_tokens``.

    Raises
    ------
    InvalidInputError
        When the throughput is in tokens and the workload generates no output tokens.
    """
    if option.requests_per_s is not None:
        return float(option.requests_per_s)
    if workload.output_tokens <= 0:
        raise InvalidInputError(
            f"Option {option.name!r} gives its throughput in `tokens_per_s`, but the workload's "
            "`output_tokens` is 0, so tokens cannot be turned into requests. Give "
            "`requests_per_s` instead (e.g. measured items/s for embeddings), or set output_tokens."
        )
    return float(option.tokens_per_s) / workload.output_tokens


def capacity_per_unit(option: InstanceOption | OwnedOption, workload: Workload) -> float:
    """Requests per second one unit is planned for: ``raw throughput x utilization``."""
    return raw_requests_per_s(option, workload) * option.utilization


__all__ = ["capacity_per_unit", "raw_requests_per_s", "units_needed"]
