"""The decision and federated dashboards served with Voilà on 127.0.0.1 and driven in Chromium,
and the decision's static export.

Each dashboard is published from real runs with ``workbench publish`` and served with
``workbench serve``, as a user would; the decision template is also served straight from
``notebooks/dashboards`` on an empty runs folder, where it makes its sample run first. Pages must
render with no error banner, no code and nothing fetched from another host; in the browser a
moved control must change what is shown, and at 1280 and 1920 pixels every chart must fit its
container. ``workbench export`` of the same runs must show the recommendation the CLI gives.
"""

from __future__ import annotations

import html
import json
import re
import shutil

import pytest
from conftest import run_cli
from voila_util import (
    LoopbackBrowser,
    assert_clean_page,
    bound_template,
    get,
    screenshot,
    serve_notebook,
    serve_published,
)

from workbench import publish as pub
from workbench import runs
from workbench.samples.runs import SampleSettings, ensure_sample_runs

DECISION_CODE = "from widgets.decision_dashboard import DecisionDashboard"
FEDERATED_CODE = "from widgets.federated_dashboard import FederatedDashboard"
TINY_SAMPLES = SampleSettings.for_model("tiny-llama")  # the sample bench, on a model built in ms


@pytest.fixture(scope="module")
def decision_runs(tmp_path_factory):
    """A benchmark made as the sample is (tiny-llama), and a load test of the loopback cloud."""
    from workbench.cloud.client import EndpointConfig
    from workbench.cloud.loadgen import CloudBenchConfig, run_endpoint_benchmark
    from workbench.cloud.server import LoopbackCloud, ServiceProfile

    runs_dir = tmp_path_factory.mktemp("decision") / "runs"
    (bench,) = ensure_sample_runs(runs_dir, kinds=("bench",), settings=TINY_SAMPLES)
    profile = ServiceProfile(region="same-region")
    with LoopbackCloud(chat_model="tiny-llama", embedding_model=None, profile=profile) as url:
        endpoint = EndpointConfig(base_url=url, model="tiny-llama", max_new_tokens=8)
        config = CloudBenchConfig(endpoint=endpoint, max_requests=6)
        cloud = run_endpoint_benchmark(config, runs_dir=runs_dir).run_id
    return runs_dir, [bench, cloud]


@pytest.fixture(scope="module")
def decision_served(decision_runs, tmp_path_factory):
    """The benchmark and the cloud run published (the decision template) and served."""
    runs_dir, ids = decision_runs
    work = tmp_path_factory.mktemp("decision-app")
    app = pub.publish(ids, work / "app", runs_dir=runs_dir)
    with serve_published(app, work / "serve.log") as url:
        yield {"url": url, "ids": ids, "app": app}


@pytest.fixture(scope="module")
def federated_served(tmp_path_factory):
    """The sample federated run, published (the federated template) and served."""
    work = tmp_path_factory.mktemp("federated-app")
    (run_id,) = ensure_sample_runs(work / "runs", kinds=("federated",))
    app = pub.publish([run_id], work / "app", runs_dir=work / "runs")
    with serve_published(app, work / "serve.log") as url:
        yield {"url": url, "id": run_id, "app": app}


# -- decision -------------------------------------------------------------------------------------


def test_bench_and_cloud_runs_are_published_with_the_decision_template(decision_served):
    """publish picks decision.ipynb for a benchmark plus a cloud run, bound to both."""
    notebook = (decision_served["app"] / pub.NOTEBOOK).read_text()

    assert DECISION_CODE in notebook
    assert all(run_id in notebook for run_id in decision_served["ids"])


def test_published_decision_dashboard_answers_without_errors_or_code(decision_served):
    """200, a widget, no error banner or traceback, no template code, no link off the machine."""
    status, page = get(decision_served["url"])

    assert status == 200
    assert_clean_page(page, DECISION_CODE, str(decision_served["app"]))


@pytest.mark.browser
def test_decision_dashboard_in_chromium_redraws_when_the_volume_slider_moves(
    decision_served, decision_runs
):
    """The recommendation `workbench decide` gives for the same runs, the options table, the runs
    used with their dates, and the prices with their sources show; dragging Requests / month
    changes the monthly costs; nothing leaves 127.0.0.1."""
    from playwright.sync_api import expect

    from workbench.decision import decide

    bench, cloud = decision_served["ids"]
    expected = decide("support_chatbot", decision_runs[0], runs=[bench, cloud], routing=False)
    with LoopbackBrowser() as browser:
        page = browser.page(decision_served["url"], height=3800)
        dashboard = page.locator(".wb-decision-dashboard")
        expect(dashboard).to_contain_text("Move the workload sliders")  # loaded
        options = dashboard.locator("table.wb-card").first
        expect(options).to_be_visible()
        expect(options).to_contain_text("This machine")
        expect(dashboard.locator(".wb-answer")).to_contain_text(expected.recommendation.sentence)
        sources = dashboard.locator("table.wb-sources").first
        expect(sources).to_contain_text(bench)
        expect(sources).to_contain_text(cloud)
        expect(sources).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"))
        expect(dashboard.locator("table.wb-sources").nth(1)).to_contain_text("as of")
        before = options.inner_text()

        slider = page.locator(".widget-hslider", has_text="Requests / month")
        handle = slider.locator(".noUi-handle")
        expect(handle).to_be_visible()
        box = handle.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 90, box["y"] + box["height"] / 2, steps=6)
        page.mouse.up()

        expect(options).not_to_have_text(before)
        compare = page.get_by_role("button", name="Compare")
        expect(compare).to_be_enabled()  # the routing simulation has finished too
        expect(dashboard.locator(".wb-answer")).to_contain_text("a month for")
        expect(page.locator(".wb-error")).to_have_count(0)
        screenshot(page, "decision-dashboard.png")

    assert browser.elsewhere() == []
    assert any("/api/kernels/" in u for u in browser.requested)  # it did talk to its kernel


@pytest.mark.browser
def test_decision_dashboard_in_chromium_rules_out_options_below_the_quality_floor(
    decision_served,
):
    """The options table shows each quality with its kind (sourced: the hosted models' published
    MMLU); dragging the Quality floor to the top rules out the options whose known quality is
    below it, with the reason, and the recommendation moves off them."""
    from playwright.sync_api import expect

    with LoopbackBrowser() as browser:
        page = browser.page(decision_served["url"], height=3800)
        dashboard = page.locator(".wb-decision-dashboard")
        expect(dashboard).to_contain_text("Move the workload sliders")  # loaded
        options = dashboard.locator("table.wb-card").first
        groq = options.locator("tr", has_text="Llama 3.1 8B on Groq")
        expect(groq).to_contain_text("sourced")
        expect(groq).not_to_contain_text("below the floor")

        handle = page.locator(".widget-hslider", has_text="Quality floor").locator(".noUi-handle")
        expect(handle).to_be_visible()
        box = handle.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 2000, box["y"] + box["height"] / 2, steps=8)  # to 100%
        page.mouse.up()

        expect(groq).to_contain_text("quality 69% is below the floor 100%")
        gpt = options.locator("tr", has_text="OpenAI gpt-4o-mini")
        expect(gpt).to_contain_text("quality 82% is below the floor 100%")
        expect(dashboard.locator(".wb-answer")).not_to_contain_text("on Llama 3.1 8B on Groq")
        expect(page.locator(".wb-error")).to_have_count(0)

    assert browser.elsewhere() == []


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 1920])
def test_decision_dashboard_charts_fit_their_containers_under_one_title(decision_served, width):
    """At 1280 and 1920 pixels wide every chart is drawn inside its container and the window
    (none cut off at the right), and the page has one title: the decision's question."""
    from playwright.sync_api import expect

    with LoopbackBrowser() as browser:
        page = browser.page(decision_served["url"], width=width, height=3800)
        dashboard = page.locator(".wb-decision-dashboard")
        expect(dashboard).to_contain_text("Move the workload sliders")  # loaded
        charts = dashboard.locator("img.wb-chart")
        expect(charts).to_have_count(5)
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('img.wb-chart'))"
            ".every((img) => img.complete && img.naturalWidth > 0)"
        )
        boxes = page.evaluate(
            """() => Array.from(document.querySelectorAll('img.wb-chart'), (img) => {
                const box = img.getBoundingClientRect();
                const cell = img.parentElement.getBoundingClientRect();
                return {name: img.className, left: box.left, right: box.right,
                        width: box.width, inner: cell.right};
            })"""
        )
        titles = page.locator("h1, h2")
        expect(titles).to_have_count(1)
        expect(titles).to_contain_text("Where should")
        expect(page.locator(".wb-error")).to_have_count(0)
        screenshot(page, f"decision-dashboard-{width}px.png")

    for box in boxes:
        assert box["width"] > 200, box  # drawn, not collapsed
        assert box["left"] >= 0, box
        assert box["right"] <= box["inner"] + 0.5, box  # inside its container
        assert box["right"] <= width, box  # inside the window
    assert browser.elsewhere() == []


@pytest.mark.browser
def test_decision_dashboard_on_an_empty_runs_folder_makes_the_sample_run_first(tmp_path):
    """Served from the template with no runs, the page makes one sample benchmark (two kernels,
    the HTTP check's and the browser's, share it) and then decides from it."""
    from playwright.sync_api import expect

    runs_dir = tmp_path / "runs"
    notebook = bound_template(
        "decision", tmp_path / "app", RUNS_DIR=str(runs_dir), SAMPLE_MODEL="tiny-llama"
    )
    with serve_notebook(notebook, tmp_path / "voila.log") as url:
        status, page_text = get(url)
        with LoopbackBrowser() as browser:
            page = browser.page(url, height=3800)
            dashboard = page.locator(".wb-decision-dashboard")
            expect(dashboard).to_contain_text("Move the workload sliders")  # loaded
            options = dashboard.locator("table.wb-card").first
            expect(options).to_be_visible()
            expect(options).to_contain_text("This machine")
            sources = dashboard.locator("table.wb-sources").first
            expect(sources).to_contain_text("benchmark of tiny-llama")
            expect(sources).to_contain_text("the scenario was written for smollm2-135m")
            expect(page.locator(".wb-error")).to_have_count(0)
            screenshot(page, "decision-dashboard-first-start.png")

    assert status == 200
    assert_clean_page(page_text, DECISION_CODE, str(runs_dir))
    made = [s for s in runs.list_runs(runs_dir)]
    assert [(s.kind, s.status, s.summary["model"]) for s in made] == [
        ("bench", "complete", "tiny-llama")
    ]
    assert browser.elsewhere() == []


# -- the decision in a static export -------------------------------------------------------------


def test_static_export_shows_the_recommendation_the_cli_gives_for_the_same_runs(
    decision_runs, tmp_path
):
    """`workbench export` of a benchmark and a cloud run opens with the decision's question, the
    one recommendation `workbench decide` prints for those runs, and its options written for
    people."""
    runs_dir, ids = decision_runs
    done = run_cli(
        "decide", "support_chatbot", *(f"--run={i}" for i in ids), "--runs-dir", str(runs_dir),
        "--json", "-", "--no-save",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    decided = json.loads(done.stdout)

    page = pub.export_static(ids, tmp_path / "report.html", runs_dir=runs_dir).read_text()

    section = page[page.index('<section class="decision">') :].split("</section>")[0]
    assert f"<h1>{html.escape(decided['title'])}</h1>" in page
    assert page.count('class="answer"') == 1
    assert html.escape(decided["recommendation"]["sentence"]) in section
    words = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", section)  # the text, no charts
    assert "$" in words and " ms" in words and not re.search(r"\b(True|False|nan)\b", words)
    assert section.count('src="data:image/png;base64,') == 5  # the decision's five charts
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # price sources are text


def test_static_export_of_a_saved_decision_shows_the_decision_it_recorded(decision_runs, tmp_path):
    """A `decision` run exported on its own shows the recommendation it recorded."""
    runs_dir, ids = decision_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs_dir, copy)
    done = run_cli(
        "decide", "support_chatbot", *(f"--run={i}" for i in ids), "--runs-dir", str(copy),
        "--json", "-",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    decided = json.loads(done.stdout)
    (saved,) = [s.id for s in runs.list_runs(copy) if s.kind == "decision"]

    page = pub.export_static([saved], tmp_path / "report.html", runs_dir=copy).read_text()

    assert html.escape(decided["recommendation"]["sentence"]) in page
    assert page.count('class="answer"') == 1


# -- federated ------------------------------------------------------------------------------------


def test_published_federated_dashboard_answers_without_errors_or_code(federated_served):
    """200, a widget, no error banner or traceback, no template code, no link off the machine."""
    notebook = (federated_served["app"] / pub.NOTEBOOK).read_text()
    status, page = get(federated_served["url"])

    assert FEDERATED_CODE in notebook
    assert status == 200
    assert_clean_page(page, FEDERATED_CODE, str(federated_served["app"]))


@pytest.mark.browser
def test_federated_dashboard_in_chromium_reruns_a_variation_beside_the_saved_curve(
    federated_served,
):
    """The saved run's curves and card show; choosing FedProx and pressing Rerun adds the rerun to
    the comparison and redraws the curves; nothing leaves 127.0.0.1."""
    from playwright.sync_api import expect

    with LoopbackBrowser() as browser:
        page = browser.page(federated_served["url"], height=2600)
        dashboard = page.locator(".wb-federated-dashboard")
        expect(dashboard.locator(".wb-card")).to_contain_text(federated_served["id"])
        comparison = dashboard.locator("table.wb-versus")
        expect(comparison).to_contain_text("final accuracy")
        expect(comparison).not_to_contain_text("rerun")
        curves = dashboard.locator("img.wb-fed-curves")
        expect(curves).to_have_attribute("src", re.compile("^blob:|^data:"))
        saved_curves = curves.get_attribute("src")

        strategy = page.locator(".widget-dropdown", has_text="Strategy").locator("select")
        strategy.select_option(label="FedProx")
        page.get_by_role("button", name="Rerun").click()

        expect(comparison).to_contain_text("rerun")
        expect(comparison).to_contain_text("FedProx")
        expect(
            dashboard.locator("h4", has_text="Rerun (strategy FedAvg → FedProx)")
        ).to_be_visible()
        expect(curves).not_to_have_attribute("src", saved_curves)
        expect(page.locator(".wb-error")).to_have_count(0)
        screenshot(page, "federated-dashboard.png")

    assert browser.elsewhere() == []
    assert any("/api/kernels/" in u for u in browser.requested)
