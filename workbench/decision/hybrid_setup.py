"""Build a hybrid simulation from a scenario file and its measured runs."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.decision.config import (
    ArrivalConfig,
    CloudConfig,
    HybridConfig,
    LocalServiceConfig,
    NetworkModel,
)
from workbench.decision.simulate import compare_policies, pareto_front
from workbench.kit.errors import InvalidInputError


@dataclass(frozen=True)
class HybridSetup:
    """A simulation built from a scenario, with the sentences that say where each input came from."""

    config: HybridConfig
    notes: list[str] = field(default_factory=list)


def setup_from_scenario(
    scenario: Any,
    runs_dir: str | os.PathLike[str] | None = None,
    *,
    requests: int = 20_000,
    workers: int = 1,
    region: str = "same-region",
    cloud_option: str | None = None,
    cloud_ms_per_output_token: float = 10.0,
    costs: pd.DataFrame | None = None,
) -> HybridSetup:
    """Local service times from the scenario's ``local`` run; cloud from its cheapest API option.

    Local service times are the measured warm-call latencies of the run's first batch-1 point,
    rescaled for generation from the measured output length to the workload's
    (``ttft + tpot x (tokens - 1)``). Cloud latency is the region's network round trip
    (``data/network_profiles.toml``) plus ``cloud_ms_per_output_token`` per output token: an
    assumption, stated in the notes; a measured endpoint run in ``[runs] cloud`` replaces it.
    Arrivals run at the workload's peak rate with its pattern. ``costs``, the scenario's
    :func:`workbench.decision.scenarios.compare_options` table when the caller has it already, saves
    pricing the options again.

    Raises
    ------
    InvalidInputError
        If the scenario has no local run or no priced cloud option.
    """
    from workbench.cloud.network import get_network_profile
    from workbench.decision.scenarios import compare_options, load_scenario, resolve_run

    scenario = scenario if hasattr(scenario, "workload") else load_scenario(scenario)
    workload = scenario.workload
    if "local" not in scenario.runs:
        raise InvalidInputError(
            f'Scenario {scenario.name!r} names no local run: add `local = "latest:bench:MODEL"` '
            "under [runs] (record one with `workbench bench MODEL`)."
        )
    notes: list[str] = []
    local_run = resolve_run(scenario.runs["local"], runs_dir)
    samples, note = _local_service_samples(local_run, workload.output_tokens)
    notes.append(note)

    if costs is None:
        costs = compare_options(scenario, runs_dir)
    apis = costs[(costs["kind"] == "api") & costs["feasible"]]
    if cloud_option:
        apis = costs[costs["option"] == cloud_option]
    if apis.empty:
        raise InvalidInputError(
            f"Scenario {scenario.name!r} has no priced cloud option to overflow to"
            + (f" called {cloud_option!r}" if cloud_option else "")
            + ': add an [[options]] entry of kind "api".'
        )
    cloud = apis.loc[apis["usd_per_request"].idxmin()]
    notes.append(f"cloud: {cloud['option']} at ${cloud['usd_per_request']:.6f} per request")
    local = costs[costs["kind"] == "local"]
    fixed = float(local["fixed_usd_per_month"].iloc[0]) if not local.empty else 0.0
    if math.isnan(
        fixed
    ):  # the local option cannot carry the peak alone: that is what overflow is for
        fixed = 0.0
        notes.append(f"local fixed cost: unknown ({local['reason'].iloc[0]}); counted as $0")
    else:
        notes.append(f"local fixed cost: ${fixed:,.2f} per month")

    if "cloud" in scenario.runs:
        measured = resolve_run(scenario.runs["cloud"], runs_dir).table("requests")
        ok = measured[measured["ok"]] if "ok" in measured else measured
        cloud_config = CloudConfig(
            latency_samples_s=tuple(ok["latency_ms"].to_numpy() / 1000.0),
            cost_per_request=float(cloud["usd_per_request"]),
        )
        notes.append(f"cloud latency: {len(ok)} measured requests of run {scenario.runs['cloud']}")
    else:
        profile = get_network_profile(region)
        service_s = cloud_ms_per_output_token * max(workload.output_tokens, 1) / 1000.0
        cloud_config = CloudConfig(
            sampler=NetworkModel(
                floor_s=profile.rtt_floor_ms / 1000.0 + service_s,
                extra_mean_s=profile.extra_shape * profile.extra_scale_ms / 1000.0,
                extra_cv=1.0 / math.sqrt(profile.extra_shape),
            ),
            cost_per_request=float(cloud["usd_per_request"]),
        )
        notes.append(
            f"cloud latency: {region} network round trip plus an assumed "
            f"{cloud_ms_per_output_token:g} ms per output token (no measured endpoint run)"
        )
    pattern = workload.arrival_pattern
    peak = workload.peak_requests_per_s or workload.requests_per_month / (730 * 3600)
    amplitude = 0.5
    # A diurnal stream's rate swings between mean x (1 - amplitude) and mean x (1 + amplitude):
    # its busiest moment is the workload's peak. One simulated "day" spans the whole run.
    mean_rate = peak / (1 + amplitude) if pattern == "diurnal" else peak
    arrivals = ArrivalConfig(
        pattern=pattern,
        rate_per_s=mean_rate,
        num_requests=requests,
        burstiness_cv=max(workload.burstiness, 1.0001) if pattern == "bursty" else 3.0,
        period_s=requests / mean_rate,
        amplitude=amplitude,
    )
    config = HybridConfig(
        local=LocalServiceConfig(workers=workers, service_samples_s=tuple(samples)),
        cloud=cloud_config,
        arrivals=arrivals,
        latency_objective_s=workload.latency_objective_ms / 1000.0,
        requests_per_month=workload.requests_per_month,
        local_fixed_monthly_cost=fixed,
    )
    return HybridSetup(config=config, notes=notes)


def _local_service_samples(run: Any, output_tokens: int) -> tuple[np.ndarray, str]:
    points, samples = run.table("points"), run.table("samples")
    single = points[points["batch"] == 1]
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


def simulate_scenario(setup: HybridSetup, seed: int = 0) -> pd.DataFrame:
    """Every default policy on the scenario's stream, with the Pareto front marked."""
    return pareto_front(compare_policies(setup.config, seed=seed))
