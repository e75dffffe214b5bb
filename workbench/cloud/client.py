"""A measuring client for OpenAI-compatible HTTP APIs: one request, everything it cost, no crash.

The dialect is the one OpenAI, Hugging Face Inference Endpoints (TGI), vLLM, Ollama and llama.cpp's
server speak: ``POST {base_url}/chat/completions`` (streamed as server-sent events or not) and
``POST {base_url}/embeddings``; ``base_url`` usually ends in ``/v1``, as for the ``openai`` client.

Each request becomes an :class:`Attempt`: whether it succeeded, the HTTP status, an error kind
(one of :data:`ERROR_KINDS`), connection set-up time (new or reused connection, from aiohttp's
trace hooks), time to first token, end-to-end latency, and output tokens from the server's
``usage`` (or counted from the stream's content chunks when the server gives none, and marked so).
Network errors, bad statuses and malformed bodies are recorded, never raised. A client made with
``keep_body=True`` also keeps what a successful non-streamed answer said (``Attempt.body``).

The API key is read from the environment variable named by ``api_key_env``, at the moment the
client is created; it is sent in the ``Authorization`` header and kept nowhere else: not in the
config, attempts, reprs, saved runs or error messages (any message that would hold it is redacted).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from dataclasses import dataclass, field, fields
from email.utils import parsedate_to_datetime
from typing import Any

from workbench.cloud.config import APIS, DEFAULT_PROMPT, EndpointConfig
from workbench.kit.checks import is_number
from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.kit.urls import redact_urls

ERROR_KINDS = (
    "timeout",
    "connection_error",
    "disconnected",
    "http_401",
    "http_403",
    "http_429",
    "http_4xx",
    "http_5xx",
    "malformed_response",
    "truncated_stream",
    "stream_error",
)
#: Error kinds worth another try: the server may answer next time.
RETRYABLE = frozenset({"timeout", "disconnected", "http_429", "http_5xx"})
_BODY_LIMIT = 2000


class EndpointError(WorkbenchError):
    """A request to an endpoint that failed in a way the user must fix (see the message)."""


class EndpointUnreachableError(EndpointError):
    """No connection could be made to the endpoint's URL."""


class EndpointAuthError(EndpointError):
    """The endpoint refused the API key (401/403), or needs one and none was sent."""


class MissingApiKeyError(EndpointError):
    """``api_key_env`` names an environment variable that is not set."""


@dataclass
class Attempt:
    """One HTTP request and what it cost. Times are ``time.perf_counter()`` seconds.

    ``ttft_at`` is when the first content token arrived (for a non-streamed answer: when the
    whole body had arrived, since that is when a user sees the first token).

    ``body`` is the parsed JSON of a successful non-streamed answer when the client was made
    with ``keep_body=True`` (``None`` otherwise): what the endpoint said, for callers that need
    the answer as well as its cost, such as an eval.
    """

    ok: bool
    status: int = 0
    error_kind: str = ""
    error: str = ""
    started_at: float = math.nan
    ended_at: float = math.nan
    ttft_at: float = math.nan
    new_connection: bool | None = None
    connect_ms: float = math.nan
    output_tokens: int | None = None
    prompt_tokens: int | None = None
    tokens_source: str = ""
    chunks: int = 0
    streamed: bool = False
    retry_after_s: float | None = None
    body: Any = field(default=None, repr=False, compare=False)

    @property
    def latency_ms(self) -> float:
        """End-to-end time of this request."""
        return (self.ended_at - self.started_at) * 1000.0

    @property
    def ttft_ms(self) -> float:
        """Time to first token of this request (NaN when none arrived)."""
        return (self.ttft_at - self.started_at) * 1000.0

    @property
    def tpot_ms(self) -> float:
        """Time per output token after the first: (end - first token) / (tokens - 1).

        NaN unless the answer was streamed with at least two tokens: a non-streamed answer
        arrives all at once, so it says nothing about the pace of decoding.
        """
        if not (self.ok and self.streamed) or not self.output_tokens or self.output_tokens < 2:
            return math.nan
        return (self.ended_at - self.ttft_at) * 1000.0 / (self.output_tokens - 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, the derived times included; ``body`` is left out (it is what the
        endpoint said, not what the request cost)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "body"}
        data.update(latency_ms=self.latency_ms, ttft_ms=self.ttft_ms, tpot_ms=self.tpot_ms)
        return data

    def to_error(self) -> EndpointError:
        """The attempt's failure as an exception to raise (unreachable, auth or other)."""
        if self.error_kind == "connection_error":
            return EndpointUnreachableError(self.error)
        if self.error_kind in ("http_401", "http_403"):
            return EndpointAuthError(self.error)
        return EndpointError(self.error or "The request failed.")


def require_aiohttp() -> Any:
    """The ``aiohttp`` module, or an error with the command that installs it."""
    try:
        import aiohttp
        import aiohttp.web
    except ImportError as exc:
        raise WorkbenchError(
            "The cloud client and the loopback cloud need aiohttp, which is not installed: "
            "run `pip install aiohttp` (the `openai` package is optional, for its own client)."
        ) from exc
    return aiohttp


def read_api_key(api_key_env: str | None) -> str | None:
    """The API key from the environment variable named ``api_key_env`` (``None``: no key).

    Raises
    ------
    MissingApiKeyError
        When the variable is not set or empty; the message names it, never a value.
    """
    if api_key_env is None:
        return None
    value = os.environ.get(api_key_env, "")
    if not value.strip():
        raise MissingApiKeyError(
            f"The environment variable {api_key_env} is not set (or empty), but api_key_env "
            f"names it as the holder of the API key. Set it first (`export {api_key_env}=...` in "
            "a terminal, or a .env file your notebook loads); the key is never stored in configs "
            "or runs."
        )
    return value.strip()


class EndpointClient:
    """Send measured requests to one endpoint over a shared connection pool.

    Use it as ``async with EndpointClient(config) as client: attempt = await client.request()``.

    Parameters
    ----------
    config
        The endpoint and request.
    max_connections
        Connections kept open at once (more concurrent requests wait for one).
    keep_body
        Keep the parsed JSON of each successful non-streamed answer in its
        :attr:`Attempt.body` (a streamed answer keeps none). Off by default: a load test needs
        what a request cost, not what it said.

    Raises
    ------
    MissingApiKeyError
        When ``config.api_key_env`` names an unset variable.
    """

    def __init__(
        self, config: EndpointConfig, *, max_connections: int = 100, keep_body: bool = False
    ) -> None:
        self.config = config
        self.keep_body = keep_body
        self._key = read_api_key(config.api_key_env)
        self._max_connections = max_connections
        self._session: Any = None

    def __repr__(self) -> str:
        key = f" api_key_env={self.config.api_key_env}" if self.config.api_key_env else ""
        return f"<EndpointClient {self.config.url} model={self.config.model}{key}>"

    async def __aenter__(self) -> EndpointClient:
        aiohttp = require_aiohttp()

        trace = aiohttp.TraceConfig()
        trace.on_connection_create_start.append(_trace_mark("connect_start"))
        trace.on_connection_create_end.append(_trace_mark("connect_end"))
        trace.on_connection_reuseconn.append(_trace_mark("reused"))
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_connections),
            timeout=aiohttp.ClientTimeout(total=None),
            trace_configs=[trace],
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _redact(self, text: str) -> str:
        """``text`` without the API key or any URL's ``user:password@`` (errors get saved)."""
        text = redact_urls(text)
        return text.replace(self._key, "[redacted]") if self._key else text

    def payload(self) -> dict[str, Any]:
        """The JSON body the configured request sends."""
        config = self.config
        if config.api == "embeddings":
            return {
                "model": config.model,
                "input": [config.prompt] * config.embedding_inputs,
                "encoding_format": "float",
            }
        body: dict[str, Any] = {
            "model": config.model,
            "messages": [{"role": "user", "content": config.prompt}],
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "stream": config.stream,
        }
        if config.stream and config.include_usage:
            body["stream_options"] = {"include_usage": True}
        return body

    async def request(self) -> Attempt:
        """Send the configured request once and measure it; failures come back as an Attempt."""
        if self._session is None:
            raise InvalidInputError("Use the client inside `async with EndpointClient(...)`.")
        attempt = Attempt(ok=False)
        trace_ctx: dict[str, Any] = {}
        attempt.started_at = time.perf_counter()
        try:
            async with asyncio.timeout(self.config.timeout_s):
                await self._send(attempt, trace_ctx)
        except TimeoutError:
            _fail(
                attempt,
                "timeout",
                f"{self.config.url} did not finish answering within {self.config.timeout_s:g} s "
                "(timeout_s).",
            )
        except Exception as exc:  # every network failure is a recorded result
            kind, message = self._describe_exception(exc, attempt)
            _fail(attempt, kind, message)
        attempt.ended_at = time.perf_counter()
        _connection_times(attempt, trace_ctx)
        attempt.error = self._redact(attempt.error)
        return attempt

    async def _send(self, attempt: Attempt, trace_ctx: dict[str, Any]) -> None:
        async with self._session.post(
            self.config.request_url,
            json=self.payload(),
            headers=self._headers(),
            trace_request_ctx=trace_ctx,
        ) as response:
            attempt.status = response.status
            if response.status != 200:
                text = await _read_limited(response)
                self._http_error(attempt, response, text)
                return
            content_type = response.headers.get("Content-Type", "")
            if self.config.api == "chat" and self.config.stream and "json" not in content_type:
                await self._read_stream(attempt, response)
            else:
                text = await response.text(errors="replace")
                attempt.ttft_at = time.perf_counter()
                self._parse_body(attempt, text)

    def _describe_exception(self, exc: Exception, attempt: Attempt) -> tuple[str, str]:
        aiohttp = require_aiohttp()

        url = self.config.url
        if attempt.status == 200:  # the answer had begun: it was cut short
            return (
                "truncated_stream",
                f"{url} closed the connection mid-answer, after {attempt.chunks} content chunks "
                f"({type(exc).__name__}): the answer was cut short.",
            )
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return (
                "disconnected",
                f"{url} closed the connection without answering (the server dropped it).",
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = getattr(exc.os_error, "strerror", None) or str(exc.os_error or exc)
            return (
                "connection_error",
                f"Cannot connect to {url} ({reason}). Check that the server is running and that "
                "the base URL (host, port, http/https) is right.",
            )
        if isinstance(exc, (aiohttp.ClientError, OSError)):
            return "connection_error", f"Connection to {url} failed ({type(exc).__name__}: {exc})."
        return "malformed_response", f"{url} gave an answer that could not be read ({exc})."

    def _http_error(self, attempt: Attempt, response: Any, text: str) -> None:
        status, url = response.status, self.config.url
        server_says = _server_message(text)
        said = f" ({server_says})" if server_says else ""
        if status in (401, 403):
            env = self.config.api_key_env
            fix = (
                f"Set the environment variable {env} to a valid API key for this endpoint."
                if env
                else "This endpoint needs an API key: put it in an environment variable and name "
                "that variable with --api-key-env NAME (api_key_env in the config)."
            )
            _fail(attempt, f"http_{status}", f"{url} answered {status}{said}. {fix}")
        elif status == 429:
            attempt.retry_after_s = parse_retry_after(response.headers)
            wait = (
                f" Retry-After: {attempt.retry_after_s:g} s."
                if attempt.retry_after_s is not None
                else ""
            )
            _fail(attempt, "http_429", f"{url} answered 429 Too Many Requests{said}.{wait}")
        elif status >= 500:
            attempt.retry_after_s = parse_retry_after(response.headers)
            _fail(attempt, "http_5xx", f"{url} answered {status} (server error){said}.")
        else:
            hint = (
                " Check the model name, and that the base URL ends where the API's paths start "
                "(usually /v1)."
                if status == 404
                else ""
            )
            _fail(attempt, "http_4xx", f"{url} answered {status}{said}.{hint}")

    def _parse_body(self, attempt: Attempt, text: str) -> None:
        url = self.config.url
        try:
            body = json.loads(text)
        except ValueError:
            _fail(
                attempt,
                "malformed_response",
                f"{url} answered 200 with a body that is not JSON: {_snippet(text)}",
            )
            return
        problem = (
            _check_embeddings(body, self.config.embedding_inputs)
            if self.config.api == "embeddings"
            else _check_chat(body)
        )
        if problem:
            _fail(
                attempt, "malformed_response", f"{url} answered 200 but {problem}: {_snippet(text)}"
            )
            return
        attempt.ok = True
        if self.keep_body:
            attempt.body = body
        usage = body.get("usage")
        _take_usage(attempt, usage)
        if self.config.api == "embeddings":
            attempt.output_tokens = 0
            attempt.tokens_source = attempt.tokens_source or "none"
        elif attempt.output_tokens is None:
            attempt.tokens_source = "none"

    async def _read_stream(self, attempt: Attempt, response: Any) -> None:
        url = self.config.url
        attempt.streamed = True
        done = False
        async for raw in response.content:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line or line.startswith(":") or not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            if not self._read_event(attempt, data):
                return
        if not done:
            _fail(
                attempt,
                "truncated_stream",
                f"{url} ended the stream without 'data: [DONE]' after {attempt.chunks} content "
                "chunks: the answer may be cut short.",
            )
            return
        attempt.ok = True
        if attempt.output_tokens is None:
            attempt.output_tokens = attempt.chunks
            attempt.tokens_source = "stream_chunks"

    def _read_event(self, attempt: Attempt, data: str) -> bool:
        """Take one streamed event into ``attempt``; False (and the attempt failed) if it is bad."""
        url = self.config.url
        try:
            chunk = json.loads(data)
        except ValueError:
            problem = "streamed an event that is not JSON"
        else:
            problem = "" if isinstance(chunk, dict) else "streamed an event that is not an object"
        if not problem and "error" in chunk:
            message = _server_message(data) or _snippet(data)
            _fail(attempt, "stream_error", f"{url} reported an error mid-stream: {message}")
            return False
        if not problem and not isinstance(chunk.get("choices"), list):
            problem = "streamed a chunk without a 'choices' list"
        if problem:
            _fail(attempt, "malformed_response", f"{url} {problem}: {_snippet(data)}")
            return False
        for choice in chunk["choices"]:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str) and content:
                if math.isnan(attempt.ttft_at):
                    attempt.ttft_at = time.perf_counter()
                attempt.chunks += 1
        _take_usage(attempt, chunk.get("usage"))
        return True


def _fail(attempt: Attempt, kind: str, message: str) -> None:
    attempt.ok = False
    attempt.error_kind = kind
    attempt.error = " ".join(message.split())


def _take_usage(attempt: Attempt, usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    completion = usage.get("completion_tokens")
    prompt = usage.get("prompt_tokens")
    if isinstance(completion, int) and not isinstance(completion, bool):
        attempt.output_tokens = completion
        attempt.tokens_source = "usage"
    if isinstance(prompt, int) and not isinstance(prompt, bool):
        attempt.prompt_tokens = prompt


def _check_chat(body: Any) -> str:
    if not isinstance(body, dict):
        return "the JSON is not an object"
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return "the JSON has no 'choices' list"
    first = choices[0]
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("content"), (str, type(None))):
        return "choices[0] has no 'message' with 'content'"
    return ""


def _check_embeddings(body: Any, expected: int) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return "the JSON has no 'data' list"
    data = body["data"]
    if len(data) != expected:
        return f"it holds {len(data)} embeddings for {expected} inputs"
    for item in data:
        vector = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(vector, str):
            continue  # base64, as some servers send regardless
        if not isinstance(vector, list) or not vector or not all(is_number(v) for v in vector):
            return "an item has no numeric 'embedding'"
    return ""


def _server_message(text: str) -> str:
    """The ``error.message`` of an OpenAI-style error body, shortened; else ''."""
    try:
        body = json.loads(text)
    except ValueError:
        return _snippet(text) if text.strip() else ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return _snippet(error["message"])
    if isinstance(error, str):
        return _snippet(error)
    return ""


def _snippet(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


async def _read_limited(response: Any) -> str:
    try:
        data = await response.content.read(_BODY_LIMIT)
    except Exception:  # the error body is a nicety; the status says enough
        return ""
    return data.decode("utf-8", errors="replace")


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``.

    Returns ``None`` when neither header is present or readable.
    """
    value = headers.get("Retry-After")
    if value is not None:
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                moment = parsedate_to_datetime(value)
                seconds = moment.timestamp() - time.time()
            except (TypeError, ValueError):
                seconds = math.nan
        if math.isfinite(seconds):
            return max(0.0, seconds)
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            millis = float(value)
        except ValueError:
            return None
        if math.isfinite(millis):
            return max(0.0, millis / 1000.0)
    return None


def _trace_mark(name: str) -> Any:
    async def mark(session: Any, context: Any, params: Any) -> None:
        ctx = context.trace_request_ctx
        if isinstance(ctx, dict):
            ctx[name] = time.perf_counter()

    return mark


def _connection_times(attempt: Attempt, trace_ctx: dict[str, Any]) -> None:
    if "connect_start" in trace_ctx:
        attempt.new_connection = True
        end = trace_ctx.get("connect_end", attempt.ended_at)
        attempt.connect_ms = (end - trace_ctx["connect_start"]) * 1000.0
    elif "reused" in trace_ctx:
        attempt.new_connection = False
        attempt.connect_ms = 0.0


async def send_once(config: EndpointConfig) -> Attempt:
    """Send one request with a fresh client and return what it cost."""
    async with EndpointClient(config, max_connections=1) as client:
        return await client.request()


def check_endpoint(config: EndpointConfig) -> Attempt:
    """Send one request and raise a clear error if it failed; for a pre-flight check.

    Returns
    -------
    Attempt
        The successful attempt.

    Raises
    ------
    MissingApiKeyError, EndpointUnreachableError, EndpointAuthError, EndpointError
        With a message naming the URL (and, for keys, the environment variable to set).
    """
    from workbench.kit.aio import run_sync

    attempt = run_sync(lambda: send_once(config))
    if not attempt.ok:
        raise attempt.to_error()
    return attempt


__all__ = [
    "APIS",
    "DEFAULT_PROMPT",
    "ERROR_KINDS",
    "RETRYABLE",
    "Attempt",
    "EndpointAuthError",
    "EndpointClient",
    "EndpointConfig",
    "EndpointError",
    "EndpointUnreachableError",
    "MissingApiKeyError",
    "check_endpoint",
    "parse_retry_after",
    "read_api_key",
    "send_once",
]
