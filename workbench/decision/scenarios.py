"""Deployment scenarios: a workload, the options to serve it, and the measured runs behind them.

A scenario is a TOML file (``data/scenarios/*.toml``)::

    name = "Support chatbot"
    description = "..."

    [workload]
    requests_per_month = 60000
    peak_requests_per_s = 0.1          # optional; default the average rate
    input_tokens = 300
    output_tokens = 120                # 0 for embeddings
    latency_objective_ms = 15000
    data_must_stay = "anywhere"        # anywhere | premises | device (where requests' data may go)
    eval_set = "ticket-routing"        # optional: the set quality is measured on (workbench eval)
    quality_floor = 0.6                # optional: lowest quality score (0-1) to recommend
    min_agreement = 0.95               # a generation path must agree with fp32 this often
    min_cosine = 0.99                  # an embeddings variant's worst cosine with fp32
    arrival_pattern = "diurnal"        # poisson | diurnal | bursty
    burstiness = 1.0                   # spread of the gaps between arrivals; 1 = Poisson
    hours_per_month = 730              # optional
    load_profile = "business-hours"    # flat | business-hours | diurnal | a CSV of hour,share

    [runs]                             # names for measured runs
    local = "latest:bench:smollm2-135m"  # newest complete bench run of that model, or a run id
    cloud = "20261129-101500-cloud-..."  # optional, e.g. an endpoint run

    [[options]]
    name = "gpt-4o-mini"
    kind = "api"                       # api | instance | owned | local
    provider = "openai"
    model = "gpt-4o-mini"
    quality = 0.82                     # optional, with where it comes from
    quality_source = "eval run 20261201-..., support_faq"
    data_location = "provider-region"  # default by kind: local device, owned premises

    [[options]]
    name = "HF endpoint, T4"
    kind = "instance"
    instance = "aws-nvidia-t4-x1"      # a name from data/prices/instances.csv
    utilization = 0.6
    min_replicas = 0                   # scale to zero when idle (1 = always one up)
    max_replicas = 2
    cold_start_s = 60                  # needed with min_replicas = 0
    billing_granularity = "minute"     # second | minute | hour
    scale_to_zero_after_s = 900        # idle time before the last replica goes

    [[options]]
    name = "Jetson Orin Nano"
    kind = "owned"
    device = "jetson-orin-nano"        # a name from data/devices.csv
    amortization_months = 36
    pue = 1.0
    usd_per_kwh = 0.15
    ops_usd_per_month = 10

    [[options]]
    name = "This machine"
    kind = "local"                     # the machine the local run measured
    power_w = 28
    usd_per_kwh = 0.15

Throughput for instance, owned and local options comes from a run named in ``[runs]`` (the
option's ``run``, default ``"local"``): a local option uses the measured figures; instance and
owned options project them onto their device with the roofline model
(:func:`workbench.devices.project_points`), marked as estimates, unless ``project = false``
says the run was measured on that hardware. The run's points are taken on the fastest
engine+variant path whose drift from transformers fp32 the workload tolerates (``int8``, or
``llama.cpp q4_1`` in a run that measured that engine), and a projection moves that path's own
weight bytes per token. Giving ``tokens_per_s`` or ``requests_per_s`` in an option replaces the
run.

:func:`load_scenario` checks every field, the catalog names (with suggestions) and flags
options that would send data off the premises when the workload forbids it (they are kept
and flagged, never dropped); :func:`resolve_run` finds the runs it names. The tables' values are
in :mod:`workbench.decision.scenario_config`; :func:`workbench.decision.resolve.resolve_options`
finds each option's prices and throughput and :func:`workbench.decision.options.compare_options`
prices every option.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from workbench.cost import PriceCatalog, PriceNotFoundError, load_prices
from workbench.decision.errors import ScenarioError, ScenarioRunError, did_you_mean
from workbench.decision.scenario_config import OPTION_KINDS, OptionSpec, Scenario, ScenarioWorkload
from workbench.devices import Device, get_device, load_devices
from workbench.kit.errors import DeviceNotFoundError, InvalidInputError, RunNotFoundError
from workbench.kit.paths import data_dir

LATEST_PREFIX = "latest:"

_TOP_KEYS = ("name", "description", "workload", "runs", "options")
_THROUGHPUT_KEYS = ("tokens_per_s", "requests_per_s", "run", "project", "variant", "batch")
_HARDWARE_KEYS = (
    "device",
    "hardware_usd",
    "amortization_months",
    "power_w",
    "idle_power_w",
    "pue",
    "usd_per_kwh",
    "ops_usd_per_month",
    "utilization",
    "min_units",
    "max_units",
)
_OPTION_KEYS = {
    "api": ("provider", "model"),
    "instance": (
        "instance",
        "provider",
        "utilization",
        "min_replicas",
        "max_replicas",
        "billing_granularity",
        "cold_start_s",
        "scale_down_after_s",
        "scale_to_zero_after_s",
        *_THROUGHPUT_KEYS,
    ),
    "owned": (*_HARDWARE_KEYS, *_THROUGHPUT_KEYS),
    "local": (*_HARDWARE_KEYS, *_THROUGHPUT_KEYS),
}
_COMMON_OPTION_KEYS = (
    "name",
    "kind",
    "notes",
    "on_premises",
    "data_location",
    "quality",
    "quality_source",
)


def scenarios_dir() -> Path:
    """The folder of shipped scenarios: ``<data dir>/scenarios``."""
    return data_dir() / "scenarios"


def list_scenarios() -> list[Path]:
    """The shipped scenario files, sorted by name."""
    folder = scenarios_dir()
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


def parse_run_ref(ref: str) -> tuple[str, str] | None:
    """``("bench", "minilm")`` for ``"latest:bench:minilm"``; ``None`` for a plain run id.

    Raises
    ------
    InvalidInputError
        For a ``latest:`` reference without a kind and a model.
    """
    if not ref.startswith(LATEST_PREFIX):
        return None
    kind, _, model = ref[len(LATEST_PREFIX) :].partition(":")
    if not kind or not model:
        raise InvalidInputError(
            f"run reference {ref!r} must read latest:<kind>:<model>, e.g. latest:bench:minilm "
            "(the newest complete run of that kind and model)."
        )
    return kind, model


def load_scenario(
    path: Path | str,
    *,
    prices: PriceCatalog | None = None,
    devices: Mapping[str, Device] | None = None,
) -> Scenario:
    """Read and check a scenario TOML file.

    Parameters
    ----------
    path
        The file; a bare name such as ``"support_chatbot"`` is looked up in
        ``data/scenarios/``.
    prices
        The price catalog to check API models and instances against; default
        :func:`workbench.cost.load_prices`.
    devices
        The device catalog to check device names against; default ``data/devices.csv``.

    Returns
    -------
    Scenario
        With ``flags`` naming each option that would break ``data_must_stay_on_premises``.

    Raises
    ------
    ScenarioError
        For a missing or unparsable file, an unknown or missing table or field, a value out
        of range (zero volume, zero or negative latency objective, utilization outside (0, 1],
        an unknown option kind...), an API model, instance or device that is not in its
        catalog (with the closest names), or an option that needs a run ``[runs]`` lacks.
        The message names the file and the field.
    """
    path = _scenario_path(path)
    data = _read_toml(path)
    name, description = _load_header(path, data)
    workload = _load_workload(path, data.get("workload"))
    runs = _load_runs(path, data.get("runs", {}))
    prices = prices if prices is not None else load_prices()
    devices = devices if devices is not None else load_devices()
    options = _load_options(path, data.get("options"), runs, prices, devices)
    rule = workload.data_rule
    flags = tuple(
        f"option {option.name!r} ({option.kind}) keeps data at {option.where_data_stays}, "
        f"but [workload] says data must stay on the {rule}; it is priced for comparison but "
        f"is not recommended"
        for option in options
        if not option.allowed_by(rule)
    )
    return Scenario(
        name=name,
        workload=workload,
        options=options,
        runs=runs,
        description=description,
        path=str(path),
        flags=flags,
    )


def _load_header(path: Path, data: dict[str, Any]) -> tuple[str, str]:
    """The scenario's name and description, once its top-level keys are known ones."""
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise ScenarioError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)}."
            f"{did_you_mean(unknown[0], _TOP_KEYS)} A scenario has {', '.join(_TOP_KEYS)}."
        )
    name = data.get("name", path.stem)
    description = data.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise ScenarioError(f"{path}, field `{key}`: must be text, got {value!r}.")
    return name, description


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        shipped = ", ".join(p.stem for p in list_scenarios()) or "none"
        raise ScenarioError(
            f"The scenario file {path} does not exist. Shipped scenarios: {shipped} "
            f"(in {scenarios_dir()})."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"Cannot read the scenario file {path}: {exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path} is not valid TOML: {exc}.") from exc


def _load_options(
    path: Path,
    raw_options: Any,
    runs: Mapping[str, str],
    prices: PriceCatalog,
    devices: Mapping[str, Device],
) -> tuple[OptionSpec, ...]:
    if not isinstance(raw_options, list) or not raw_options:
        raise ScenarioError(
            f"{path}: no [[options]]; add at least one option to price (kind api, instance, "
            "owned or local)."
        )
    options: list[OptionSpec] = []
    for number, entry in enumerate(raw_options, start=1):
        option = _load_option(path, number, entry)
        if option.name in {o.name for o in options}:
            raise ScenarioError(
                f"{path}: [[options]] entry {number}: the name {option.name!r} is used twice; "
                "give every option its own name."
            )
        _check_catalogs(path, number, option, prices, devices)
        if option.needs_run and option.run not in runs:
            have = ", ".join(sorted(runs)) or "none"
            raise ScenarioError(
                f"{path}: [[options]] entry {number} ({option.name!r}), field `run`: the run "
                f"name {option.run!r} is not in [runs] (it has: {have}). Add `{option.run} = "
                '"latest:bench:<model>"` (or a run id) to [runs], or give the option '
                "`tokens_per_s` or `requests_per_s`."
            )
        options.append(option)
    return tuple(options)


def _scenario_path(path: Path | str) -> Path:
    candidate = Path(path)
    if not candidate.exists() and candidate.suffix == "" and len(candidate.parts) == 1:
        shipped = scenarios_dir() / f"{candidate.name}.toml"
        if shipped.exists():
            return shipped
    return candidate


def _load_workload(path: Path, table: Any) -> ScenarioWorkload:
    if not isinstance(table, dict):
        raise ScenarioError(
            f"{path}: no [workload] table; a scenario needs one with requests_per_month, "
            "input_tokens and latency_objective_ms at least."
        )
    names = [f.name for f in fields(ScenarioWorkload)]
    unknown = [k for k in table if k not in names]
    if unknown:
        raise ScenarioError(
            f"{path}: [workload] has unknown field(s) {', '.join(unknown)}."
            f"{did_you_mean(unknown[0], names)} Fields: {', '.join(names)}."
        )
    missing = [
        f.name
        for f in fields(ScenarioWorkload)
        if f.default is MISSING and f.default_factory is MISSING and f.name not in table
    ]
    if missing:
        raise ScenarioError(
            f"{path}: [workload] lacks {', '.join(f'`{m}`' for m in missing)}; add "
            "requests_per_month (> 0), input_tokens and latency_objective_ms (> 0)."
        )
    profile = table.get("load_profile")
    if isinstance(profile, str) and profile.lower().endswith(".csv"):
        table = {**table, "load_profile": str(path.parent / Path(profile).expanduser())}
    try:
        return ScenarioWorkload(**table)
    except InvalidInputError as exc:
        raise ScenarioError(f"{path}: [workload] {_field_sentence(exc)}") from exc


def _field_sentence(exc: Exception) -> str:
    return str(exc).replace(" of the workload", "")


def _load_runs(path: Path, table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ScenarioError(
            f"{path}: [runs] must be a table of names and run references, e.g. "
            'local = "latest:bench:minilm".'
        )
    runs: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise ScenarioError(
                f"{path}: [runs] field `{key}`: must be a run id or latest:<kind>:<model>, "
                f"got {value!r}."
            )
        try:
            parse_run_ref(value.strip())
        except InvalidInputError as exc:
            raise ScenarioError(f"{path}: [runs] field `{key}`: {exc}") from exc
        runs[key] = value.strip()
    return runs


def _load_option(path: Path, number: int, entry: Any) -> OptionSpec:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{path}: [[options]] entry {number} must be a table.")
    label = f"{path}: [[options]] entry {number} ({entry.get('name', '?')!r})"
    kind = entry.get("kind")
    if kind not in OPTION_KINDS:
        hint = did_you_mean(str(kind), OPTION_KINDS)
        raise ScenarioError(
            f"{label}, field `kind`: must be one of {', '.join(OPTION_KINDS)} (per-token API, "
            f"rented instance, owned hardware, the measured machine), got {kind!r}.{hint}"
        )
    allowed = (*_COMMON_OPTION_KEYS, *_OPTION_KEYS[kind])
    unknown = [k for k in entry if k not in allowed]
    if unknown:
        raise ScenarioError(
            f"{label}: unknown field(s) {', '.join(unknown)} for a {kind} option."
            f"{did_you_mean(unknown[0], allowed)} Fields: {', '.join(allowed)}."
        )
    values = dict(entry)
    for alias, target in (("min_replicas", "min_units"), ("max_replicas", "max_units")):
        if alias in values:
            values[target] = values.pop(alias)
    if kind == "local":
        values.setdefault("max_units", 1)
        values.setdefault("hardware_usd", 0.0)
    for key in ("utilization", "amortization_months", "pue", "ops_usd_per_month"):
        if isinstance(values.get(key), int) and not isinstance(values.get(key), bool):
            values[key] = float(values[key])
    try:
        return OptionSpec(**values)
    except InvalidInputError as exc:
        raise ScenarioError(f"{label}: {exc}") from exc
    except TypeError as exc:  # a missing name
        raise ScenarioError(f"{label}: {exc}; every option needs `name` and `kind`.") from exc


def _check_catalogs(
    path: Path,
    number: int,
    option: OptionSpec,
    prices: PriceCatalog,
    devices: Mapping[str, Device],
) -> None:
    label = f"{path}: [[options]] entry {number} ({option.name!r})"
    try:
        if option.kind == "api":
            prices.api_price(option.provider, option.model)
        elif option.kind == "instance":
            row = prices.instance_price(option.instance, option.provider or None)
            if option.needs_run and option.projects and not row.device:
                raise ScenarioError(
                    f"{label}: instance {row.provider}/{row.name} has no `device` in the price "
                    "catalog to project the run onto. Give `requests_per_s` or `tokens_per_s` "
                    "(e.g. from an endpoint run), or `project = false` if the run was measured "
                    "on this instance."
                )
            if row.device:
                get_device(row.device, dict(devices))
        if option.device:
            device = get_device(option.device, dict(devices))
            if option.kind == "owned" and option.hardware_usd is None and device.price_usd is None:
                raise ScenarioError(
                    f"{label}, field `hardware_usd`: device {device.name!r} has no price_usd in "
                    "the device catalog; give the price of one unit."
                )
            if option.power_w is None and device.power_w is None:
                raise ScenarioError(
                    f"{label}, field `power_w`: device {device.name!r} has no power_w in the "
                    "device catalog; give its typical draw in watts."
                )
    except (PriceNotFoundError, DeviceNotFoundError) as exc:
        raise ScenarioError(f"{label}: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# Runs


def resolve_run(ref: str, runs_dir: str | os.PathLike[str] | None = None) -> Any:
    """Load the run a scenario names: a run id (or unique prefix) or ``latest:<kind>:<model>``.

    Returns
    -------
    workbench.runs.store.Run

    Raises
    ------
    ScenarioRunError
        When no run matches; the message names the reference, the runs directory and
        ``workbench runs list``.
    """
    from workbench.runs import list_runs, load_run, resolve_runs_dir

    root = resolve_runs_dir(runs_dir)
    latest = parse_run_ref(ref)
    if latest is None:
        try:
            return load_run(ref, runs_dir)
        except RunNotFoundError as exc:
            raise ScenarioRunError(
                f"The scenario names run {ref!r}, which does not exist in {root}: {exc} "
                "Run `workbench runs list` to see the run ids, or record one with "
                "`workbench bench MODEL`."
            ) from exc
    kind, model = latest
    for summary in reversed(list_runs(runs_dir)):
        if summary.kind != kind or summary.status != "complete":
            continue
        run = load_run(summary.id, runs_dir)
        if run.config.get("model") == model or run.summary.get("model") == model:
            return run
    raise ScenarioRunError(
        f"The scenario names run {ref!r}, but {root} holds no complete {kind!r} run of model "
        f"{model!r}. Record one with `workbench bench {model}` (or point --runs-dir at where "
        "it was saved), or name a run id from `workbench runs list`."
    )


__all__ = [
    "LATEST_PREFIX",
    "list_scenarios",
    "load_scenario",
    "parse_run_ref",
    "resolve_run",
    "scenarios_dir",
]
