"""The remote service the loopback cloud pretends to be: network delay, connection set-up, API key,
rate limit, slots and queue, cold start and faults.

:class:`ServiceEmulation` wraps every route (as aiohttp middleware) and lends the routes a model
slot; it counts what it did in ``counters``. Every random draw comes from generators seeded with
the profile's ``seed``, so a sequence of requests repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hmac
import math
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from workbench.cloud.client import require_aiohttp
from workbench.cloud.config import ServiceProfile
from workbench.cloud.server.profile import read_server_key
from workbench.cloud.server.responses import abort, error_body, json_response

# Half the request's sampled round trip: set by the middleware, read by a streaming handler.
ONE_WAY_S: contextvars.ContextVar[float] = contextvars.ContextVar("one_way_s", default=0.0)
COUNTERS = (
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
)


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


class ServiceEmulation:
    """The simulated service around the routes, and its counters.

    Parameters
    ----------
    profile
        How the service behaves.

    Raises
    ------
    ServerStartError
        When ``profile.api_key_env`` names an unset variable.
    """

    def __init__(self, profile: ServiceProfile) -> None:
        self.profile = profile
        self._api_key = read_server_key(profile.api_key_env)
        self._network = profile.network
        seeds = np.random.SeedSequence(profile.seed).spawn(2)
        self._delay_rng = np.random.default_rng(seeds[0])
        self._fault_rng = np.random.default_rng(seeds[1])
        self._bucket = (
            TokenBucket(profile.rate_limit_rps, profile.burst) if profile.rate_limit_rps else None
        )
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._slots: asyncio.Semaphore | None = None
        self._warm_lock: asyncio.Lock | None = None
        self._waiting = 0
        self._last_active: float | None = None
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)

    def start(self) -> None:
        """Make the slots and the warm-up lock; call inside the server's event loop."""
        self._slots = asyncio.Semaphore(self.profile.slots)
        self._warm_lock = asyncio.Lock()

    # -- the path every request takes -------------------------------------------------------

    def middleware(self) -> Any:
        """Network delay, connection set-up, API key and rate limit, around every route."""
        web = require_aiohttp().web

        @web.middleware
        async def middleware(request: Any, handler: Callable) -> Any:
            self.counters["requests"] += 1
            one_way_s = await self._travel_in(request)
            response = self._gate(request)
            if response is None:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    response = json_response(
                        error_body(exc.reason, "invalid_request_error", code=str(exc.status)),
                        status=exc.status,
                    )
            if not response.prepared and one_way_s > 0:
                await asyncio.sleep(one_way_s)
            return response

        return middleware

    async def _travel_in(self, request: Any) -> float:
        """Wait as the request travels (and its new connection is set up); returns one way, s."""
        transport = request.transport
        new_connection = transport is not None and transport not in self._connections
        if new_connection:
            self._connections.add(transport)
            self.counters["connections"] += 1
        rtt_ms = self._draw_rtt_ms()
        one_way_s = rtt_ms / 2000.0
        ONE_WAY_S.set(one_way_s)
        wait_ms = rtt_ms / 2.0
        if new_connection and self._network is not None:
            wait_ms += self._network.connection_setup_ms(
                self._delay_rng, self.profile.setup_round_trips
            )
        if wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000.0)
        return one_way_s

    def _draw_rtt_ms(self) -> float:
        if self._network is None:
            return 0.0
        return float(self._network.sample(self._delay_rng, 1)[0])

    def _gate(self, request: Any) -> Any:
        """The answer for a request refused before the model: 401, 429; ``None`` lets it in."""
        if self._api_key is not None and not self._authorized(request):
            self.counters["unauthorized"] += 1
            return json_response(
                error_body(
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
                return json_response(
                    error_body(
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

    # -- faults -----------------------------------------------------------------------------

    def draw_fault(self, streaming: bool) -> str | None:
        """The fault this request gets, if any (``truncate`` only for streams)."""
        if self.profile.fault_rate <= 0:
            return None
        hit = self._fault_rng.random() < self.profile.fault_rate
        kinds = [k for k in self.profile.fault_kinds if streaming or k != "truncate"]
        if not hit or not kinds:
            return None
        kind = kinds[int(self._fault_rng.integers(len(kinds)))]
        self.counters[f"faults_{kind}"] += 1
        return kind

    def fault_response(self, request: Any, kind: str) -> Any:
        """The answer for an injected ``http_500`` or ``drop`` (the connection is cut first)."""
        if kind == "drop":
            abort(request)
        return json_response(
            error_body("Injected fault: internal server error.", "server_error", code="injected"),
            status=500,
        )

    # -- capacity ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[float | None]:
        """Hold one model slot, yielding the cold-start delay paid (ms); ``None`` is yielded when
        the queue is full (answer 503)."""
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


__all__ = ["COUNTERS", "ONE_WAY_S", "ServiceEmulation", "TokenBucket"]
