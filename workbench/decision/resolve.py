"""Resolving a scenario's options: each option's prices looked up and its throughput found, from
the option itself or from a measured run (projected onto the option's device with the roofline
model), ready for the cost model."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.cost import (
    ApiOption,
    InstanceOption,
    OwnedOption,
    PriceCatalog,
    PriceNotFoundError,
    Workload,
    load_prices,
)
from workbench.decision.errors import ScenarioError, ScenarioRunError
from workbench.decision.scenario_config import OptionSpec, Scenario
from workbench.decision.scenarios import resolve_run
from workbench.devices import Device, HostPeak, get_device, load_devices, project_points
from workbench.kit.errors import DeviceNotFoundError, InvalidInputError, WorkbenchError

if TYPE_CHECKING:
    from workbench.cost import CostOption


@dataclass(frozen=True)
class SourceRef:
    """A catalog row a cost used: how to name it, its date, its source and its file."""

    label: str
    as_of: str
    source: str
    origin: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)


@dataclass(frozen=True)
class Throughput:
    """Where an option's capacity comes from.

    ``value`` is per unit at full load in ``unit`` (``requests/s`` or ``tokens/s``);
    ``estimate`` is true for roofline projections; ``p50_ms`` is the latency of a request at
    the chosen point (``None`` when unknown).
    """

    value: float
    unit: str
    source: str
    estimate: bool = False
    p50_ms: float | None = None
    run_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)


@dataclass(frozen=True)
class ResolvedOption:
    """An option with its prices looked up and its throughput found: ready to cost.

    ``cost_option`` is ``None`` when the option cannot be built (e.g. the model does not fit
    the device); ``reason`` then says why.
    """

    spec: OptionSpec
    cost_option: CostOption | None
    price_rows: tuple[SourceRef, ...] = ()
    throughput: Throughput | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {
            "spec": self.spec.to_dict(),
            "cost_option": self.cost_option.to_dict() if self.cost_option else None,
            "price_rows": [r.to_dict() for r in self.price_rows],
            "throughput": self.throughput.to_dict() if self.throughput else None,
            "reason": self.reason,
        }


def _device_ref(device: Device) -> SourceRef:
    return SourceRef(f"devices:{device.name}", device.as_of, device.source, "devices.csv")


def _price_ref(row: Any) -> SourceRef:
    return SourceRef(row.label, row.as_of, row.source, row.origin)


def resolve_options(
    scenario: Scenario,
    runs_dir: str | os.PathLike[str] | None = None,
    *,
    prices: PriceCatalog | None = None,
    devices: Mapping[str, Device] | None = None,
) -> list[ResolvedOption]:
    """Look up every option's prices and throughput and build its cost option.

    Raises
    ------
    ScenarioRunError
        When a run the options need does not exist or lacks what is needed.
    ScenarioError
        When a catalog name no longer resolves (the catalogs changed since loading).
    """
    prices = prices if prices is not None else load_prices()
    devices = dict(devices) if devices is not None else load_devices()
    workload = scenario.workload.cost_workload()
    runs: dict[str, Any] = {}
    resolved = []
    for option in scenario.options:
        run = None
        if option.needs_run:
            if option.run not in scenario.runs:
                raise ScenarioError(
                    f"{scenario.path or scenario.name}: option {option.name!r} needs the run "
                    f"{option.run!r}, which [runs] does not name."
                )
            if option.run not in runs:
                runs[option.run] = resolve_run(scenario.runs[option.run], runs_dir)
            run = runs[option.run]
        try:
            resolved.append(_resolve(option, run, workload, prices, devices))
        except (PriceNotFoundError, DeviceNotFoundError) as exc:
            raise ScenarioError(f"{scenario.path or scenario.name}: {exc}") from exc
    return resolved


def _resolve(
    option: OptionSpec,
    run: Any,
    workload: Workload,
    prices: PriceCatalog,
    devices: dict[str, Device],
) -> ResolvedOption:
    if option.kind == "api":
        row = prices.api_price(option.provider, option.model)
        api = ApiOption(option.name, row.input_usd_per_mtok, row.output_usd_per_mtok)
        return ResolvedOption(option, api, (_price_ref(row),))
    refs: list[SourceRef] = []
    instance, target, copies = None, None, 1
    if option.kind == "instance":
        instance = prices.instance_price(option.instance, option.provider or None)
        refs.append(_price_ref(instance))
        target = get_device(instance.device, devices) if instance.device else None
        copies = max(1, instance.accelerator_count)
    device = get_device(option.device, devices) if option.device else None
    if device is not None:
        refs.append(_device_ref(device))
        target = device if option.kind == "owned" else target
    if option.throughput_given:
        unit = "tokens/s" if option.tokens_per_s is not None else "requests/s"
        value = option.tokens_per_s if option.tokens_per_s is not None else option.requests_per_s
        throughput = Throughput(float(value), unit, "given in the scenario")
    else:
        throughput, problem = _run_throughput(
            option, run, workload, target if option.projects else None
        )
        if throughput is None:
            return ResolvedOption(option, None, tuple(refs), None, problem)
        if copies > 1 and option.projects:
            source = f"{throughput.source}, x {copies} accelerators (one model copy each)"
            throughput = replace(throughput, value=throughput.value * copies, source=source)
    try:
        built = _cost_option(option, throughput, instance, device)
    except InvalidInputError as exc:
        raise ScenarioError(f"option {option.name!r}: {exc}") from exc
    return ResolvedOption(option, built, tuple(refs), throughput)


def _cost_option(
    option: OptionSpec, throughput: Throughput, instance: Any, device: Device | None
) -> CostOption:
    """The cost model's option for an instance, owned or local option at ``throughput``."""
    rate = {"tokens_per_s": None, "requests_per_s": None}
    rate["tokens_per_s" if throughput.unit == "tokens/s" else "requests_per_s"] = throughput.value
    if option.kind == "instance":
        return InstanceOption(
            name=option.name,
            usd_per_hour=instance.usd_per_hour,
            utilization=option.utilization,
            min_replicas=option.min_units,
            max_replicas=option.max_units,
            **rate,
        )
    values = {
        "amortization_months": option.amortization_months,
        "usd_per_kwh": option.usd_per_kwh,
        "pue": option.pue,
        "ops_usd_per_month": option.ops_usd_per_month,
        "idle_power_w": option.idle_power_w,
        "utilization": option.utilization,
        "min_units": option.min_units,
        "max_units": option.max_units,
        "hardware_usd": option.hardware_usd,
        "power_w": option.power_w,
        **rate,
    }
    if device is not None:
        return OwnedOption.from_device(option.name, device, **values)
    return OwnedOption(name=option.name, **values)


def _run_throughput(
    option: OptionSpec, run: Any, workload: Workload, device: Device | None
) -> tuple[Throughput | None, str]:
    """The throughput one unit reaches, from the run's points (projected onto ``device``)."""
    try:
        points = run.table("points")
    except WorkbenchError as exc:
        raise ScenarioRunError(f"Run {run.id} cannot feed option {option.name!r}: {exc}") from exc
    points = _select_points(option, run, points, workload)
    generation = str(points["task"].iloc[0]) == "text-generation"
    if generation and workload.output_tokens <= 0:
        raise ScenarioRunError(
            f"Run {run.id} measured text generation, but the workload's output_tokens is 0: set "
            f"output_tokens in [workload] so tokens/s can become requests/s (option "
            f"{option.name!r})."
        )
    if device is None:
        column = "tokens_per_s" if generation else "throughput_items_per_s"
        _require_columns(run, points, (column, "p50_ms"), option)
        table = pd.DataFrame(
            {"value": points[column].astype(float), "p50_ms": points["p50_ms"].astype(float)}
        )
        source, estimate = f"measured in run {run.id}", False
    else:
        table, problem = _projected(option, run, points, device, generation)
        if table is None:
            return None, problem
        source, estimate = f"ESTIMATE: run {run.id} projected onto {device.name} (roofline)", True
    table = table[table["value"].notna() & (table["value"] > 0)]
    if table.empty:
        return None, f"run {run.id} has no positive throughput for this option"
    best = _best_point(table, workload.latency_objective_ms)
    unit = "tokens/s" if generation else "requests/s"
    value, p50_ms = float(best["value"]), float(best["p50_ms"])
    return Throughput(value, unit, source, estimate, p50_ms, run.id), ""


def _projected(
    option: OptionSpec, run: Any, points: pd.DataFrame, device: Device, generation: bool
) -> tuple[pd.DataFrame | None, str]:
    """Throughput and p50 per point on ``device`` (roofline), or ``None`` and why not."""
    host_data = run.environment.get("host_peak")
    if not isinstance(host_data, dict):
        raise ScenarioRunError(
            f"Run {run.id} has no host_peak in its environment (runs recorded by "
            f"`workbench bench` have one), so it cannot be projected onto {device.name} for "
            f"option {option.name!r}. Give the option tokens_per_s or requests_per_s instead."
        )
    projected = project_points(points, HostPeak.from_dict(host_data), [device])
    seconds = projected["projected_p50_ms"].astype(float) / 1000.0
    batch = projected["batch"].astype(float)
    if generation:
        value = batch * projected["output_tokens"].astype(float) / seconds
    else:
        value = batch / seconds
    table = pd.DataFrame({"value": value, "p50_ms": seconds * 1000.0})
    if not table["value"].notna().any():
        reasons = "; ".join(sorted({str(r) for r in projected["reason"] if str(r)}))
        return None, f"cannot be projected onto {device.name}: {reasons or 'no figures'}"
    return table, ""


def _best_point(table: pd.DataFrame, objective_ms: float | None) -> pd.Series:
    """The fastest point within the latency objective, else the one with the lowest latency."""
    meeting = table[table["p50_ms"] <= objective_ms] if objective_ms is not None else table
    if not meeting.empty:
        return meeting.loc[meeting["value"].idxmax()]
    return table.loc[table["p50_ms"].idxmin()]


def _require_columns(
    run: Any, points: pd.DataFrame, columns: Sequence[str], option: OptionSpec
) -> None:
    missing = [c for c in columns if c not in points.columns]
    if missing:
        raise ScenarioRunError(
            f"Run {run.id}'s points table lacks {', '.join(missing)}, which option "
            f"{option.name!r} needs for its throughput; use a benchmark run, or give "
            "tokens_per_s or requests_per_s in the option."
        )


def _select_points(
    option: OptionSpec, run: Any, points: pd.DataFrame, workload: Workload
) -> pd.DataFrame:
    _require_columns(run, points, ("task",), option)
    if points.empty:
        raise ScenarioRunError(f"Run {run.id} has an empty points table; re-run the benchmark.")
    if option.variant:
        _require_columns(run, points, ("variant",), option)
        chosen = points[points["variant"] == option.variant]
        if chosen.empty:
            have = ", ".join(sorted({str(v) for v in points["variant"]}))
            raise ScenarioRunError(
                f"Run {run.id} has no points of variant {option.variant!r} (it has {have}); fix "
                f"`variant` of option {option.name!r}."
            )
        points = chosen
    if option.batch is not None:
        _require_columns(run, points, ("batch",), option)
        chosen = points[points["batch"] == option.batch]
        if chosen.empty:
            have = ", ".join(str(b) for b in sorted(set(points["batch"])))
            raise ScenarioRunError(
                f"Run {run.id} has no points at batch {option.batch} (it has {have}); fix "
                f"`batch` of option {option.name!r}."
            )
        points = chosen
    task = str(points["task"].iloc[0])
    if task == "embeddings" and "seq_len" in points.columns:
        # The shortest measured length that holds the workload's texts, else the longest.
        lengths = sorted(set(points["seq_len"]))
        enough = [n for n in lengths if n >= workload.input_tokens]
        length = enough[0] if enough else lengths[-1]
        points = points[points["seq_len"] == length]
    return points.reset_index(drop=True)


__all__ = ["ResolvedOption", "SourceRef", "Throughput", "resolve_options"]
