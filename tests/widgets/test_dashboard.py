"""The dashboard served by real Voilà on loopback: over HTTP, then in headless Chromium."""

from __future__ import annotations

import contextlib
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from voila_util import CHROMIUM, CHROMIUM_ARGS, free_port, serving

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs_with_smollm2(tmp_path_factory, smollm2):
    """A runs folder with one quick smollm2-135m benchmark, for the decision panel to price."""
    from workbench.bench import BenchConfig, MeasurePolicy, run_benchmark

    runs_dir = tmp_path_factory.mktemp("dashboard-runs")
    config = BenchConfig(
        "smollm2-135m",
        variants=("fp32",),
        batch_sizes=(1,),
        seq_lens=(0,),
        max_new_tokens=4,
        quality_items=1,
        policy=MeasurePolicy(warmup=1, min_iters=2, min_seconds=0.0),
    )
    run_benchmark(config, runs_dir=runs_dir)
    return runs_dir


@pytest.fixture(scope="module")
def dashboard_url(repo_root, runs_with_smollm2):
    """Serve the tabbed dashboard with `make dashboard-all`; stopped after the module."""
    with _make_served("dashboard-all", repo_root, runs_with_smollm2) as served:
        yield served


@contextlib.contextmanager
def _make_served(target: str, repo_root: Path, runs_dir: Path) -> Iterator[tuple[str, Path]]:
    """`make TARGET PORT=...` serving on a free port, killed with its process group afterwards."""
    port = free_port()
    log = Path(os.environ["WORKBENCH_CACHE_DIR"]).parent / f"voila-{port}.log"
    command = ["make", "--no-print-directory", target, f"PORT={port}"]
    env = {**os.environ, "WORKBENCH_RUNS_DIR": str(runs_dir)}
    with serving(command, repo_root, port, log, env=env) as url:
        yield url, log


def test_dashboard_command_prints_its_loopback_url(dashboard_url):
    """`make dashboard-all` says where the dashboard is served, on 127.0.0.1."""
    url, log = dashboard_url

    assert f"Serving the workbench dashboard at {url}" in log.read_text()


def test_dashboard_renders_widgets_without_errors_or_code(dashboard_url):
    """The page shows the panel, no error banner or traceback, and none of the notebook's code."""
    url, _ = dashboard_url
    with urllib.request.urlopen(url, timeout=180) as response:
        status, page = response.status, response.read().decode("utf-8")

    assert status == 200
    assert "application/vnd.jupyter.widget-view+json" in page
    assert "There was an error when executing cell" not in page
    assert "Traceback" not in page
    assert "from widgets import" not in page
    assert "DEFAULT_MODEL =" not in page


@contextlib.contextmanager
def _dashboard_page(url: str) -> Iterator[Any]:
    """A headless Chromium page open on the dashboard; the browser closes afterwards."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=180_000)  # a 2-core machine under load streams slowly
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(180_000)
            page.goto(url)
            yield page
        finally:
            browser.close()


@pytest.mark.browser
def test_browser_picks_a_model_submits_text_and_sees_the_result(dashboard_url, tmp_path):
    """In Chromium: embed with minilm, ask smollm2-135m a question, then benchmark tiny-bert."""
    from playwright.sync_api import expect

    with _dashboard_page(dashboard_url[0]) as page:
        status = page.locator(".wb-status").first
        expect(status).to_contain_text("Loaded minilm")

        page.locator("textarea").fill("A kitten naps in the sun by the window.")
        page.get_by_role("button", name="Run").click()
        result = page.locator(".wb-result").first
        expect(result).to_contain_text("384 dimensions")
        nearest = (
            page.locator(".wb-card:visible").last.locator("tr").first
        )  # other tabs hide theirs
        expect(nearest).to_contain_text("The cat sleeps on the warm windowsill.")

        choice = page.locator("select option", has_text="smollm2-135m").first.text_content()
        page.locator("select").first.select_option(label=choice)
        page.get_by_role("button", name="Load").click()
        expect(page.locator(".wb-card:visible").first).to_contain_text("134,515,008")
        page.locator("textarea").fill("What is the capital of France?")
        page.get_by_role("button", name="Run").click()
        expect(page.locator(".wb-result").first).to_contain_text("Paris")
        expect(page.locator(".wb-error")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        page.get_by_role("tab", name="Benchmark").click()
        page.locator("select:visible").first.select_option("tiny-bert")
        page.get_by_role("button", name="Measure").click()
        expect(page.locator(".wb-status:visible").first).to_contain_text("Done: 6 points")
        expect(page.locator("img:visible")).to_have_count(3)
        expect(page.locator(".wb-error")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "benchmark.png"), full_page=True)


@pytest.mark.browser
def test_browser_scores_minilm_with_a_head_in_the_quality_tab(dashboard_url, runs_with_smollm2):
    """In Chromium: the Quality tab evaluates minilm on 20 ticket-topics items with a trained
    head and shows the accuracy with its interval, and the run is saved."""
    from playwright.sync_api import expect

    from workbench import runs

    url, _ = dashboard_url
    with _dashboard_page(url) as page:
        expect(page.locator(".wb-status").first).to_contain_text("Loaded minilm")
        page.get_by_role("tab", name="Quality").click()
        page.locator(".widget-dropdown:visible", has_text="Set").locator("select").select_option(
            "ticket-topics"
        )
        classifier = page.locator(".widget-dropdown:visible", has_text="Classifier")
        classifier.locator("select").select_option("logreg-head")
        limit = page.locator(".widget-inline-hbox:visible", has_text="Limit").locator("input")
        limit.fill("20")
        limit.press("Enter")
        page.get_by_role("button", name="Evaluate").click()

        expect(page.locator(".wb-status:visible").first).to_contain_text("Done: ")
        expect(page.locator(".wb-answer:visible")).to_contain_text("95% interval")
        expect(page.get_by_text("labelled by a logistic-regression head")).to_be_visible()
        expect(page.locator(".wb-error")).to_have_count(0)

    made = [s for s in runs.list_runs(runs_with_smollm2) if s.kind == "eval"]
    assert [(s.summary["eval_set"], s.summary["items"]) for s in made][-1:] == [
        ("ticket-topics", 20)
    ]


def test_browser_compares_local_and_cloud_in_the_fourth_tab(dashboard_url, tmp_path):
    """In Chromium: the Local vs cloud tab shows the decision panel; Compare prices the options
    and answers under the decision's one title."""
    from playwright.sync_api import expect

    with _dashboard_page(dashboard_url[0]) as page:
        expect(page.locator(".wb-status").first).to_contain_text("Loaded minilm")

        page.get_by_role("tab", name="Local vs cloud").click()
        expect(page.locator(".wb-status:visible").first).to_contain_text("press Compare")
        page.get_by_role("button", name="Compare").click()

        table = page.locator("table.wb-card:visible").first
        expect(table).to_contain_text("OpenAI gpt-4o-mini")
        expect(table).to_contain_text("https://openai.com/api/pricing/")
        expect(page.get_by_text("Where should Support chatbot run?")).to_be_visible()
        expect(page.locator(".wb-answer:visible")).to_contain_text("a month for")
        expect(page.locator(".wb-chart:visible")).to_have_count(5)
        expect(page.locator(".wb-error")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "local-vs-cloud.png"), full_page=True)
