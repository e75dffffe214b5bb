"""The decision room's configs: the hybrid routing simulation (arrivals, local workers, the cloud,
costs) and the settings of ``hybrid simulate`` and ``cost compare``.

Every config is a frozen dataclass whose fields are declared with
:func:`workbench.kit.fields.spec` and checked by :func:`workbench.kit.fields.check_fields`, so the
CLI flags and the error messages come from one place; times are in seconds, costs in the
scenario's currency. The scenario file's own tables are in :mod:`workbench.decision.scenario_config`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from workbench.cost import DEFAULT_MAX_AGE_DAYS
from workbench.decision.errors import SimulationTooLargeError, UnknownPatternError, did_you_mean
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import check_fields, spec

PATTERNS = ("poisson", "diurnal", "bursty", "constant")
MAX_REQUESTS = 2_000_000
DEFAULT_NUM_REQUESTS = 10_000

# A cloud latency sampler: (generator, count) -> that many latencies in seconds.
Sampler = Callable[[np.random.Generator, int], Any]


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

    pattern: str = spec("poisson", help="poisson, diurnal, bursty or constant", choices=PATTERNS)
    rate_per_s: float = spec(
        10.0, help="mean arrival rate", unit="requests/s", low=0, low_open=True
    )
    duration_s: float | None = spec(
        None,
        help="simulated seconds of arrivals (or give num_requests)",
        unit="s",
        low=0,
        low_open=True,
        optional=True,
    )
    num_requests: int | None = spec(
        None,
        help=f"requests to simulate (default {DEFAULT_NUM_REQUESTS:,} if no duration)",
        low=1,
        whole=True,
        optional=True,
    )
    burstiness_cv: float = spec(
        3.0, help="bursty: coefficient of variation of inter-arrival times", low=0, low_open=True
    )
    period_s: float = spec(
        86_400.0, help="diurnal: seconds one simulated day lasts", unit="s", low=0, low_open=True
    )
    amplitude: float = spec(
        0.5,
        help="diurnal: relative swing of the rate, 0 (flat) to 1",
        low=0,
        high=1,
        fix="A rate cannot go negative.",
    )
    max_requests: int = spec(
        MAX_REQUESTS, help="refuse simulations expected to exceed this", low=1, whole=True
    )

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise UnknownPatternError(
                f"Unknown `pattern` {self.pattern!r}.{did_you_mean(self.pattern, PATTERNS, 2)} "
                f"Known: {', '.join(PATTERNS)}."
            )
        if self.duration_s is not None and self.num_requests is not None:
            raise InvalidInputError(
                "Give `duration_s` or `num_requests`, not both: the simulation stops at one of them."
            )
        if self.duration_s is None and self.num_requests is None:
            object.__setattr__(self, "num_requests", DEFAULT_NUM_REQUESTS)
        check_fields(self, flags=False)
        self._check_size()

    @property
    def peak_rate_per_s(self) -> float:
        """The busiest rate the stream reaches: ``rate_per_s``, or for ``diurnal`` its noon rate
        ``rate_per_s x (1 + amplitude)``.

        A diurnal day is long against a service time, so its busiest hours must be carried on
        their own: capacity checks use this rate, not the mean.
        """
        if self.pattern == "diurnal":
            return float(self.rate_per_s) * (1.0 + float(self.amplitude))
        return float(self.rate_per_s)

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
            how = f"lower --requests (`num_requests` in a config) to at most {cap:,}"
        else:
            longest = cap / float(self.rate_per_s)
            how = (
                f"shorten `duration_s` to at most {longest:,.0f} s, lower `rate_per_s`, or give "
                f"`num_requests` <= {cap:,} instead"
            )
        raise SimulationTooLargeError(
            f"The simulation would produce about {expected:,.0f} requests, above the cap of "
            f"{cap:,} (`max_requests` of the config): {how}. Percentiles settle long before "
            "that; raise `max_requests` only if you mean it."
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

    workers: int = spec(1, help="local workers serving in parallel", low=1, whole=True)
    service_samples_s: tuple[float, ...] | None = spec(
        None, help="measured per-call latencies in seconds, drawn with replacement", optional=True
    )
    service_mean_s: float | None = spec(
        None,
        help="mean of exponential service times",
        unit="s",
        low=0,
        low_open=True,
        optional=True,
    )

    def __post_init__(self) -> None:
        check_fields(self, flags=False)
        has_samples = self.service_samples_s is not None
        if has_samples == (self.service_mean_s is not None):
            raise InvalidInputError(
                "Give exactly one of `service_samples_s` (per-call latencies of a measured local "
                "run, in seconds) and `service_mean_s` (mean of exponential service times)."
            )
        if has_samples:
            samples = _durations("service_samples_s", self.service_samples_s, "service times")
            object.__setattr__(self, "service_samples_s", samples)

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

    floor_s: float = spec(0.05, help="smallest end-to-end latency", unit="s", low=0)
    extra_mean_s: float = spec(0.02, help="mean extra delay", unit="s", low=0)
    extra_cv: float = spec(
        1.0, help="coefficient of variation of the extra delay", low=0, low_open=True
    )

    def __post_init__(self) -> None:
        check_fields(self, flags=False)

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

    Scale to zero: with ``idle_timeout_s`` set, the cloud side scales to zero once it has had no
    request in flight for longer than that, and the next request routed to it waits
    ``cold_start_s`` for a replica to start; requests arriving while it starts wait for the same
    replica (the rest of the start). The cloud counts as warm at time 0, as if a request had just
    finished. The cold start is part of a request's wait and latency. With the defaults (no
    ``idle_timeout_s``) the cloud never goes cold.
    """

    latency_samples_s: tuple[float, ...] | None = spec(
        None, help="measured end-to-end latencies in seconds, drawn with replacement", optional=True
    )
    sampler: Sampler | None = spec(
        None, help="callable (rng, n) -> n latencies in seconds", optional=True
    )
    concurrency_limit: int | None = spec(
        None,
        help="requests the cloud serves at once (none = unlimited)",
        low=1,
        whole=True,
        optional=True,
    )
    cost_per_request: float = spec(0.0, help="price of one cloud request", low=0)
    cold_start_s: float = spec(
        0.0,
        help="seconds a cloud replica takes to start after the cloud went idle",
        unit="s",
        low=0,
    )
    idle_timeout_s: float | None = spec(
        None,
        help="seconds without a cloud request before it scales to zero (none = never)",
        unit="s",
        low=0,
        optional=True,
    )

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
        check_fields(self, flags=False)
        if self.cold_start_s > 0 and self.idle_timeout_s is None:
            raise InvalidInputError(
                f"`cold_start_s` is {self.cold_start_s:g} s but `idle_timeout_s` is not set, so "
                "the cloud would never go cold: give `idle_timeout_s`, the seconds without a "
                "request before it scales to zero (e.g. 900), or leave `cold_start_s` at 0."
            )

    @property
    def scales_to_zero(self) -> bool:
        """Whether a request can find the cloud cold (a cold start and an idle timeout are set)."""
        return self.cold_start_s > 0 and self.idle_timeout_s is not None

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
            "cold_start_s": self.cold_start_s,
            "idle_timeout_s": self.idle_timeout_s,
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

    The monthly cost of a policy that may serve requests locally is
    ``local_fixed_monthly_cost + local share x requests_per_month x local_cost_per_request +
    offloaded share x requests_per_month x cloud.cost_per_request``: the local workers'
    hardware, operations and energy whatever the load, the energy each local request adds, and
    the cloud's price. A policy that never serves locally (cloud-only) needs no local worker
    and pays only the cloud. ``local_fixed_monthly_cost`` is ``None`` when the local workers
    cannot be priced; ``local_cost_note`` then says why, and the cost of every policy that uses
    them is NaN, never 0.
    """

    local: LocalServiceConfig = spec(help="the local workers and their service times")
    cloud: CloudConfig = spec(help="the cloud option's latencies, concurrency and price")
    arrivals: ArrivalConfig = spec(default_factory=ArrivalConfig, help="the request stream")
    latency_objective_s: float = spec(
        1.0,
        help="a request is good if it completes within this",
        unit="s",
        low=0,
        low_open=True,
    )
    requests_per_month: float = spec(
        1_000_000.0, help="monthly volume the costs are computed for", low=0, low_open=True
    )
    local_fixed_monthly_cost: float | None = spec(
        0.0,
        help="monthly cost of the local workers, whatever the load (none = unknown)",
        low=0,
        optional=True,
    )
    local_cost_per_request: float = spec(
        0.0, help="cost one locally served request adds (e.g. its energy)", low=0
    )
    local_cost_note: str = spec("", help="why the local workers cannot be priced, when they cannot")

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
        check_fields(self, flags=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, nested configs as dicts."""
        return {
            "local": self.local.to_dict(),
            "cloud": self.cloud.to_dict(),
            "arrivals": self.arrivals.to_dict(),
            "latency_objective_s": self.latency_objective_s,
            "requests_per_month": self.requests_per_month,
            "local_fixed_monthly_cost": self.local_fixed_monthly_cost,
            "local_cost_per_request": self.local_cost_per_request,
            "local_cost_note": self.local_cost_note,
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


@dataclass(frozen=True)
class ScenarioSimulation:
    """How ``hybrid simulate`` (and the decision panel) turns a scenario into a simulation.

    See :func:`workbench.decision.hybrid_setup.setup_from_scenario`.
    """

    requests: int = spec(20_000, help="requests to simulate", low=1, whole=True)
    workers: int = spec(1, help="local workers", low=1, whole=True)
    region: str = spec("same-region", help="network preset to the cloud")
    cloud_option: str | None = spec(
        None, help="the scenario option to overflow to (default the cheapest API)", optional=True
    )
    cloud_ms_per_output_token: float = spec(
        10.0,
        help="assumed cloud time per output token",
        unit="ms",
        low=0,
        flag="--cloud-ms-per-token",
    )
    seed: int = spec(0, help="seed of the simulated stream", low=0, whole=True)

    def __post_init__(self) -> None:
        checks.text("region", self.region, flag="--region")
        check_fields(self)


@dataclass(frozen=True)
class CompareSettings:
    """What ``cost compare`` takes besides the scenario: how old a price row may be."""

    max_age_days: int = spec(
        DEFAULT_MAX_AGE_DAYS,
        help="warn about price rows older than this",
        unit="days",
        low=0,
        whole=True,
    )

    def __post_init__(self) -> None:
        check_fields(self)


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
