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
    data_must_stay_on_premises = false
    arrival_pattern = "diurnal"        # poisson | diurnal | bursty
    burstiness = 1.0                   # spread of the gaps between arrivals; 1 = Poisson
    hours_per_month = 730              # optional

    [runs]                             # names for measured runs
    local = "latest:bench:smollm2-135m"  # newest complete bench run of that model, or a run id
    cloud = "20261129-101500-cloud-..."  # optional, e.g. an endpoint run

    [[options]]
    name = "gpt-4o-mini"
    kind = "api"                       # api | instance | owned | local
    provider = "openai"
    model = "gpt-4o-mini"

    [[options]]
    name = "HF endpoint, T4"
    kind = "instance"
    instance = "aws-nvidia-t4-x1"      # a name from data/prices/instances.csv
    utilization = 0.6

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
(:func:`workbench.devices.catalog.project_points`), marked as estimates, unless ``project = false``
says the run was measured on that hardware. Giving ``tokens_per_s`` or ``requests_per_s`` in
an option replaces the run.

:func:`load_scenario` checks every field, the catalog names (with suggestions) and flags
options that would send data off the premises when the workload forbids it (they are kept
and flagged, never dropped). :func:`compare_options` prices every option.
"""

from __future__ import annotations

import datetime
import difflib
import math
import numbers
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.cost.model import (
    ApiOption,
    CostOption,
    InstanceOption,
    OptionCost,
    OwnedOption,
    Workload,
    break_even,
    option_cost,
)
from workbench.cost.prices import (
    DEFAULT_MAX_AGE_DAYS,
    PriceCatalog,
    PriceNotFoundError,
    load_prices,
    stale_prices,
)
from workbench.devices import Device, HostPeak, get_device, load_devices, project_points
from workbench.kit.errors import (
    DeviceNotFoundError,
    InvalidInputError,
    RunNotFoundError,
    WorkbenchError,
)
from workbench.kit.paths import data_dir

OPTION_KINDS = ("api", "instance", "owned", "local")
ARRIVAL_PATTERNS = ("poisson", "diurnal", "bursty")
#: Kinds whose data stays on the premises unless an option says otherwise.
ON_PREMISES_KINDS = ("owned", "local")
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
        *_THROUGHPUT_KEYS,
    ),
    "owned": (*_HARDWARE_KEYS, *_THROUGHPUT_KEYS),
    "local": (*_HARDWARE_KEYS, *_THROUGHPUT_KEYS),
}
_COMMON_OPTION_KEYS = ("name", "kind", "notes", "on_premises")


class ScenarioError(InvalidInputError):
    """A scenario file or field that cannot be used; the message names the file and the field."""


class ScenarioRunError(WorkbenchError, LookupError):
    """A run a scenario names that does not exist or cannot feed a cost."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class ScenarioWorkload:
    """The ``[workload]`` table: what must be served, how fast, and where data may go."""

    requests_per_month: float = field(metadata=_help("requests served in a month"))
    input_tokens: float = field(metadata=_help("prompt (or text) tokens per request"))
    latency_objective_ms: float = field(metadata=_help("latency a request must meet, ms"))
    output_tokens: float = field(default=0.0, metadata=_help("generated tokens per request"))
    peak_requests_per_s: float | None = field(
        default=None, metadata=_help("busiest rate to size for; default the average rate")
    )
    data_must_stay_on_premises: bool = field(
        default=False, metadata=_help("true when requests may not leave the premises")
    )
    arrival_pattern: str = field(
        default="poisson", metadata=_help("how requests arrive: poisson, diurnal or bursty")
    )
    burstiness: float = field(
        default=1.0,
        metadata=_help("coefficient of variation of gaps between arrivals; 1 = Poisson, >1 bursty"),
    )
    hours_per_month: float = field(default=730.0, metadata=_help("hours billed per month"))

    def __post_init__(self) -> None:
        self.cost_workload()  # checks volume, tokens, peak, latency objective and hours
        if not isinstance(self.data_must_stay_on_premises, bool):
            raise InvalidInputError(
                "`data_must_stay_on_premises` must be true or false, got "
                f"{self.data_must_stay_on_premises!r}."
            )
        if self.arrival_pattern not in ARRIVAL_PATTERNS:
            raise InvalidInputError(
                f"`arrival_pattern` must be one of {', '.join(ARRIVAL_PATTERNS)}, got "
                f"{self.arrival_pattern!r}."
            )
        if not _is_number(self.burstiness) or self.burstiness <= 0:
            raise InvalidInputError(
                f"`burstiness` must be > 0 (1 = Poisson arrivals, above 1 = bursts), got "
                f"{self.burstiness!r}."
            )

    def cost_workload(self) -> Workload:
        """The part the cost model uses, as a :class:`workbench.cost.model.Workload`."""
        return Workload(
            requests_per_month=self.requests_per_month,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            peak_requests_per_s=self.peak_requests_per_s,
            latency_objective_ms=self.latency_objective_ms,
            hours_per_month=self.hours_per_month,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as in the TOML table."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioWorkload:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class OptionSpec:
    """One ``[[options]]`` entry as written: what to price, before prices and runs are looked up.

    ``min_units``/``max_units`` hold ``min_replicas``/``max_replicas`` for instances. A local
    option owns one machine unless ``max_units`` says more (``hardware_usd`` defaults to 0:
    the machine is already paid for).
    """

    name: str
    kind: str
    provider: str = ""
    model: str = ""
    instance: str = ""
    device: str = ""
    utilization: float = 0.7
    min_units: int = 1
    max_units: int | None = None
    hardware_usd: float | None = None
    amortization_months: float = 36.0
    power_w: float | None = None
    idle_power_w: float | None = None
    pue: float = 1.0
    usd_per_kwh: float | None = None
    ops_usd_per_month: float = 0.0
    tokens_per_s: float | None = None
    requests_per_s: float | None = None
    run: str = "local"
    project: bool | None = None
    variant: str = ""
    batch: int | None = None
    on_premises: bool | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInputError(f"`name` must be non-empty text, got {self.name!r}.")
        if self.kind not in OPTION_KINDS:
            hint = _close(str(self.kind), OPTION_KINDS)
            raise InvalidInputError(
                f"`kind` must be one of {', '.join(OPTION_KINDS)}, got {self.kind!r}.{hint}"
            )
        required = {
            "api": ("provider", "model"),
            "instance": ("instance",),
            "owned": ("device", "usd_per_kwh"),
            "local": ("usd_per_kwh",),
        }[self.kind]
        for name in required:
            if getattr(self, name) in (None, ""):
                raise InvalidInputError(f"`{name}` is required for a {self.kind} option.")
        if self.kind == "local" and not self.device and self.power_w is None:
            raise InvalidInputError(
                "`power_w` is required for a local option without a `device`: give the "
                "machine's typical draw under load in watts (or name its device)."
            )
        for name in ("provider", "model", "instance", "device", "run", "variant", "notes"):
            if not isinstance(getattr(self, name), str):
                raise InvalidInputError(f"`{name}` must be text, got {getattr(self, name)!r}.")
        if not _is_number(self.utilization) or not 0 < self.utilization <= 1:
            raise InvalidInputError(
                f"`utilization` must be in (0, 1] (the share of measured throughput to plan "
                f"for, e.g. 0.7), got {self.utilization!r}."
            )
        for name in ("hardware_usd", "power_w", "idle_power_w", "usd_per_kwh"):
            value = getattr(self, name)
            if value is not None and (not _is_number(value) or value < 0):
                raise InvalidInputError(f"`{name}` must be a number >= 0, got {value!r}.")
        for name in ("amortization_months", "tokens_per_s", "requests_per_s"):
            value = getattr(self, name)
            if value is not None and (not _is_number(value) or value <= 0):
                raise InvalidInputError(f"`{name}` must be a number > 0, got {value!r}.")
        if not _is_number(self.ops_usd_per_month) or self.ops_usd_per_month < 0:
            raise InvalidInputError(
                f"`ops_usd_per_month` must be a number >= 0, got {self.ops_usd_per_month!r}."
            )
        if not _is_number(self.pue) or self.pue < 1:
            raise InvalidInputError(
                f"`pue` must be a number >= 1 (1.0 = no cooling overhead), got {self.pue!r}."
            )
        if self.tokens_per_s is not None and self.requests_per_s is not None:
            raise InvalidInputError(
                "give at most one of `tokens_per_s` and `requests_per_s`, not both."
            )
        for name, low in (("min_units", 1), ("max_units", 1), ("batch", 1)):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < low
            ):
                label = {"instance": {"min_units": "min_replicas", "max_units": "max_replicas"}}
                shown = label.get(self.kind, {}).get(name, name)
                raise InvalidInputError(
                    f"`{shown}` must be a whole number >= {low}, got {value!r}."
                )
        if self.max_units is not None and self.max_units < self.min_units:
            raise InvalidInputError(
                f"`max_units` ({self.max_units}) is below `min_units` ({self.min_units})."
            )
        for name in ("project", "on_premises"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise InvalidInputError(f"`{name}` must be true or false, got {value!r}.")

    @property
    def is_on_premises(self) -> bool:
        """Whether requests stay on the premises: ``on_premises``, else owned and local kinds."""
        if self.on_premises is not None:
            return self.on_premises
        return self.kind in ON_PREMISES_KINDS

    @property
    def throughput_given(self) -> bool:
        """Whether the option states its own throughput (no run needed)."""
        return self.tokens_per_s is not None or self.requests_per_s is not None

    @property
    def needs_run(self) -> bool:
        """Whether the option's throughput comes from a run named in ``[runs]``."""
        return self.kind != "api" and not self.throughput_given

    @property
    def projects(self) -> bool:
        """Whether the run's figures are projected onto the option's device."""
        if self.project is not None:
            return self.project
        return self.kind in ("instance", "owned")

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OptionSpec:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: the workload, the options, the named runs, and its flags.

    ``flags`` holds one sentence per option that breaks the on-premises rule; such options
    stay in ``options``.
    """

    name: str
    workload: ScenarioWorkload
    options: tuple[OptionSpec, ...]
    runs: dict[str, str] = field(default_factory=dict)
    description: str = ""
    path: str = ""
    flags: tuple[str, ...] = ()

    def option(self, name: str) -> OptionSpec:
        """The option called ``name``.

        Raises
        ------
        ScenarioError
            When there is none; the message lists the options.
        """
        for spec in self.options:
            if spec.name == name:
                return spec
        names = [s.name for s in self.options]
        raise ScenarioError(
            f"Scenario {self.name!r} has no option {name!r}.{_close(name, names)} Its options: "
            f"{', '.join(names)}."
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {
            "name": self.name,
            "description": self.description,
            "path": self.path,
            "workload": self.workload.to_dict(),
            "runs": dict(self.runs),
            "options": [o.to_dict() for o in self.options],
            "flags": list(self.flags),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """The inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            description=data.get("description", ""),
            path=data.get("path", ""),
            workload=ScenarioWorkload.from_dict(data["workload"]),
            runs=dict(data.get("runs", {})),
            options=tuple(OptionSpec.from_dict(o) for o in data.get("options", [])),
            flags=tuple(data.get("flags", ())),
        )


def _close(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


# ---------------------------------------------------------------------------------------------
# Loading


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
        :func:`workbench.cost.prices.load_prices`.
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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
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

    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise ScenarioError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)}.{_close(unknown[0], _TOP_KEYS)} "
            f"A scenario has {', '.join(_TOP_KEYS)}."
        )
    name = data.get("name", path.stem)
    description = data.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise ScenarioError(f"{path}, field `{key}`: must be text, got {value!r}.")

    workload = _load_workload(path, data.get("workload"))
    runs = _load_runs(path, data.get("runs", {}))
    raw_options = data.get("options")
    if not isinstance(raw_options, list) or not raw_options:
        raise ScenarioError(
            f"{path}: no [[options]]; add at least one option to price (kind api, instance, "
            "owned or local)."
        )
    prices = prices if prices is not None else load_prices()
    devices = devices if devices is not None else load_devices()
    options: list[OptionSpec] = []
    for number, entry in enumerate(raw_options, start=1):
        spec = _load_option(path, number, entry)
        if spec.name in {o.name for o in options}:
            raise ScenarioError(
                f"{path}: [[options]] entry {number}: the name {spec.name!r} is used twice; "
                "give every option its own name."
            )
        _check_catalogs(path, number, spec, prices, devices)
        if spec.needs_run and spec.run not in runs:
            have = ", ".join(sorted(runs)) or "none"
            raise ScenarioError(
                f"{path}: [[options]] entry {number} ({spec.name!r}), field `run`: the run name "
                f"{spec.run!r} is not in [runs] (it has: {have}). Add `{spec.run} = "
                '"latest:bench:<model>"` (or a run id) to [runs], or give the option '
                "`tokens_per_s` or `requests_per_s`."
            )
        options.append(spec)

    flags = tuple(
        f"option {spec.name!r} ({spec.kind}) sends requests off the premises, which "
        f"[workload] data_must_stay_on_premises forbids; it is priced for comparison but "
        f"may not be used"
        for spec in options
        if workload.data_must_stay_on_premises and not spec.is_on_premises
    )
    return Scenario(
        name=name,
        workload=workload,
        options=tuple(options),
        runs=runs,
        description=description,
        path=str(path),
        flags=flags,
    )


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
            f"{_close(unknown[0], names)} Fields: {', '.join(names)}."
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
        hint = _close(str(kind), OPTION_KINDS)
        raise ScenarioError(
            f"{label}, field `kind`: must be one of {', '.join(OPTION_KINDS)} (per-token API, "
            f"rented instance, owned hardware, the measured machine), got {kind!r}.{hint}"
        )
    allowed = (*_COMMON_OPTION_KEYS, *_OPTION_KEYS[kind])
    unknown = [k for k in entry if k not in allowed]
    if unknown:
        raise ScenarioError(
            f"{label}: unknown field(s) {', '.join(unknown)} for a {kind} option."
            f"{_close(unknown[0], allowed)} Fields: {', '.join(allowed)}."
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
    spec: OptionSpec,
    prices: PriceCatalog,
    devices: Mapping[str, Device],
) -> None:
    label = f"{path}: [[options]] entry {number} ({spec.name!r})"
    try:
        if spec.kind == "api":
            prices.api_price(spec.provider, spec.model)
        elif spec.kind == "instance":
            row = prices.instance_price(spec.instance, spec.provider or None)
            if spec.needs_run and spec.projects and not row.device:
                raise ScenarioError(
                    f"{label}: instance {row.provider}/{row.name} has no `device` in the price "
                    "catalog to project the run onto. Give `requests_per_s` or `tokens_per_s` "
                    "(e.g. from an endpoint run), or `project = false` if the run was measured "
                    "on this instance."
                )
            if row.device:
                get_device(row.device, dict(devices))
        if spec.device:
            device = get_device(spec.device, dict(devices))
            if spec.kind == "owned" and spec.hardware_usd is None and device.price_usd is None:
                raise ScenarioError(
                    f"{label}, field `hardware_usd`: device {device.name!r} has no price_usd in "
                    "the device catalog; give the price of one unit."
                )
            if spec.power_w is None and device.power_w is None:
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


# ---------------------------------------------------------------------------------------------
# Resolving options into cost options


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
    for spec in scenario.options:
        run = None
        if spec.needs_run:
            if spec.run not in scenario.runs:
                raise ScenarioError(
                    f"{scenario.path or scenario.name}: option {spec.name!r} needs the run "
                    f"{spec.run!r}, which [runs] does not name."
                )
            if spec.run not in runs:
                runs[spec.run] = resolve_run(scenario.runs[spec.run], runs_dir)
            run = runs[spec.run]
        try:
            resolved.append(_resolve(spec, run, workload, prices, devices))
        except (PriceNotFoundError, DeviceNotFoundError) as exc:
            raise ScenarioError(f"{scenario.path or scenario.name}: {exc}") from exc
    return resolved


def _resolve(
    spec: OptionSpec,
    run: Any,
    workload: Workload,
    prices: PriceCatalog,
    devices: dict[str, Device],
) -> ResolvedOption:
    if spec.kind == "api":
        row = prices.api_price(spec.provider, spec.model)
        option = ApiOption(spec.name, row.input_usd_per_mtok, row.output_usd_per_mtok)
        return ResolvedOption(spec, option, (_price_ref(row),))

    refs: list[SourceRef] = []
    target: Device | None = None
    copies = 1
    if spec.kind == "instance":
        row = prices.instance_price(spec.instance, spec.provider or None)
        refs.append(_price_ref(row))
        if row.device:
            target = get_device(row.device, devices)
        copies = max(1, row.accelerator_count)
    device = get_device(spec.device, devices) if spec.device else None
    if device is not None:
        refs.append(_device_ref(device))
        target = device if spec.kind == "owned" else target

    if spec.throughput_given:
        unit = "tokens/s" if spec.tokens_per_s is not None else "requests/s"
        value = spec.tokens_per_s if spec.tokens_per_s is not None else spec.requests_per_s
        throughput = Throughput(float(value), unit, "given in the scenario")
    else:
        throughput, problem = _run_throughput(
            spec, run, workload, target if spec.projects else None
        )
        if throughput is None:
            return ResolvedOption(spec, None, tuple(refs), None, problem)
        if copies > 1 and spec.projects:
            throughput = Throughput(
                throughput.value * copies,
                throughput.unit,
                f"{throughput.source}, x {copies} accelerators (one model copy each)",
                throughput.estimate,
                throughput.p50_ms,
                throughput.run_id,
            )
    rate = {"tokens_per_s": None, "requests_per_s": None}
    rate["tokens_per_s" if throughput.unit == "tokens/s" else "requests_per_s"] = throughput.value

    try:
        if spec.kind == "instance":
            option: CostOption = InstanceOption(
                name=spec.name,
                usd_per_hour=row.usd_per_hour,
                utilization=spec.utilization,
                min_replicas=spec.min_units,
                max_replicas=spec.max_units,
                **rate,
            )
        else:
            values = {
                "amortization_months": spec.amortization_months,
                "usd_per_kwh": spec.usd_per_kwh,
                "pue": spec.pue,
                "ops_usd_per_month": spec.ops_usd_per_month,
                "idle_power_w": spec.idle_power_w,
                "utilization": spec.utilization,
                "min_units": spec.min_units,
                "max_units": spec.max_units,
                "hardware_usd": spec.hardware_usd,
                "power_w": spec.power_w,
                **rate,
            }
            if device is not None:
                option = OwnedOption.from_device(spec.name, device, **values)
            else:
                option = OwnedOption(name=spec.name, **values)
    except InvalidInputError as exc:
        raise ScenarioError(f"option {spec.name!r}: {exc}") from exc
    return ResolvedOption(spec, option, tuple(refs), throughput)


def _run_throughput(
    spec: OptionSpec, run: Any, workload: Workload, device: Device | None
) -> tuple[Throughput | None, str]:
    """The throughput one unit reaches, from the run's points (projected onto ``device``)."""
    try:
        points = run.table("points")
    except WorkbenchError as exc:
        raise ScenarioRunError(f"Run {run.id} cannot feed option {spec.name!r}: {exc}") from exc
    points = _select_points(spec, run, points, workload)
    generation = str(points["task"].iloc[0]) == "text-generation"
    if generation and workload.output_tokens <= 0:
        raise ScenarioRunError(
            f"Run {run.id} measured text generation, but the workload's output_tokens is 0: set "
            f"output_tokens in [workload] so tokens/s can become requests/s (option {spec.name!r})."
        )
    if device is None:
        column = "tokens_per_s" if generation else "throughput_items_per_s"
        _require_columns(run, points, (column, "p50_ms"), spec)
        table = pd.DataFrame(
            {"value": points[column].astype(float), "p50_ms": points["p50_ms"].astype(float)}
        )
        source = f"measured in run {run.id}"
        estimate = False
    else:
        host_data = run.environment.get("host_peak")
        if not isinstance(host_data, dict):
            raise ScenarioRunError(
                f"Run {run.id} has no host_peak in its environment (runs recorded by "
                f"`workbench bench` have one), so it cannot be projected onto {device.name} for "
                f"option {spec.name!r}. Give the option tokens_per_s or requests_per_s instead."
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
        source = f"ESTIMATE: run {run.id} projected onto {device.name} (roofline)"
        estimate = True
    table = table[table["value"].notna() & (table["value"] > 0)]
    if table.empty:
        return None, f"run {run.id} has no positive throughput for this option"
    objective = workload.latency_objective_ms
    meeting = table[table["p50_ms"] <= objective] if objective is not None else table
    best = meeting.loc[meeting["value"].idxmax()] if not meeting.empty else None
    if best is None:
        best = table.loc[table["p50_ms"].idxmin()]
    return (
        Throughput(
            value=float(best["value"]),
            unit="tokens/s" if generation else "requests/s",
            source=source,
            estimate=estimate,
            p50_ms=float(best["p50_ms"]),
            run_id=run.id,
        ),
        "",
    )


def _require_columns(
    run: Any, points: pd.DataFrame, columns: Sequence[str], spec: OptionSpec
) -> None:
    missing = [c for c in columns if c not in points.columns]
    if missing:
        raise ScenarioRunError(
            f"Run {run.id}'s points table lacks {', '.join(missing)}, which option "
            f"{spec.name!r} needs for its throughput; use a benchmark run, or give "
            "tokens_per_s or requests_per_s in the option."
        )


def _select_points(
    spec: OptionSpec, run: Any, points: pd.DataFrame, workload: Workload
) -> pd.DataFrame:
    _require_columns(run, points, ("task",), spec)
    if points.empty:
        raise ScenarioRunError(f"Run {run.id} has an empty points table; re-run the benchmark.")
    if spec.variant:
        _require_columns(run, points, ("variant",), spec)
        chosen = points[points["variant"] == spec.variant]
        if chosen.empty:
            have = ", ".join(sorted({str(v) for v in points["variant"]}))
            raise ScenarioRunError(
                f"Run {run.id} has no points of variant {spec.variant!r} (it has {have}); fix "
                f"`variant` of option {spec.name!r}."
            )
        points = chosen
    if spec.batch is not None:
        _require_columns(run, points, ("batch",), spec)
        chosen = points[points["batch"] == spec.batch]
        if chosen.empty:
            have = ", ".join(str(b) for b in sorted(set(points["batch"])))
            raise ScenarioRunError(
                f"Run {run.id} has no points at batch {spec.batch} (it has {have}); fix "
                f"`batch` of option {spec.name!r}."
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


# ---------------------------------------------------------------------------------------------
# Comparing


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
        warned about with :class:`workbench.cost.prices.StalePriceWarning`.
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
    messages = [s.message for s in stale.values()] + list(scenario.flags)

    rows = []
    for item in resolved:
        rows.append(_compare_row(item, costs, resolved, workload, scenario, stale))
    frame = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    frame["units"] = frame["units"].astype("Int64")
    frame["meets_latency_objective"] = frame["meets_latency_objective"].astype("boolean")
    frame.attrs["scenario"] = scenario.name
    frame.attrs["requests_per_month"] = workload.requests_per_month
    frame.attrs["warnings"] = messages
    return frame


def _compare_row(
    item: ResolvedOption,
    costs: dict[str, OptionCost | None],
    resolved: list[ResolvedOption],
    workload: Workload,
    scenario: Scenario,
    stale: dict[str, Any],
) -> dict[str, Any]:
    spec = item.spec
    cost = costs[spec.name]
    nan = math.nan
    row: dict[str, Any] = {
        "option": spec.name,
        "kind": spec.kind,
        "feasible": bool(cost and cost.feasible),
        "monthly_usd": nan,
        "usd_per_1k_requests": nan,
        "usd_per_request": nan,
        "fixed_usd_per_month": nan,
        "variable_usd_per_request": nan,
        "units": None,
        "capacity_per_unit_requests_per_s": nan,
        "capacity_requests_per_s": nan,
        "throughput": nan,
        "throughput_unit": "",
        "throughput_source": "per-token API" if spec.kind == "api" else "",
        "estimate": False,
        "p50_ms": nan,
        "meets_latency_objective": None,
        "break_even_vs": "",
        "break_even_requests_per_month": nan,
        "break_even_reason": "",
        "price_rows": "; ".join(r.label for r in item.price_rows),
        "price_sources": "; ".join(r.source for r in item.price_rows),
        "price_as_of": "; ".join(r.as_of for r in item.price_rows),
        "stale": any(r.label in stale for r in item.price_rows),
        "on_premises": spec.is_on_premises,
        "on_premises_ok": spec.is_on_premises or not scenario.workload.data_must_stay_on_premises,
        "reason": item.reason,
        "working": "",
    }
    if item.throughput is not None:
        row.update(
            throughput=item.throughput.value,
            throughput_unit=item.throughput.unit,
            throughput_source=item.throughput.source,
            estimate=item.throughput.estimate,
        )
        if item.throughput.p50_ms is not None:
            row["p50_ms"] = item.throughput.p50_ms
            if workload.latency_objective_ms is not None:
                row["meets_latency_objective"] = (
                    item.throughput.p50_ms <= workload.latency_objective_ms
                )
    if cost is not None:
        row.update(
            monthly_usd=cost.monthly_usd,
            usd_per_1k_requests=cost.usd_per_1k_requests,
            usd_per_request=cost.usd_per_request,
            fixed_usd_per_month=cost.fixed_usd_per_month,
            variable_usd_per_request=cost.variable_usd_per_request,
            units=cost.units,
            working=" | ".join(cost.working),
            reason=cost.reason or row["reason"],
        )
        if cost.capacity_per_unit_requests_per_s is not None:
            row["capacity_per_unit_requests_per_s"] = cost.capacity_per_unit_requests_per_s
            row["capacity_requests_per_s"] = cost.capacity_requests_per_s
    others = [
        r
        for r in resolved
        if r.spec.name != spec.name
        and r.cost_option is not None
        and costs[r.spec.name] is not None
        and costs[r.spec.name].feasible
    ]
    if scenario.workload.data_must_stay_on_premises:
        # Comparing with an option the rule forbids would not help the decision.
        allowed = [r for r in others if r.spec.is_on_premises]
        others = allowed or others
    if item.cost_option is None:
        row["break_even_reason"] = "the option cannot be priced: " + (item.reason or "no figures")
    elif not others:
        row["break_even_reason"] = "no other feasible option to compare with"
    else:
        cheapest = min(others, key=lambda r: costs[r.spec.name].monthly_usd)
        result = break_even(item.cost_option, cheapest.cost_option, workload)
        row["break_even_vs"] = cheapest.spec.name
        row["break_even_reason"] = result.reason or (
            f"{result.cheaper_below} is cheaper below, {result.cheaper_above} above"
        )
        if result.requests_per_month is not None:
            row["break_even_requests_per_month"] = result.requests_per_month
    return row


__all__ = [
    "ARRIVAL_PATTERNS",
    "COMPARE_COLUMNS",
    "OPTION_KINDS",
    "OptionSpec",
    "ResolvedOption",
    "Scenario",
    "ScenarioError",
    "ScenarioRunError",
    "ScenarioWorkload",
    "SourceRef",
    "Throughput",
    "compare_options",
    "list_scenarios",
    "load_scenario",
    "parse_run_ref",
    "resolve_options",
    "resolve_run",
    "scenarios_dir",
]
