"""The cost room's typed inputs: the workload, and the three kinds of option that serve it.

These are the cost model's configs (frozen dataclasses whose fields carry their help, unit and
bounds through :func:`workbench.kit.fields.spec`): a scenario file, a widget panel or a script
builds them, and every bad value is refused here, before any cost is computed, with a message
naming the field and its owner.

* :class:`Workload`: the volume, its daily load profile, its peak, and the tokens of a request.
* :class:`ApiOption`: a per-token API.
* :class:`InstanceOption`: dedicated instances rented by the hour, sized from throughput, hour
  by hour with autoscaling (``min_replicas`` 0 scales to zero) and billed as providers bill.
* :class:`OwnedOption`: hardware bought and run on the premises, sized like replicas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from workbench.cost.load_profile import HOURS_PER_DAY, LoadProfile, coerce_load_profile
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import check_fields, spec

#: 8,760 hours a year / 12: the convention cloud price lists use for a month.
HOURS_PER_MONTH = 730.0
#: The longest month, the most hours a month can have.
MAX_HOURS_PER_MONTH = 744.0

_POSITIVE = {"low": 0, "low_open": True}


@dataclass(frozen=True)
class Workload:
    """How much work there is: the volume, its daily shape, its peak, and the size of a request.

    ``load_profile`` spreads each day's requests over its 24 hours (default flat; see
    :mod:`workbench.cost.load_profile`): hour ``h`` averages ``requests_per_month x share[h] /
    (days x 3600)`` requests/s, with ``days = hours_per_month / 24``. ``peak_requests_per_s`` is
    the busiest rate to size for; left out it is the busiest hour's average (for a flat profile,
    the month's average rate, the cheapest possible sizing). When given it is at least that,
    and autoscaled replicas are sized in every hour for the hour's average times
    ``peak / busiest hour's average`` (the burst above the hourly average is assumed the same
    in every hour). ``latency_objective_ms`` is not used by the cost formulas; it is checked
    here so that every caller rejects a bad objective the same way.
    """

    requests_per_month: float = spec(
        help="requests served in a month",
        unit="requests",
        fix="A workload needs some requests; give the expected monthly volume, e.g. 100000.",
        **_POSITIVE,
    )
    input_tokens: float = spec(0.0, help="prompt tokens per request", unit="tokens", low=0)
    output_tokens: float = spec(0.0, help="generated tokens per request", unit="tokens", low=0)
    peak_requests_per_s: float | None = spec(
        None,
        help="busiest rate to size for; default the average rate",
        unit="requests/s",
        optional=True,
        **_POSITIVE,
    )
    latency_objective_ms: float | None = spec(
        None,
        help="latency a request must meet, in milliseconds",
        unit="ms",
        optional=True,
        fix="It is the time a request may take, so it must be above zero, e.g. 2000.",
        **_POSITIVE,
    )
    hours_per_month: float = spec(
        HOURS_PER_MONTH,
        help="hours billed per month (730 = 8760 / 12)",
        unit="h",
        high=MAX_HOURS_PER_MONTH,
        fix="A month has at most 744 hours (31 days); 730 is the usual convention.",
        **_POSITIVE,
    )
    load_profile: LoadProfile = spec(
        default_factory=LoadProfile.flat,
        help="how a day's requests spread over its 24 hours: flat, business-hours, diurnal "
        "or a CSV of hour,share",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "load_profile", coerce_load_profile(self.load_profile))
        check_fields(self, owner="the workload", flags=False)
        if self.peak_requests_per_s is not None:
            peak = float(self.peak_requests_per_s)
            average = self.average_requests_per_s
            if peak < average * (1 - 1e-12):
                raise InvalidInputError(
                    f"`peak_requests_per_s` of the workload ({peak:g}) is below the average rate "
                    f"{average:.6g} requests/s that `requests_per_month` = "
                    f"{self.requests_per_month:g} implies over {self.hours_per_month:g} hours; "
                    "a peak is at least the average. Raise it, or lower requests_per_month."
                )
            busiest = self.busiest_hour_requests_per_s
            if peak < busiest * (1 - 1e-12):
                profile = self.load_profile
                raise InvalidInputError(
                    f"`peak_requests_per_s` of the workload ({peak:g}) is below the average rate "
                    f"{busiest:.6g} requests/s of the busiest hour ({profile.busiest_hour:02d}:00) "
                    f"of load profile {profile.name!r}; a peak is at least the busiest hour's "
                    "average. Raise it, or leave it out to size for the busiest hour."
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
    def days_per_month(self) -> float:
        """``hours_per_month / 24``: the days the daily load profile repeats over."""
        return self.hours_per_month / HOURS_PER_DAY

    @property
    def hourly_requests_per_s(self) -> tuple[float, ...]:
        """The average rate of each hour of the day: ``volume x share / (days x 3600)``."""
        per_day = self.requests_per_month / self.days_per_month
        return tuple(per_day * share / 3600.0 for share in self.load_profile.shares)

    @property
    def busiest_hour_requests_per_s(self) -> float:
        """The average rate of the profile's busiest hour (the month's average when flat)."""
        if self.load_profile.is_flat:
            return self.average_requests_per_s
        return max(self.hourly_requests_per_s)

    @property
    def peak_rate(self) -> float:
        """The rate to size for: ``peak_requests_per_s``, or the busiest hour's average."""
        if self.peak_requests_per_s is None:
            return self.busiest_hour_requests_per_s
        return float(self.peak_requests_per_s)

    @property
    def peak_to_average(self) -> float:
        """``peak_rate / average_requests_per_s`` (1 for a flat load)."""
        return self.peak_rate / self.average_requests_per_s

    def at_volume(self, requests_per_month: float) -> Workload:
        """The same workload at another monthly volume, its peak scaled to keep its shape."""
        volume = float(
            checks.number(
                "requests_per_month", requests_per_month, owner="the workload", **_POSITIVE
            )
        )
        peak = None
        if self.peak_requests_per_s is not None:
            peak = self.peak_to_average * volume / self.seconds_per_month
        return replace(self, requests_per_month=volume, peak_requests_per_s=peak)

    def to_dict(self) -> dict[str, Any]:
        """Plain values; ``load_profile`` as :meth:`LoadProfile.to_dict`."""
        data = asdict(self)
        data["load_profile"] = self.load_profile.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workload:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class _Option:
    """What every option has: a name, its ``kind``, and the ``inputs`` sensitivity moves."""

    kind: ClassVar[str]
    #: Numeric inputs that :mod:`workbench.cost.sensitivity` moves up and down.
    inputs: ClassVar[tuple[str, ...]]
    #: How errors name an option of this kind: "API option 'x'".
    noun: ClassVar[str]

    name: str = spec(help="what the option is called in tables")

    def _check(self) -> str:
        """Check the name and every declared field; the owner errors name."""
        checks.text("name", self.name, owner=f"an {self.noun}")
        owner = f"{self.noun} {self.name!r}"
        check_fields(self, owner=owner, flags=False)
        return owner

    def unit_limits(self) -> tuple[int, int | None]:
        """Fewest and most units the option may run (an API has no units: ``(0, None)``)."""
        return 0, None

    def sensitivity_inputs(self, workload: Workload) -> tuple[str, ...]:
        """The :attr:`inputs` that can move this option's cost at ``workload``."""
        return type(self).inputs

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

    requests_per_s: float | None = spec(
        None,
        help="requests one unit completes per second at full load",
        unit="requests/s",
        optional=True,
        **_POSITIVE,
    )
    tokens_per_s: float | None = spec(
        None,
        help="output tokens one unit produces per second",
        unit="tokens/s",
        optional=True,
        **_POSITIVE,
    )
    utilization: float = spec(
        0.7,
        help="share of the throughput planned for, in (0, 1]",
        high=1,
        fix="It is the share of the measured throughput planned for, e.g. 0.7.",
        **_POSITIVE,
    )

    def _check_sizing(self, owner: str, low_name: str, high_name: str) -> None:
        """One throughput given, and the most units not below the fewest."""
        if (self.requests_per_s is None) == (self.tokens_per_s is None):
            raise InvalidInputError(
                f"{owner} needs exactly one of `requests_per_s` (requests one unit completes per "
                "second at full load, e.g. measured embeddings/s) or `tokens_per_s` (output "
                f"tokens per second, for generation); got requests_per_s={self.requests_per_s!r}, "
                f"tokens_per_s={self.tokens_per_s!r}."
            )
        low, high = getattr(self, low_name), getattr(self, high_name)
        if high is not None and high < low:
            raise InvalidInputError(
                f"`{high_name}` of {owner} ({high}) is below `{low_name}` ({low})."
            )


@dataclass(frozen=True)
class ApiOption(_Option):
    """A per-token API: pay for what is sent and received, nothing else."""

    kind: ClassVar[str] = "api"
    inputs: ClassVar[tuple[str, ...]] = ("input_usd_per_mtok", "output_usd_per_mtok")
    noun: ClassVar[str] = "API option"

    input_usd_per_mtok: float = spec(help="USD per million input tokens", unit="USD/Mtok", low=0)
    output_usd_per_mtok: float = spec(help="USD per million output tokens", unit="USD/Mtok", low=0)

    def __post_init__(self) -> None:
        self._check()


#: How providers round the time a replica is up: per second, per minute, per hour.
BILLING_GRANULARITIES = ("second", "minute", "hour")
#: Seconds in one step of each billing granularity.
GRANULARITY_S = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


@dataclass(frozen=True)
class InstanceOption(_SizedOption):
    """Dedicated instances rented by the hour, each running one replica of the model.

    The throughput fields (``requests_per_s`` or ``tokens_per_s``, and ``utilization``) are
    those of one replica; see :class:`_SizedOption`.

    Replicas autoscale hour by hour between ``min_replicas`` and ``max_replicas`` to the
    workload's load profile (:func:`workbench.cost.autoscaling.hourly_plan`); ``min_replicas``
    0 scales to zero, and then ``cold_start_s`` is required. A replica no longer needed is
    kept ``scale_down_after_s`` (the last one ``scale_to_zero_after_s``) before it goes, and
    each stretch a replica is up is billed rounded up to ``billing_granularity``. With the
    defaults (one replica at least) and a flat load the price is today's
    ``replicas x usd_per_hour x hours_per_month``.

    Defaults and why: ``billing_granularity`` "minute", because Hugging Face Inference
    Endpoints and Together bill per minute and the big clouds per second with a one-minute
    minimum, so rounding each stretch up to a minute is never below those bills and at most a
    minute above; ``scale_down_after_s`` 300 s, the stabilization window Hugging Face
    Inference Endpoints documents for scaling down; ``scale_to_zero_after_s`` 3600 s, its
    documented default inactivity period before scaling to zero (guides/autoscaling in
    huggingface/hf-endpoints-documentation). These are settings of the endpoint you
    configure: set them to yours.
    """

    kind: ClassVar[str] = "instance"
    inputs: ClassVar[tuple[str, ...]] = (
        "usd_per_hour",
        "requests_per_s",
        "tokens_per_s",
        "utilization",
    )
    noun: ClassVar[str] = "instance option"

    usd_per_hour: float = spec(
        help="price of one instance per hour, USD", unit="USD/h", **_POSITIVE
    )
    min_replicas: int = spec(
        1, help="replicas kept running at least; 0 = scale to zero when idle", low=0, whole=True
    )
    max_replicas: int | None = spec(
        None, help="most replicas; none = any", low=1, whole=True, optional=True
    )
    billing_granularity: str = spec(
        "minute",
        help="how the provider rounds up the time a replica is up: second, minute or hour",
        choices=BILLING_GRANULARITIES,
        fix="Use the provider's billing step: e.g. minute for Hugging Face Inference "
        "Endpoints, second for EdgeOne edge inference.",
    )
    cold_start_s: float | None = spec(
        None,
        help="seconds a replica takes to start from zero and load the model (needed when "
        "min_replicas is 0)",
        unit="s",
        low=0,
        optional=True,
        fix="It is the time from the first request after idle until a replica serves, e.g. 60.",
    )
    scale_down_after_s: float = spec(
        300.0,
        help="seconds a replica above the minimum is kept after it is last needed",
        unit="s",
        low=0,
        high=3600,
        fix="It is the provider's scale-down delay, at most an hour, e.g. 300.",
    )
    scale_to_zero_after_s: float = spec(
        3600.0,
        help="with min_replicas 0, seconds without a request before the last replica goes",
        unit="s",
        low=0,
        high=86400,
        fix="It is the endpoint's inactivity period before scaling to zero, e.g. 900 or 3600.",
    )

    def __post_init__(self) -> None:
        owner = self._check()
        self._check_sizing(owner, "min_replicas", "max_replicas")
        if self.min_replicas == 0 and self.cold_start_s is None:
            raise InvalidInputError(
                f"`cold_start_s` of {owner} is needed when `min_replicas` is 0 (scale to zero): "
                "give the seconds a replica takes to start from zero and load the model, "
                "measured or the provider's figure (e.g. 60), or keep min_replicas at 1."
            )

    def sensitivity_inputs(self, workload: Workload) -> tuple[str, ...]:
        """:attr:`inputs`, plus the autoscaling settings that matter at ``workload``: the cold
        start and the inactivity period when scaling to zero, the scale-down delay when the
        load profile is not flat."""
        extra: tuple[str, ...] = ()
        if self.scales_to_zero:
            extra += ("cold_start_s", "scale_to_zero_after_s")
        if not workload.load_profile.is_flat:
            extra += ("scale_down_after_s",)
        return type(self).inputs + extra

    @property
    def scales_to_zero(self) -> bool:
        """Whether the option may run no replica at all (``min_replicas`` 0)."""
        return self.min_replicas == 0

    @property
    def billing_step_s(self) -> float:
        """Seconds in one billing step (1, 60 or 3600)."""
        return GRANULARITY_S[self.billing_granularity]

    def unit_limits(self) -> tuple[int, int | None]:
        """``(min_replicas, max_replicas)``."""
        return self.min_replicas, self.max_replicas


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
    noun: ClassVar[str] = "owned option"

    hardware_usd: float = spec(
        help="purchase price of one unit, USD (0 if sunk)", unit="USD", low=0
    )
    amortization_months: float = spec(
        help="months the purchase is spread over", unit="months", **_POSITIVE
    )
    power_w: float = spec(
        help="typical power draw of one unit under load, watts", unit="W", **_POSITIVE
    )
    usd_per_kwh: float = spec(help="electricity price, USD per kWh", unit="USD/kWh", low=0)
    pue: float = spec(
        1.0,
        help="power usage effectiveness of the room, >= 1 (1 = no cooling)",
        low=1,
        fix="PUE is facility power / IT power; 1.0 means no cooling overhead, data centres "
        "run about 1.1-1.6.",
    )
    ops_usd_per_month: float = spec(
        0.0, help="operations per unit per month: space, staff, support", unit="USD", low=0
    )
    idle_power_w: float | None = spec(
        None, help="draw when idle; set it to weight energy by load", unit="W", low=0, optional=True
    )
    min_units: int = spec(1, help="units owned at least", low=1, whole=True)
    max_units: int | None = spec(
        None, help="most units; none = any", low=1, whole=True, optional=True
    )

    def __post_init__(self) -> None:
        owner = self._check()
        if self.idle_power_w is not None and self.idle_power_w > self.power_w:
            raise InvalidInputError(
                f"`idle_power_w` of {owner} ({self.idle_power_w:g} W) is above `power_w` "
                f"({self.power_w:g} W); idle draw is at most the typical draw under load."
            )
        self._check_sizing(owner, "min_units", "max_units")

    def unit_limits(self) -> tuple[int, int | None]:
        """``(min_units, max_units)``."""
        return self.min_units, self.max_units

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
    kind = checks.choice("kind", data.get("kind"), tuple(_OPTION_CLASSES))
    cls = _OPTION_CLASSES[kind]
    return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def check_option(option: Any) -> None:
    """Refuse anything but an :class:`ApiOption`, :class:`InstanceOption` or :class:`OwnedOption`."""
    if not isinstance(option, ApiOption | InstanceOption | OwnedOption):
        raise InvalidInputError(
            f"`option` must be an ApiOption, InstanceOption or OwnedOption, "
            f"got {type(option).__name__}."
        )


def check_workload(workload: Any) -> None:
    """Refuse anything but a :class:`Workload`."""
    if not isinstance(workload, Workload):
        raise InvalidInputError(f"`workload` must be a Workload, got {type(workload).__name__}.")


__all__ = [
    "BILLING_GRANULARITIES",
    "GRANULARITY_S",
    "HOURS_PER_MONTH",
    "MAX_HOURS_PER_MONTH",
    "ApiOption",
    "CostOption",
    "InstanceOption",
    "OwnedOption",
    "Workload",
    "check_option",
    "check_workload",
    "option_from_dict",
]
