"""The cloud room's configs: what to call (:class:`EndpointConfig`), how to load it
(:class:`CloudBenchConfig`) and how the loopback cloud behaves (:class:`ServiceProfile`).

Every field is declared with :func:`workbench.kit.fields.spec`, so its help, bounds and CLI flag
live in one place: ``cloud bench`` and ``cloud serve`` build their flags from these fields, and
``check_fields`` refuses a bad value naming the field, its flag and the accepted range.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from workbench.cloud.network import SETUP_ROUND_TRIPS, NetworkProfile, get_network_profile
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.kit.fields import check_fields, spec
from workbench.kit.urls import has_userinfo, without_userinfo

APIS = ("chat", "embeddings")
MODES = ("closed", "open")
FAULT_KINDS = ("http_500", "drop", "truncate")
DEFAULT_PROMPT = "Explain in two sentences why the sky looks blue."
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_env_name(value: Any) -> None:
    """Refuse an ``api_key_env`` that is not the NAME of an environment variable.

    The message never repeats the value: a user who pasted the key itself must not see it
    echoed into logs.
    """
    if value is not None and not (isinstance(value, str) and _ENV_NAME.fullmatch(value)):
        raise InvalidInputError(
            "`api_key_env` must be the NAME of an environment variable (letters, digits and "
            "'_', not starting with a digit), never the key itself; got a value that is not."
        )


def _check_bools(config: Any, *names: str) -> None:
    for name in names:
        if not isinstance(getattr(config, name), bool):
            raise checks.invalid(name, getattr(config, name), "True or False")


def _from_dict(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class EndpointConfig:
    """What to call: an OpenAI-compatible endpoint, a model and the request to send."""

    base_url: str = spec(
        help="the API's base URL, up to and including /v1 (http://127.0.0.1:8000/v1)"
    )
    model: str = spec(help="the model name the endpoint serves")
    api: str = spec("chat", help="'chat' (chat completions) or 'embeddings'", choices=APIS)
    api_key_env: str | None = spec(
        None,
        help="NAME of the environment variable holding the API key (never the key)",
        optional=True,
    )
    stream: bool = spec(True, help="stream chat completions (measures TTFT)")
    max_new_tokens: int = spec(32, help="max_tokens of each chat request", low=1, whole=True)
    prompt: str = spec(DEFAULT_PROMPT, help="the user message, or text to embed")
    embedding_inputs: int = spec(1, help="texts per embeddings request", low=1, whole=True)
    temperature: float = spec(0.0, help="sampling temperature (0: greedy)", low=0, high=2)
    include_usage: bool = spec(
        True,
        help="ask streams for a final usage chunk (stream_options; without it, tokens are "
        "counted from the stream's chunks, for servers that refuse it)",
    )
    timeout_s: float = spec(
        60.0, help="seconds one request may take", unit="s", low=0, low_open=True, flag="--timeout"
    )

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not re.match(r"https?://[^/\s]+", self.base_url):
            raise checks.invalid(
                "base_url",
                self.base_url,
                "an http:// or https:// URL such as http://127.0.0.1:8000/v1",
                flag="--base-url",
            )
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        checks.text("model", self.model, flag="--model", fix="Name the model the endpoint serves.")
        check_env_name(self.api_key_env)
        _check_bools(self, "stream", "include_usage")
        checks.text("prompt", self.prompt, flag="--prompt")
        check_fields(self)

    @property
    def request_url(self) -> str:
        """The full URL requests go to, with any ``user:password@`` the base URL carries."""
        path = "/chat/completions" if self.api == "chat" else "/embeddings"
        return self.base_url + path

    @property
    def url(self) -> str:
        """The full URL requests go to, as messages and records show it (no user or password)."""
        return without_userinfo(self.request_url)

    @property
    def has_credentials(self) -> bool:
        """Whether the base URL carries a ``user:password@`` part (used, never recorded)."""
        return has_userinfo(self.base_url)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the key's variable name, never the key; the base URL without its
        ``user:password@`` part, which a saved run must not hold)."""
        data = asdict(self)
        data["base_url"] = without_userinfo(self.base_url)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EndpointConfig:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**_from_dict(cls, data))


@dataclass(frozen=True)
class CloudBenchConfig:
    """A load test of one endpoint: who calls, how often, for how long, and what counts as good."""

    # spec() returns a dataclasses.field, which ruff's RUF009 does not know.
    endpoint: EndpointConfig = spec(help="the endpoint and the request to send")
    users: int = spec(1, help="closed loop: concurrent users", low=1, whole=True)
    rate_rps: float | None = spec(
        None,
        help="open loop: mean arrivals per second (replaces users)",
        unit="requests/s",
        low=0,
        low_open=True,
        optional=True,
        flag="--rate",
    )
    burstiness_cv: float = spec(
        1.0,
        help="open loop: coefficient of variation of gaps (1 Poisson, >1 bursty, 0 even)",
        low=0,
        flag="--burstiness",
    )
    max_requests: int = spec(
        20, help="stop after this many requests", low=1, whole=True, flag="--requests"
    )
    max_seconds: float = spec(
        60.0, help="start no request after this time", unit="s", low=0, low_open=True
    )
    retries: int = spec(2, help="extra tries on 429, 5xx, timeouts, drops", low=0, whole=True)
    backoff_base_s: float = spec(0.5, help="first back-off ceiling", unit="s", low=0, low_open=True)
    backoff_max_s: float = spec(
        8.0, help="largest back-off ceiling", unit="s", low=0, low_open=True
    )
    slo_ms: float = spec(
        2000.0, help="latency objective for goodput", unit="ms", low=0, low_open=True
    )
    max_connections: int = spec(100, help="connections open at once", low=1, whole=True)
    seed: int = spec(0, help="seed of arrivals and back-off jitter", low=0, whole=True)
    label: str = spec("", help="free text naming the run")

    def __post_init__(self) -> None:
        if isinstance(self.endpoint, dict):
            object.__setattr__(self, "endpoint", EndpointConfig.from_dict(self.endpoint))
        if not isinstance(self.endpoint, EndpointConfig):
            raise InvalidInputError("`endpoint` must be an EndpointConfig.")
        if not isinstance(self.label, str):
            raise checks.invalid("label", self.label, "text", flag="--label")
        check_fields(self)

    @property
    def mode(self) -> str:
        """``"open"`` when ``rate_rps`` is set, else ``"closed"``."""
        return "open" if self.rate_rps is not None else "closed"

    def to_dict(self) -> dict[str, Any]:
        """Plain values, the endpoint nested (as :meth:`EndpointConfig.to_dict` gives it)."""
        data = asdict(self)
        data["endpoint"] = self.endpoint.to_dict()
        data["mode"] = self.mode
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CloudBenchConfig:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        values = _from_dict(cls, data)
        values["endpoint"] = EndpointConfig.from_dict(values["endpoint"])
        return cls(**values)


@dataclass(frozen=True)
class ServiceProfile:
    """How the loopback cloud behaves: network, capacity, limits, cold start and faults."""

    region: str | None = spec(
        None,
        help="network region preset adding a sampled round trip per request (none: no delay); "
        "see data/network_profiles.toml",
        optional=True,
    )
    setup_round_trips: int = spec(
        SETUP_ROUND_TRIPS,
        help="round trips a new connection costs (TCP + TLS: 2 for TLS 1.3, 3 for 1.2)",
        low=0,
        whole=True,
    )
    slots: int = spec(1, help="requests that run the model at the same time", low=1, whole=True)
    queue_size: int = spec(
        64, help="requests that may wait for a slot; beyond that: 503", low=0, whole=True
    )
    rate_limit_rps: float | None = spec(
        None,
        help="requests per second allowed (none: no limit); beyond: 429",
        unit="requests/s",
        low=0,
        low_open=True,
        optional=True,
        flag="--rate-limit",
    )
    rate_limit_burst: int | None = spec(
        None,
        help="requests allowed at once above the rate (default: rate, >= 1)",
        low=1,
        whole=True,
        optional=True,
        flag="--burst",
    )
    cold_start_ms: float = spec(
        0.0, help="delay of the first request after start or after idle time", unit="ms", low=0
    )
    idle_timeout_s: float = spec(
        300.0, help="idle seconds after which the next request starts cold", unit="s", low=0
    )
    fault_rate: float = spec(
        0.0, help="share of requests that get an injected fault (0 to 1)", low=0, high=1
    )
    fault_kinds: tuple[str, ...] = spec(
        FAULT_KINDS,
        help="faults to draw from, comma-separated: http_500, drop (connection closed), truncate",
    )
    max_tokens_limit: int = spec(
        1024, help="largest max_tokens a request may ask for", low=1, whole=True
    )
    api_key_env: str | None = spec(
        None,
        help="environment variable holding the API key requests must send (none: open)",
        optional=True,
    )
    seed: int = spec(0, help="seed of every random draw (delays, faults)", low=0, whole=True)

    def __post_init__(self) -> None:
        if self.region is not None:
            if not isinstance(self.region, str):
                raise checks.invalid(
                    "region", self.region, "a preset name or None", flag="--region"
                )
            try:
                get_network_profile(self.region)
            except WorkbenchError as exc:
                raise InvalidInputError(f"`region` (--region): {exc}") from exc
        check_fields(self)
        kinds = (self.fault_kinds,) if isinstance(self.fault_kinds, str) else self.fault_kinds
        object.__setattr__(self, "fault_kinds", tuple(kinds))
        if not self.fault_kinds or any(k not in FAULT_KINDS for k in self.fault_kinds):
            raise checks.invalid(
                "fault_kinds",
                list(self.fault_kinds),
                f"at least one of {', '.join(FAULT_KINDS)}",
                flag="--fault-kinds",
            )
        check_env_name(self.api_key_env)

    @property
    def network(self) -> NetworkProfile | None:
        """The region's network profile, or ``None`` when no delay is added."""
        return get_network_profile(self.region) if self.region else None

    @property
    def burst(self) -> int:
        """Requests the rate limiter lets through at once."""
        if self.rate_limit_burst is not None:
            return self.rate_limit_burst
        return max(1, math.floor(self.rate_limit_rps or 1))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples become lists)."""
        data = asdict(self)
        data["fault_kinds"] = list(self.fault_kinds)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceProfile:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        values = _from_dict(cls, data)
        if "fault_kinds" in values:
            values["fault_kinds"] = tuple(values["fault_kinds"])
        return cls(**values)


__all__ = [
    "APIS",
    "DEFAULT_PROMPT",
    "FAULT_KINDS",
    "MODES",
    "CloudBenchConfig",
    "EndpointConfig",
    "ServiceProfile",
    "check_env_name",
]
