"""What an eval asks of a target, one class per kind: a local model or an OpenAI-compatible
endpoint.

Both offer the same two calls, so the harness has one loop for every target:

* ``generate(prompt, max_new_tokens)`` -> :class:`Reply`: one user message, answered greedily
  (local: ``GenerationRunner.generate`` through the model's chat template; endpoint: a chat
  completion with ``temperature`` 0 and ``max_tokens``, not streamed);
* ``embed(texts)`` -> a float32 array, one row per text.

A local fp32 model and the loopback cloud serving the same model give the same answers, since
the server runs the same ``generate`` on the same messages.

An endpoint is asked once when its target is made (:meth:`EndpointTarget.check`: a one-token
answer, or one embedding), so a wrong URL, key, path or model name fails with the client's clear
error before an eval starts a run.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import numpy as np

from workbench.cloud import EndpointClient, EndpointConfig
from workbench.cloud.client import RETRYABLE, Attempt
from workbench.eval.config import EvalConfig
from workbench.kit.errors import WorkbenchError

T = TypeVar("T")
#: Texts per embeddings request when the neighbours of an embedding set are embedded.
EMBED_BATCH = 32
#: What :meth:`EndpointTarget.check` asks: answered in one token, or embedded once.
CHECK_PROMPT = "Hello"


@dataclass(frozen=True)
class Reply:
    """A generated answer: its text, the tokens it took and why it stopped."""

    text: str
    output_tokens: int | None
    finish_reason: str


class Target(Protocol):
    """What the harness needs from a target."""

    kind: str
    task: str  # "text-generation" or "embeddings"

    def generate(self, prompt: str, max_new_tokens: int) -> Reply:
        """Answer one user message greedily."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 row per text."""
        ...

    def close(self) -> None:
        """Let go of connections and threads."""
        ...


class LocalTarget:
    """A loaded model (a :class:`workbench.models.ModelRunner`, maybe a variant's)."""

    kind = "local"

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.task = runner.task

    def __repr__(self) -> str:
        return f"<LocalTarget {self.runner.info.name} {self.runner.info.dtype}>"

    def generate(self, prompt: str, max_new_tokens: int) -> Reply:
        """Greedy decoding through the chat template (a plain prompt when the model has none)."""
        out = self.runner.generate(self.runner.chat_or_prompt(prompt), max_new_tokens)
        return Reply(out.text, out.tokens, out.finish_reason)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings as the model computes them."""
        return self.runner.embed(list(texts), batch_size=EMBED_BATCH)

    def close(self) -> None:
        """Nothing to let go of."""


class _EvalClient(EndpointClient):
    """An :class:`EndpointClient` that embeds the eval's own texts (the measuring client sends
    its one prompt ``embedding_inputs`` times).

    It is made with ``keep_body=True``: the measuring client records what a request cost, and
    an eval needs what the answer said as well (``Attempt.body``).
    """

    texts: list[str] | None = None

    def payload(self) -> dict[str, Any]:
        """The measuring client's body, with ``texts`` as the input of an embeddings request."""
        body = super().payload()
        if self.config.api == "embeddings" and self.texts is not None:
            body["input"] = list(self.texts)
        return body


class _LoopThread:
    """An event loop on a thread of its own, so one connection pool serves every item, from a
    script or from inside a notebook's running loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="eval-http", daemon=True)
        self.thread.start()

    def run(self, coroutine: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class EndpointTarget:
    """An OpenAI-compatible endpoint, asked one item at a time over one connection pool.

    Parameters
    ----------
    config
        The eval config (base URL, model, key variable, timeout, retries).
    task
        ``"text-generation"`` (chat completions) or ``"embeddings"``.
    check
        Ask the endpoint once now (see :meth:`check`), so a bad URL, key or model fails here.

    Raises
    ------
    MissingApiKeyError
        When ``config.api_key_env`` names an unset variable (before any request).
    EndpointError
        When the check fails (the message names the URL and the fix).
    """

    kind = "endpoint"

    def __init__(self, config: EvalConfig, task: str, *, check: bool = True) -> None:
        self.task = task
        self.retries = config.retries
        self.endpoint = EndpointConfig(
            base_url=str(config.base_url),
            model=str(config.model),
            api="embeddings" if task == "embeddings" else "chat",
            api_key_env=config.api_key_env,
            stream=False,
            temperature=0.0,
            timeout_s=config.timeout_s,
        )
        self._client = _EvalClient(self.endpoint, max_connections=1, keep_body=True)
        self._loop = _LoopThread()
        try:
            self._loop.run(self._client.__aenter__())
            if check:
                self.check()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"<EndpointTarget {self.endpoint.url} model={self.endpoint.model}>"

    def check(self) -> None:
        """Ask the endpoint for the smallest answer of the target's task: :data:`CHECK_PROMPT`
        answered in one token, or embedded once (retried as items are).

        Raises
        ------
        EndpointError
            When the endpoint cannot answer: unreachable, a refused key, a wrong path or model
            name, or an answer that is not OpenAI-shaped (the message names the URL and the fix).
        """
        if self.task == "embeddings":
            self.embed([CHECK_PROMPT])
        else:
            self.generate(CHECK_PROMPT, max_new_tokens=1)

    def generate(self, prompt: str, max_new_tokens: int) -> Reply:
        """A non-streamed chat completion at temperature 0 (greedy) and ``max_tokens``."""
        body, attempt = self._ask(
            replace(self.endpoint, prompt=prompt, max_new_tokens=max_new_tokens)
        )
        choice = body["choices"][0]
        text = choice["message"].get("content") or ""
        return Reply(text.strip(), attempt.output_tokens, str(choice.get("finish_reason") or ""))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, :data:`EMBED_BATCH` per request."""
        rows: list[np.ndarray] = []
        texts = list(texts)
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start : start + EMBED_BATCH]
            self._client.texts = batch
            body, _ = self._ask(replace(self.endpoint, embedding_inputs=len(batch)))
            data = sorted(body["data"], key=lambda item: item.get("index", 0))
            rows += [_vector(item["embedding"]) for item in data]
        return np.stack(rows).astype(np.float32)

    def _ask(self, endpoint: EndpointConfig) -> tuple[Any, Attempt]:
        """One request, tried again on a retryable failure; the answer's body and attempt.

        Raises
        ------
        EndpointError
            When the request fails for good (the message names the URL and the fix).
        """
        self._client.config = endpoint
        for attempt_number in range(self.retries + 1):
            attempt = self._loop.run(self._client.request())
            if attempt.ok:
                return attempt.body, attempt
            if attempt.error_kind not in RETRYABLE or attempt_number == self.retries:
                break
            wait = attempt.retry_after_s
            time.sleep(min(8.0, wait if wait is not None else 0.5 * 2**attempt_number))
        raise attempt.to_error()

    def close(self) -> None:
        """Close the connection pool and its thread."""
        try:
            self._loop.run(self._client.__aexit__(None, None, None))
        finally:
            self._loop.close()


def _vector(value: Any) -> np.ndarray:
    if isinstance(value, str):  # base64 float32, as some servers send regardless
        import base64

        return np.frombuffer(base64.b64decode(value), dtype=np.float32)
    if not isinstance(value, list):
        raise WorkbenchError("The endpoint answered an embedding that is not a list of numbers.")
    return np.asarray(value, dtype=np.float32)


__all__ = ["CHECK_PROMPT", "EMBED_BATCH", "EndpointTarget", "LocalTarget", "Reply", "Target"]
