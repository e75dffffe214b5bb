"""A cloud on loopback: an OpenAI-compatible server with a configurable network and service profile.

The server answers ``POST /v1/chat/completions`` (streamed and not), ``POST /v1/embeddings`` and
``GET /v1/models`` the way OpenAI's API does, backed by models loaded with
:func:`workbench.models.load_model`, so the official ``openai`` client, and any tool that speaks
the dialect, works against it unchanged. A :class:`ServiceProfile` makes it behave like a remote
service:

* **Network**: each request draws one round trip from the region preset; half is spent before
  the request is handled (the request travelling), half before the response reaches the client
  (for a stream, every chunk is held back by that half, so the whole stream is shifted).
* **Connection set-up**: the first request on a new connection waits ``setup_round_trips``
  more round trips (TCP + TLS). The client sees this inside that request's latency, since the
  loopback TCP connect itself is instant.
* **Slots and queue**: at most ``slots`` requests run the model at once; up to ``queue_size``
  wait; beyond that the answer is 503 with ``Retry-After``.
* **Rate limit**: a token bucket (``rate_limit_rps``, ``rate_limit_burst``); over the limit the
  answer is 429 with ``Retry-After`` in whole seconds.
* **Cold start**: the first request after start, or after ``idle_timeout_s`` without requests,
  waits ``cold_start_ms`` (others arriving meanwhile wait for the same warm-up).
* **Faults**: with probability ``fault_rate`` a request gets one of ``fault_kinds``: an HTTP 500,
  a dropped connection (closed without a response) or, for streams only, a truncated stream
  (closed midway, without ``data: [DONE]``).
* **API key**: with ``api_key_env``, requests need ``Authorization: Bearer <key>`` where the key
  is the value of that environment variable; otherwise 401 with an OpenAI-style error body.

Every draw comes from generators seeded with ``seed``, so a sequence of requests repeats.
Model inference runs in a thread pool of ``slots`` threads, so the event loop stays responsive.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import hmac
import ipaddress
import json
import math
import os
import re
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from workbench.cloud.client import require_aiohttp
from workbench.cloud.network import SETUP_ROUND_TRIPS, NetworkProfile, get_network_profile
from workbench.kit.checks import check_number, check_whole
from workbench.kit.errors import InvalidInputError, WorkbenchError

FAULT_KINDS = ("http_500", "drop", "truncate")
DEFAULT_CHAT_MODEL = "smollm2-135m"
DEFAULT_EMBEDDING_MODEL = "minilm"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Half the request's sampled round trip: set by the middleware, read by a streaming handler.
_ONE_WAY_S: contextvars.ContextVar[float] = contextvars.ContextVar("one_way_s", default=0.0)


class ServerStartError(WorkbenchError):
    """The loopback cloud could not start: a port in use, a host refused, a model that won't load."""


class _Cancelled(Exception):
    """Raised inside the generation thread when the stream's reader has gone."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class ServiceProfile:
    """How the loopback cloud behaves: network, capacity, limits, cold start and faults."""

    region: str | None = field(
        default=None,
        metadata=_help(
            "network region preset adding a sampled round trip per request (none: no delay)"
        ),
    )
    setup_round_trips: int = field(
        default=SETUP_ROUND_TRIPS,
        metadata=_help("round trips a new connection costs (TCP + TLS: 2 for TLS 1.3, 3 for 1.2)"),
    )
    slots: int = field(default=1, metadata=_help("requests that run the model at the same time"))
    queue_size: int = field(
        default=64, metadata=_help("requests that may wait for a slot; beyond that: 503")
    )
    rate_limit_rps: float | None = field(
        default=None, metadata=_help("requests per second allowed (none: no limit); beyond: 429")
    )
    rate_limit_burst: int | None = field(
        default=None,
        metadata=_help("requests allowed at once above the rate (default: rate, >= 1)"),
    )
    cold_start_ms: float = field(
        default=0.0, metadata=_help("delay of the first request after start or after idle time")
    )
    idle_timeout_s: float = field(
        default=300.0, metadata=_help("idle seconds after which the next request starts cold")
    )
    fault_rate: float = field(
        default=0.0, metadata=_help("share of requests that get an injected fault (0 to 1)")
    )
    fault_kinds: tuple[str, ...] = field(
        default=FAULT_KINDS,
        metadata=_help("faults to draw from: http_500, drop (connection closed), truncate"),
    )
    max_tokens_limit: int = field(
        default=1024, metadata=_help("largest max_tokens a request may ask for")
    )
    api_key_env: str | None = field(
        default=None,
        metadata=_help("environment variable holding the API key requests must send (none: open)"),
    )
    seed: int = field(default=0, metadata=_help("seed of every random draw (delays, faults)"))

    def __post_init__(self) -> None:
        if self.region is not None:
            if not isinstance(self.region, str):
                raise InvalidInputError(
                    f"`region` must be a preset name or None, got {self.region!r}."
                )
            try:
                get_network_profile(self.region)
            except WorkbenchError as exc:
                raise InvalidInputError(f"`region`: {exc}") from exc
        check_whole(self, "setup_round_trips", 0)
        check_whole(self, "slots", 1)
        check_whole(self, "queue_size", 0)
        check_whole(self, "max_tokens_limit", 1)
        check_whole(self, "seed", 0)
        if self.rate_limit_rps is not None:
            check_number(self, "rate_limit_rps", exclusive=True)
        if self.rate_limit_burst is not None:
            check_whole(self, "rate_limit_burst", 1)
        check_number(self, "cold_start_ms")
        check_number(self, "idle_timeout_s")
        check_number(self, "fault_rate")
        if self.fault_rate > 1:
            raise InvalidInputError(
                f"`fault_rate` must be between 0 and 1 (a share of requests), got {self.fault_rate}."
            )
        kinds = (self.fault_kinds,) if isinstance(self.fault_kinds, str) else self.fault_kinds
        object.__setattr__(self, "fault_kinds", tuple(kinds))
        unknown = [k for k in self.fault_kinds if k not in FAULT_KINDS]
        if unknown or not self.fault_kinds:
            raise InvalidInputError(
                f"`fault_kinds` must name at least one of {', '.join(FAULT_KINDS)}, "
                f"got {list(self.fault_kinds)!r}."
            )
        if self.api_key_env is not None and not (
            isinstance(self.api_key_env, str) and _ENV_NAME.fullmatch(self.api_key_env)
        ):
            raise InvalidInputError(
                "`api_key_env` must be the NAME of an environment variable (letters, digits and "
                "'_', not starting with a digit), never the key itself; got a value that is not."
            )

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
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "fault_kinds" in values:
            values["fault_kinds"] = tuple(values["fault_kinds"])
        return cls(**values)


class TokenBucket:
    """A rate limiter: ``rate`` tokens a second refill a bucket of ``burst``; a request takes one.

    Pure arithmetic on the times it is given, so it is testable without a clock.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated: float | None = None

    def take(self, now: float) -> float:
        """Take a token at time ``now`` (seconds): 0.0 when granted, else seconds until one is."""
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


# ---------------------------------------------------------------------------------------------
# The application


def _load_runner(model: Any, task: str) -> tuple[Any, str]:
    """A runner and the name it is served under, from an alias/path or an already loaded runner."""
    if model is None:
        return None, ""
    if isinstance(model, str):
        from workbench.models import load_model

        runner = load_model(model, progress=False)
        name = model
    else:
        runner, name = model, model.info.name
    if runner.task != task:
        role = "--chat-model" if task == "text-generation" else "--embedding-model"
        raise InvalidInputError(
            f"`{role.strip('-').replace('-', '_')}` {name!r} is a {runner.task} model; "
            f"{role} needs a {task} model."
        )
    return runner, name


def _error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class CloudServer:
    """The loopback cloud's state and handlers; :meth:`make_app` gives the aiohttp application.

    Parameters
    ----------
    chat_model, embedding_model
        A catalog alias or path to load, an already loaded runner, or ``None`` to serve no such
        endpoint.
    profile
        The service profile.
    """

    def __init__(
        self,
        chat_model: Any = DEFAULT_CHAT_MODEL,
        embedding_model: Any = DEFAULT_EMBEDDING_MODEL,
        profile: ServiceProfile | None = None,
    ) -> None:
        self.profile = profile or ServiceProfile()
        self._api_key = _read_server_key(self.profile.api_key_env)
        self.chat_runner, self.chat_model = _load_runner(chat_model, "text-generation")
        self.embedding_runner, self.embedding_model = _load_runner(embedding_model, "embeddings")
        self._network = self.profile.network
        seeds = np.random.SeedSequence(self.profile.seed).spawn(2)
        self._delay_rng = np.random.default_rng(seeds[0])
        self._fault_rng = np.random.default_rng(seeds[1])
        self._bucket = (
            TokenBucket(self.profile.rate_limit_rps, self.profile.burst)
            if self.profile.rate_limit_rps
            else None
        )
        self._executor: ThreadPoolExecutor | None = None
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._cancels: set[threading.Event] = set()
        self._slots: asyncio.Semaphore | None = None
        self._warm_lock: asyncio.Lock | None = None
        self._waiting = 0
        self._last_active: float | None = None
        self._created = int(time.time())
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "requests",
                "connections",
                "completed",
                "unauthorized",
                "rate_limited",
                "overloaded",
                "cold_starts",
                "faults_http_500",
                "faults_drop",
                "faults_truncate",
            ),
            0,
        )

    def __repr__(self) -> str:
        return (
            f"<CloudServer chat={self.chat_model or None} embeddings={self.embedding_model or None}"
            f" region={self.profile.region}>"
        )

    def make_app(self) -> Any:
        """The aiohttp application serving the OpenAI-compatible routes."""
        web = require_aiohttp().web

        app = web.Application(
            middlewares=[self._make_middleware()], client_max_size=8 * 1024 * 1024
        )
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, app: Any) -> None:
        self._slots = asyncio.Semaphore(self.profile.slots)
        self._warm_lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(
            max_workers=self.profile.slots, thread_name_prefix="loopback-cloud"
        )

    async def _on_shutdown(self, app: Any) -> None:
        self.cancel_all()

    async def _on_cleanup(self, app: Any) -> None:
        self.cancel_all()
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def cancel_all(self) -> None:
        """Ask every running generation to stop at its next token (the server is stopping)."""
        for event in list(self._cancels):
            event.set()

    # -- the path every request takes -------------------------------------------------------

    def _make_middleware(self) -> Any:
        """Network delay, connection set-up, API key and rate limit, around every route."""
        web = require_aiohttp().web

        @web.middleware
        async def middleware(request: Any, handler: Callable) -> Any:
            self.counters["requests"] += 1
            transport = request.transport
            new_connection = transport is not None and transport not in self._connections
            if new_connection:
                self._connections.add(transport)
                self.counters["connections"] += 1
            rtt_ms = self._draw_rtt_ms()
            one_way_s = rtt_ms / 2000.0
            _ONE_WAY_S.set(one_way_s)
            wait_ms = rtt_ms / 2.0
            if new_connection and self._network is not None:
                wait_ms += self._network.connection_setup_ms(
                    self._delay_rng, self.profile.setup_round_trips
                )
            if wait_ms > 0:
                await asyncio.sleep(wait_ms / 1000.0)
            response = self._gate(request)
            if response is None:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    response = _json_response(
                        _error_body(exc.reason, "invalid_request_error", code=str(exc.status)),
                        status=exc.status,
                    )
            if not response.prepared and one_way_s > 0:
                await asyncio.sleep(one_way_s)
            return response

        return middleware

    def _draw_rtt_ms(self) -> float:
        if self._network is None:
            return 0.0
        return float(self._network.sample(self._delay_rng, 1)[0])

    def _gate(self, request: Any) -> Any:
        """The answer for a request refused before the model: 401, 429; ``None`` lets it in."""
        if self._api_key is not None and not self._authorized(request):
            self.counters["unauthorized"] += 1
            return _json_response(
                _error_body(
                    "Incorrect or missing API key: send the header 'Authorization: Bearer <key>' "
                    "with the key this server was started with.",
                    "invalid_request_error",
                    code="invalid_api_key",
                ),
                status=401,
            )
        if self._bucket is not None:
            wait_s = self._bucket.take(time.monotonic())
            if wait_s > 0:
                self.counters["rate_limited"] += 1
                retry_after = max(1, math.ceil(wait_s))
                return _json_response(
                    _error_body(
                        f"Rate limit reached: {self.profile.rate_limit_rps:g} requests per second "
                        f"(burst {self.profile.burst}). Retry after {retry_after} s.",
                        "requests",
                        code="rate_limit_exceeded",
                    ),
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
        return None

    def _authorized(self, request: Any) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self._api_key.encode()
        )

    def _draw_fault(self, streaming: bool) -> str | None:
        if self.profile.fault_rate <= 0:
            return None
        hit = self._fault_rng.random() < self.profile.fault_rate
        kinds = [k for k in self.profile.fault_kinds if streaming or k != "truncate"]
        if not hit or not kinds:
            return None
        kind = kinds[int(self._fault_rng.integers(len(kinds)))]
        self.counters[f"faults_{kind}"] += 1
        return kind

    async def _fault_response(self, request: Any, kind: str) -> Any:
        if kind == "drop":
            _abort(request)
        return _json_response(
            _error_body("Injected fault: internal server error.", "server_error", code="injected"),
            status=500,
        )

    @contextlib.asynccontextmanager
    async def _slot(self):
        """Hold one model slot; ``None`` is yielded when the queue is full (answer 503)."""
        assert self._slots is not None
        if self._slots.locked() and self._waiting >= self.profile.queue_size:
            self.counters["overloaded"] += 1
            yield None
            return
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            cold_ms = await self._warm_up()
            yield cold_ms
        finally:
            self._last_active = time.monotonic()
            self._slots.release()

    async def _warm_up(self) -> float:
        if self.profile.cold_start_ms <= 0:
            return 0.0
        assert self._warm_lock is not None
        async with self._warm_lock:
            now = time.monotonic()
            idle = (
                self._last_active is None or now - self._last_active > self.profile.idle_timeout_s
            )
            self._last_active = now
            if not idle:
                return 0.0
            self.counters["cold_starts"] += 1
            await asyncio.sleep(self.profile.cold_start_ms / 1000.0)
            self._last_active = time.monotonic()
            return self.profile.cold_start_ms

    # -- routes -----------------------------------------------------------------------------

    async def _models(self, request: Any) -> Any:
        data = [
            {"id": name, "object": "model", "created": self._created, "owned_by": "workbench"}
            for name in (self.chat_model, self.embedding_model)
            if name
        ]
        return _json_response({"object": "list", "data": data})

    async def _chat(self, request: Any) -> Any:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return body
        parsed = self._parse_chat(body)
        if not isinstance(parsed, dict):
            return parsed
        fault = self._draw_fault(parsed["stream"])
        if fault in ("http_500", "drop"):
            return await self._fault_response(request, fault)
        async with self._slot() as cold_ms:
            if cold_ms is None:
                return _overloaded()
            if parsed["stream"]:
                return await self._chat_stream(request, parsed, truncate=fault == "truncate")
            return await self._chat_once(parsed, cold_ms)

    def _parse_chat(self, body: dict[str, Any]) -> dict[str, Any] | Any:
        if self.chat_runner is None:
            return _bad("This server has no chat model; it serves embeddings only.", "model", 404)
        model = body.get("model")
        if model != self.chat_model:
            return _bad(
                f"The model {model!r} does not exist here; the chat model is {self.chat_model!r}.",
                "model",
                404,
                code="model_not_found",
            )
        messages = _messages(body.get("messages"))
        if isinstance(messages, str):
            return _bad(messages, "messages")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if max_tokens is None:
            max_tokens = min(64, self.profile.max_tokens_limit)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            return _bad(f"`max_tokens` must be an integer >= 1, got {max_tokens!r}.", "max_tokens")
        if max_tokens > self.profile.max_tokens_limit:
            return _bad(
                f"`max_tokens` {max_tokens} is above this server's limit of "
                f"{self.profile.max_tokens_limit}.",
                "max_tokens",
            )
        sampling: dict[str, Any] = {}
        temperature = body.get("temperature")
        if temperature is not None:
            if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
                return _bad("`temperature` must be a number from 0 to 2.", "temperature")
            if temperature > 0:
                top_p = body.get("top_p", 1.0)
                sampling = {"do_sample": True, "temperature": float(temperature), "top_p": top_p}
                if isinstance(body.get("seed"), int):
                    sampling["seed"] = body["seed"]
        stream = body.get("stream") is True
        options = body.get("stream_options") or {}
        return {
            "messages": messages,
            "max_tokens": max_tokens,
            "sampling": sampling,
            "stream": stream,
            "include_usage": stream
            and isinstance(options, dict)
            and options.get("include_usage") is True,
        }

    async def _chat_once(self, parsed: dict[str, Any], cold_ms: float) -> Any:
        loop = asyncio.get_running_loop()
        runner = self.chat_runner
        cancel = threading.Event()
        self._cancels.add(cancel)

        def on_text(piece: str) -> None:
            if cancel.is_set():
                raise _Cancelled

        try:
            result = await loop.run_in_executor(
                self._executor,
                lambda: runner.generate(
                    parsed["messages"], parsed["max_tokens"], on_text=on_text, **parsed["sampling"]
                ),
            )
        except InvalidInputError as exc:
            return _bad(str(exc), None)
        except _Cancelled:
            return _stopping()
        finally:  # a client that went away (the handler is cancelled) stops the generation
            cancel.set()
            self._cancels.discard(cancel)
        self.counters["completed"] += 1
        return _json_response(
            {
                "id": _completion_id(),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.chat_model,
                "system_fingerprint": None,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.text},
                        "logprobs": None,
                        "finish_reason": result.finish_reason,
                    }
                ],
                "usage": _usage(result.prompt_tokens, result.tokens),
            },
            headers={"x-workbench-cold-start-ms": f"{cold_ms:g}"},
        )

    async def _chat_stream(self, request: Any, parsed: dict[str, Any], *, truncate: bool) -> Any:
        web = require_aiohttp().web

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        self._cancels.add(cancel)
        runner = self.chat_runner

        def put(item: tuple[str, float, Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def on_text(piece: str) -> None:
            if cancel.is_set():
                raise _Cancelled
            put(("piece", time.monotonic(), piece))

        def work() -> None:
            try:
                result = runner.generate(
                    parsed["messages"], parsed["max_tokens"], on_text=on_text, **parsed["sampling"]
                )
                put(("end", time.monotonic(), result))
            except BaseException as exc:  # handed to the event loop, which answers for it
                put(("error", time.monotonic(), exc))

        job = loop.run_in_executor(self._executor, work)
        try:
            kind, produced, value = await queue.get()
            if kind == "error":
                if isinstance(value, InvalidInputError):
                    return _bad(str(value), None)
                if isinstance(value, _Cancelled):
                    return _stopping()
                raise value
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            try:
                return await self._write_stream(
                    response, request, parsed, queue, truncate, cancel, produced, value
                )
            except (ConnectionError, _Cancelled):  # the client went away, or the server stops
                cancel.set()
                return response
        finally:
            cancel.set()
            self._cancels.discard(cancel)
            with contextlib.suppress(BaseException):
                await job

    async def _write_stream(
        self,
        response: Any,
        request: Any,
        parsed: dict[str, Any],
        queue: asyncio.Queue,
        truncate: bool,
        cancel: threading.Event,
        produced: float,
        value: Any,
    ) -> Any:
        """Send the SSE stream: a role chunk, content chunks as pieces arrive, the end."""
        one_way = _ONE_WAY_S.get()
        kind = "piece"
        if one_way > 0:  # the response travels back: everything arrives one way later
            await asyncio.sleep(max(0.0, produced + one_way - time.monotonic()))
        await response.prepare(request)
        chunk_id, created = _completion_id(), int(time.time())
        usage_null = {"usage": None} if parsed["include_usage"] else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            data = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.chat_model,
                "system_fingerprint": None,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
                **usage_null,
            }
            return _sse(data)

        # Each write is a packet (TCP_NODELAY): the role chunk rides with the first piece, and
        # pieces that queued up while the last write was in flight go out together.
        pending = chunk({"role": "assistant", "content": ""})
        sent = 0
        cut_after = max(1, parsed["max_tokens"] // 2)
        while True:
            if kind == "piece":
                if one_way > 0:
                    await asyncio.sleep(max(0.0, produced + one_way - time.monotonic()))
                pending += chunk({"content": value})
                sent += 1
                if truncate and sent >= cut_after:
                    break
                if queue.empty() or one_way > 0:
                    await response.write(pending)
                    pending = b""
            elif kind == "end":
                break
            else:
                raise value
            kind, produced, value = await queue.get()
        if pending:
            await response.write(pending)
        if truncate:
            cancel.set()
            _abort(request)
            return response
        result = value
        tail = chunk({}, result.finish_reason)
        if parsed["include_usage"]:
            tail += _sse(
                {
                    "id": chunk_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": self.chat_model,
                    "system_fingerprint": None,
                    "choices": [],
                    "usage": _usage(result.prompt_tokens, result.tokens),
                }
            )
        await response.write_eof(tail + b"data: [DONE]\n\n")
        self.counters["completed"] += 1
        return response

    async def _embeddings(self, request: Any) -> Any:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return body
        if self.embedding_runner is None:
            return _bad("This server has no embedding model; it serves chat only.", "model", 404)
        model = body.get("model")
        if model != self.embedding_model:
            return _bad(
                f"The model {model!r} does not exist here; the embedding model is "
                f"{self.embedding_model!r}.",
                "model",
                404,
                code="model_not_found",
            )
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return _bad(
                "`input` must be a string or a non-empty list of strings (token arrays are not "
                "supported here).",
                "input",
            )
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return _bad("`encoding_format` must be 'float' or 'base64'.", "encoding_format")
        fault = self._draw_fault(False)
        if fault is not None:
            return await self._fault_response(request, fault)
        async with self._slot() as cold_ms:
            if cold_ms is None:
                return _overloaded()
            runner = self.embedding_runner
            loop = asyncio.get_running_loop()
            vectors, tokens = await loop.run_in_executor(
                self._executor, lambda: (runner.embed(texts), _count_tokens(runner, texts))
            )
        self.counters["completed"] += 1
        data = [
            {"object": "embedding", "index": i, "embedding": _encode_vector(v, encoding)}
            for i, v in enumerate(vectors)
        ]
        return _json_response(
            {
                "object": "list",
                "data": data,
                "model": self.embedding_model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            headers={"x-workbench-cold-start-ms": f"{cold_ms:g}"},
        )


def _read_server_key(env: str | None) -> str | None:
    if env is None:
        return None
    value = os.environ.get(env, "")
    if not value:
        raise ServerStartError(
            f"The server was told to require the API key in the environment variable {env}, "
            f"but {env} is not set (or is empty). Set it first, e.g. `export {env}=...`, or "
            "start the server without --api-key-env."
        )
    return value


def _messages(value: Any) -> list[dict[str, str]] | str:
    """Chat messages as role/content strings, or the reason they are not acceptable."""
    problem = (
        "`messages` must be a non-empty list of {'role': ..., 'content': ...} objects whose "
        "content is text (a string or a list of {'type': 'text', 'text': ...} parts)."
    )
    if not isinstance(value, list) or not value:
        return problem
    messages = []
    for message in value:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return problem
        content = message.get("content")
        if isinstance(content, list):
            parts = [p.get("text") for p in content if isinstance(p, dict)]
            if not all(isinstance(p, str) for p in parts) or len(parts) != len(content):
                return problem
            content = "".join(parts)
        if not isinstance(content, str):
            return problem
        messages.append({"role": message["role"], "content": content})
    return messages


def _count_tokens(runner: Any, texts: list[str]) -> int:
    limit = getattr(getattr(runner, "pooling", None), "max_seq_length", None)
    encoded = runner.tokenizer(texts, truncation=limit is not None, max_length=limit)
    return int(sum(len(ids) for ids in encoded["input_ids"]))


def _encode_vector(vector: np.ndarray, encoding: str) -> Any:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": int(prompt),
        "completion_tokens": int(completion),
        "total_tokens": int(prompt + completion),
    }


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    web = require_aiohttp().web

    return web.json_response(data, status=status, headers=headers)


def _bad(message: str, param: str | None, status: int = 400, code: str | None = None) -> Any:
    kind = "invalid_request_error"
    return _json_response(_error_body(message, kind, code=code, param=param), status=status)


def _stopping() -> Any:
    return _json_response(
        _error_body("The server is stopping.", "server_error", code="stopping"), status=503
    )


def _overloaded() -> Any:
    return _json_response(
        _error_body(
            "The server is overloaded: every slot is busy and the queue is full. Retry later.",
            "server_error",
            code="overloaded",
        ),
        status=503,
        headers={"Retry-After": "1"},
    )


async def _json_body(request: Any) -> Any:
    """The request's JSON object, or the 400 response to send instead."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _bad("The request body is not valid JSON.", None)
    if not isinstance(body, dict):
        return _bad("The request body must be a JSON object.", None)
    return body


def _abort(request: Any) -> None:
    """Close the connection at once, with no (further) response bytes."""
    transport = request.transport
    if transport is not None:
        transport.abort()


# ---------------------------------------------------------------------------------------------
# Running it


def check_host(host: str, allow_remote: bool = False) -> None:
    """Refuse to bind anything but loopback unless ``allow_remote``.

    Raises
    ------
    InvalidInputError
        Naming the host and the flag that allows it.
    """
    if host in LOCAL_HOSTS:
        return
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            return
    if not allow_remote:
        raise InvalidInputError(
            f"`host` {host!r} would expose the server beyond this machine. The loopback cloud "
            "binds 127.0.0.1 only; pass --allow-remote (allow_remote=True) if you really mean to "
            "serve other machines, ideally with --api-key-env."
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ServerStartError(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}). Choose another --port "
            "(0 picks a free one) or stop what uses it."
        ) from exc
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


async def _start(server: CloudServer, sock: socket.socket) -> Any:
    web = require_aiohttp().web

    runner = web.AppRunner(
        server.make_app(),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=1.0,
        handler_cancellation=True,
    )
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


def serve(
    chat_model: Any = DEFAULT_CHAT_MODEL,
    embedding_model: Any = DEFAULT_EMBEDDING_MODEL,
    profile: ServiceProfile | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    allow_remote: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the loopback cloud in this thread until interrupted (Ctrl-C).

    Parameters
    ----------
    chat_model, embedding_model
        Aliases, paths or loaded runners; ``None`` leaves that endpoint out.
    profile
        The service profile (default: no delays, no limits, no faults).
    host, port
        Where to listen; ``port=0`` picks a free port.
    allow_remote
        Allow a host other than loopback.
    on_ready
        Called with the base URL (``http://127.0.0.1:8000/v1``) once the server listens.

    Raises
    ------
    ServerStartError
        When the port cannot be bound or the API key variable is unset.
    """
    check_host(host, allow_remote)
    server = CloudServer(chat_model, embedding_model, profile)
    sock = _bind(host, port)

    async def main() -> None:
        runner = await _start(server, sock)
        try:
            if on_ready:
                on_ready(_base_url(sock))
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    finally:
        sock.close()


class BackgroundServer:
    """An aiohttp application served on loopback from a background thread.

    ``with BackgroundServer(make_app) as base_url:`` binds 127.0.0.1 on a free port, serves the
    application that ``make_app()`` returns from a thread with its own event loop, yields
    ``http://127.0.0.1:PORT/v1``, and stops the server when the block ends.
    """

    def __init__(
        self, make_app: Callable[[], Any], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        check_host(host)
        self._make_app = make_app
        self.host, self.port = host, port
        self.base_url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url or 'stopped'}>"

    def start(self) -> str:
        """Start the server thread; returns the base URL."""
        if self._thread is not None:
            raise InvalidInputError(
                f"This {type(self).__name__} is already running; stop() it first."
            )
        sock = _bind(self.host, self.port)
        self._ready.clear()
        self._failure = None
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name="loopback-server", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            self._thread = None
            raise ServerStartError(
                f"The server failed to start: {self._failure}"
            ) from self._failure
        self.base_url = _base_url(sock)
        return self.base_url

    def _run(self, sock: socket.socket) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            web = require_aiohttp().web
            runner = web.AppRunner(
                self._make_app(),
                access_log=None,
                handle_signals=False,
                shutdown_timeout=1.0,
                handler_cancellation=True,
            )
            try:
                await runner.setup()
                await web.SockSite(runner, sock).start()
            except BaseException as exc:
                self._failure = exc
                self._ready.set()
                await runner.cleanup()
                return
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await runner.cleanup()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        self._thread = None
        self.base_url = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LoopbackCloud(BackgroundServer):
    """The loopback cloud in a background thread, for tests and notebooks.

    ``with LoopbackCloud(chat_model=..., profile=...) as base_url:`` starts the server on
    127.0.0.1 on a free port and yields its base URL (``http://127.0.0.1:PORT/v1``, what the
    ``openai`` client takes as ``base_url``); leaving the block stops it. ``counters`` tells what
    the server did (requests, rate_limited, faults_..., cold_starts).

    Parameters
    ----------
    chat_model, embedding_model
        Aliases or paths to load, loaded runners, or ``None`` to leave that endpoint out.
    profile
        The service profile (default: no delays, no limits, no faults).
    """

    def __init__(
        self,
        chat_model: Any = DEFAULT_CHAT_MODEL,
        embedding_model: Any = DEFAULT_EMBEDDING_MODEL,
        profile: ServiceProfile | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        check_host(host)
        self.server = CloudServer(chat_model, embedding_model, profile)
        super().__init__(self.server.make_app, host=host, port=port)

    def __repr__(self) -> str:
        return f"<LoopbackCloud {self.base_url or 'stopped'} {self.server!r}>"

    @property
    def counters(self) -> dict[str, int]:
        """A copy of the server's counters."""
        return dict(self.server.counters)

    def stop(self) -> None:
        """Stop the server (running generations end at their next token) and its thread."""
        self.server.cancel_all()
        super().stop()


__all__ = [
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_EMBEDDING_MODEL",
    "FAULT_KINDS",
    "BackgroundServer",
    "CloudServer",
    "LoopbackCloud",
    "ServerStartError",
    "ServiceProfile",
    "TokenBucket",
    "check_host",
    "serve",
]
