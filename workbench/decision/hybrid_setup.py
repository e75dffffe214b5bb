"""Build a hybrid simulation from a scenario file and its measured runs."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.cost.monthly import linear_cost
from workbench.decision.config import (
    ArrivalConfig,
    CloudConfig,
    HybridConfig,
    LocalServiceConfig,
    NetworkModel,
    ScenarioSimulation,
)
from workbench.decision.options import compare_options
from workbench.decision.resolve import ResolvedOption, resolve_options
from workbench.decision.scenario_config import Scenario, ScenarioWorkload
from workbench.decision.scenarios import load_scenario, resolve_run
from workbench.decision.simulate import compare_policies, pareto_front
from workbench.kit.errors import InvalidInputError

#: A diurnal stream's swing around its mean rate.
_DIURNAL_AMPLITUDE = 0.5


@dataclass(frozen=True)
class HybridSetup:
    """A simulation built from a scenario, with the sentences that say where each input came from."""

    config: HybridConfig
    notes: list[str] = field(default_factory=list)
    settings: ScenarioSimulation = field(default_factory=ScenarioSimulation)


def setup_from_scenario(
    scenario: Any,
    runs_dir: str | os.PathLike[str] | None = None,
    *,
    costs: pd.DataFrame | None = None,
    resolved: Sequence[ResolvedOption] | None = None,
    settings: ScenarioSimulation | None = None,
    **values: Any,
) -> HybridSetup:
    """Local service times from the scenario's ``local`` run; cloud from its cheapest API option.

    Local service times are the measured warm-call latencies of the run's first batch-1 point,
    rescaled for generation from the measured output length to the workload's
    (``ttft + tpot x (tokens - 1)``). Cloud latency is the region's network round trip
    (``data/network_profiles.toml``) plus ``cloud_ms_per_output_token`` per output token: an
    assumption, stated in the notes; a measured endpoint run in ``[runs] cloud`` replaces it.
    Arrivals run at the workload's peak rate with its pattern.

    The local workers are priced as ``workers`` units of the scenario's ``local`` option (its
    hardware, operations and energy, whatever the load, plus the energy a request adds), with
    :func:`workbench.cost.monthly.linear_cost`. When they cannot be priced (no ``local``
    option, an option that cannot be built, or more workers than its ``max_units``) the
    config's ``local_fixed_monthly_cost`` is ``None`` and ``local_cost_note`` says why: every
    policy that serves locally then has a NaN cost, never $0.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, or a path or shipped name for :func:`load_scenario`.
    runs_dir
        Where the scenario's runs are.
    costs
        The scenario's :func:`workbench.decision.options.compare_options` table when the
        caller has it already; it saves pricing the options again.
    resolved
        The scenario's options as :func:`workbench.decision.resolve.resolve_options` gave
        them, when the caller has them; otherwise they are looked up when needed.
    settings, values
        A :class:`ScenarioSimulation`, or its fields as keywords (``requests``, ``workers``,
        ``region``, ``cloud_option``, ``cloud_ms_per_output_token``).

    Raises
    ------
    InvalidInputError
        If the scenario has no local run or no priced cloud option.
    """
    settings = settings if settings is not None else ScenarioSimulation(**values)
    scenario = scenario if hasattr(scenario, "workload") else load_scenario(scenario)
    costs = costs if costs is not None else compare_options(scenario, runs_dir)
    samples, note = _local_service_samples(scenario, runs_dir, _local_variant(costs))
    notes = [note]
    cloud = _cloud_option(scenario, costs, settings.cloud_option)
    notes.append(f"cloud: {cloud['option']} at ${cloud['usd_per_request']:.6f} per request")
    options: dict[str, ResolvedOption] = {}
    if resolved is not None:
        options = {r.spec.name: r for r in resolved}
    # The local option prices the workers; an instance to overflow to may scale to zero.
    needed = _local_names(costs) + ([cloud["option"]] if cloud["kind"] == "instance" else [])
    wanted = [name for name in needed if name not in options]
    if wanted:
        options.update({r.spec.name: r for r in resolve_options(scenario, runs_dir)})
    fixed, per_request, cost_note = _local_cost(scenario, costs, options, settings.workers, notes)
    cloud_config = _cloud_config(
        scenario,
        runs_dir,
        settings,
        float(cloud["usd_per_request"]),
        notes,
        options.get(cloud["option"]),
    )
    workload = scenario.workload
    config = HybridConfig(
        local=LocalServiceConfig(workers=settings.workers, service_samples_s=tuple(samples)),
        cloud=cloud_config,
        arrivals=_arrivals(workload, settings.requests),
        latency_objective_s=workload.latency_objective_ms / 1000.0,
        requests_per_month=workload.requests_per_month,
        local_fixed_monthly_cost=fixed,
        local_cost_per_request=per_request,
        local_cost_note=cost_note,
    )
    return HybridSetup(config=config, notes=notes, settings=settings)


def _cloud_option(scenario: Scenario, costs: pd.DataFrame, name: str | None) -> pd.Series:
    """The row of the option to overflow to: ``name``, else the cheapest feasible API."""
    apis = costs[(costs["kind"] == "api") & costs["feasible"]]
    if name:
        apis = costs[costs["option"] == name]
    if apis.empty:
        raise InvalidInputError(
            f"Scenario {scenario.name!r} has no priced cloud option to overflow to"
            + (f" called {name!r}" if name else "")
            + ': add an [[options]] entry of kind "api".'
        )
    return apis.loc[apis["usd_per_request"].idxmin()]


def _local_names(costs: pd.DataFrame) -> list[str]:
    return costs.loc[costs["kind"] == "local", "option"].tolist()


def _local_cost(
    scenario: Scenario,
    costs: pd.DataFrame,
    options: Mapping[str, ResolvedOption],
    workers: int,
    notes: list[str],
) -> tuple[float | None, float, str]:
    """``(fixed a month, cost per local request, why unknown)`` of ``workers`` local units.

    The fixed part is ``None`` when the workers cannot be priced; the note then says why.
    """
    names = _local_names(costs)
    reason = ""
    if not names:
        reason = (
            f'the scenario has no option of kind "local" to price its {workers} local '
            "worker(s) with: add one (its device, electricity price and max_units)"
        )
    else:
        item = options[names[0]]
        option = item.cost_option
        if option is None:
            reason = f"{names[0]} cannot be priced: {item.reason or 'no figures'}"
        else:
            low, high = option.unit_limits()
            if high is not None and workers > high:
                reason = (
                    f"{workers} local workers cannot be priced: {names[0]} allows at most "
                    f"{high} (max_units); simulate at most {high}, or raise max_units and give "
                    "the price of another unit"
                )
    if reason:
        notes.append(f"local cost: unknown ({reason}); policies that serve locally show no cost")
        return None, 0.0, reason
    units = max(workers, low)
    part = linear_cost(option, scenario.workload.cost_workload(), units)
    parts = ", ".join(f"{k} ${v:,.2f}" for k, v in part.components_fixed.items())
    notes.append(
        f"local cost: {units} unit(s) of {names[0]}, ${part.fixed:,.2f} a month ({parts})"
        + (f" + ${part.variable:.6g} per local request" if part.variable else "")
    )
    return part.fixed, part.variable, ""


def _cloud_config(
    scenario: Scenario,
    runs_dir: str | os.PathLike[str] | None,
    settings: ScenarioSimulation,
    cost_per_request: float,
    notes: list[str],
    option: ResolvedOption | None = None,
) -> CloudConfig:
    """Measured latencies of ``[runs] cloud`` when there is one, else the network model; a
    cloud option that scales to zero brings its cold start and inactivity period."""
    from workbench.cloud import get_network_profile

    cold = _cold_start(option, notes)

    if "cloud" in scenario.runs:
        measured = resolve_run(scenario.runs["cloud"], runs_dir).table("requests")
        ok = measured[measured["ok"]] if "ok" in measured else measured
        notes.append(f"cloud latency: {len(ok)} measured requests of run {scenario.runs['cloud']}")
        return CloudConfig(
            latency_samples_s=tuple(ok["latency_ms"].to_numpy() / 1000.0),
            cost_per_request=cost_per_request,
            **cold,
        )
    profile = get_network_profile(settings.region)
    per_token_ms = settings.cloud_ms_per_output_token
    service_s = per_token_ms * max(scenario.workload.output_tokens, 1) / 1000.0
    notes.append(
        f"cloud latency: {settings.region} network round trip plus an assumed "
        f"{per_token_ms:g} ms per output token (no measured endpoint run)"
    )
    return CloudConfig(
        sampler=NetworkModel(
            floor_s=profile.rtt_floor_ms / 1000.0 + service_s,
            extra_mean_s=profile.extra_shape * profile.extra_scale_ms / 1000.0,
            extra_cv=1.0 / math.sqrt(profile.extra_shape),
        ),
        cost_per_request=cost_per_request,
        **cold,
    )


def _cold_start(option: ResolvedOption | None, notes: list[str]) -> dict[str, float]:
    """``cold_start_s`` and ``idle_timeout_s`` of a cloud option that scales to zero, else {}."""
    built = option.cost_option if option is not None else None
    if built is None or not getattr(built, "scales_to_zero", False):
        return {}
    cold_start_s = float(built.cold_start_s or 0.0)
    idle_s = float(built.scale_to_zero_after_s)
    notes.append(
        f"cloud scales to zero: a request after {idle_s:g} s without one waits a "
        f"{cold_start_s:g} s cold start"
    )
    return {"cold_start_s": cold_start_s, "idle_timeout_s": idle_s}


def _arrivals(workload: ScenarioWorkload, requests: int) -> ArrivalConfig:
    """The workload's pattern at its peak rate, ``requests`` long."""
    pattern = workload.arrival_pattern
    peak = workload.peak_requests_per_s or workload.requests_per_month / (730 * 3600)
    # A diurnal stream's rate swings between mean x (1 - amplitude) and mean x (1 + amplitude):
    # its busiest moment is the workload's peak. One simulated "day" spans the whole run.
    mean_rate = peak / (1 + _DIURNAL_AMPLITUDE) if pattern == "diurnal" else peak
    return ArrivalConfig(
        pattern=pattern,
        rate_per_s=mean_rate,
        num_requests=requests,
        burstiness_cv=max(workload.burstiness, 1.0001) if pattern == "bursty" else 3.0,
        period_s=requests / mean_rate,
        amplitude=_DIURNAL_AMPLITUDE,
    )


def _local_variant(costs: pd.DataFrame) -> str:
    """The variant the decision chose for the local option (``""`` when none is named)."""
    if "variant" not in costs.columns:
        return ""
    local = costs[(costs["kind"] == "local") & costs["variant"].fillna("").astype(bool)]
    return str(local["variant"].iloc[0]) if not local.empty else ""


def _local_service_samples(
    scenario: Scenario, runs_dir: str | os.PathLike[str] | None, variant: str = ""
) -> tuple[np.ndarray, str]:
    """Single-request service times from the scenario's local run (of ``variant`` when it has
    a batch-1 point of it: the variant the decision chose), and where they came from."""
    if "local" not in scenario.runs:
        raise InvalidInputError(
            f'Scenario {scenario.name!r} names no local run: add `local = "latest:bench:MODEL"` '
            "under [runs] (record one with `workbench bench MODEL`)."
        )
    run = resolve_run(scenario.runs["local"], runs_dir)
    output_tokens = scenario.workload.output_tokens
    points, samples = run.table("points"), run.table("samples")
    single = points[points["batch"] == 1]
    if variant and "variant" in points.columns and (single["variant"] == variant).any():
        single = single[single["variant"] == variant]
    if single.empty:
        raise InvalidInputError(
            f"Run {run.id} has no batch-1 point to draw single-request service times from; "
            "record one with `workbench bench MODEL --batch 1`."
        )
    index = int(single.index[0])
    row = points.loc[index]
    seconds = samples.loc[samples["point"] == index, "latency_ms"].to_numpy() / 1000.0
    note = f"local service: {len(seconds)} warm calls of run {run.id} ({row['variant']}, batch 1)"
    if row["task"] == "text-generation" and output_tokens:
        measured = row["ttft_ms"] + row["tpot_ms"] * (row["output_tokens"] - 1)
        wanted = row["ttft_ms"] + row["tpot_ms"] * (output_tokens - 1)
        seconds = seconds * (wanted / measured)
        note += f", rescaled from {row['output_tokens']:.0f} to {output_tokens} output tokens"
    return seconds, note


def simulate_scenario(setup: HybridSetup, seed: int | None = None) -> pd.DataFrame:
    """Every default policy on the scenario's stream, with the Pareto front marked.

    ``seed`` defaults to the setup's own (:attr:`ScenarioSimulation.seed`).
    """
    seed = setup.settings.seed if seed is None else seed
    return pareto_front(compare_policies(setup.config, seed=seed))


__all__ = ["HybridSetup", "setup_from_scenario", "simulate_scenario"]
