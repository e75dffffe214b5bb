"""Dashboard links: a published dashboard opened with settings in its address starts on them,
and a setting it cannot use is named in the page, never as a traceback.

The panels are checked headless first (the link's values on the controls, the messages), then a
published decision dashboard is served with a token, as a workshop would, and opened in
Chromium with ``?token=...&scenario=...&requests_per_month=...``: once on fresh kernels (the
query in the kernel's environment) and once on a preheated one (the query handed over after the
kernel ran, through the guard's query socket).
"""

from __future__ import annotations

import re
import time
import uuid

import pandas as pd
import pytest
from decision_runs import HOST_PEAK, record_generation_run
from voila_util import ERROR_BANNER, LoopbackBrowser, screenshot, serve_published_server

from widgets.decision_dashboard import DecisionDashboard
from widgets.federated_dashboard import FederatedDashboard
from workbench import publish as pub
from workbench.runs import start_run
from workbench.samples.runs import ensure_sample_runs

TOKEN = "link-token-5c1e"
GOOD = "scenario=document_search&requests_per_month=200000"
BAD = "scenario=document_search&requests_per_month=%3Cb%3Elots%3C/b%3E&colour=red"


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)).replace("&#x27;", "'")


def _record_embedding_run(runs_dir, model: str = "minilm", p50_ms: float = 20.0) -> str:
    """A bench run of one embeddings point, 5 calls of about ``p50_ms`` (document_search's)."""
    points = {
        "model": model, "task": "embeddings", "variant": "fp32", "dtype": "float32",
        "threads": 2, "batch": 1, "seq_len": 100, "params": 22_713_216,
        "weight_bytes": 90_000_000, "p50_ms": p50_ms, "p95_ms": p50_ms * 1.2,
        "throughput_items_per_s": 1000.0 / p50_ms, "tokens_per_s": 100_000.0 / p50_ms,
        "count": 5,
    }  # fmt: skip
    samples = [
        {"point": 0, "iteration": i, "latency_ms": p50_ms * f}
        for i, f in enumerate((0.9, 1.0, 1.0, 1.1, 1.2))
    ]
    with start_run(
        "bench", {"model": model}, label=model, runs_dir=runs_dir,
        environment_extra={"host_peak": HOST_PEAK},
    ) as run:  # fmt: skip
        run.add_table("points", pd.DataFrame([points]))
        run.add_table("samples", pd.DataFrame(samples))
        run.set_summary(model=model)
    return run.id


@pytest.fixture(scope="module")
def bench_runs(tmp_path_factory):
    """An embeddings benchmark, then (the newest, so the page opens on support_chatbot) one of
    smollm2-135m: every shipped decision scenario has figures."""
    runs_dir = tmp_path_factory.mktemp("links") / "runs"
    embeddings = _record_embedding_run(runs_dir)
    time.sleep(1.1)  # run ids and "newest" go by the second
    chat = record_generation_run(runs_dir, model="smollm2-135m")
    return runs_dir, [embeddings, chat]


@pytest.fixture(scope="module")
def fed_run(tmp_path_factory):
    """The sample federated run (about a second)."""
    runs_dir = tmp_path_factory.mktemp("links-fed") / "runs"
    (run_id,) = ensure_sample_runs(runs_dir, kinds=("federated",))
    return runs_dir, run_id


# -- the panels, headless -------------------------------------------------------------------------


def test_a_decision_link_starts_on_its_scenario_and_volume(bench_runs):
    """The dropdown and the volume slider hold the link's values, and the decision is made for
    them; the page says it opened on them."""
    runs_dir, ids = bench_runs

    board = DecisionDashboard(runs_dir=str(runs_dir), run_ids=ids, link=f"token=t&{GOOD}")

    assert board.panel.scenario.value == "document_search"
    assert board.panel.requests_per_month.value == 200_000
    assert "for 200,000 requests" in _text(board.panel.answer.value)
    assert "scenario document_search, requests_per_month 200,000" in _text(board.link_note.value)
    assert "wb-error" not in board.link_note.value and board.errors.value == ""


def test_a_decision_link_without_a_scenario_keeps_the_runs_scenario(bench_runs):
    """A volume alone changes the volume on the scenario the runs choose, and scales its peak."""
    runs_dir, ids = bench_runs
    plain = DecisionDashboard(runs_dir=str(runs_dir), run_ids=ids)

    board = DecisionDashboard(runs_dir=str(runs_dir), run_ids=ids, link="requests_per_month=120000")

    assert board.panel.scenario.value == plain.panel.scenario.value == "support_chatbot"
    ratio = 120_000 / plain.panel.requests_per_month.value
    assert board.panel.peak_requests_per_s.value == pytest.approx(
        plain.panel.peak_requests_per_s.value * ratio
    )


def test_a_decision_link_with_a_bad_value_names_it_and_uses_the_rest(bench_runs):
    """The bad volume and the unknown setting are named (escaped), the scenario is still used and
    the decision still made at the scenario's own volume."""
    runs_dir, ids = bench_runs

    board = DecisionDashboard(runs_dir=str(runs_dir), run_ids=ids, link=BAD)

    note = board.link_note.value
    assert "<b>lots</b>" not in note and "&lt;b&gt;lots&lt;/b&gt;" in note
    assert "`requests_per_month` (Requests / month)" in _text(note)
    assert "a number from 100 to 1,000,000,000" in _text(note)
    assert "'colour'" in _text(note)
    assert board.panel.scenario.value == "document_search"
    assert board.panel.options_frame is not None


def test_a_federated_link_shows_its_run_with_its_settings_on_the_knobs(fed_run):
    """The run named by the start of its id is shown, the knobs hold the link's settings, and
    the status beside Rerun says what changed."""
    runs_dir, run_id = fed_run

    board = FederatedDashboard(
        runs_dir=str(runs_dir), link=f"run={run_id[:15]}&strategy=fedprox&dp_noise=0.5"
    )

    assert board.run.value == run_id
    assert (board.strategy.value, board.dp_noise.value) == ("fedprox", 0.5)
    assert "strategy FedAvg → FedProx, DP noise 0 → 0.5" in _text(board.rerun_status.value)
    assert "wb-error" not in board.link_note.value


def test_a_federated_link_to_a_run_it_does_not_have_shows_the_first_run(fed_run):
    """An unknown run is named with the runs on offer; the first one is shown and works."""
    runs_dir, run_id = fed_run

    board = FederatedDashboard(runs_dir=str(runs_dir), link="run=20990101-gone")

    assert board.run.value == run_id
    note = _text(board.link_note.value)
    assert "'20990101-gone', which is not one of this dashboard's saved runs" in note
    assert run_id in note
    assert board.saved is not None


def test_a_federated_link_to_settings_that_cannot_run_together_says_so_beside_the_knobs(fed_run):
    """Krum with DP noise is refused by the settings' own check, shown beside Rerun."""
    runs_dir, _ = fed_run

    board = FederatedDashboard(runs_dir=str(runs_dir), link="strategy=krum&dp_noise=1")

    status = _text(board.rerun_status.value)
    assert "`dp_noise`" in status and "cannot run together" in status
    assert board.saved is not None and not board.rerun_button.disabled


# -- in the browser, served with a token ----------------------------------------------------------


@pytest.fixture(scope="module")
def app(bench_runs, tmp_path_factory):
    """Both benchmarks published with the decision dashboard."""
    runs_dir, ids = bench_runs
    return pub.publish(ids, tmp_path_factory.mktemp("links-app") / "app", runs_dir=runs_dir)


def _serve(app, log, *flags):
    import os

    env = {**os.environ, "WORKBENCH_SERVE_TOKEN": TOKEN}
    return serve_published_server(app, log, *flags, env=env)


def _open_on_link(browser, url: str):
    """The page at ``url``, once the dashboard has loaded."""
    from playwright.sync_api import expect

    page = browser.page(url, height=3000)
    dashboard = page.locator(".wb-decision-dashboard")
    expect(dashboard).to_contain_text("Move the workload sliders")  # loaded
    return page, dashboard


def _assert_on_the_question(page, dashboard) -> None:
    """The scenario and the volume of :data:`GOOD` on the controls and in the answer."""
    from playwright.sync_api import expect

    scenario = page.locator(".widget-dropdown", has_text="Scenario").locator("select")
    expect(scenario.locator("option:checked")).to_have_text("document_search")
    volume = page.locator(".widget-hslider", has_text="Requests / month")
    expect(volume.locator(".widget-readout")).to_have_text("200,000")
    expect(dashboard.locator(".wb-answer")).to_contain_text("for 200,000 requests")
    expect(dashboard).to_contain_text("Opened on the settings in the page's address")
    expect(page.locator(".wb-error")).to_have_count(0)
    assert TOKEN not in dashboard.inner_text()


@pytest.fixture(scope="module")
def served(app, tmp_path_factory):
    """The app served with a token (every page on a fresh kernel)."""
    log = tmp_path_factory.mktemp("links-serve") / "serve.log"
    with _serve(app, log) as server:
        yield server


@pytest.mark.browser
def test_a_link_with_the_token_opens_the_dashboard_on_its_question(served):
    """?token=...&scenario=document_search&requests_per_month=200000: the scenario is selected,
    the slider reads 200,000 and the recommendation is priced for 200,000 requests; the token is
    not on the page."""
    with LoopbackBrowser() as browser:
        page, dashboard = _open_on_link(browser, f"{served.url}?token={TOKEN}&{GOOD}")
        _assert_on_the_question(page, dashboard)
        screenshot(page, "decision-dashboard-link.png")

    assert browser.elsewhere() == []


@pytest.mark.browser
def test_a_link_with_a_bad_value_shows_a_message_and_the_page_works(served):
    """A volume that is markup, not a number, and an unknown setting: one escaped paragraph
    each above the panel, no traceback; the scenario of the link is decided at its own volume."""
    from playwright.sync_api import expect

    with LoopbackBrowser() as browser:
        page, dashboard = _open_on_link(browser, f"{served.url}?token={TOKEN}&{BAD}")
        message = dashboard.locator(".wb-link-error")
        expect(message.locator("p")).to_have_count(2)
        expect(message).to_contain_text("`requests_per_month` (Requests / month) in the page's")
        expect(message).to_contain_text("a number from 100 to 1,000,000,000, got '<b>lots</b>'")
        expect(message).to_contain_text("'colour'")
        expect(message.locator("b")).to_have_count(0)  # shown as text, not as markup
        scenario = page.locator(".widget-dropdown", has_text="Scenario").locator("select")
        expect(scenario.locator("option:checked")).to_have_text("document_search")
        expect(dashboard.locator(".wb-answer")).to_contain_text("a month for")
        content, text = page.content(), dashboard.inner_text()

    assert ERROR_BANNER not in content and "Traceback" not in content
    assert TOKEN not in text


@pytest.mark.browser
def test_a_link_opens_a_preheated_kernel_on_its_question(app, tmp_path):
    """Served with --preheat and a token, the waiting kernel reads the visitor's address through
    the guard's query socket (with the key the server gave it, not the token) and starts on the
    link's scenario and volume; a visitor's client with a wrong key is refused there."""
    import websocket

    log = tmp_path / "serve.log"
    with _serve(app, log, "--preheat") as server, LoopbackBrowser() as browser:
        page, dashboard = _open_on_link(browser, f"{server.url}?token={TOKEN}&{GOOD}")
        _assert_on_the_question(page, dashboard)
        socket = f"{server.url.replace('http', 'ws')}voila/query/{uuid.uuid4()}?key=guess"
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(socket, timeout=10)

    assert refused.value.status_code == 403
    assert "Using pre-heated kernel" in log.read_text()
    assert browser.elsewhere() == []
