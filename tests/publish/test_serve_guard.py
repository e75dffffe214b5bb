"""`workbench serve` left running for a room: a legacy-protocol client cannot freeze it, every
route asks for the token, the kernel cap answers 503 with Retry-After, and /health starts no
kernel.

Each test publishes the decision dashboard (from a tiny-llama sample benchmark) and serves it
with ``workbench serve``, as a user would.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid

import pytest
from voila_util import (
    get,
    health,
    kernel_processes,
    serve_published_server,
    tree_rss_bytes,
)

from workbench import publish as pub
from workbench.publish.guard import KERNEL_PROTOCOL_V1, busy_page, read_header_v1
from workbench.samples.runs import SampleSettings, ensure_sample_runs

TOKEN = "workshop-token-7f3a"
KERNEL_ID = re.compile(r'kernelId": "([0-9a-f-]{36})"')


@pytest.fixture(scope="module")
def decision_app(tmp_path_factory):
    """The decision dashboard published from one tiny-llama sample benchmark."""
    work = tmp_path_factory.mktemp("guard")
    runs_dir = work / "runs"
    ids = ensure_sample_runs(
        runs_dir, kinds=("bench",), settings=SampleSettings.for_model("tiny-llama")
    )
    return pub.publish(list(ids), work / "app", runs_dir=runs_dir), ids[0]


@pytest.fixture(scope="module")
def with_token(decision_app, tmp_path_factory):
    """The app served with a token and room for four visitors."""
    app, _ = decision_app
    log = tmp_path_factory.mktemp("guard-token") / "serve.log"
    env = {"WORKBENCH_SERVE_TOKEN": TOKEN}
    with serve_published_server(app, log, "--max-kernels", "4", env=_env(env)) as server:
        yield server


@pytest.fixture(scope="module")
def one_place(decision_app, tmp_path_factory):
    """The app served with room for one visitor, no token."""
    app, _ = decision_app
    log = tmp_path_factory.mktemp("guard-cap") / "serve.log"
    with serve_published_server(app, log, "--max-kernels", "1") as server:
        yield server


def _env(extra):
    import os

    return {**os.environ, **extra}


def _status(url: str, timeout_s: float = 180) -> tuple[int, str]:
    """Status of a GET and where it redirects (redirects not followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout_s) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def _legacy_message(msg_type: str, content: dict) -> str:
    """A kernel message in the legacy (pre-v1) JSON websocket format."""
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": "s", "version": "5.3"}
    message = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
    return json.dumps({**message, "channel": "shell", "buffers": []})


# -- the header parser ----------------------------------------------------------------------------


def test_the_header_of_a_legacy_binary_message_reads_as_none_at_once():
    """The legacy format that sent Voilà's reader into a 10**17-step loop is refused outright."""
    from jupyter_server.services.kernels.connection.base import serialize_binary_message

    legacy = serialize_binary_message(
        {"header": {"msg_type": "comm_msg"}, "parent_header": {}, "content": {}, "buffers": [b"x"]}
    )

    assert int.from_bytes(legacy[:8], "little") > 10**17  # what Voilà takes as the offset count
    assert read_header_v1(legacy) is None


def test_the_header_of_a_v1_message_is_read():
    """A v1 message's header comes back as sent."""
    from jupyter_client.session import Session
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    session = Session()
    message = session.msg("comm_msg", content={"data": {}})
    parts = session.serialize(message)[1:]  # after the delimiter: signature, header, ...

    header = read_header_v1(serialize_msg_to_ws_v1(parts[1:], "iopub"))

    assert header["msg_type"] == "comm_msg"
    assert header["msg_id"] == message["header"]["msg_id"]


# -- the freeze -----------------------------------------------------------------------------------


def test_a_client_without_the_v1_subprotocol_cannot_freeze_the_server(with_token):
    """A legacy client asking for every widget's state is refused; the server keeps answering
    within a second and the memory of its process tree stays flat."""
    import websocket

    status, page = get(with_token.url + f"?token={TOKEN}")
    assert status == 200
    kernel_id = KERNEL_ID.search(page).group(1)
    time.sleep(3)  # let the kernel settle
    before = tree_rss_bytes(with_token.process.pid)
    channel = f"{with_token.url.replace('http', 'ws')}api/kernels/{kernel_id}/channels"

    # Execute
    try:
        ws = websocket.create_connection(f"{channel}?session_id=s&token={TOKEN}", timeout=5)
    except websocket.WebSocketBadStatusException as refused:
        accepted, refused_status = False, refused.status_code
    else:
        accepted, refused_status = True, None
        comm = uuid.uuid4().hex
        ws.send(_legacy_message("comm_open", {"comm_id": comm, "target_name": "jupyter.widget.control", "data": {}}))  # fmt: skip
        ws.send(_legacy_message("comm_msg", {"comm_id": comm, "data": {"method": "request_states"}}))  # fmt: skip
    answers = []
    for _ in range(8):
        time.sleep(1)
        answers.append(health(with_token.url, timeout_s=1)["status"])
    after = tree_rss_bytes(with_token.process.pid)

    # Assert
    assert (accepted, refused_status) == (False, 400)
    assert answers == ["ok"] * 8
    assert after - before < 100 * 2**20, (before, after)  # the loop grew 25-44 MB every second


def test_a_v1_client_is_let_onto_the_kernel_channel(with_token):
    """A client offering the v1 subprotocol connects (and gets it) with the token."""
    import websocket

    status, page = get(with_token.url + f"?token={TOKEN}")
    kernel_id = KERNEL_ID.search(page).group(1)
    channel = f"{with_token.url.replace('http', 'ws')}api/kernels/{kernel_id}/channels"

    ws = websocket.create_connection(
        f"{channel}?session_id=s&token={TOKEN}", timeout=10, subprotocols=[KERNEL_PROTOCOL_V1]
    )
    try:
        assert ws.getsubprotocol() == KERNEL_PROTOCOL_V1
    finally:
        ws.close()
    assert status == 200


# -- the token ------------------------------------------------------------------------------------


def test_every_route_asks_for_the_token(with_token, decision_app):
    """Without the token the page redirects to the login page and every other route (run files,
    Voilà's static files, templates, labextensions, themes, kernel API and channels, shutdown)
    answers 403; with it the page, its scripts and styles and the run files answer 200."""
    app, run_id = decision_app
    base = with_token.url
    status, page = get(base + f"?token={TOKEN}")
    assert status == 200
    kernel_id = KERNEL_ID.search(page).group(1)
    assets = sorted({u.split("?")[0] for u in re.findall(r'(?:src|href)="(/voila/[^"]+)"', page)})
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    files = [f"voila/files/runs/{run_id}/{f.name}" for f in (app / "runs" / run_id).iterdir()]
    guarded = [
        *files,
        *(a.lstrip("/") for a in assets),
        "voila/labextensions/@voila-dashboards/widgets-manager8/package.json",
        "voila/api/themes/@jupyterlab/theme-light-extension/index.css",
        f"api/kernels/{kernel_id}",
        f"api/kernels/{kernel_id}/channels",
    ]

    without = {route: _status(base + route) for route in guarded}
    page_without = _status(base)
    with_it = {route: _status(base + route + f"?token={TOKEN}") for route in guarded[:-3]}

    assert page_without[0] == 302 and page_without[1].startswith("/login"), page_without
    assert {r: s for r, (s, _) in without.items() if s not in (401, 403)} == {}
    assert {r: s for r, (s, _) in with_it.items() if s != 200} == {}
    assert _status(base + f"api/kernels/{kernel_id}?token={TOKEN}")[0] == 200
    shutdown = urllib.request.Request(base + f"voila/api/shutdown/{kernel_id}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(shutdown, data=b"", timeout=10)
    assert refused.value.code == 403


# -- kernels --------------------------------------------------------------------------------------


def test_health_answers_without_starting_a_kernel(one_place):
    """GET /health answers 200 "ok" with the kernel count, and starts no kernel."""
    pid = one_place.process.pid
    before = len(kernel_processes(pid))

    answers = [health(one_place.url) for _ in range(5)]
    time.sleep(2)

    assert [a["status"] for a in answers] == ["ok"] * 5
    assert {a["kernels"] for a in answers} == {before}
    assert len(kernel_processes(pid)) == before


def test_a_visitor_beyond_the_cap_gets_busy_retry_after(one_place):
    """With --max-kernels 1 and one page open, the next visitor gets 503, a Retry-After and a
    page that says when to retry; no second kernel starts."""
    first, _ = get(one_place.url)
    assert first == 200

    request = urllib.request.Request(one_place.url)
    with pytest.raises(urllib.error.HTTPError) as busy:
        urllib.request.urlopen(request, timeout=30)
    page = busy.value.read().decode()

    assert busy.value.code == 503
    assert int(busy.value.headers["Retry-After"]) > 0
    assert "busy" in page and f"again in {busy.value.headers['Retry-After']} s" in page
    assert health(one_place.url)["kernels"] == 1
    assert len(kernel_processes(one_place.process.pid)) == 1


def test_the_busy_page_reloads_itself_after_the_wait():
    """The busy page refreshes after Retry-After seconds and fetches nothing."""
    page = busy_page(max_kernels=3, retry_after_s=20)

    assert '<meta http-equiv="refresh" content="20">' in page
    assert "All 3 places are taken" in page
    assert "src=" not in page and "href=" not in page
