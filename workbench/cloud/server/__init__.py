"""A cloud on loopback: an OpenAI-compatible server with a configurable network and service profile.

The server answers ``POST /v1/chat/completions`` (streamed and not), ``POST /v1/embeddings`` and
``GET /v1/models`` the way OpenAI's API does (:mod:`.api`), backed by models loaded with
:func:`workbench.models.load_model`, so the official ``openai`` client works against it
unchanged. A :class:`ServiceProfile` (:mod:`.profile`) makes it behave like a remote service
(:mod:`.emulation`):

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
:mod:`.process` runs it: :func:`serve` in this thread, :class:`LoopbackCloud` in a background one.
"""

from __future__ import annotations

from workbench.cloud.server.api import CloudServer
from workbench.cloud.server.emulation import ServiceEmulation, TokenBucket
from workbench.cloud.server.process import (
    LOCAL_HOSTS,
    BackgroundServer,
    LoopbackCloud,
    check_host,
    check_port,
    serve,
)
from workbench.cloud.server.profile import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_EMBEDDING_MODEL,
    FAULT_KINDS,
    ServerStartError,
    ServiceProfile,
)

__all__ = [
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_EMBEDDING_MODEL",
    "FAULT_KINDS",
    "LOCAL_HOSTS",
    "BackgroundServer",
    "CloudServer",
    "LoopbackCloud",
    "ServerStartError",
    "ServiceEmulation",
    "ServiceProfile",
    "TokenBucket",
    "check_host",
    "check_port",
    "serve",
]
