"""Cost of serving a workload three ways, as pure functions of plain numbers.

* **Per-token API**: ``cost per request = input tokens x input price + output tokens x output
  price`` (prices per million tokens); nothing is paid when nothing is sent.
* **Dedicated instances** rented by the hour, sized from measured throughput: a replica serves
  ``throughput x utilization`` requests per second; ``replicas = ceil(peak / that)`` in whole
  steps (at least ``min_replicas``); ``monthly = replicas x hourly price x hours per month``.
* **Owned hardware**: ``purchase / amortization months + kW x hours x PUE x price per kWh +
  operations``, per unit, with units sized like replicas. With an idle power the energy is
  weighted by load: ``idle + (typical - idle) x load``.

Each option's monthly cost is ``fixed(units) + variable per request x requests``, where the
fixed part jumps when a unit is added. :func:`break_even` walks those pieces exactly instead
of sampling a grid, so a crossing at a capacity step is found where it happens.

The peak rate scales with volume: :meth:`Workload.at_volume` keeps the peak-to-average ratio,
so a curve over volumes keeps the workload's shape.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from workbench.kit.errors import InvalidInputError

#: 8,760 hours a year / 12: the convention cloud price lists use for a month.
HOURS_PER_MONTH = 730.0
#: The longest month, the most hours a month can have.
MAX_HOURS_PER_MONTH = 744.0
#: Break-even search goes up to this multiple of the workload's volume unless told otherwise.
BREAK_EVEN_RANGE = 100.0
#: Whole-unit sizing ignores float noise smaller than this (so 2.0000000001 replicas is 2).
_UNIT_TOLERANCE = 1e-9
#: Most capacity steps one break-even search walks through.
_MAX_SEGMENTS = 2_000_000


def _help(text: str) -> dict[str, str]:
    return {"help": text}


# ---------------------------------------------------------------------------------------------
# Checks shared by the inputs


def _number(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidInputError(f"`{name}` of {owner} must be a finite number, got {value!r}.")
    return float(value)


def _positive(owner: str, name: str, value: Any, hint: str = "") -> float:
    number = _number(owner, name, value)
    if number <= 0:
        raise InvalidInputError(f"`{name}` of {owner} must be > 0, got {value!r}.{hint}")
    return number


def _non_negative(owner: str, name: str, value: Any) -> float:
    number = _number(owner, name, value)
    if number < 0:
        raise InvalidInputError(f"`{name}` of {owner} must be >= 0, got {value!r}.")
    return number


def _fraction(owner: str, name: str, value: Any) -> float:
    number = _number(owner, name, value)
    if not 0 < number <= 1:
        raise InvalidInputError(
            f"`{name}` of {owner} must be in (0, 1] (a share of the measured throughput, "
            f"e.g. 0.7), got {value!r}."
        )
    return number


def _whole(owner: str, name: str, value: Any, minimum: int) -> int:
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value == int(value)
        and int(value) >= minimum
    )
    if not ok:
        raise InvalidInputError(
            f"`{name}` of {owner} must be a whole number >= {minimum}, got {value!r}."
        )
    return int(value)


def _name(owner: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"`name` of {owner} must be a non-empty string, got {value!r}.")
    return value


# ---------------------------------------------------------------------------------------------
# The workload


@dataclass(frozen=True)
class Workload:
    """How much work there is: the volume, its peak, and the size of one request.

    ``peak_requests_per_s`` sizes replicas and owned units; left out it is the average rate
    ``requests_per_month / (3600 x hours_per_month)`` (a flat load, the cheapest possible
    sizing). ``latency_objective_ms`` is not used by the cost formulas; it is checked here so
    that every caller rejects a bad objective the same way.
    """

    requests_per_month: float = field(metadata=_help("requests served in a month"))
    input_tokens: float = field(default=0.0, metadata=_help("prompt tokens per request"))
    output_tokens: float = field(default=0.0, metadata=_help("generated tokens per request"))
    peak_requests_per_s: float | None = field(
        default=None, metadata=_help("busiest rate to size for; default the average rate")
    )
    latency_objective_ms: float | None = field(
        default=None, metadata=_help("latency a request must meet, in milliseconds")
    )
    hours_per_month: float = field(
        default=HOURS_PER_MONTH, metadata=_help("hours billed per month (730 = 8760 / 12)")
    )

    def __post_init__(self) -> None:
        owner = "the workload"
        _positive(
            owner,
            "requests_per_month",
            self.requests_per_month,
            " A workload needs some requests; give the expected monthly volume, e.g. 100000.",
        )
        _non_negative(owner, "input_tokens", self.input_tokens)
        _non_negative(owner, "output_tokens", self.output_tokens)
        hours = _positive(owner, "hours_per_month", self.hours_per_month)
        if hours > MAX_HOURS_PER_MONTH:
            raise InvalidInputError(
                f"`hours_per_month` of the workload must be at most {MAX_HOURS_PER_MONTH:g} "
                f"(31 days), got {self.hours_per_month!r}; 730 is the usual convention."
            )
        if self.latency_objective_ms is not None:
            _positive(
                owner,
                "latency_objective_ms",
                self.latency_objective_ms,
                " It is the time a request may take, so it must be above zero, e.g. 2000.",
            )
        if self.peak_requests_per_s is not None:
            peak = _positive(owner, "peak_requests_per_s", self.peak_requests_per_s)
            average = self.average_requests_per_s
            if peak < average * (1 - 1e-12):
                raise InvalidInputError(
                    f"`peak_requests_per_s` of the workload ({peak:g}) is below the average rate "
                    f"{average:.6g} requests/s that `requests_per_month` = "
                    f"{self.requests_per_month:g} implies over {self.hours_per_month:g} hours; "
                    "a peak is at least the average. Raise it, or lower requests_per_month."
                )

    @property
    def seconds_per_month(self) -> float:
        """``3600 x hours_per_month``."""
        return 3600.0 * self.hours_per_month

    @property
    def average_requests_per_s(self) -> float:
        """``requests_per_month / seconds_per_month``."""
        return self.requests_per_month / self.seconds_per_month

    @property
    def peak_rate(self) -> float:
        """The rate to size for: ``peak_requests_per_s``, or the average when none is given."""
        if self.peak_requests_per_s is None:
            return self.average_requests_per_s
        return float(self.peak_requests_per_s)

    @property
    def peak_to_average(self) -> float:
        """``peak_rate / average_requests_per_s`` (1 for a flat load)."""
        return self.peak_rate / self.average_requests_per_s

    def at_volume(self, requests_per_month: float) -> Workload:
        """The same workload at another monthly volume, its peak scaled to keep its shape."""
        volume = _positive("the workload", "requests_per_month", requests_per_month)
        peak = None
        if self.peak_requests_per_s is not None:
            peak = self.peak_to_average * volume / self.seconds_per_month
        return replace(self, requests_per_month=volume, peak_requests_per_s=peak)

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workload:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


# ---------------------------------------------------------------------------------------------
# The options


def _throughput_check(owner: str, requests_per_s: Any, tokens_per_s: Any) -> None:
    if (requests_per_s is None) == (tokens_per_s is None):
        raise InvalidInputError(
            f"{owner} needs exactly one of `requests_per_s` (requests one unit completes per "
            "second at full load, e.g. measured embeddings/s) or `tokens_per_s` (output tokens "
            f"per second, for generation); got requests_per_s={requests_per_s!r}, "
            f"tokens_per_s={tokens_per_s!r}."
        )
    if requests_per_s is not None:
        _positive(owner, "requests_per_s", requests_per_s)
    else:
        _positive(owner, "tokens_per_s", tokens_per_s)


def _units_check(owner: str, low_name: str, low: Any, high_name: str, high: Any) -> None:
    minimum = _whole(owner, low_name, low, 1)
    if high is not None:
        maximum = _whole(owner, high_name, high, 1)
        if maximum < minimum:
            raise InvalidInputError(
                f"`{high_name}` of {owner} ({maximum}) is below `{low_name}` ({minimum})."
            )


@dataclass(frozen=True)
class _Option:
    """What every option has: a name, its ``kind``, and the ``inputs`` sensitivity moves."""

    kind: ClassVar[str]
    #: Numeric inputs that :mod:`workbench.cost.sensitivity` moves up and down.
    inputs: ClassVar[tuple[str, ...]]

    name: str = field(metadata=_help("what the option is called in tables"))

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with ``kind``."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, kw_only=True)
class _SizedOption(_Option):
    """An option sized in whole units (replicas, machines) from what one unit serves.

    Give the throughput one unit reaches at full load, measured or projected: requests per
    second, or output tokens per second (turned into requests with the workload's
    ``output_tokens``). Only ``utilization`` of it is planned for, leaving head-room for bursts.
    These fields are keyword-only.
    """

    requests_per_s: float | None = field(
        default=None, metadata=_help("requests one unit completes per second at full load")
    )
    tokens_per_s: float | None = field(
        default=None, metadata=_help("output tokens one unit produces per second")
    )
    utilization: float = field(
        default=0.7, metadata=_help("share of the throughput planned for, in (0, 1]")
    )

    def _check_throughput(self, owner: str) -> None:
        _throughput_check(owner, self.requests_per_s, self.tokens_per_s)
        _fraction(owner, "utilization", self.utilization)


@dataclass(frozen=True)
class ApiOption(_Option):
    """A per-token API: pay for what is sent and received, nothing else."""

    kind: ClassVar[str] = "api"
    inputs: ClassVar[tuple[str, ...]] = ("input_usd_per_mtok", "output_usd_per_mtok")

    input_usd_per_mtok: float = field(metadata=_help("USD per million input tokens"))
    output_usd_per_mtok: float = field(metadata=_help("USD per million output tokens"))

    def __post_init__(self) -> None:
        owner = f"API option {_name('an API option', self.name)!r}"
        _non_negative(owner, "input_usd_per_mtok", self.input_usd_per_mtok)
        _non_negative(owner, "output_usd_per_mtok", self.output_usd_per_mtok)


@dataclass(frozen=True)
class InstanceOption(_SizedOption):
    """Dedicated instances rented by the hour, each running one replica of the model.

    The throughput fields (``requests_per_s`` or ``tokens_per_s``, and ``utilization``) are
    those of one replica; see :class:`_SizedOption`.
    """

    kind: ClassVar[str] = "instance"
    inputs: ClassVar[tuple[str, ...]] = (
        "usd_per_hour",
        "requests_per_s",
        "tokens_per_s",
        "utilization",
    )

    usd_per_hour: float = field(metadata=_help("price of one instance per hour, USD"))
    min_replicas: int = field(default=1, metadata=_help("replicas kept running at least"))
    max_replicas: int | None = field(default=None, metadata=_help("most replicas; none = any"))

    def __post_init__(self) -> None:
        owner = f"instance option {_name('an instance option', self.name)!r}"
        _positive(owner, "usd_per_hour", self.usd_per_hour)
        self._check_throughput(owner)
        _units_check(owner, "min_replicas", self.min_replicas, "max_replicas", self.max_replicas)


@dataclass(frozen=True)
class OwnedOption(_SizedOption):
    """Hardware bought and run on the premises, sized in whole units like replicas.

    Per unit and month: ``hardware_usd / amortization_months + energy + ops_usd_per_month``.
    Energy is ``power_w / 1000 x hours x pue x usd_per_kwh`` for a machine that is always on at
    its typical draw; with ``idle_power_w`` it is weighted by load, ``idle + (typical - idle) x
    load``, which makes part of it a cost per request. The throughput fields are those of one
    unit; see :class:`_SizedOption`.
    """

    kind: ClassVar[str] = "owned"
    inputs: ClassVar[tuple[str, ...]] = (
        "hardware_usd",
        "amortization_months",
        "power_w",
        "idle_power_w",
        "pue",
        "usd_per_kwh",
        "ops_usd_per_month",
        "requests_per_s",
        "tokens_per_s",
        "utilization",
    )

    hardware_usd: float = field(metadata=_help("purchase price of one unit, USD (0 if sunk)"))
    amortization_months: float = field(metadata=_help("months the purchase is spread over"))
    power_w: float = field(metadata=_help("typical power draw of one unit under load, watts"))
    usd_per_kwh: float = field(metadata=_help("electricity price, USD per kWh"))
    pue: float = field(
        default=1.0, metadata=_help("power usage effectiveness of the room, >= 1 (1 = no cooling)")
    )
    ops_usd_per_month: float = field(
        default=0.0, metadata=_help("operations per unit per month: space, staff, support")
    )
    idle_power_w: float | None = field(
        default=None, metadata=_help("draw when idle; set it to weight energy by load")
    )
    min_units: int = field(default=1, metadata=_help("units owned at least"))
    max_units: int | None = field(default=None, metadata=_help("most units; none = any"))

    def __post_init__(self) -> None:
        owner = f"owned option {_name('an owned option', self.name)!r}"
        _non_negative(owner, "hardware_usd", self.hardware_usd)
        _positive(owner, "amortization_months", self.amortization_months)
        power = _positive(owner, "power_w", self.power_w)
        _non_negative(owner, "usd_per_kwh", self.usd_per_kwh)
        pue = _number(owner, "pue", self.pue)
        if pue < 1:
            raise InvalidInputError(
                f"`pue` of {owner} must be >= 1 (facility power / IT power; 1.0 means no "
                f"cooling overhead, data centres run about 1.1-1.6), got {self.pue!r}."
            )
        _non_negative(owner, "ops_usd_per_month", self.ops_usd_per_month)
        if self.idle_power_w is not None:
            idle = _non_negative(owner, "idle_power_w", self.idle_power_w)
            if idle > power:
                raise InvalidInputError(
                    f"`idle_power_w` of {owner} ({idle:g} W) is above `power_w` ({power:g} W); "
                    "idle draw is at most the typical draw under load."
                )
        self._check_throughput(owner)
        _units_check(owner, "min_units", self.min_units, "max_units", self.max_units)

    @classmethod
    def from_device(cls, name: str, device: Any, **values: Any) -> OwnedOption:
        """An owned option priced from a device catalog row (:class:`workbench.devices.catalog.Device`).

        ``hardware_usd`` and ``power_w`` default to the device's ``price_usd`` and ``power_w``;
        pass them to override (a board's price rarely covers a whole server).

        Raises
        ------
        InvalidInputError
            When neither the device nor ``values`` give a price or a power draw.
        """
        for column, key in (("price_usd", "hardware_usd"), ("power_w", "power_w")):
            if values.get(key) is None:
                figure = getattr(device, column, None)
                if figure is None:
                    raise InvalidInputError(
                        f"Owned option {name!r}: device {device.name!r} has no `{column}` in the "
                        f"device catalog, so give `{key}` for it (the price you paid or were "
                        "quoted, the draw you measured or the data sheet's)."
                    )
                values[key] = figure
        return cls(name=name, **values)


CostOption = ApiOption | InstanceOption | OwnedOption

_OPTION_CLASSES: dict[str, type] = {
    "api": ApiOption,
    "instance": InstanceOption,
    "owned": OwnedOption,
}


def option_from_dict(data: dict[str, Any]) -> CostOption:
    """Rebuild an option from its :meth:`to_dict` form (``kind`` picks the class).

    Raises
    ------
    InvalidInputError
        For an unknown ``kind``.
    """
    kind = data.get("kind")
    if kind not in _OPTION_CLASSES:
        raise InvalidInputError(
            f"`kind` must be one of {', '.join(_OPTION_CLASSES)}, got {kind!r}."
        )
    cls = _OPTION_CLASSES[kind]
    return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


# ---------------------------------------------------------------------------------------------
# Single formulas


def api_cost_per_request(option: ApiOption, workload: Workload) -> float:
    """``input_tokens x input price + output_tokens x output price`` in USD (prices per 1e6).

    Parameters
    ----------
    option
        The API's prices.
    workload
        Token counts per request.
    """
    return (
        workload.input_tokens * option.input_usd_per_mtok
        + workload.output_tokens * option.output_usd_per_mtok
    ) / 1e6


def instance_cost_per_token(usd_per_hour: float, tokens_per_s: float, utilization: float) -> float:
    """USD per token on a dedicated instance: ``usd_per_hour / (3600 x tokens_per_s x utilization)``.

    Raises
    ------
    InvalidInputError
        For a non-positive price or throughput, or a utilization outside (0, 1].
    """
    owner = "instance_cost_per_token"
    price = _positive(owner, "usd_per_hour", usd_per_hour)
    rate = _positive(owner, "tokens_per_s", tokens_per_s)
    share = _fraction(owner, "utilization", utilization)
    return price / (3600.0 * rate * share)


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
    peak = _non_negative("units_needed", "peak_requests_per_s", peak_requests_per_s)
    capacity = _positive("units_needed", "capacity_per_unit", capacity_per_unit)
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


# ---------------------------------------------------------------------------------------------
# The result


@dataclass(frozen=True)
class OptionCost:
    """What one option costs at one workload, with the working shown.

    ``monthly_usd = fixed_usd_per_month + variable_usd_per_request x requests_per_month``.
    ``units`` and the capacities are ``None`` for an API (no capacity to size). An option that
    cannot serve the peak within its ``max_units`` is ``feasible=False``, its costs NaN and
    ``reason`` says why. ``components`` splits the monthly cost (USD) by what it pays for;
    ``working`` is the calculation in words, one step a line.
    """

    option: str
    kind: str
    requests_per_month: float
    peak_requests_per_s: float
    monthly_usd: float
    fixed_usd_per_month: float
    variable_usd_per_request: float
    units: int | None = None
    capacity_per_unit_requests_per_s: float | None = None
    capacity_requests_per_s: float | None = None
    feasible: bool = True
    reason: str = ""
    components: dict[str, float] = field(default_factory=dict)
    working: tuple[str, ...] = ()

    @property
    def usd_per_request(self) -> float:
        """``monthly_usd / requests_per_month``."""
        return self.monthly_usd / self.requests_per_month

    @property
    def usd_per_1k_requests(self) -> float:
        """``1000 x usd_per_request``."""
        return 1000.0 * self.usd_per_request

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with the derived ``usd_per_request`` and ``usd_per_1k_requests``."""
        data = asdict(self)
        data["working"] = list(self.working)
        data["usd_per_request"] = self.usd_per_request
        data["usd_per_1k_requests"] = self.usd_per_1k_requests
        return data

    def to_frame(self) -> pd.DataFrame:
        """One row for tables: the scalar fields, ``component_<name>_usd`` columns, and the
        working joined with ``" | "``."""
        data = self.to_dict()
        components = data.pop("components")
        data["working"] = " | ".join(self.working)
        data.update({f"component_{k}_usd": v for k, v in components.items()})
        return pd.DataFrame([data])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptionCost:
        """The inverse of :meth:`to_dict`; derived and unknown keys are ignored."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["working"] = tuple(values.get("working", ()))
        values["components"] = dict(values.get("components", {}))
        return cls(**values)


@dataclass(frozen=True)
class _Linear:
    """One option at a fixed number of units: ``fixed + variable x requests``."""

    fixed: float
    variable: float
    components_fixed: dict[str, float]
    components_variable: dict[str, float]


def _api_linear(option: ApiOption, workload: Workload) -> _Linear:
    tokens_in = workload.input_tokens * option.input_usd_per_mtok / 1e6
    tokens_out = workload.output_tokens * option.output_usd_per_mtok / 1e6
    return _Linear(
        0.0, tokens_in + tokens_out, {}, {"input_tokens": tokens_in, "output_tokens": tokens_out}
    )


def _instance_linear(option: InstanceOption, workload: Workload, units: int) -> _Linear:
    fixed = units * option.usd_per_hour * workload.hours_per_month
    return _Linear(fixed, 0.0, {"instances": fixed}, {})


def _owned_linear(option: OwnedOption, workload: Workload, units: int) -> _Linear:
    hardware = units * option.hardware_usd / option.amortization_months
    operations = units * option.ops_usd_per_month
    usd_per_kwh_delivered = option.pue * option.usd_per_kwh
    base_w = option.power_w if option.idle_power_w is None else option.idle_power_w
    energy_fixed = units * base_w / 1000.0 * workload.hours_per_month * usd_per_kwh_delivered
    busy_variable = 0.0
    if option.idle_power_w is not None:
        # (typical - idle) for the seconds one request keeps a unit busy at full speed.
        seconds = 1.0 / raw_requests_per_s(option, workload)
        busy_kwh = (option.power_w - option.idle_power_w) / 1000.0 * seconds / 3600.0
        busy_variable = busy_kwh * usd_per_kwh_delivered
    return _Linear(
        hardware + operations + energy_fixed,
        busy_variable,
        {"hardware": hardware, "operations": operations, "energy": energy_fixed},
        {"energy": busy_variable},
    )


def _linear(option: CostOption, workload: Workload, units: int | None) -> _Linear:
    if isinstance(option, ApiOption):
        return _api_linear(option, workload)
    if isinstance(option, InstanceOption):
        return _instance_linear(option, workload, int(units or 0))
    return _owned_linear(option, workload, int(units or 0))


def _limits(option: CostOption) -> tuple[int, int | None]:
    if isinstance(option, InstanceOption):
        return option.min_replicas, option.max_replicas
    if isinstance(option, OwnedOption):
        return option.min_units, option.max_units
    return 0, None


def _check_option(option: Any) -> None:
    if not isinstance(option, ApiOption | InstanceOption | OwnedOption):
        raise InvalidInputError(
            f"`option` must be an ApiOption, InstanceOption or OwnedOption, "
            f"got {type(option).__name__}."
        )


def _check_workload(workload: Any) -> None:
    if not isinstance(workload, Workload):
        raise InvalidInputError(f"`workload` must be a Workload, got {type(workload).__name__}.")


def option_cost(option: CostOption, workload: Workload) -> OptionCost:
    """The monthly cost of ``option`` serving ``workload``, with its working.

    Parameters
    ----------
    option
        An :class:`ApiOption`, :class:`InstanceOption` or :class:`OwnedOption`.
    workload
        Volume, peak rate and tokens per request.

    Returns
    -------
    OptionCost
        ``feasible=False`` (costs NaN) when the peak needs more units than ``max_units``.

    Raises
    ------
    InvalidInputError
        For inputs of the wrong type, or a throughput in tokens with no output tokens.
    """
    _check_option(option)
    _check_workload(workload)
    volume = workload.requests_per_month
    peak = workload.peak_rate
    if isinstance(option, ApiOption):
        part = _api_linear(option, workload)
        monthly = part.variable * volume
        working = (
            f"cost per request = {workload.input_tokens:g} input tokens x "
            f"${option.input_usd_per_mtok:g}/Mtok + {workload.output_tokens:g} output tokens x "
            f"${option.output_usd_per_mtok:g}/Mtok = ${part.variable:.6g}",
            f"monthly = ${part.variable:.6g} x {volume:,.0f} requests = ${monthly:,.2f}",
        )
        return OptionCost(
            option=option.name,
            kind=option.kind,
            requests_per_month=volume,
            peak_requests_per_s=peak,
            monthly_usd=monthly,
            fixed_usd_per_month=0.0,
            variable_usd_per_request=part.variable,
            components={k: v * volume for k, v in part.components_variable.items()},
            working=working,
        )

    raw = raw_requests_per_s(option, workload)
    per_unit = raw * option.utilization
    low, high = _limits(option)
    units = units_needed(peak, per_unit, low)
    word = "replicas" if isinstance(option, InstanceOption) else "units"
    if option.tokens_per_s is not None:
        raw_text = (
            f"{option.tokens_per_s:g} tokens/s / {workload.output_tokens:g} output tokens "
            f"per request = {raw:.6g} requests/s"
        )
    else:
        raw_text = f"{raw:.6g} requests/s"
    working = [
        f"capacity per unit = {raw_text} x utilization {option.utilization:g} = "
        f"{per_unit:.6g} requests/s",
        f"{word} = max({low}, ceil({peak:.6g} peak requests/s / {per_unit:.6g})) = {units}",
    ]
    if high is not None and units > high:
        reason = (
            f"the peak of {peak:.6g} requests/s needs {units} {word} of {per_unit:.6g} "
            f"requests/s, more than the {high} allowed (max_{word})"
        )
        return OptionCost(
            option=option.name,
            kind=option.kind,
            requests_per_month=volume,
            peak_requests_per_s=peak,
            monthly_usd=math.nan,
            fixed_usd_per_month=math.nan,
            variable_usd_per_request=math.nan,
            units=units,
            capacity_per_unit_requests_per_s=per_unit,
            capacity_requests_per_s=high * per_unit,
            feasible=False,
            reason=reason,
            working=(*working, f"not feasible: {reason}"),
        )
    part = _linear(option, workload, units)
    monthly = part.fixed + part.variable * volume
    components = dict(part.components_fixed)
    for key, value in part.components_variable.items():
        components[key] = components.get(key, 0.0) + value * volume
    if isinstance(option, InstanceOption):
        working.append(
            f"monthly = {units} x ${option.usd_per_hour:g}/h x {workload.hours_per_month:g} h "
            f"= ${monthly:,.2f}"
        )
    else:
        working += _owned_working(option, workload, units, part, monthly)
    working.append(
        f"per request = ${monthly:,.2f} / {volume:,.0f} requests = ${monthly / volume:.6g}"
    )
    return OptionCost(
        option=option.name,
        kind=option.kind,
        requests_per_month=volume,
        peak_requests_per_s=peak,
        monthly_usd=monthly,
        fixed_usd_per_month=part.fixed,
        variable_usd_per_request=part.variable,
        units=units,
        capacity_per_unit_requests_per_s=per_unit,
        capacity_requests_per_s=units * per_unit,
        components=components,
        working=tuple(working),
    )


def _owned_working(
    option: OwnedOption, workload: Workload, units: int, part: _Linear, monthly: float
) -> list[str]:
    lines = [
        f"hardware = {units} x ${option.hardware_usd:,.2f} / {option.amortization_months:g} months "
        f"= ${part.components_fixed['hardware']:,.2f}",
    ]
    delivered = f"x PUE {option.pue:g} x ${option.usd_per_kwh:g}/kWh"
    if option.idle_power_w is None:
        lines.append(
            f"energy = {units} x {option.power_w:g} W / 1000 x {workload.hours_per_month:g} h "
            f"{delivered} = ${part.components_fixed['energy']:,.2f}"
        )
    else:
        busy = part.variable * workload.requests_per_month
        lines.append(
            f"energy = {units} x {option.idle_power_w:g} W idle / 1000 x "
            f"{workload.hours_per_month:g} h {delivered} + ({option.power_w:g} - "
            f"{option.idle_power_w:g}) W for each request's busy time = "
            f"${part.components_fixed['energy']:,.2f} + ${busy:,.2f}"
        )
    lines.append(
        f"operations = {units} x ${option.ops_usd_per_month:,.2f} = "
        f"${part.components_fixed['operations']:,.2f}"
    )
    lines.append(f"monthly = ${monthly:,.2f}")
    return lines


# ---------------------------------------------------------------------------------------------
# Break-even


@dataclass(frozen=True)
class BreakEven:
    """Where two options cost the same per month, searched from 0 to ``searched_up_to``.

    ``requests_per_month`` is the lowest crossing, ``None`` when they never cross in the valid
    range (``reason`` says why: one is cheaper throughout, or one runs out of capacity first).
    ``crossings`` lists every volume where the cheaper option changes: with capacity steps
    there can be several. ``cheaper_below`` / ``cheaper_above`` name the cheaper option at the
    start and at the end of the valid range (empty where they cost the same).
    """

    option_a: str
    option_b: str
    requests_per_month: float | None
    crossings: tuple[float, ...]
    cheaper_below: str
    cheaper_above: str
    searched_up_to: float
    valid_up_to: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        data = asdict(self)
        data["crossings"] = list(self.crossings)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BreakEven:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["crossings"] = tuple(values.get("crossings", ()))
        return cls(**values)


def _steps(option: CostOption, workload: Workload, limit: float) -> tuple[list[float], float]:
    """Volumes in (0, limit) where ``option`` adds a unit, and the volume where it runs out."""
    if isinstance(option, ApiOption):
        return [], math.inf
    per_unit = capacity_per_unit(option, workload)
    # units(v) = ceil(peak(v) / per_unit) with peak(v) = v x ratio / seconds per month.
    volume_per_unit = per_unit * workload.seconds_per_month / workload.peak_to_average
    low, high = _limits(option)
    ceiling = math.inf if high is None else high * volume_per_unit
    last = min(limit, ceiling)
    count = int(last / volume_per_unit)
    if count - low > _MAX_SEGMENTS:
        raise InvalidInputError(
            f"Option {option.name!r} would add more than {_MAX_SEGMENTS:,} units before "
            f"{limit:,.0f} requests/month; lower `max_requests_per_month`."
        )
    steps = [k * volume_per_unit for k in range(max(low, 1), count + 1)]
    return [s for s in steps if 0 < s < last], ceiling


def _sign(value: float, scale: float) -> int:
    if abs(value) <= 1e-12 * max(1.0, scale):
        return 0
    return 1 if value > 0 else -1


def break_even(
    option_a: CostOption,
    option_b: CostOption,
    workload: Workload,
    *,
    max_requests_per_month: float | None = None,
) -> BreakEven:
    """The monthly volume where ``option_a`` and ``option_b`` cost the same.

    Each option's cost is ``fixed(units) + variable x volume``; its units step up where the
    scaled peak outgrows the capacity of the units it has. Between steps the cost difference
    is a straight line, solved exactly: ``volume = fixed difference / variable difference``.
    At a step the difference jumps, and a change of sign there is a crossing too.

    Parameters
    ----------
    option_a, option_b
        The two options.
    workload
        Tokens per request and the peak-to-average shape; its volume sets the default range.
    max_requests_per_month
        Search up to this volume; default :data:`BREAK_EVEN_RANGE` x the workload's volume.

    Returns
    -------
    BreakEven
        ``requests_per_month=None`` with a ``reason`` when the options never cross below
        the search limit or the volume where one of them runs out of capacity.

    Raises
    ------
    InvalidInputError
        For inputs of the wrong type or a non-positive ``max_requests_per_month``.
    """
    _check_option(option_a)
    _check_option(option_b)
    _check_workload(workload)
    if max_requests_per_month is None:
        limit = BREAK_EVEN_RANGE * workload.requests_per_month
    else:
        limit = _positive("break_even", "max_requests_per_month", max_requests_per_month)
    steps_a, ceiling_a = _steps(option_a, workload, limit)
    steps_b, ceiling_b = _steps(option_b, workload, limit)
    valid = min(limit, ceiling_a, ceiling_b)
    bounds = sorted({0.0, valid, *steps_a, *steps_b})
    bounds = [b for b in bounds if b <= valid]

    crossings: list[float] = []
    first_sign = last_sign = 0
    scale = 1.0
    for start, end in itertools.pairwise(bounds):
        if end <= start:
            continue
        middle = workload.at_volume((start + end) / 2)
        units_a = _units_at(option_a, middle)
        units_b = _units_at(option_b, middle)
        line_a = _linear(option_a, middle, units_a)
        line_b = _linear(option_b, middle, units_b)
        fixed = line_a.fixed - line_b.fixed
        variable = line_a.variable - line_b.variable
        scale = max(scale, abs(line_a.fixed), abs(line_b.fixed))
        at_start = fixed + variable * start
        at_end = fixed + variable * end
        sign_start = _sign(at_start, scale)
        sign_end = _sign(at_end, scale)
        if sign_start and last_sign and sign_start != last_sign:
            crossings.append(start)  # the difference jumps across zero at a capacity step
        if sign_start and sign_end and sign_start != sign_end:
            crossings.append(-fixed / variable)
        elif sign_start == 0 and sign_end and last_sign and sign_end != last_sign:
            crossings.append(start)
        first_sign = first_sign or sign_start or sign_end
        last_sign = sign_end or sign_start or last_sign

    names = {1: option_b.name, -1: option_a.name, 0: ""}
    cheaper_below, cheaper_above = names[first_sign], names[last_sign]
    crossings = sorted(set(crossings))
    reason = ""
    if not crossings:
        reason = _no_crossing_reason(
            option_a, option_b, first_sign, valid, limit, ceiling_a, ceiling_b
        )
    return BreakEven(
        option_a=option_a.name,
        option_b=option_b.name,
        requests_per_month=crossings[0] if crossings else None,
        crossings=tuple(crossings),
        cheaper_below=cheaper_below,
        cheaper_above=cheaper_above,
        searched_up_to=limit,
        valid_up_to=valid,
        reason=reason,
    )


def _units_at(option: CostOption, workload: Workload) -> int | None:
    if isinstance(option, ApiOption):
        return None
    low, _ = _limits(option)
    return units_needed(workload.peak_rate, capacity_per_unit(option, workload), low)


def _no_crossing_reason(
    option_a: CostOption,
    option_b: CostOption,
    sign: int,
    valid: float,
    limit: float,
    ceiling_a: float,
    ceiling_b: float,
) -> str:
    if sign == 0:
        return (
            f"{option_a.name} and {option_b.name} cost the same at every volume up to "
            f"{valid:,.0f} requests/month"
        )
    cheaper = option_b.name if sign > 0 else option_a.name
    if isinstance(option_a, ApiOption) and isinstance(option_b, ApiOption):
        return f"{cheaper} is cheaper at every volume: both charge per request and nothing else"
    text = f"{cheaper} is cheaper at every volume up to {valid:,.0f} requests/month"
    if valid < limit:
        full = option_a.name if ceiling_a <= ceiling_b else option_b.name
        text += (
            f", where {full} reaches its most units (max_units/max_replicas) and can serve "
            "no more, so the comparison ends there"
        )
    else:
        text += f" (searched up to {limit:,.0f}; raise max_requests_per_month to look further)"
    return text


# ---------------------------------------------------------------------------------------------
# Curves for charts


CURVE_COLUMNS = (
    "requests_per_month",
    "option",
    "kind",
    "monthly_usd",
    "usd_per_1k_requests",
    "units",
    "feasible",
)


def cost_curve(
    options: list[CostOption] | tuple[CostOption, ...],
    workload: Workload,
    volumes: list[float] | np.ndarray | None = None,
    *,
    points: int = 61,
) -> pd.DataFrame:
    """Monthly cost of each option over a range of volumes: the data of a cost-versus-volume chart.

    Parameters
    ----------
    options
        The options to compare.
    workload
        The workload whose shape (peak-to-average, tokens) is kept at every volume.
    volumes
        Monthly volumes to evaluate; default ``points`` volumes spaced evenly on a log scale from
        1/100 to 100 times the workload's volume.
    points
        How many volumes when ``volumes`` is not given (at least 2).

    Returns
    -------
    pandas.DataFrame
        One row per (volume, option), columns :data:`CURVE_COLUMNS`; ``units`` is missing for
        APIs and infeasible rows have NaN costs.
    """
    _check_workload(workload)
    for option in options:
        _check_option(option)
    if volumes is None:
        count = _whole("cost_curve", "points", points, 2)
        base = workload.requests_per_month
        volumes = np.geomspace(base / 100.0, base * 100.0, count)
    rows = []
    for volume in volumes:
        at = workload.at_volume(float(volume))
        for option in options:
            result = option_cost(option, at)
            rows.append(
                {
                    "requests_per_month": float(volume),
                    "option": option.name,
                    "kind": option.kind,
                    "monthly_usd": result.monthly_usd,
                    "usd_per_1k_requests": result.usd_per_1k_requests,
                    "units": result.units,
                    "feasible": result.feasible,
                }
            )
    frame = pd.DataFrame(rows, columns=list(CURVE_COLUMNS))
    frame["units"] = frame["units"].astype("Int64")
    return frame


__all__ = [
    "BREAK_EVEN_RANGE",
    "CURVE_COLUMNS",
    "HOURS_PER_MONTH",
    "ApiOption",
    "BreakEven",
    "CostOption",
    "InstanceOption",
    "OptionCost",
    "OwnedOption",
    "Workload",
    "api_cost_per_request",
    "break_even",
    "capacity_per_unit",
    "cost_curve",
    "instance_cost_per_token",
    "option_cost",
    "option_from_dict",
    "raw_requests_per_s",
    "units_needed",
]
