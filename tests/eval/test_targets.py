"""What an eval reads from an endpoint: the measuring client keeps an answer's body when asked,
and an endpoint target answers with what the served model says."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from workbench.cloud.client import EndpointClient, EndpointConfig
from workbench.cloud.server import LoopbackCloud
from workbench.eval import EvalConfig
from workbench.eval.targets import EndpointTarget


@pytest.fixture(scope="module")
def cloud(tiny_llama, tiny_bert):
    """A loopback cloud serving tiny-llama (chat) and tiny-bert (embeddings)."""
    with LoopbackCloud(tiny_llama, tiny_bert) as base_url:
        yield base_url


def ask(config: EndpointConfig, **client_options):
    """One request with a fresh client made with ``client_options``; its attempt."""

    async def once():
        async with EndpointClient(config, max_connections=1, **client_options) as client:
            return await client.request()

    return asyncio.run(once())


def test_keep_body_gives_the_answer_the_server_sent(cloud, tiny_llama):
    """With keep_body=True a non-streamed answer's body holds the model's reply."""
    expected = tiny_llama.generate([{"role": "user", "content": "Hi"}], 4).text
    config = EndpointConfig(cloud, "tiny-llama", prompt="Hi", max_new_tokens=4, stream=False)

    attempt = ask(config, keep_body=True)

    assert attempt.ok
    assert attempt.body["choices"][0]["message"]["content"] == expected


def test_without_keep_body_an_attempt_holds_no_answer(cloud):
    """By default (as load tests run) an attempt records what the request cost, not the answer."""
    config = EndpointConfig(cloud, "tiny-llama", max_new_tokens=2, stream=False)

    attempt = ask(config)

    assert attempt.ok and attempt.body is None
    assert "body" not in attempt.to_dict()


def test_a_failed_attempt_keeps_no_body(cloud):
    """A refused request (unknown model) has no body even with keep_body=True."""
    config = EndpointConfig(cloud, "not-served", max_new_tokens=2, stream=False)

    attempt = ask(config, keep_body=True)

    assert not attempt.ok and attempt.error_kind == "http_4xx" and attempt.body is None


def test_endpoint_target_answers_as_the_served_model(cloud, tiny_llama):
    """EndpointTarget.generate returns the served model's greedy answer and its token count."""
    local = tiny_llama.generate(tiny_llama.chat_or_prompt("Hello there"), 3)
    config = EvalConfig(eval_set="ticket-routing", base_url=cloud, model="tiny-llama")

    target = EndpointTarget(config, "text-generation")
    try:
        reply = target.generate("Hello there", 3)
    finally:
        target.close()

    assert (reply.text, reply.output_tokens) == (local.text.strip(), local.tokens)


def test_endpoint_target_embeds_each_text_as_the_served_model(cloud, tiny_bert):
    """EndpointTarget.embed gives one row per text, equal to the local embeddings."""
    texts = ["refund my invoice", "the app crashes", "where is my parcel"]
    config = EvalConfig(eval_set="ticket-topics", base_url=cloud, model="tiny-bert")

    target = EndpointTarget(config, "embeddings")
    try:
        rows = target.embed(texts)
    finally:
        target.close()

    np.testing.assert_allclose(rows, tiny_bert.embed(texts), rtol=1e-5, atol=1e-6)
