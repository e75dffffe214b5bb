"""A password in --base-url (https://user:pass@host/v1) is used for requests, never recorded."""

from __future__ import annotations

import asyncio
import socket

from workbench.cloud.client import EndpointConfig, send_once
from workbench.cloud.loadgen import CloudBenchConfig, run_endpoint_benchmark
from workbench.cloud.server import BackgroundServer

PASSWORD = "pa55-w0rd-never-saved"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_config_dict_has_the_url_without_user_or_password():
    """to_dict (what run.json records) drops user:password@ but keeps host, port and path."""
    config = EndpointConfig(f"https://me:{PASSWORD}@api.example.com:8443/v1", "m")

    recorded = CloudBenchConfig(config).to_dict()

    assert recorded["endpoint"]["base_url"] == "https://api.example.com:8443/v1"
    assert PASSWORD not in str(recorded)
    assert config.has_credentials
    assert config.url == "https://api.example.com:8443/v1/chat/completions"


def test_an_error_message_holds_no_password():
    """A failed request's message names the URL without its password."""
    url = f"http://me:{PASSWORD}@127.0.0.1:{_closed_port()}/v1"

    attempt = asyncio.run(send_once(EndpointConfig(url, "m")))

    assert not attempt.ok
    assert PASSWORD not in attempt.error
    assert "http://127.0.0.1:" in attempt.error


def _auth_echo_app(seen: list[str]):
    """A chat endpoint that notes each request's Authorization header in ``seen``."""
    from aiohttp import web

    async def chat(request):
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response(
            {
                "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def test_the_run_folder_holds_no_password_but_the_server_got_it(tmp_path):
    """A cloud bench through user:pass@ sends the credentials and saves none of them."""
    seen: list[str] = []
    with BackgroundServer(lambda: _auth_echo_app(seen)) as base_url:
        url = base_url.replace("http://", f"http://me:{PASSWORD}@")
        config = CloudBenchConfig(EndpointConfig(url, "m", stream=False), max_requests=2)
        result = run_endpoint_benchmark(config, runs_dir=tmp_path)

    assert seen and all(header.startswith("Basic ") for header in seen)
    files = [p for p in (tmp_path / result.run_id).rglob("*") if p.is_file()]
    assert files
    for file in files:
        assert PASSWORD.encode() not in file.read_bytes(), file.name
