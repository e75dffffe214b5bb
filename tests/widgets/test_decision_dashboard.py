"""The decision dashboard, headless: published runs feed the panel, sources are listed, no runs."""

from __future__ import annotations

import datetime
import re
import time

import pytest

from widgets.decision_dashboard import DecisionDashboard
from workbench import runs
from workbench.samples.runs import SampleSettings, ensure_sample_runs

TINY_SAMPLES = SampleSettings.for_model("tiny-llama")  # the sample bench, on a model built in ms
TODAY = datetime.date(2026, 12, 1)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'")


@pytest.fixture(scope="module")
def decision_runs(tmp_path_factory):
    """A benchmark made as the sample is (tiny-llama), and a load test of the loopback cloud."""
    from workbench.cloud.client import EndpointConfig
    from workbench.cloud.loadgen import CloudBenchConfig, run_endpoint_benchmark
    from workbench.cloud.server import LoopbackCloud, ServiceProfile

    runs_dir = tmp_path_factory.mktemp("decision-dashboard") / "runs"
    (bench,) = ensure_sample_runs(runs_dir, kinds=("bench",), settings=TINY_SAMPLES)
    profile = ServiceProfile(region="same-region")
    with LoopbackCloud(chat_model="tiny-llama", embedding_model=None, profile=profile) as url:
        endpoint = EndpointConfig(base_url=url, model="tiny-llama", max_new_tokens=8)
        config = CloudBenchConfig(endpoint=endpoint, max_requests=6)
        cloud = run_endpoint_benchmark(config, runs_dir=runs_dir).run_id
    return runs_dir, bench, cloud


@pytest.fixture(scope="module")
def published(decision_runs):
    """The dashboard on both runs, as a published folder binds them."""
    runs_dir, bench, cloud = decision_runs
    return DecisionDashboard(runs_dir=str(runs_dir), run_ids=[bench, cloud], today=TODAY)


def test_the_given_benchmark_feeds_the_local_side(published, decision_runs):
    """This machine's throughput is measured in the given bench run; the APIs are priced."""
    _, bench, _ = decision_runs
    frame = published.panel.options_frame.set_index("option")

    assert frame.loc["This machine", "throughput_source"] == f"measured in run {bench}"
    # Whether this machine can carry the peak alone depends on how fast it measured: not asserted.
    assert frame.loc[frame["kind"] == "api", "monthly_usd"].notna().all()
    assert published.errors.value == ""
    assert published.panel.layout.display is None


def test_the_given_cloud_run_gives_the_measured_cloud_latency(published, decision_runs):
    """The routing simulation draws cloud latency from the cloud run's 6 answered requests."""
    _, _, cloud = decision_runs

    assert f"cloud latency: 6 measured requests of run {cloud}" in _text(
        published.panel.status.value
    )


def test_every_run_used_is_listed_with_its_date_and_what_it_measured(published, decision_runs):
    """Both runs, each with its start time in UTC; the model the scenario expected is named."""
    runs_dir, bench, cloud = decision_runs
    listed = _text(published.runs_used.value)

    for run_id in (bench, cloud):
        started = runs.load_run(run_id, runs_dir).started_at
        assert f"{run_id} " in listed
        assert f"{started[:10]} {started[11:16]} UTC" in listed
    assert "benchmark of tiny-llama" in listed
    assert "the scenario was written for smollm2-135m" in listed
    assert "loopback cloud" in listed
    assert "Cloud latency is modelled" not in listed


def test_every_price_row_is_listed_with_its_source_and_date(published):
    """One row per catalog row the options used, none without a source or a date."""
    frame = published.panel.options_frame
    used = {p for rows in frame["price_rows"] for p in rows.split("; ") if p}
    sources = published.sources_frame

    assert set(sources["price_row"]) == used
    assert (sources["source"].str.len() > 0).all()
    assert sources["as_of"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    listed = _text(published.prices_used.value)
    for row in sources.itertuples():
        assert f"{row.price_row} {row.source} {row.as_of}" in listed


def test_moving_the_volume_slider_reprices_with_the_same_runs(decision_runs):
    """Ten times the requests: the API options cost ten times as much; the sources stay."""
    runs_dir, bench, cloud = decision_runs
    board = DecisionDashboard(runs_dir=str(runs_dir), run_ids=[bench, cloud], today=TODAY)
    before = board.panel.options_frame.set_index("option")["monthly_usd"]

    board.panel.requests_per_month.value = board.panel.requests_per_month.value * 10

    after = board.panel.options_frame.set_index("option")["monthly_usd"]
    assert after["OpenAI gpt-4o-mini"] == pytest.approx(before["OpenAI gpt-4o-mini"] * 10)
    assert bench in _text(board.runs_used.value)


def test_without_run_ids_a_benchmark_of_another_model_stands_in_and_says_so(decision_runs):
    """No smollm2-135m run: the newest generation benchmark feeds the scenario, named as such;
    the cloud is modelled (a cloud run is only used when given)."""
    runs_dir, bench, _ = decision_runs

    board = DecisionDashboard(runs_dir=str(runs_dir), sample_model=None, today=TODAY)

    assert board.samples_made == []
    assert board.refs_for(board.scenario_as_written()) == {"local": bench}
    listed = _text(board.runs_used.value)
    assert "the scenario was written for smollm2-135m" in listed
    assert "Cloud latency is modelled" in listed


def test_a_missing_published_run_is_named_and_the_rest_still_decide(decision_runs):
    """A run id not in the folder is named, with the way out; the benchmark still feeds the page."""
    runs_dir, bench, _ = decision_runs
    missing = "20990101-000000-bench-gone-0000"

    board = DecisionDashboard(runs_dir=str(runs_dir), run_ids=[bench, missing], today=TODAY)

    errors = _text(board.errors.value)
    assert missing in errors and "publish the dashboard again" in errors
    assert board.panel.options_frame is not None


def test_runs_without_a_benchmark_are_explained(decision_runs):
    """Only a cloud run: there is no local side; the page says so and how to publish one."""
    runs_dir, _, cloud = decision_runs

    board = DecisionDashboard(runs_dir=str(runs_dir), run_ids=[cloud], today=TODAY)

    errors = _text(board.errors.value)
    assert "None of this dashboard's runs is a benchmark" in errors
    assert "workbench publish BENCH_RUN_ID" in errors
    assert board.panel.layout.display == "none"


def test_an_empty_runs_folder_without_samples_explains_how_to_make_one(tmp_path):
    """sample_model=None: nothing is measured; the page lists the commands that make a run."""
    board = DecisionDashboard(runs_dir=str(tmp_path / "runs"), sample_model=None)

    assert "No runs to show" in _text(board.status.value)
    errors = _text(board.errors.value)
    assert "workbench samples" in errors and "workbench bench smollm2-135m" in errors
    assert board.panel.layout.display == "none"
    assert runs.list_runs(tmp_path / "runs") == []


def test_an_empty_runs_folder_gets_the_sample_benchmark_once(tmp_path, monkeypatch):
    """No benchmark: the page says it is creating sample runs and how long that takes, makes one,
    and decides from it; a second opening makes nothing."""
    import workbench.samples.runs as samples

    runs_dir = tmp_path / "runs"
    first = DecisionDashboard(
        runs_dir=str(runs_dir), sample_settings=TINY_SAMPLES, load_now=False, today=TODAY
    )
    seen: list[str] = []
    real = samples.ensure_sample_runs

    def watched(*args, **kwargs):
        seen.append(first.status.value)  # what the page says while the sample is made
        return real(*args, **kwargs)

    monkeypatch.setattr(samples, "ensure_sample_runs", watched)
    first.start(background=True)
    first.thread.join(timeout=300)
    second = DecisionDashboard(runs_dir=str(runs_dir), sample_settings=TINY_SAMPLES, today=TODAY)

    assert "Creating sample runs on this machine: a short benchmark of tiny-llama" in seen[0]
    assert re.search(r"about \d+ s", seen[0])
    assert len(first.samples_made) == 1
    assert first.panel.options_frame is not None
    assert first.samples_made[0] in _text(first.runs_used.value)
    assert second.samples_made == []
    assert [s.id for s in runs.list_runs(runs_dir)] == first.samples_made


def test_a_scenario_the_given_runs_cannot_feed_is_explained_in_the_panel(decision_runs):
    """Document search needs an embeddings benchmark: the panel says so, naming the runs there
    are and the command, and no path of this machine."""
    runs_dir, bench, _ = decision_runs

    board = DecisionDashboard(
        runs_dir=str(runs_dir), run_ids=[bench], scenario="document_search", today=TODAY
    )

    status = _text(board.panel.status.value)
    assert 'class="wb-error"' in board.panel.status.value
    assert "'Document search' needs an embeddings benchmark" in status
    assert f"tiny-llama ({bench})" in status
    assert "workbench bench minilm" in status
    assert str(runs_dir) not in status


def test_panel_errors_reach_the_page_when_run_in_a_kernel(decision_runs):
    """In a kernel (as in Voilà) an error raised during Compare is shown, not swallowed."""
    import nbformat
    from nbclient import NotebookClient

    runs_dir, bench, _ = decision_runs
    cell = (
        "from widgets.decision_dashboard import DecisionDashboard\n"
        f"board = DecisionDashboard(runs_dir={str(runs_dir)!r}, run_ids=[{bench!r}], "
        "scenario='document_search')\n"
        "print(board.panel.status.value)"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])

    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()

    printed = "".join(o.get("text", "") for o in notebook.cells[0].outputs)
    assert 'class="wb-error"' in printed
    assert "needs an embeddings benchmark" in printed


def test_a_load_on_a_thread_sends_the_page_its_state_again(tmp_path, monkeypatch):
    """A page that connects while a background load ends misses updates: shortly after the load,
    every widget and layout (the panel is shown by its layout) is sent its state again."""
    import ipywidgets as w

    import widgets.decision_dashboard as module

    monkeypatch.setattr(module, "RESEND_STATE_AFTER_S", (0.0,))
    sent: list[object] = []
    real = w.Widget.send_state

    def recorded(widget, *args, **kwargs):
        sent.append(widget)
        return real(widget, *args, **kwargs)

    monkeypatch.setattr(w.Widget, "send_state", recorded)
    board = DecisionDashboard(runs_dir=str(tmp_path / "runs"), sample_model=None, load_now=False)

    board.start(background=True)
    board.thread.join(timeout=60)
    deadline = time.monotonic() + 30  # a wait for the timer, not a timing assertion
    while board.panel.layout not in sent and time.monotonic() < deadline:
        time.sleep(0.05)

    assert board.panel.layout in sent
    assert board.panel.table in sent and board.status in sent
