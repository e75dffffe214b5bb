"""The loopback cloud: the official openai client works against it unchanged, and its profile holds."""

from __future__ import annotations

import base64
import concurrent.futures
import time

import numpy as np
import openai
import pytest

from workbench.cloud.server import (
    CloudServer,
    LoopbackCloud,
    ServerStartError,
    ServiceProfile,
    TokenBucket,
    check_host,
)
from workbench.kit.errors import InvalidInputError

MESSAGES = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def cloud(tiny_llama, tiny_bert):
    """A loopback cloud with no delays, serving tiny-llama and tiny-bert."""
    server = LoopbackCloud(tiny_llama, tiny_bert)
    with server:
        yield server


@pytest.fixture(scope="module")
def client(cloud):
    """The official openai client pointed at the loopback cloud, without its own retries."""
    return openai.OpenAI(base_url=cloud.base_url, api_key="unused", max_retries=0)


def test_the_base_url_is_loopback_and_ends_in_v1(cloud):
    """The server listens on 127.0.0.1 and hands out an OpenAI-style base URL."""
    assert cloud.base_url.startswith("http://127.0.0.1:") and cloud.base_url.endswith("/v1")


def test_models_lists_the_chat_and_embedding_models(client):
    """GET /v1/models names both served models."""
    assert {m.id for m in client.models.list()} == {"tiny-llama", "tiny-bert"}


def test_non_streamed_chat_reports_usage_counted_by_the_tokenizer(client, tiny_llama):
    """A chat completion has a message and usage equal to the tokenizer's counts."""
    # Prepare
    expected = tiny_llama.generate(MESSAGES, 6)
    # Execute
    answer = client.chat.completions.create(model="tiny-llama", messages=MESSAGES, max_tokens=6)
    # Assert
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.content == expected.text
    assert answer.usage.completion_tokens == expected.tokens
    assert answer.usage.prompt_tokens == expected.prompt_tokens
    assert answer.usage.total_tokens == expected.prompt_tokens + expected.tokens


def test_streamed_chat_arrives_in_chunks_with_usage_last(client, tiny_llama):
    """A streamed chat gives chat.completion.chunk objects and, when asked, a final usage chunk."""
    expected = tiny_llama.generate(MESSAGES, 6)
    stream = client.chat.completions.create(
        model="tiny-llama",
        messages=MESSAGES,
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == expected.text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == expected.tokens
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_a_stream_without_include_usage_carries_no_usage(client):
    """Without stream_options.include_usage no chunk carries usage."""
    chunks = list(
        client.chat.completions.create(
            model="tiny-llama", messages=MESSAGES, max_tokens=3, stream=True
        )
    )
    assert all(c.usage is None for c in chunks)


def test_embeddings_match_the_model_with_the_clients_default_encoding(client, tiny_bert):
    """Embeddings through the openai client (base64 on the wire) equal the model's own."""
    texts = ["a small test", "another sentence"]
    answer = client.embeddings.create(model="tiny-bert", input=texts)
    got = np.array([d.embedding for d in answer.data], dtype=np.float32)
    np.testing.assert_allclose(got, tiny_bert.embed(texts), atol=1e-6)
    assert answer.usage.prompt_tokens > 0


def test_embeddings_as_floats_have_the_models_dimension(client, tiny_bert):
    """encoding_format='float' gives lists of floats of the model's size."""
    answer = client.embeddings.create(model="tiny-bert", input="hello", encoding_format="float")
    assert len(answer.data[0].embedding) == tiny_bert.embed(["hello"]).shape[1]


def test_an_unknown_model_is_a_404_naming_the_served_model(client):
    """Asking for a model the server lacks gives 404 with the model it has."""
    with pytest.raises(openai.NotFoundError, match="tiny-llama"):
        client.chat.completions.create(model="gpt-x", messages=MESSAGES)


def test_bad_messages_are_a_400_not_a_crash(client):
    """Malformed messages give 400 with an OpenAI-style error."""
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="tiny-llama", messages=[{"role": "user"}])


def test_a_required_key_missing_gives_401_with_an_openai_error_body(tiny_llama, monkeypatch):
    """With api_key_env set, a request with the wrong key gets 401 and code invalid_api_key."""
    monkeypatch.setenv("WB_SERVER_KEY", "sk-server-side-key-42")
    with LoopbackCloud(tiny_llama, None, ServiceProfile(api_key_env="WB_SERVER_KEY")) as url:
        wrong = openai.OpenAI(base_url=url, api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            wrong.chat.completions.create(model="tiny-llama", messages=MESSAGES, max_tokens=2)
        right = openai.OpenAI(base_url=url, api_key="sk-server-side-key-42", max_retries=0)
        answer = right.chat.completions.create(model="tiny-llama", messages=MESSAGES, max_tokens=2)
    assert caught.value.code == "invalid_api_key"
    assert "sk-wrong" not in str(caught.value)
    assert answer.usage.completion_tokens >= 1


def test_a_server_told_to_require_an_unset_key_refuses_to_start(tiny_llama, monkeypatch):
    """api_key_env naming an unset variable stops the start with the variable's name."""
    monkeypatch.delenv("WB_UNSET_KEY", raising=False)
    with pytest.raises(ServerStartError, match="WB_UNSET_KEY"):
        LoopbackCloud(tiny_llama, None, ServiceProfile(api_key_env="WB_UNSET_KEY"))


def test_the_rate_limit_answers_429_with_retry_after(tiny_llama):
    """Beyond the burst, requests get 429 and a Retry-After header in whole seconds."""
    cloud = LoopbackCloud(tiny_llama, None, ServiceProfile(rate_limit_rps=0.5, rate_limit_burst=1))
    with cloud as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        client.chat.completions.create(model="tiny-llama", messages=MESSAGES, max_tokens=1)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="tiny-llama", messages=MESSAGES, max_tokens=1)
    assert int(caught.value.response.headers["Retry-After"]) >= 1
    assert cloud.counters["rate_limited"] == 1


def test_a_full_queue_answers_503(tiny_llama):
    """With one slot and no queue, a request arriving while another runs gets 503."""
    cloud = LoopbackCloud(
        tiny_llama, None, ServiceProfile(slots=1, queue_size=0, cold_start_ms=300)
    )
    with cloud as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)

        def ask():
            try:
                client.chat.completions.create(model="tiny-llama", messages=MESSAGES, max_tokens=1)
                return 200
            except openai.APIStatusError as exc:
                return exc.status_code

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(ask)
            for _ in range(2000):  # wait until the first holds the only slot
                if cloud.counters["cold_starts"]:
                    break
                time.sleep(0.005)
            second = pool.submit(ask)
            statuses = sorted([first.result(), second.result()])
    assert statuses == [200, 503]
    assert cloud.counters["overloaded"] == 1


def test_cold_start_happens_once_then_again_after_idle(tiny_llama):
    """The first request starts cold; with idle_timeout_s=0 every later one does too."""
    warm = LoopbackCloud(tiny_llama, None, ServiceProfile(cold_start_ms=1))
    idle = LoopbackCloud(tiny_llama, None, ServiceProfile(cold_start_ms=1, idle_timeout_s=0))
    for cloud in (warm, idle):
        with cloud as url:
            client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
            for _ in range(3):
                client.chat.completions.create(model="tiny-llama", messages=MESSAGES, max_tokens=1)
    assert warm.counters["cold_starts"] == 1
    assert idle.counters["cold_starts"] == 3


def test_faults_are_injected_at_the_given_rate_and_counted(tiny_llama):
    """fault_rate=1 with http_500 makes every request a 500, counted by the server."""
    profile = ServiceProfile(fault_rate=1.0, fault_kinds=("http_500",))
    cloud = LoopbackCloud(tiny_llama, None, profile)
    with cloud as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="tiny-llama", messages=MESSAGES, max_tokens=1)
    assert cloud.counters["faults_http_500"] == 2


def test_a_region_delays_each_request_by_at_least_its_floor(tiny_llama):
    """With a region preset, a request on a reused connection takes at least the RTT floor."""
    profile = ServiceProfile(region="same-region", setup_round_trips=0)
    with LoopbackCloud(tiny_llama, None, profile) as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        client.models.list()
        began = time.perf_counter()
        client.models.list()
        elapsed_ms = (time.perf_counter() - began) * 1000
    assert elapsed_ms >= profile.network.rtt_floor_ms


def test_each_new_connection_is_counted(tiny_llama):
    """Two clients open two connections; one client reuses its connection."""
    cloud = LoopbackCloud(tiny_llama, None)
    with cloud as url:
        one = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        one.models.list()
        one.models.list()
        openai.OpenAI(base_url=url, api_key="x", max_retries=0).models.list()
    assert cloud.counters["connections"] == 2
    assert cloud.counters["requests"] == 3


def test_the_server_stops_and_its_port_closes(tiny_llama):
    """After the block, nothing listens on the port any more."""
    import socket

    with LoopbackCloud(tiny_llama, None) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_token_bucket_allows_the_burst_then_the_rate():
    """A bucket of burst 2 at 1/s grants two, then asks to wait, then refills."""
    bucket = TokenBucket(rate=1.0, burst=2)
    assert bucket.take(0.0) == 0.0 and bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == pytest.approx(1.0)
    assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(1.0) == 0.0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slots": 0}, "slots"),
        ({"queue_size": -1}, "queue_size"),
        ({"rate_limit_rps": 0}, "rate_limit_rps"),
        ({"rate_limit_burst": 0}, "rate_limit_burst"),
        ({"cold_start_ms": -5}, "cold_start_ms"),
        ({"fault_rate": 1.5}, "fault_rate"),
        ({"fault_kinds": ("explode",)}, "fault_kinds"),
        ({"region": "mars"}, "region"),
        ({"api_key_env": "sk-this is a key"}, "api_key_env"),
        ({"setup_round_trips": -1}, "setup_round_trips"),
    ],
)
def test_service_profile_validation_names_the_field(changes, field):
    """A bad ServiceProfile value is refused with a message naming the field."""
    with pytest.raises(InvalidInputError, match=f"`{field}`"):
        ServiceProfile(**changes)


def test_a_service_profile_round_trips_through_a_dict():
    """to_dict then from_dict gives the same profile."""
    profile = ServiceProfile(region="transatlantic", fault_rate=0.1, fault_kinds=("drop",))
    assert ServiceProfile.from_dict(profile.to_dict()) == profile


def test_binding_beyond_loopback_is_refused_unless_allowed():
    """Host 0.0.0.0 is refused by default, naming the flag; allowed explicitly."""
    with pytest.raises(InvalidInputError, match="--allow-remote"):
        check_host("0.0.0.0")
    check_host("0.0.0.0", allow_remote=True)
    check_host("127.0.0.2")


def test_a_chat_model_given_as_embedding_model_is_refused(tiny_llama):
    """Serving a generation model as the embedding model is refused naming the flag."""
    with pytest.raises(InvalidInputError, match="--embedding-model"):
        CloudServer(None, tiny_llama)


def test_base64_vectors_decode_to_float32(client):
    """A base64 embedding is little-endian float32 bytes, as OpenAI sends them."""
    raw = client.embeddings.with_raw_response.create(
        model="tiny-bert", input="x", encoding_format="base64"
    )
    vector = raw.http_response.json()["data"][0]["embedding"]
    assert np.frombuffer(base64.b64decode(vector), dtype="<f4").size > 0


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/chat/completions", b"{not json", 400),
        ("/chat/completions", b"[1, 2]", 400),
        ("/embeddings", b'{"model": "tiny-bert", "input": []}', 400),
        ("/nowhere", b"{}", 404),
    ],
)
def test_bad_requests_get_openai_style_error_bodies(cloud, path, body, status):
    """Junk bodies and unknown routes get the right status and an {'error': {...}} body."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        cloud.base_url + path, data=body, headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == status
    assert "message" in json.loads(caught.value.read())["error"]


def test_a_stream_through_a_region_arrives_whole_and_no_earlier_than_the_floor(tiny_llama):
    """With a region, a streamed answer is complete and its first token waits at least the floor."""
    profile = ServiceProfile(region="same-region", setup_round_trips=1)
    with LoopbackCloud(tiny_llama, None, profile) as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        began = time.perf_counter()
        stream = client.chat.completions.create(
            model="tiny-llama", messages=MESSAGES, max_tokens=4, stream=True
        )
        first = next(iter(stream))
        first_ms = (time.perf_counter() - began) * 1000
        rest = list(stream)
    assert first.choices[0].delta.role == "assistant"
    assert rest[-1].choices[0].finish_reason in ("stop", "length")
    assert first_ms >= 2 * profile.network.rtt_floor_ms  # set-up round trip + this round trip
