"""Resolving a scenario's options: each option's prices looked up and its throughput found, from
the option itself or from a measured run (projected onto the option's device with the roofline
model), ready for the cost model."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.bench.result import with_engine
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
from workbench.decision.scenario_config import OptionSpec, Scenario, ScenarioWorkload
from workbench.decision.scenarios import resolve_run
from workbench.devices import Device, HostPeak, get_device, load_devices, project_points
from workbench.kit.errors import DeviceNotFoundError, InvalidInputError, WorkbenchError
from workbench.models.engines import DEFAULT_ENGINE

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
    ``estimate`` is true for roofline projections; ``p50_ms`` and ``p95_ms`` are the latency of
    a call at the chosen point (``None`` when unknown). ``model``, ``engine`` and ``variant``
    say what the run measured at that point (its *path*: ``engine`` is ``""`` for a figure
    given in the scenario), ``path`` names them as the decision shows them (``"int8"``, or
    ``"llama.cpp q4_1"`` where the engine is not transformers or the run measured several
    engines), ``variant_reason`` why that path was chosen, and ``drift`` its quality drift
    against transformers fp32 (agreement or worst cosine; ``None`` when not measured).
    """

    value: float
    unit: str
    source: str
    estimate: bool = False
    p50_ms: float | None = None
    run_id: str = ""
    p95_ms: float | None = None
    model: str = ""
    variant: str = ""
    variant_reason: str = ""
    drift: float | None = None
    latency_count: int | None = None
    engine: str = ""
    path: str = ""

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
            resolved.append(
                _resolve(option, run, workload, prices, devices, tolerance=scenario.workload)
            )
        except (PriceNotFoundError, DeviceNotFoundError) as exc:
            raise ScenarioError(f"{scenario.path or scenario.name}: {exc}") from exc
    return resolved


def _resolve(
    option: OptionSpec,
    run: Any,
    workload: Workload,
    prices: PriceCatalog,
    devices: dict[str, Device],
    tolerance: ScenarioWorkload | None = None,
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
            option, run, workload, target if option.projects else None, tolerance
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
            billing_granularity=option.billing_granularity,
            cold_start_s=option.cold_start_s,
            scale_down_after_s=option.scale_down_after_s,
            scale_to_zero_after_s=option.scale_to_zero_after_s,
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
    option: OptionSpec,
    run: Any,
    workload: Workload,
    device: Device | None,
    tolerance: ScenarioWorkload | None = None,
) -> tuple[Throughput | None, str]:
    """The throughput one unit reaches, from the run's points (projected onto ``device``): the
    fastest point within the latency objective among the engine+variant paths whose drift is
    tolerated. A projection uses each point's own weight bytes, so a 4-bit path moves its own
    bytes per token on the target device, not fp32's."""
    try:
        measured = with_engine(run.table("points"))
    except WorkbenchError as exc:
        raise ScenarioRunError(f"Run {run.id} cannot feed option {option.name!r}: {exc}") from exc
    points = _select_points(option, run, measured, workload)
    generation = str(points["task"].iloc[0]) == "text-generation"
    if generation and workload.output_tokens <= 0:
        raise ScenarioRunError(
            f"Run {run.id} measured text generation, but the workload's output_tokens is 0: set "
            f"output_tokens in [workload] so tokens/s can become requests/s (option "
            f"{option.name!r})."
        )
    points, why_path = _tolerated_paths(option, points, generation, tolerance)
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
    scale = _request_scale(points, workload, generation)
    table["p50_ms"] = table["p50_ms"] * scale
    table = table[table["value"].notna() & (table["value"] > 0)]
    if table.empty:
        return None, f"run {run.id} has no positive throughput for this option"
    best = _best_point(table, workload.latency_objective_ms)
    chosen = points.loc[best.name]
    unit = "tokens/s" if generation else "requests/s"
    value, p50_ms = float(best["value"]), float(best["p50_ms"])
    p95_ms = None
    if "p95_ms" in points.columns and pd.notna(chosen.get("p95_ms")):
        # A projection and a longer answer scale the whole latency distribution by the same
        # factor as its median.
        measured_p50 = float(chosen["p50_ms"])
        p95_ms = float(chosen["p95_ms"]) * (p50_ms / measured_p50 if measured_p50 > 0 else 1.0)
    variant = str(chosen.get("variant", "")) if "variant" in points.columns else ""
    engine = str(chosen.get("engine", DEFAULT_ENGINE))
    path = path_name(engine, variant, show_engine=several_engines(measured))
    drift = _drift_of(chosen, generation)
    model = str(run.summary.get("model") or run.config.get("model") or "")
    return (
        Throughput(
            value,
            unit,
            source,
            estimate,
            p50_ms,
            run.id,
            p95_ms=p95_ms,
            model=model,
            variant=variant,
            variant_reason=why_path.get((engine, variant), ""),
            drift=drift,
            latency_count=int(chosen["count"]) if pd.notna(chosen.get("count")) else None,
            engine=engine,
            path=path,
        ),
        "",
    )


def _request_scale(points: pd.DataFrame, workload: Workload, generation: bool) -> pd.Series:
    """Per point, the factor from a measured call's latency to one request's of the workload.

    A generation call of ``n`` output tokens takes about ``ttft + tpot x (n - 1)``; the
    workload's requests generate ``output_tokens``, so the call's latency is rescaled to that
    length (the same rescaling the routing simulation uses). Embeddings, and points without
    ``ttft_ms``/``tpot_ms``, keep their measured latency (factor 1).
    """
    ones = pd.Series(1.0, index=points.index)
    needed = ("ttft_ms", "tpot_ms", "output_tokens")
    if not generation or any(c not in points.columns for c in needed):
        return ones
    ttft, tpot = points["ttft_ms"].astype(float), points["tpot_ms"].astype(float)
    measured = ttft + tpot * (points["output_tokens"].astype(float) - 1).clip(lower=0)
    wanted = ttft + tpot * max(workload.output_tokens - 1, 0)
    scale = wanted / measured
    return scale.where(scale.notna() & (measured > 0), ones)


#: The reference path every other is compared with (transformers fp32): its drift is zero by
#: definition.
REFERENCE_VARIANT = "fp32"
REFERENCE_ENGINE = DEFAULT_ENGINE


def path_name(engine: str, variant: str, *, show_engine: bool = False) -> str:
    """How the decision names an engine+variant path: ``"int8"`` for a transformers variant,
    ``"llama.cpp q4_1"`` for another engine's (and ``"transformers int8"`` with
    ``show_engine``, in a run that measured several engines)."""
    engine = engine or DEFAULT_ENGINE
    if not variant:
        return engine if engine != DEFAULT_ENGINE else ""
    return f"{engine} {variant}" if show_engine or engine != DEFAULT_ENGINE else variant


def several_engines(points: pd.DataFrame) -> bool:
    """Whether a points table measured more than one engine."""
    return "engine" in points.columns and points["engine"].astype(str).nunique() > 1


def _drift_column(generation: bool) -> str:
    return "agreement" if generation else "cosine_min"


def _is_reference(point: pd.Series) -> bool:
    engine = str(point.get("engine", DEFAULT_ENGINE) or DEFAULT_ENGINE)
    return str(point.get("variant", "")) == REFERENCE_VARIANT and engine == REFERENCE_ENGINE


def _drift_of(point: pd.Series, generation: bool) -> float | None:
    if _is_reference(point):
        return 1.0
    value = point.get(_drift_column(generation))
    return float(value) if value is not None and pd.notna(value) else None


def _tolerated_paths(
    option: OptionSpec,
    points: pd.DataFrame,
    generation: bool,
    tolerance: ScenarioWorkload | None,
) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """The points of the engine+variant paths whose quality drift the scenario tolerates, and a
    sentence per kept path (keyed ``(engine, variant)``) saying why it may be used.

    transformers fp32 is the reference and always kept. Another path (a transformers variant,
    or another engine's, such as llama.cpp q4_1) is kept when its drift (token agreement with
    fp32 for generation, worst cosine for embeddings) is at least the scenario's
    ``min_agreement`` / ``min_cosine``; a path whose drift was not measured is not used, since
    nothing says it answers like fp32. An option that names its ``variant`` uses it as given.
    """
    if "variant" not in points.columns:
        return points, {}
    show_engine = several_engines(points)
    metric = "agreement" if generation else "worst cosine"
    reference = "transformers fp32" if show_engine else "fp32"
    floor = 0.95 if generation else 0.99
    if tolerance is not None:
        floor = tolerance.min_agreement if generation else tolerance.min_cosine
    keys = list(zip(points["engine"].astype(str), points["variant"].astype(str), strict=True))
    reasons: dict[tuple[str, str], str] = {}
    verdicts: dict[tuple[str, str], bool] = {}
    for key in dict.fromkeys(keys):
        first = points[[k == key for k in keys]].iloc[0]
        name = path_name(*key, show_engine=show_engine)
        drift = _drift_of(first, generation)
        if option.variant:
            verdicts[key] = True
            reasons[key] = f"{name} as the option names it"
        elif _is_reference(first):
            verdicts[key] = True
            reasons[key] = f"{name} is the reference"
        elif drift is None:
            verdicts[key] = False
            how = _drift_method_note(first)
            reasons[key] = f"{name}: its {metric} with {reference} was not measured{how}"
        else:
            verdicts[key] = drift >= floor
            sign = "≥" if verdicts[key] else "<"
            reasons[key] = f"{name}: {metric} with {reference} {drift:.1%} {sign} {floor:.0%}"
    kept = [k for k, ok in verdicts.items() if ok]
    if not kept:  # nothing measured against fp32 and no fp32: use what there is, and say so
        kept = list(verdicts)
    excluded = [reasons[k] for k, ok in verdicts.items() if not ok]
    suffix = f"; not used: {'; '.join(excluded)}" if excluded else ""
    noun = "path" if show_engine else "variant"
    tried = f"fastest of {len(kept)} tolerated {noun}{'s' if len(kept) > 1 else ''}"
    why = {k: f"{reasons[k]} ({tried}{suffix})" for k in kept}
    kept_points = points[[k in kept for k in keys]].reset_index(drop=True)
    return kept_points, why


def _drift_method_note(point: pd.Series) -> str:
    """`` (greedy first divergence only)`` when the engine gave no logits to measure agreement."""
    method = point.get("drift_method")
    if isinstance(method, str) and "no logits" in method:
        return f" ({method})"
    return ""


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
    projected.index = points.index  # one row per point, in order
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
        # A variant name, or a path as the decision names it ("llama.cpp q4_1").
        names = [
            {str(v), path_name(str(e), str(v), show_engine=True)}
            for e, v in zip(points["engine"], points["variant"], strict=True)
        ]
        chosen = points[[option.variant in n for n in names]]
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
