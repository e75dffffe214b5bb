"""The measuring client: timings that add up, failures recorded with their kind, keys kept secret."""

from __future__ import annotations

import asyncio
import json
import math
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from workbench.cloud.client import (
    EndpointClient,
    EndpointConfig,
    EndpointUnreachableError,
    MissingApiKeyError,
    check_endpoint,
    parse_retry_after,
    send_once,
)
from workbench.cloud.server import BackgroundServer, LoopbackCloud, ServiceProfile
from workbench.kit.errors import InvalidInputError

SECRET = "sk-test-very-secret-123"


@pytest.fixture(scope="module")
def cloud(tiny_llama, tiny_bert):
    """A loopback cloud with no delays, serving tiny-llama and tiny-bert."""
    with LoopbackCloud(tiny_llama, tiny_bert) as base_url:
        yield base_url


def junk_app():
    """An aiohttp app whose answers are wrong in the way the first path segment says."""
    from aiohttp import web

    async def chat(request):
        mode = request.match_info["mode"]
        if mode == "not-json":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if mode == "no-choices":
            return web.json_response({"id": "x", "object": "chat.completion"})
        if mode == "slow":
            await asyncio.sleep(5)
            return web.json_response({})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if mode == "junk-stream":
            await response.write(b"data: {not json\n\n")
        if mode == "error-stream":
            await response.write(b'data: {"error": {"message": "model crashed"}}\n\n')
        await response.write_eof()  # "no-done": a clean end without data: [DONE]
        return response

    async def embeddings(request):
        return web.json_response({"data": [{"embedding": [0.1]}, {"embedding": [0.2]}]})

    app = web.Application()
    app.router.add_post("/{mode}/v1/chat/completions", chat)
    app.router.add_post("/{mode}/v1/embeddings", embeddings)
    return app


@pytest.fixture(scope="module")
def junk():
    """The root URL of a server that answers with junk."""
    with BackgroundServer(junk_app) as base_url:
        yield base_url.removesuffix("/v1")


def once(**fields):
    """Send one request with an EndpointConfig made of ``fields``."""
    return asyncio.run(send_once(EndpointConfig(**fields)))


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_streamed_chat_timings_are_consistent(cloud, tiny_llama):
    """A streamed answer has 0 < TTFT < end-to-end, tokens from usage, and a positive TPOT."""
    expected = tiny_llama.generate([{"role": "user", "content": "Hi"}], 8)
    attempt = once(base_url=cloud, model="tiny-llama", prompt="Hi", max_new_tokens=8)
    assert attempt.ok and attempt.status == 200
    assert 0 < attempt.ttft_ms < attempt.latency_ms
    assert attempt.tokens_source == "usage" and attempt.output_tokens == expected.tokens
    assert attempt.tpot_ms > 0


def test_non_streamed_chat_counts_the_whole_body_as_the_first_token(cloud):
    """Without streaming, TTFT is when the body arrived (at most the latency) and TPOT is NaN."""
    attempt = once(base_url=cloud, model="tiny-llama", stream=False, max_new_tokens=4)
    assert attempt.ok and attempt.tokens_source == "usage"
    assert 0 < attempt.ttft_ms <= attempt.latency_ms
    assert math.isnan(attempt.tpot_ms)


def test_a_stream_without_usage_counts_chunks_and_says_so(cloud):
    """When the server sends no usage, tokens are the stream's content chunks, marked so."""
    attempt = once(base_url=cloud, model="tiny-llama", include_usage=False, max_new_tokens=4)
    assert attempt.ok and attempt.tokens_source == "stream_chunks"
    assert attempt.output_tokens == attempt.chunks > 0


def test_embeddings_are_measured(cloud):
    """An embeddings request succeeds with prompt tokens from usage."""
    attempt = once(base_url=cloud, model="tiny-bert", api="embeddings", embedding_inputs=3)
    assert attempt.ok and attempt.prompt_tokens > 0 and attempt.latency_ms > 0


def test_a_second_request_reuses_the_connection(cloud):
    """Within one client the first request opens a connection and the second reuses it."""

    async def twice():
        async with EndpointClient(EndpointConfig(cloud, "tiny-llama", max_new_tokens=1)) as client:
            return [await client.request(), await client.request()]

    first, second = asyncio.run(twice())
    assert first.new_connection is True and first.connect_ms >= 0
    assert second.new_connection is False and second.connect_ms == 0


def test_an_unreachable_endpoint_is_recorded_naming_the_url():
    """A closed port gives a connection_error attempt whose message names the URL."""
    url = f"http://127.0.0.1:{closed_port()}/v1"
    attempt = once(base_url=url, model="m")
    assert not attempt.ok and attempt.status == 0
    assert attempt.error_kind == "connection_error"
    assert f"{url}/chat/completions" in attempt.error


def test_check_endpoint_raises_unreachable_naming_the_url():
    """The pre-flight check turns an unreachable endpoint into a clear error."""
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(EndpointUnreachableError, match=f"Cannot connect to {url}"):
        check_endpoint(EndpointConfig(url, "m"))


def test_401_without_a_key_tells_how_to_name_the_variable(tiny_llama, monkeypatch):
    """A server that needs a key and got none: http_401, and the fix names --api-key-env."""
    monkeypatch.setenv("WB_SERVER_KEY", SECRET)
    with LoopbackCloud(tiny_llama, None, ServiceProfile(api_key_env="WB_SERVER_KEY")) as url:
        attempt = once(base_url=url, model="tiny-llama", max_new_tokens=1)
    assert attempt.status == 401 and attempt.error_kind == "http_401"
    assert "--api-key-env" in attempt.error


def test_401_with_a_wrong_key_names_the_variable_to_set_and_hides_the_key(tiny_llama, monkeypatch):
    """A refused key: the message names the environment variable and never the key."""
    monkeypatch.setenv("WB_SERVER_KEY", "sk-the-right-one-000")
    monkeypatch.setenv("WB_TEST_KEY", SECRET)
    with LoopbackCloud(tiny_llama, None, ServiceProfile(api_key_env="WB_SERVER_KEY")) as url:
        config = EndpointConfig(url, "tiny-llama", api_key_env="WB_TEST_KEY", max_new_tokens=1)
        attempt = asyncio.run(send_once(config))
        with pytest.raises(Exception) as caught:
            check_endpoint(config)
    assert attempt.error_kind == "http_401" and "WB_TEST_KEY" in attempt.error
    assert SECRET not in attempt.error and SECRET not in str(caught.value)
    assert "WB_TEST_KEY" in str(caught.value)


def test_an_unset_key_variable_is_named_before_any_request(monkeypatch):
    """api_key_env naming an unset variable fails at once, naming it."""
    monkeypatch.delenv("WB_NOT_SET", raising=False)
    with pytest.raises(MissingApiKeyError, match="WB_NOT_SET"):
        EndpointClient(EndpointConfig("http://127.0.0.1:9/v1", "m", api_key_env="WB_NOT_SET"))


def test_the_key_is_in_no_repr(monkeypatch):
    """Neither the client's nor the config's repr shows the key's value."""
    monkeypatch.setenv("WB_TEST_KEY", SECRET)
    config = EndpointConfig("http://127.0.0.1:9/v1", "m", api_key_env="WB_TEST_KEY")
    client = EndpointClient(config)
    assert SECRET not in repr(client) and SECRET not in repr(config)
    assert SECRET not in json.dumps(config.to_dict())


def test_a_key_given_as_api_key_env_is_refused_without_echoing_it():
    """Putting the key itself where the variable name goes is refused and not repeated."""
    with pytest.raises(InvalidInputError) as caught:
        EndpointConfig("http://127.0.0.1:9/v1", "m", api_key_env=SECRET)
    assert SECRET not in str(caught.value) and "`api_key_env`" in str(caught.value)


@pytest.mark.parametrize(
    ("mode", "stream", "kind"),
    [
        ("not-json", False, "malformed_response"),
        ("no-choices", False, "malformed_response"),
        ("junk-stream", True, "malformed_response"),
        ("error-stream", True, "stream_error"),
        ("no-done", True, "truncated_stream"),
    ],
)
def test_malformed_answers_are_recorded_not_raised(junk, mode, stream, kind):
    """A junk answer becomes a failed attempt of the right kind, with status 200 kept."""
    attempt = once(base_url=f"{junk}/{mode}/v1", model="m", stream=stream)
    assert not attempt.ok and attempt.status == 200
    assert attempt.error_kind == kind and attempt.error


def test_embeddings_with_the_wrong_count_are_malformed(junk):
    """Two vectors for one input is a malformed answer."""
    attempt = once(base_url=f"{junk}/x/v1", model="m", api="embeddings")
    assert attempt.error_kind == "malformed_response" and "2 embeddings for 1" in attempt.error


def test_a_slow_answer_is_a_timeout(junk):
    """An answer slower than timeout_s is recorded as a timeout naming the limit."""
    attempt = once(base_url=f"{junk}/slow/v1", model="m", stream=False, timeout_s=0.2)
    assert attempt.error_kind == "timeout" and "0.2 s" in attempt.error


def test_retry_after_reads_seconds_dates_and_milliseconds():
    """Retry-After in seconds or as an HTTP date, or retry-after-ms, gives seconds; else None."""
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert 25 < parse_retry_after({"Retry-After": later}) <= 30
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({}) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"base_url": "127.0.0.1:8000"}, "base_url"),
        ({"model": ""}, "model"),
        ({"api": "images"}, "api"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_endpoint_config_validation_names_the_field(changes, field):
    """A bad EndpointConfig value is refused naming the field."""
    values = {"base_url": "http://127.0.0.1:8000/v1", "model": "m", **changes}
    with pytest.raises(InvalidInputError, match=f"`{field}`"):
        EndpointConfig(**values)
