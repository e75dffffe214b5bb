"""Configuration of a hybrid routing simulation: arrivals, local workers, the cloud, costs.

Every config is a frozen dataclass that validates itself and names the field at fault; times are
in seconds, costs in the scenario's currency.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from workbench.decision.errors import SimulationTooLargeError, UnknownPatternError
from workbench.kit.errors import InvalidInputError

PATTERNS = ("poisson", "diurnal", "bursty", "constant")
MAX_REQUESTS = 2_000_000
DEFAULT_NUM_REQUESTS = 10_000

# A cloud latency sampler: (generator, count) -> that many latencies in seconds.
Sampler = Callable[[np.random.Generator, int], Any]


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"`{name}` must be a number, got {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInputError(f"`{name}` must be a finite number, got {value!r}.")
    return number


def _above(name: str, value: Any, bound: float, unit: str = "") -> None:
    if not _real(name, value) > bound:
        raise InvalidInputError(f"`{name}` must be > {bound:g}{unit}, got {value!r}.")


def _at_least(name: str, value: Any, bound: float) -> None:
    if not _real(name, value) >= bound:
        raise InvalidInputError(f"`{name}` must be >= {bound:g}, got {value!r}.")


def _whole(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidInputError(f"`{name}` must be a whole number >= {minimum}, got {value!r}.")


def _durations(name: str, values: Any, what: str) -> tuple[float, ...]:
    """Samples as a tuple of floats, each a finite duration >= 0 seconds."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise InvalidInputError(f"`{name}` must be a list of {what} in seconds, got {values!r}.")
    if len(values) == 0:
        raise InvalidInputError(
            f"`{name}` is empty: give at least one sample ({what}, in seconds)."
        )
    try:
        array = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"`{name}` must hold numbers ({what}, in seconds), got {values!r:.80}."
        ) from None
    bad = np.flatnonzero(~np.isfinite(array) | (array < 0))
    if bad.size:
        where = int(bad[0])
        raise InvalidInputError(
            f"`{name}` must hold durations >= 0 seconds, but sample {where} is {float(array[where])!r}: "
            "latencies cannot be negative or missing."
        )
    return tuple(array.tolist())


def _pick(name: str, value: Any, known: tuple[str, ...], error: type[InvalidInputError]) -> None:
    if value in known:
        return
    close = difflib.get_close_matches(str(value), list(known), n=2, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise error(f"Unknown `{name}` {value!r}.{hint} Known: {', '.join(known)}.")


@dataclass(frozen=True)
class ArrivalConfig:
    """The request stream: its pattern, mean rate and length (a duration or a request count).

    ``poisson`` has exponential inter-arrival times. ``bursty`` is a gamma renewal process: the
    inter-arrival times are gamma distributed with mean ``1 / rate_per_s`` and coefficient of
    variation ``burstiness_cv`` (1 is Poisson, above 1 clusters requests in bursts).
    ``diurnal`` is a Poisson process whose rate follows a day compressed into ``period_s``,
    ``rate_per_s * (1 - amplitude * cos(2 pi t / period_s))``: lowest at t = 0 (night), highest
    half a period later (noon), ``rate_per_s`` on average over whole periods; it is drawn by
    thinning. ``constant`` spaces requests exactly ``1 / rate_per_s`` apart, first at that time.
    """

    pattern: str = field(default="poisson", metadata=_help("poisson, diurnal, bursty or constant"))
    rate_per_s: float = field(default=10.0, metadata=_help("mean arrival rate, requests/second"))
    duration_s: float | None = field(
        default=None, metadata=_help("simulated seconds of arrivals (or give num_requests)")
    )
    num_requests: int | None = field(
        default=None,
        metadata=_help(f"requests to simulate (default {DEFAULT_NUM_REQUESTS:,} if no duration)"),
    )
    burstiness_cv: float = field(
        default=3.0, metadata=_help("bursty: coefficient of variation of inter-arrival times")
    )
    period_s: float = field(
        default=86_400.0, metadata=_help("diurnal: seconds one simulated day lasts")
    )
    amplitude: float = field(
        default=0.5, metadata=_help("diurnal: relative swing of the rate, 0 (flat) to 1")
    )
    max_requests: int = field(
        default=MAX_REQUESTS, metadata=_help("refuse simulations expected to exceed this")
    )

    def __post_init__(self) -> None:
        _pick("pattern", self.pattern, PATTERNS, UnknownPatternError)
        _above("rate_per_s", self.rate_per_s, 0, " requests per second")
        _above("burstiness_cv", self.burstiness_cv, 0)
        _above("period_s", self.period_s, 0, " seconds")
        _at_least("amplitude", self.amplitude, 0)
        if self.amplitude > 1:
            raise InvalidInputError(
                f"`amplitude` must be between 0 and 1 (a rate cannot go negative), "
                f"got {self.amplitude!r}."
            )
        _whole("max_requests", self.max_requests, 1)
        if self.duration_s is not None and self.num_requests is not None:
            raise InvalidInputError(
                "Give `duration_s` or `num_requests`, not both: the simulation stops at one of them."
            )
        if self.duration_s is None and self.num_requests is None:
            object.__setattr__(self, "num_requests", DEFAULT_NUM_REQUESTS)
        if self.duration_s is not None:
            _above("duration_s", self.duration_s, 0, " seconds")
        else:
            _whole("num_requests", self.num_requests, 1)
        self._check_size()

    def expected_requests(self) -> float:
        """How many requests the stream is expected to hold."""
        if self.num_requests is not None:
            return float(self.num_requests)
        return float(self.rate_per_s) * float(self.duration_s)

    def _check_size(self) -> None:
        expected = self.expected_requests()
        if expected <= self.max_requests:
            return
        cap = self.max_requests
        if self.num_requests is not None:
            how = f"lower `num_requests` to at most {cap:,}"
        else:
            longest = cap / float(self.rate_per_s)
            how = (
                f"shorten `duration_s` to at most {longest:,.0f} s, lower `rate_per_s`, or give "
                f"`num_requests` <= {cap:,} instead"
            )
        raise SimulationTooLargeError(
            f"The simulation would produce about {expected:,.0f} requests, above the cap of "
            f"{cap:,} (`max_requests`): {how}. Percentiles settle long before that; raise "
            "`max_requests` only if you mean it."
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArrivalConfig:
        """The inverse of :meth:`to_dict`."""
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class LocalServiceConfig:
    """Identical local workers serving one FIFO queue.

    Service times are drawn with replacement from ``service_samples_s`` (the per-call latencies of
    a measured local benchmark run) or, for queueing-theory checks, from an exponential
    distribution with mean ``service_mean_s``. Give exactly one of the two.
    """

    workers: int = field(default=1, metadata=_help("local workers serving in parallel"))
    service_samples_s: tuple[float, ...] | None = field(
        default=None, metadata=_help("measured per-call latencies in seconds, bootstrapped")
    )
    service_mean_s: float | None = field(
        default=None, metadata=_help("mean of exponential service times, seconds")
    )

    def __post_init__(self) -> None:
        _whole("workers", self.workers, 1)
        has_samples = self.service_samples_s is not None
        if has_samples == (self.service_mean_s is not None):
            raise InvalidInputError(
                "Give exactly one of `service_samples_s` (per-call latencies of a measured local "
                "run, in seconds) and `service_mean_s` (mean of exponential service times)."
            )
        if has_samples:
            samples = _durations("service_samples_s", self.service_samples_s, "service times")
            object.__setattr__(self, "service_samples_s", samples)
        else:
            _above("service_mean_s", self.service_mean_s, 0, " seconds")

    @property
    def mean_service_s(self) -> float:
        """The mean service time a router may assume: the samples' mean or the exponential mean."""
        if self.service_samples_s is not None:
            return float(np.mean(self.service_samples_s))
        return float(self.service_mean_s)

    @property
    def service_sd_s(self) -> float:
        """Standard deviation of the service time: the samples' or the exponential's (the mean)."""
        if self.service_samples_s is not None:
            return float(np.std(self.service_samples_s))
        return float(self.service_mean_s)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` service times in seconds."""
        if self.service_samples_s is not None:
            return rng.choice(np.asarray(self.service_samples_s), size=n, replace=True)
        return rng.exponential(float(self.service_mean_s), size=n)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (samples become a list)."""
        data = asdict(self)
        if self.service_samples_s is not None:
            data["service_samples_s"] = list(self.service_samples_s)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocalServiceConfig:
        """The inverse of :meth:`to_dict`."""
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class NetworkModel:
    """Cloud latency as a floor plus a gamma-distributed extra delay.

    The floor is the round trip plus the cloud's own service time; the extra delay has mean
    ``extra_mean_s`` and coefficient of variation ``extra_cv`` (1 makes it exponential).
    Call it as a sampler: ``model(rng, n)``.
    """

    floor_s: float = field(default=0.05, metadata=_help("smallest end-to-end latency, seconds"))
    extra_mean_s: float = field(default=0.02, metadata=_help("mean extra delay, seconds"))
    extra_cv: float = field(default=1.0, metadata=_help("coefficient of variation of the extra"))

    def __post_init__(self) -> None:
        _at_least("floor_s", self.floor_s, 0)
        _at_least("extra_mean_s", self.extra_mean_s, 0)
        _above("extra_cv", self.extra_cv, 0)

    def __call__(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` latencies in seconds."""
        if self.extra_mean_s == 0:
            return np.full(n, float(self.floor_s))
        shape = 1.0 / self.extra_cv**2
        return self.floor_s + rng.gamma(shape, self.extra_mean_s / shape, size=n)

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)


@dataclass(frozen=True)
class CloudConfig:
    """The cloud option: where its latencies come from, how many requests it takes at once, price.

    Latencies are drawn with replacement from ``latency_samples_s`` (a measured endpoint run) or
    from ``sampler(rng, n)``, for example a :class:`NetworkModel`. Give exactly one of the two.
    Without ``concurrency_limit`` every request starts at once; with it, the excess waits FIFO.
    """

    latency_samples_s: tuple[float, ...] | None = field(
        default=None, metadata=_help("measured end-to-end latencies in seconds, bootstrapped")
    )
    sampler: Sampler | None = field(
        default=None, metadata=_help("callable (rng, n) -> n latencies in seconds")
    )
    concurrency_limit: int | None = field(
        default=None, metadata=_help("requests the cloud serves at once (none = unlimited)")
    )
    cost_per_request: float = field(default=0.0, metadata=_help("price of one cloud request"))

    def __post_init__(self) -> None:
        has_samples = self.latency_samples_s is not None
        if has_samples == (self.sampler is not None):
            raise InvalidInputError(
                "Give exactly one of `latency_samples_s` (latencies of a measured endpoint run, in "
                "seconds) and `sampler` (a network model, e.g. NetworkModel())."
            )
        if has_samples:
            samples = _durations("latency_samples_s", self.latency_samples_s, "cloud latencies")
            object.__setattr__(self, "latency_samples_s", samples)
        elif not callable(self.sampler):
            raise InvalidInputError(
                f"`sampler` must be callable as sampler(rng, n), got {self.sampler!r}."
            )
        if self.concurrency_limit is not None:
            _whole("concurrency_limit", self.concurrency_limit, 1)
        _at_least("cost_per_request", self.cost_per_request, 0)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` cloud latencies in seconds.

        Raises
        ------
        InvalidInputError
            If the sampler returns anything but ``n`` finite durations >= 0.
        """
        if self.latency_samples_s is not None:
            return rng.choice(np.asarray(self.latency_samples_s), size=n, replace=True)
        try:
            values = np.asarray(self.sampler(rng, n), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"`sampler` must return {n} latencies in seconds, but it raised: {exc}"
            ) from None
        if values.shape != (n,):
            raise InvalidInputError(
                f"`sampler` must return {n} latencies in seconds, got shape {values.shape}."
            )
        if not np.all(np.isfinite(values) & (values >= 0)):
            raise InvalidInputError(
                "`sampler` returned a negative or non-finite latency: latencies are durations "
                ">= 0 seconds."
            )
        return values

    def to_dict(self) -> dict[str, Any]:
        """Plain values; a :class:`NetworkModel` sampler is kept, any other callable by name."""
        data: dict[str, Any] = {
            "latency_samples_s": None,
            "concurrency_limit": self.concurrency_limit,
            "cost_per_request": self.cost_per_request,
        }
        if self.latency_samples_s is not None:
            data["latency_samples_s"] = list(self.latency_samples_s)
        elif isinstance(self.sampler, NetworkModel):
            data["network_model"] = self.sampler.to_dict()
        else:
            name = getattr(self.sampler, "__qualname__", type(self.sampler).__qualname__)
            data["sampler"] = f"{getattr(self.sampler, '__module__', '?')}.{name}"
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CloudConfig:
        """The inverse of :meth:`to_dict`.

        Raises
        ------
        InvalidInputError
            If the dict names a custom sampler, which cannot be rebuilt from its name.
        """
        values = dict(data)
        if isinstance(values.get("sampler"), str):
            raise InvalidInputError(
                f"`sampler` {values['sampler']!r} is a custom callable that cannot be rebuilt "
                "from a dict: build CloudConfig(sampler=...) in Python, or use a NetworkModel."
            )
        if values.get("network_model") is not None:
            values["sampler"] = NetworkModel(**_known(NetworkModel, values["network_model"]))
        return cls(**_known(cls, values, extra=("network_model",)))


@dataclass(frozen=True)
class HybridConfig:
    """A hybrid deployment to simulate: the stream, local workers, the cloud and the costs.

    The monthly cost of a policy is ``local_fixed_monthly_cost + offloaded share x
    requests_per_month x cloud.cost_per_request``.
    """

    local: LocalServiceConfig
    cloud: CloudConfig
    arrivals: ArrivalConfig = field(default_factory=ArrivalConfig)
    latency_objective_s: float = field(
        default=1.0, metadata=_help("a request is good if it completes within this, seconds")
    )
    requests_per_month: float = field(
        default=1_000_000.0, metadata=_help("monthly volume the costs are computed for")
    )
    local_fixed_monthly_cost: float = field(
        default=0.0, metadata=_help("monthly cost of the local workers, whatever the load")
    )

    def __post_init__(self) -> None:
        for name, kind in (
            ("local", LocalServiceConfig),
            ("cloud", CloudConfig),
            ("arrivals", ArrivalConfig),
        ):
            value = getattr(self, name)
            if not isinstance(value, kind):
                raise InvalidInputError(
                    f"`{name}` must be a {kind.__name__}, got {type(value).__name__}: "
                    "build it, or load plain values with HybridConfig.from_dict."
                )
        _above("latency_objective_s", self.latency_objective_s, 0, " seconds")
        _above("requests_per_month", self.requests_per_month, 0)
        _at_least("local_fixed_monthly_cost", self.local_fixed_monthly_cost, 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, nested configs as dicts."""
        return {
            "local": self.local.to_dict(),
            "cloud": self.cloud.to_dict(),
            "arrivals": self.arrivals.to_dict(),
            "latency_objective_s": self.latency_objective_s,
            "requests_per_month": self.requests_per_month,
            "local_fixed_monthly_cost": self.local_fixed_monthly_cost,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HybridConfig:
        """The inverse of :meth:`to_dict`."""
        values = _known(cls, data)
        for name in ("local", "cloud"):
            if name not in values:
                raise InvalidInputError(f"`{name}` is missing: a hybrid simulation needs it.")
        values["local"] = LocalServiceConfig.from_dict(values["local"])
        values["cloud"] = CloudConfig.from_dict(values["cloud"])
        if "arrivals" in values:
            values["arrivals"] = ArrivalConfig.from_dict(values["arrivals"])
        return cls(**values)


def _known(cls: type, data: Mapping[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{cls.__name__} needs a mapping of fields, got {data!r:.80}.")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names - set(extra))
    if unknown:
        raise InvalidInputError(
            f"{cls.__name__} has no field {', '.join(f'`{u}`' for u in unknown)}; known fields: "
            f"{', '.join(sorted(names))}."
        )
    return {k: v for k, v in data.items() if k in names}
