"""The OpenAI API the loopback cloud answers: ``POST /v1/chat/completions`` (streamed and not),
``POST /v1/embeddings`` and ``GET /v1/models``, backed by models loaded with
:func:`workbench.models.load_model`, so the official ``openai`` client, and any tool that speaks
the dialect, works against it unchanged.

:class:`CloudServer` holds the models and the routes; the simulated service around them (delay,
limits, faults) is its :class:`~workbench.cloud.server.emulation.ServiceEmulation`. Model
inference runs in a thread pool of ``slots`` threads, so the event loop stays responsive.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from workbench.cloud.client import require_aiohttp
from workbench.cloud.config import ServiceProfile
from workbench.cloud.server.emulation import ONE_WAY_S, ServiceEmulation
from workbench.cloud.server.profile import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_EMBEDDING_MODEL,
    load_runner,
)
from workbench.cloud.server.responses import (
    abort,
    bad_request,
    json_response,
    overloaded,
    stopping,
)
from workbench.kit.errors import InvalidInputError


class _Cancelled(Exception):
    """Raised inside the generation thread when the stream's reader has gone."""


class CloudServer:
    """The loopback cloud's models and routes; :meth:`make_app` gives the aiohttp application.

    Parameters
    ----------
    chat_model, embedding_model
        A catalog alias or path to load, an already loaded runner, or ``None`` to serve no such
        endpoint.
    profile
        The service profile.

    Raises
    ------
    ServerStartError
        When ``profile.api_key_env`` names an unset variable.
    InvalidInputError
        When a model does the other task.
    """

    def __init__(
        self,
        chat_model: Any = DEFAULT_CHAT_MODEL,
        embedding_model: Any = DEFAULT_EMBEDDING_MODEL,
        profile: ServiceProfile | None = None,
    ) -> None:
        self.profile = profile or ServiceProfile()
        # Built first: an unset key variable is refused before any model loads.
        self.service = ServiceEmulation(self.profile)
        self.chat_runner, self.chat_model = load_runner(chat_model, "text-generation")
        self.embedding_runner, self.embedding_model = load_runner(embedding_model, "embeddings")
        self._executor: ThreadPoolExecutor | None = None
        self._cancels: set[threading.Event] = set()
        self._created = int(time.time())

    def __repr__(self) -> str:
        return (
            f"<CloudServer chat={self.chat_model or None} embeddings={self.embedding_model or None}"
            f" region={self.profile.region}>"
        )

    @property
    def counters(self) -> dict[str, int]:
        """What the server did: requests, connections, completed, rate_limited, faults_..."""
        return self.service.counters

    def make_app(self) -> Any:
        """The aiohttp application serving the OpenAI-compatible routes."""
        web = require_aiohttp().web

        app = web.Application(
            middlewares=[self.service.middleware()], client_max_size=8 * 1024 * 1024
        )
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, app: Any) -> None:
        self.service.start()
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

    # -- routes -----------------------------------------------------------------------------

    async def _models(self, request: Any) -> Any:
        data = [
            {"id": name, "object": "model", "created": self._created, "owned_by": "workbench"}
            for name in (self.chat_model, self.embedding_model)
            if name
        ]
        return json_response({"object": "list", "data": data})

    async def _chat(self, request: Any) -> Any:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return body
        parsed = self._parse_chat(body)
        if not isinstance(parsed, dict):
            return parsed
        fault = self.service.draw_fault(parsed["stream"])
        if fault in ("http_500", "drop"):
            return self.service.fault_response(request, fault)
        async with self.service.slot() as cold_ms:
            if cold_ms is None:
                return overloaded()
            if parsed["stream"]:
                return await self._chat_stream(request, parsed, truncate=fault == "truncate")
            return await self._chat_once(parsed, cold_ms)

    def _parse_chat(self, body: dict[str, Any]) -> dict[str, Any] | Any:
        if self.chat_runner is None:
            return bad_request(
                "This server has no chat model; it serves embeddings only.", "model", 404
            )
        model = body.get("model")
        if model != self.chat_model:
            return bad_request(
                f"The model {model!r} does not exist here; the chat model is {self.chat_model!r}.",
                "model",
                404,
                code="model_not_found",
            )
        messages = _messages(body.get("messages"))
        if isinstance(messages, str):
            return bad_request(messages, "messages")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if max_tokens is None:
            max_tokens = min(64, self.profile.max_tokens_limit)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            return bad_request(
                f"`max_tokens` must be an integer >= 1, got {max_tokens!r}.", "max_tokens"
            )
        if max_tokens > self.profile.max_tokens_limit:
            return bad_request(
                f"`max_tokens` {max_tokens} is above this server's limit of "
                f"{self.profile.max_tokens_limit}.",
                "max_tokens",
            )
        sampling: dict[str, Any] = {}
        temperature = body.get("temperature")
        if temperature is not None:
            if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
                return bad_request("`temperature` must be a number from 0 to 2.", "temperature")
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
            return bad_request(str(exc), None)
        except _Cancelled:
            return stopping()
        finally:  # a client that went away (the handler is cancelled) stops the generation
            cancel.set()
            self._cancels.discard(cancel)
        self.counters["completed"] += 1
        return json_response(
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
                    return bad_request(str(value), None)
                if isinstance(value, _Cancelled):
                    return stopping()
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
        one_way = ONE_WAY_S.get()
        kind = "piece"
        if one_way > 0:  # the response travels back: everything arrives one way later
            await asyncio.sleep(max(0.0, produced + one_way - time.monotonic()))
        await response.prepare(request)
        chunks = _Chunks(self.chat_model, parsed["include_usage"])
        # Each write is a packet (TCP_NODELAY): the role chunk rides with the first piece, and
        # pieces that queued up while the last write was in flight go out together.
        pending = chunks.delta({"role": "assistant", "content": ""})
        sent = 0
        cut_after = max(1, parsed["max_tokens"] // 2)
        while True:
            if kind == "piece":
                if one_way > 0:
                    await asyncio.sleep(max(0.0, produced + one_way - time.monotonic()))
                pending += chunks.delta({"content": value})
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
            abort(request)
            return response
        await response.write_eof(chunks.end(value) + b"data: [DONE]\n\n")
        self.counters["completed"] += 1
        return response

    async def _embeddings(self, request: Any) -> Any:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return body
        if self.embedding_runner is None:
            return bad_request(
                "This server has no embedding model; it serves chat only.", "model", 404
            )
        model = body.get("model")
        if model != self.embedding_model:
            return bad_request(
                f"The model {model!r} does not exist here; the embedding model is "
                f"{self.embedding_model!r}.",
                "model",
                404,
                code="model_not_found",
            )
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return bad_request(
                "`input` must be a string or a non-empty list of strings (token arrays are not "
                "supported here).",
                "input",
            )
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return bad_request("`encoding_format` must be 'float' or 'base64'.", "encoding_format")
        fault = self.service.draw_fault(False)
        if fault is not None:
            return self.service.fault_response(request, fault)
        async with self.service.slot() as cold_ms:
            if cold_ms is None:
                return overloaded()
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
        return json_response(
            {
                "object": "list",
                "data": data,
                "model": self.embedding_model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            headers={"x-workbench-cold-start-ms": f"{cold_ms:g}"},
        )


class _Chunks:
    """The server-sent events of one streamed completion, all with one id and creation time."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.id, self.created = _completion_id(), int(time.time())
        self.model = model
        self.include_usage = include_usage

    def _event(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return _sse(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": None,
                "choices": choices,
                **extra,
            }
        )

    def delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        """A chunk carrying ``delta`` (``usage: null`` when usage was asked for, as OpenAI does)."""
        usage_null = {"usage": None} if self.include_usage else {}
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._event([choice], **usage_null)

    def end(self, result: Any) -> bytes:
        """The finishing chunk and, when asked for, the usage chunk."""
        tail = self.delta({}, result.finish_reason)
        if self.include_usage:
            tail += self._event([], usage=_usage(result.prompt_tokens, result.tokens))
        return tail


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


async def _json_body(request: Any) -> Any:
    """The request's JSON object, or the 400 response to send instead."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return bad_request("The request body is not valid JSON.", None)
    if not isinstance(body, dict):
        return bad_request("The request body must be a JSON object.", None)
    return body


__all__ = ["CloudServer"]
