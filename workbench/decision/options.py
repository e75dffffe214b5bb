"""Comparing a scenario's options: each priced at the workload, with its break-even against the
cheapest other option and the catalog rows (source, date, staleness) behind its price."""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.cost import (
    DEFAULT_MAX_AGE_DAYS,
    OptionCost,
    PriceCatalog,
    Workload,
    break_even,
    load_prices,
    option_cost,
    stale_prices,
)
from workbench.decision.quality import find_qualities, ruled_out
from workbench.decision.resolve import ResolvedOption, resolve_options
from workbench.decision.scenario_config import Scenario
from workbench.decision.scenarios import load_scenario
from workbench.devices import Device, load_devices

COMPARE_COLUMNS = (
    "option",
    "kind",
    "feasible",
    "monthly_usd",
    "usd_per_1k_requests",
    "usd_per_request",
    "fixed_usd_per_month",
    "variable_usd_per_request",
    "units",
    "capacity_per_unit_requests_per_s",
    "capacity_requests_per_s",
    "throughput",
    "throughput_unit",
    "throughput_source",
    "estimate",
    "p50_ms",
    "p95_ms",
    "meets_latency_objective",
    "break_even_vs",
    "break_even_requests_per_month",
    "break_even_reason",
    "price_rows",
    "price_sources",
    "price_as_of",
    "stale",
    "on_premises",
    "on_premises_ok",
    "reason",
    "working",
    "cold_start_share",
    "latency_count",
    "model",
    "engine",
    "variant",
    "variant_reason",
    "data_location",
    "quality",
    "quality_kind",
    "quality_source",
    "ruled_out",
)


def compare_options(
    scenario: Scenario | Path | str,
    runs_dir: str | os.PathLike[str] | None = None,
    *,
    prices: PriceCatalog | None = None,
    devices: Mapping[str, Device] | None = None,
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    today: datetime.date | None = None,
    resolved: Sequence[ResolvedOption] | None = None,
) -> pd.DataFrame:
    """Price every option of a scenario at its workload: one row per option.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, or a path (or shipped name) for :func:`load_scenario`.
    runs_dir
        Where the runs named in ``[runs]`` are; default ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    prices, devices
        The catalogs; default the shipped ones (pass a catalog with overrides applied).
    max_age_days, today
        Price rows older than ``max_age_days`` before ``today`` are flagged ``stale`` and
        warned about with :class:`workbench.cost.StalePriceWarning`.
    resolved
        The scenario's options as :func:`resolve_options` gave them, when the caller needs
        them too (a panel charting them): they are then looked up once, not twice.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`, in the scenario's order. ``break_even_vs`` is the
        cheapest other feasible option at the scenario's volume (the cheapest on-premises one
        when ``data_must_stay_on_premises`` holds and there is one); ``price_rows``,
        ``price_sources`` and ``price_as_of`` list the catalog rows used (``; ``-separated).
        ``frame.attrs`` holds ``scenario`` (name), ``requests_per_month`` and ``warnings``
        (stale rows and on-premises flags, one sentence each).

    Raises
    ------
    ScenarioError, ScenarioRunError
        For an invalid scenario, or a named run that does not exist.
    """
    prices = prices if prices is not None else load_prices()
    devices = dict(devices) if devices is not None else load_devices()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, prices=prices, devices=devices)
    workload = scenario.workload.cost_workload()
    if resolved is None:
        resolved = resolve_options(scenario, runs_dir, prices=prices, devices=devices)
    costs: dict[str, OptionCost | None] = {
        r.spec.name: option_cost(r.cost_option, workload) if r.cost_option else None
        for r in resolved
    }
    all_refs = [ref for r in resolved for ref in r.price_rows]
    stale = {s.label: s for s in stale_prices(all_refs, max_age_days, today)}
    rows = [_compare_row(item, costs, resolved, workload, scenario, stale) for item in resolved]
    qualities = find_qualities(scenario, resolved, runs_dir)
    for row, item in zip(rows, resolved, strict=True):
        row.update(qualities[item.spec.name])
        row["ruled_out"] = ruled_out(row, scenario)
    return _frame(rows, scenario, workload, [s.message for s in stale.values()])


def _frame(
    rows: list[dict[str, Any]], scenario: Scenario, workload: Workload, stale: list[str]
) -> pd.DataFrame:
    """The rows as a table typed for reading (whole units, true/false/unknown), with its attrs."""
    frame = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    frame["units"] = frame["units"].astype("Int64")
    frame["meets_latency_objective"] = frame["meets_latency_objective"].astype("boolean")
    frame.attrs["scenario"] = scenario.name
    frame.attrs["requests_per_month"] = workload.requests_per_month
    frame.attrs["warnings"] = stale + list(scenario.flags)
    return frame


def _compare_row(
    item: ResolvedOption,
    costs: dict[str, OptionCost | None],
    resolved: Sequence[ResolvedOption],
    workload: Workload,
    scenario: Scenario,
    stale: dict[str, Any],
) -> dict[str, Any]:
    """One row of :func:`compare_options`: blanks, then what the throughput, cost and
    break-even add."""
    option, cost = item.spec, costs[item.spec.name]
    rule = scenario.workload.data_rule
    row: dict[str, Any] = dict.fromkeys(COMPARE_COLUMNS, math.nan)
    row.update(
        option=option.name,
        kind=option.kind,
        feasible=bool(cost and cost.feasible),
        units=None,
        throughput_unit="",
        throughput_source="per-token API" if option.kind == "api" else "",
        estimate=False,
        meets_latency_objective=None,
        break_even_vs="",
        break_even_reason="",
        price_rows="; ".join(r.label for r in item.price_rows),
        price_sources="; ".join(r.source for r in item.price_rows),
        price_as_of="; ".join(r.as_of for r in item.price_rows),
        stale=any(r.label in stale for r in item.price_rows),
        on_premises=option.is_on_premises,
        on_premises_ok=option.allowed_by(rule),
        reason=item.reason,
        working="",
        model=option.model if option.kind == "api" else "",
        engine="",
        variant="",
        variant_reason="",
        data_location=option.where_data_stays,
        quality_source="",
    )
    row.update(_throughput_columns(item, workload))
    if cost is not None:
        row.update(_cost_columns(cost, row["reason"]))
        row.update(_cold_start_columns(item, cost, row))
    row.update(_break_even_columns(item, costs, resolved, workload, rule))
    return row


def _throughput_columns(item: ResolvedOption, workload: Workload) -> dict[str, Any]:
    throughput = item.throughput
    if throughput is None:
        return {}
    columns: dict[str, Any] = {
        "throughput": throughput.value,
        "throughput_unit": throughput.unit,
        "throughput_source": throughput.source,
        "estimate": throughput.estimate,
        "model": throughput.model,
        "engine": throughput.engine,
        # The path as the decision names it: "int8", or "llama.cpp q4_1" on another engine.
        "variant": throughput.path or throughput.variant,
        "variant_reason": throughput.variant_reason,
    }
    if throughput.p95_ms is not None:
        columns["p95_ms"] = throughput.p95_ms
    if throughput.latency_count is not None:
        columns["latency_count"] = throughput.latency_count
    if throughput.p50_ms is not None:
        columns["p50_ms"] = throughput.p50_ms
        if workload.latency_objective_ms is not None:
            columns["meets_latency_objective"] = throughput.p50_ms <= workload.latency_objective_ms
    return columns


def _cost_columns(cost: OptionCost, reason: str) -> dict[str, Any]:
    columns: dict[str, Any] = {
        "monthly_usd": cost.monthly_usd,
        "usd_per_1k_requests": cost.usd_per_1k_requests,
        "usd_per_request": cost.usd_per_request,
        "fixed_usd_per_month": cost.fixed_usd_per_month,
        "variable_usd_per_request": cost.variable_usd_per_request,
        "units": cost.units,
        "working": " | ".join(cost.working),
        "reason": cost.reason or reason,
    }
    if cost.capacity_per_unit_requests_per_s is not None:
        columns["capacity_per_unit_requests_per_s"] = cost.capacity_per_unit_requests_per_s
        columns["capacity_requests_per_s"] = cost.capacity_requests_per_s
    return columns


#: The share of requests above which a cold start shows in the p95 latency.
_P95_TAIL = 0.05


def _cold_start_columns(item: ResolvedOption, cost: OptionCost, row: dict[str, Any]) -> dict:
    """For a scale-to-zero instance: the share of the month's requests that find no replica up
    (from the hourly plan); when it exceeds 5%, the p95 latency includes the cold start."""
    cold_start_s = getattr(item.cost_option, "cold_start_s", None)
    if not cost.hourly or not cold_start_s or getattr(item.cost_option, "min_replicas", 1) > 0:
        return {}
    frame = cost.hourly_frame()
    rates = frame["requests_per_s"].astype(float)
    share = float((rates * frame["cold_start_share"]).sum() / rates.sum()) if rates.sum() else 0.0
    columns: dict[str, Any] = {"cold_start_share": share}
    p95 = row.get("p95_ms")
    if share > _P95_TAIL and p95 is not None and not math.isnan(p95):
        columns["p95_ms"] = p95 + 1000.0 * cold_start_s
    return columns


def _break_even_columns(
    item: ResolvedOption,
    costs: dict[str, OptionCost | None],
    resolved: Sequence[ResolvedOption],
    workload: Workload,
    rule: str,
) -> dict[str, Any]:
    """Where ``item`` crosses the cheapest other feasible option (an allowed one, if any)."""
    others = [
        r
        for r in resolved
        if r.spec.name != item.spec.name
        and r.cost_option is not None
        and costs[r.spec.name] is not None
        and costs[r.spec.name].feasible
    ]
    if rule != "anywhere":
        # Comparing with an option the rule forbids would not help the decision.
        others = [r for r in others if r.spec.allowed_by(rule)] or others
    if item.cost_option is None:
        return {
            "break_even_reason": "the option cannot be priced: " + (item.reason or "no figures")
        }
    if not others:
        return {"break_even_reason": "no other feasible option to compare with"}
    cheapest = min(others, key=lambda r: costs[r.spec.name].monthly_usd)
    result = break_even(item.cost_option, cheapest.cost_option, workload)
    columns: dict[str, Any] = {
        "break_even_vs": cheapest.spec.name,
        "break_even_reason": result.reason
        or f"{result.cheaper_below} is cheaper below, {result.cheaper_above} above",
    }
    if result.requests_per_month is not None:
        columns["break_even_requests_per_month"] = result.requests_per_month
    return columns


__all__ = ["COMPARE_COLUMNS", "compare_options"]
