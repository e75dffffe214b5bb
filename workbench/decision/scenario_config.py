"""The tables of a scenario file: the workload, each option as written, and the scenario itself.

Each is a frozen dataclass whose fields are declared with :func:`workbench.kit.fields.spec`;
:mod:`workbench.decision.scenarios` reads them from TOML and adds the file and the table to any
error. The workload's labels and slider ranges also shape the decision panel's controls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from workbench.cost import Workload
from workbench.decision.errors import ScenarioError, did_you_mean
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import check_fields, flag_for, spec

OPTION_KINDS = ("api", "instance", "owned", "local")
ARRIVAL_PATTERNS = ("poisson", "diurnal", "bursty")
#: Kinds whose data stays on the premises unless an option says otherwise.
ON_PREMISES_KINDS = ("owned", "local")
#: Where an option keeps the data it is sent, from the most to the least contained.
DATA_LOCATIONS = ("device", "premises", "provider-region")
#: Where a workload's data must stay: nowhere in particular, on the premises, on the device.
DATA_RULES = ("anywhere", "premises", "device")
#: Where each kind keeps data unless the option says otherwise.
DEFAULT_DATA_LOCATION = {
    "local": "device",
    "owned": "premises",
    "instance": "provider-region",
    "api": "provider-region",
}
#: Fields each option kind must give.
REQUIRED_OPTION_FIELDS = {
    "api": ("provider", "model"),
    "instance": ("instance",),
    "owned": ("device", "usd_per_kwh"),
    "local": ("usd_per_kwh",),
}
_TEXT_OPTION_FIELDS = (
    "provider",
    "model",
    "instance",
    "device",
    "run",
    "variant",
    "notes",
    "quality_source",
)
#: How an instance option writes the unit counts (replicas).
_INSTANCE_NAMES = {"min_units": "min_replicas", "max_units": "max_replicas"}


def _check_bool(config: Any, name: str, *, optional: bool = False) -> None:
    value = getattr(config, name)
    if not isinstance(value, bool) and not (optional and value is None):
        raise checks.invalid(name, value, "true or false")


@dataclass(frozen=True)
class ScenarioWorkload:
    """The ``[workload]`` table: what must be served, how fast, and where data may go.

    Volume, tokens, peak, latency objective and hours are checked by the cost model's
    :class:`workbench.cost.Workload` (:meth:`cost_workload`), so every caller refuses a bad
    workload the same way.
    """

    requests_per_month: float = spec(
        help="requests served in a month",
        label="Requests / month",
        widget_range=(1e2, 1e9),
        step=0.05,
    )
    input_tokens: float = spec(
        help="prompt (or text) tokens per request", label="Input tokens", widget_range=(1, 8192)
    )
    latency_objective_ms: float = spec(
        help="latency a request must meet",
        unit="ms",
        label="Latency objective (ms)",
        widget_range=(1e1, 1e6),
        step=0.05,
    )
    output_tokens: float = spec(
        0.0, help="generated tokens per request", label="Output tokens", widget_range=(0, 4096)
    )
    peak_requests_per_s: float | None = spec(
        None,
        help="busiest rate to size for; default the average rate",
        optional=True,
        label="Peak requests / s",
        widget_range=(1e-4, 1e3),
        step=0.05,
    )
    data_must_stay_on_premises: bool = spec(
        False, help="true when requests may not leave the premises (same as data_must_stay)"
    )
    data_must_stay: str = spec(
        "anywhere",
        help="where requests' data must stay: anywhere, premises or device",
        choices=DATA_RULES,
    )
    eval_set: str = spec(
        "",
        help="the evaluation set options' quality is measured on (`workbench eval --set`); "
        "eval runs on other sets are not used",
    )
    quality_floor: float | None = spec(
        None,
        help="lowest quality score (0 to 1) an option may have to be recommended; "
        "options of known quality at or above it come first (0 in the panel = no floor)",
        low=0,
        high=1,
        optional=True,
        fix="It is a score between 0 and 1 on the scenario's evaluation, e.g. 0.6.",
        label="Quality floor",
        step=0.05,
    )
    min_agreement: float = spec(
        0.95,
        help="lowest token agreement with fp32 a generation variant may have to be used",
        low=0,
        high=1,
    )
    min_cosine: float = spec(
        0.99,
        help="lowest cosine with fp32 (worst text) an embeddings variant may have to be used",
        low=-1,
        high=1,
    )
    arrival_pattern: str = spec(
        "poisson", help="how requests arrive: poisson, diurnal or bursty", choices=ARRIVAL_PATTERNS
    )
    burstiness: float = spec(
        1.0,
        help="coefficient of variation of gaps between arrivals; 1 = Poisson, >1 bursty",
        low=0,
        low_open=True,
    )
    hours_per_month: float = spec(730.0, help="hours billed per month")
    load_profile: str = spec(
        "flat",
        help="how each day's requests spread over its hours: flat, business-hours, diurnal, "
        "or a CSV file of hour,share",
    )

    def __post_init__(self) -> None:
        checks.text("load_profile", self.load_profile)
        self.cost_workload()  # checks volume, tokens, peak, latency objective and hours
        _check_bool(self, "data_must_stay_on_premises")
        check_fields(self, flags=False)

    @property
    def data_rule(self) -> str:
        """Where data must stay: ``data_must_stay``, or ``premises`` when only the older
        ``data_must_stay_on_premises = true`` is given."""
        if self.data_must_stay == "anywhere" and self.data_must_stay_on_premises:
            return "premises"
        return self.data_must_stay

    def cost_workload(self) -> Workload:
        """The part the cost model uses, as a :class:`workbench.cost.Workload`."""
        return Workload(
            requests_per_month=self.requests_per_month,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            peak_requests_per_s=self.peak_requests_per_s,
            latency_objective_ms=self.latency_objective_ms,
            hours_per_month=self.hours_per_month,
            load_profile=self.load_profile,
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

    name: str = spec(help="the option's name in tables and charts")
    kind: str = spec(
        help="api (per token), instance (rented), owned (hardware) or local (this machine)",
        choices=OPTION_KINDS,
    )
    provider: str = spec("", help="API or cloud provider, as in the price catalog")
    model: str = spec("", help="API model, as in the price catalog")
    instance: str = spec("", help="instance name, as in data/prices/instances.csv")
    device: str = spec("", help="device name, as in data/devices.csv")
    utilization: float = spec(
        0.7,
        help="share of measured throughput to plan for",
        low=0,
        low_open=True,
        high=1,
        fix="It is the share of measured throughput to plan for, e.g. 0.7.",
    )
    min_units: int = spec(
        1, help="fewest units (replicas) to run; 0 = scale to zero (instances)", low=0, whole=True
    )
    max_units: int | None = spec(
        None, help="most units (replicas) to run", low=1, whole=True, optional=True
    )
    hardware_usd: float | None = spec(
        None, help="price of one unit", unit="USD", low=0, optional=True
    )
    amortization_months: float = spec(
        36.0, help="months the hardware is paid off over", low=0, low_open=True
    )
    power_w: float | None = spec(
        None, help="typical draw under load", unit="W", low=0, optional=True
    )
    idle_power_w: float | None = spec(None, help="draw when idle", unit="W", low=0, optional=True)
    pue: float = spec(
        1.0, help="power usage effectiveness", low=1, fix="1.0 = no cooling overhead."
    )
    usd_per_kwh: float | None = spec(None, help="electricity price", low=0, optional=True)
    ops_usd_per_month: float = spec(0.0, help="operations cost per month", unit="USD", low=0)
    tokens_per_s: float | None = spec(
        None, help="throughput of one unit, instead of a run", low=0, low_open=True, optional=True
    )
    requests_per_s: float | None = spec(
        None, help="throughput of one unit, instead of a run", low=0, low_open=True, optional=True
    )
    run: str = spec("local", help="the [runs] name the throughput comes from")
    project: bool | None = spec(
        None, help="project the run onto the option's device (roofline)", optional=True
    )
    variant: str = spec(
        "",
        help="the run's variant to use, or engine and variant ('llama.cpp q4_1'); default: the "
        "fastest that keeps quality",
    )
    batch: int | None = spec(
        None, help="the run's batch size to use (default all)", low=1, whole=True, optional=True
    )
    on_premises: bool | None = spec(
        None, help="whether requests stay on the premises (default by kind)", optional=True
    )
    data_location: str = spec(
        "",
        help="where the option keeps requests' data: device, premises or provider-region "
        "(default by kind)",
        choices=("", *DATA_LOCATIONS),
    )
    billing_granularity: str = spec(
        "minute",
        help="instances: how the provider rounds up the time a replica is up",
        choices=("second", "minute", "hour"),
    )
    cold_start_s: float | None = spec(
        None,
        help="instances: seconds a replica takes to start from zero",
        unit="s",
        low=0,
        optional=True,
    )
    scale_down_after_s: float = spec(
        300.0, help="instances: seconds an extra replica is kept", unit="s", low=0, high=3600
    )
    scale_to_zero_after_s: float = spec(
        3600.0,
        help="instances: idle seconds before the last replica goes (min_replicas 0)",
        unit="s",
        low=0,
        high=86400,
    )
    quality: float | None = spec(
        None,
        help="the option's quality score (0 to 1) on the scenario's evaluation, when known",
        low=0,
        high=1,
        optional=True,
    )
    quality_source: str = spec("", help="where the quality score comes from, with its date")
    notes: str = spec("", help="free text")

    def __post_init__(self) -> None:
        checks.text("name", self.name)
        if self.kind not in OPTION_KINDS:
            raise checks.invalid(
                "kind",
                self.kind,
                f"one of {', '.join(OPTION_KINDS)}",
                fix=did_you_mean(str(self.kind), OPTION_KINDS).strip(),
            )
        for name in REQUIRED_OPTION_FIELDS[self.kind]:
            if getattr(self, name) in (None, ""):
                raise ScenarioError(f"`{name}` is required for a {self.kind} option.")
        if self.kind == "local" and not self.device and self.power_w is None:
            raise ScenarioError(
                "`power_w` is required for a local option without a `device`: give the "
                "machine's typical draw under load in watts (or name its device)."
            )
        for name in _TEXT_OPTION_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise checks.invalid(name, getattr(self, name), "text")
        self._check_numbers()
        for name in ("project", "on_premises"):
            _check_bool(self, name, optional=True)
        if self.quality is not None and not self.quality_source.strip():
            raise ScenarioError(
                f"option {self.name!r} gives `quality` = {self.quality:g} without "
                "`quality_source`: say where the score comes from and when it was measured "
                '(e.g. "eval run 20261201-... " or "vendor model card, 2026-11"), so the '
                "decision can show it."
            )

    def _check_numbers(self) -> None:
        try:
            check_fields(self, flags=False)
        except InvalidInputError as exc:
            if self.kind != "instance":
                raise
            text = str(exc)  # an instance writes its units as replicas: name them so
            for name, shown in _INSTANCE_NAMES.items():
                text = text.replace(name, shown).replace(flag_for(name), flag_for(shown))
            raise InvalidInputError(text) from None
        if self.tokens_per_s is not None and self.requests_per_s is not None:
            raise ScenarioError(
                "give at most one of `tokens_per_s` and `requests_per_s`, not both."
            )
        if self.min_units < 1 and self.kind != "instance":
            raise ScenarioError(
                f"`min_units` ({self.min_units}) must be at least 1 for a {self.kind} option: "
                "only rented instances scale to zero (min_replicas = 0)."
            )
        if self.max_units is not None and self.max_units < self.min_units:
            raise ScenarioError(
                f"`max_units` ({self.max_units}) is below `min_units` ({self.min_units})."
            )

    @property
    def is_on_premises(self) -> bool:
        """Whether requests stay on the premises: ``on_premises``, else by ``data_location``."""
        if self.on_premises is not None:
            return self.on_premises
        return self.where_data_stays in ("device", "premises")

    @property
    def where_data_stays(self) -> str:
        """``data_location``, else ``premises`` when ``on_premises`` says so, else by kind."""
        if self.data_location:
            return self.data_location
        if self.on_premises is not None:
            return "premises" if self.on_premises else "provider-region"
        return DEFAULT_DATA_LOCATION[self.kind]

    def allowed_by(self, rule: str) -> bool:
        """Whether the option keeps data where ``rule`` (one of :data:`DATA_RULES`) says."""
        if rule == "anywhere":
            return True
        location = self.where_data_stays
        return location == "device" or (rule == "premises" and location == "premises")

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
        for option in self.options:
            if option.name == name:
                return option
        names = [s.name for s in self.options]
        raise ScenarioError(
            f"Scenario {self.name!r} has no option {name!r}.{did_you_mean(name, names)} Its "
            f"options: {', '.join(names)}."
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
