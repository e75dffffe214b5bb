"""The decision panel, headless, on a real (small) benchmark run of the bundled chat model."""

from __future__ import annotations

import datetime
import re
import time

import pandas as pd
import pytest
from conftest import run_cli

from widgets.common import ERROR_CLASS
from widgets.decision_panel import DecisionPanel, policies_html
from workbench.cost import load_prices
from workbench.kit import formats

pytestmark = pytest.mark.integration

#: A number cell as people read it: $1,234.56 or $0.0012, 850 ms or 1.25 s, 98.5%, 60,000, ✓/✗.
PEOPLE_NUMBER = r"-?\$[\d,]+\.\d+|\$∞|[\d,.]+ (ms|s)|-?[\d.]+%|[\d,]+|✓|✗|–|unknown|yes|"


@pytest.fixture(scope="module")
def runs_with_smollm2(tmp_path_factory):
    """A runs folder holding one quick, real `workbench bench smollm2-135m` run."""
    runs_dir = tmp_path_factory.mktemp("decision-panel-runs")
    done = run_cli(
        "bench", "smollm2-135m", "--max-new-tokens", "4", "--min-iters", "2",
        "--min-seconds", "0", "--quality-items", "1", "--runs-dir", str(runs_dir),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return runs_dir


@pytest.fixture(scope="module")
def compared(runs_with_smollm2):
    """A support-chatbot panel after one press of Compare."""
    panel = DecisionPanel("support_chatbot", runs_dir=str(runs_with_smollm2), requests=2000)
    panel.compare()
    return panel


def _monthly_usd(panel: DecisionPanel, option: str) -> float:
    return float(panel.options_frame.set_index("option").loc[option, "monthly_usd"])


def test_compare_fills_the_options_table_with_prices_and_their_sources(compared):
    """The options table names each option with its price source and as_of date."""
    table = compared.table.value

    assert ERROR_CLASS not in compared.status.value
    assert "OpenAI gpt-4o-mini" in table
    assert "https://openai.com/api/pricing/" in table
    assert load_prices().api_price("openai", "gpt-4o-mini").as_of in table


def test_a_price_older_than_180_days_on_the_panels_day_is_listed_as_a_warning(runs_with_smollm2):
    """gpt-4o-mini's price row is listed as 181 days old 181 days after its as_of, not on it."""
    as_of = datetime.date.fromisoformat(load_prices().api_price("openai", "gpt-4o-mini").as_of)
    panel = DecisionPanel("support_chatbot", runs_dir=str(runs_with_smollm2), requests=500)

    panel.today = as_of
    panel.compare()
    fresh = panel.warnings.value
    panel.today = as_of + datetime.timedelta(days=181)
    panel.compare()
    stale = panel.warnings.value

    assert ERROR_CLASS not in panel.status.value
    assert "api:openai/gpt-4o-mini" not in fresh
    assert "api:openai/gpt-4o-mini is 181 days old" in stale


def test_every_chart_is_an_svg_image_that_scales_to_its_container(compared):
    """Cost, cost-latency-quality, tornado, Pareto and latency charts are SVG images no wider
    than their container."""
    assert list(compared.charts) == ["cost", "quality", "tornado", "pareto", "latency"]
    for image in compared.charts.values():
        assert b"<svg" in bytes(image.value)
        assert image.format == "svg+xml"
        assert image.layout.max_width == "100%"


def test_the_recommendation_sentence_stands_at_the_top_under_one_title(compared):
    """The decision's title and its one-sentence answer come before the controls and tables;
    no other heading of that rank is on the panel."""
    decision = compared.decision
    html_children = [c.value for c in compared.children if hasattr(c, "value")]
    headings = [h for value in html_children for h in re.findall(r"<h[123]\b", value)]

    assert decision.title in compared.title.value
    assert _text(decision.recommendation.sentence) in _text(compared.answer.value)
    assert compared.children.index(compared.answer) < compared.children.index(compared.table)
    assert headings == ["<h2"]


def test_the_options_table_writes_numbers_for_people(compared):
    """Dollars with cents, latencies in ms or s, ✓/✗ for feasibility; every number cell is
    written in one of those forms (no True/False, no bare 0.3927)."""
    table = _text(compared.table.value)
    row = compared.options_frame.set_index("option").loc["This machine"]
    numbers = re.findall(r'<td class="wb-num"[^>]*>([^<]*)</td>', compared.table.value)

    assert formats.usd(row["monthly_usd"]) in table
    assert formats.duration_ms(row["p50_ms"]) in table
    assert "✓" in table
    assert "True" not in table and "False" not in table
    assert numbers and all(re.fullmatch(PEOPLE_NUMBER, cell) for cell in numbers), numbers


def test_the_routing_table_writes_shares_as_percentages(compared):
    """Goodput, offload and utilization read 98.5%, not 0.985."""
    table = _text(compared.policy_table.value)
    local = compared.policies_frame.set_index("policy").loc["local-only"]

    assert formats.percent(local["local_utilization"]) in table
    assert formats.usd(local["monthly_cost"]) in table
    assert "True" not in table and "False" not in table


def test_policy_table_lists_local_only_and_cloud_only(compared):
    """The hybrid routing table has both extreme policies."""
    assert "local-only" in compared.policy_table.value
    assert "cloud-only" in compared.policy_table.value


def test_requests_per_month_slider_changes_the_monthly_cost(runs_with_smollm2):
    """Ten times the volume gives ten times the per-token API's monthly cost in the table."""
    panel = DecisionPanel("support_chatbot", runs_dir=str(runs_with_smollm2), requests=2000)
    panel.requests_per_month.value = 60_000
    panel.compare()
    before = _monthly_usd(panel, "OpenAI gpt-4o-mini")

    panel.requests_per_month.value = 600_000  # an observer recomputes

    assert _monthly_usd(panel, "OpenAI gpt-4o-mini") == pytest.approx(10 * before)
    assert formats.usd(10 * before) in panel.table.value


def test_raising_the_quality_floor_rules_out_the_options_below_it(runs_with_smollm2):
    """support_chatbot's APIs have published (sourced) scores, gpt-4o-mini 82% and Llama 3.1 8B
    69%: a 75% floor rules the Llama options out, says why, and recommends gpt-4o-mini."""
    panel = DecisionPanel("support_chatbot", runs_dir=str(runs_with_smollm2), requests=500)
    panel.compare()
    assert "below the floor" not in panel.table.value
    assert "sourced" in panel.table.value

    panel.quality_floor.value = 0.75  # an observer recomputes

    frame = panel.options_frame.set_index("option")
    assert frame.loc["Llama 3.1 8B on Groq", "ruled_out"] == "quality 69% is below the floor 75%"
    assert "below the floor 75%" in panel.table.value
    assert "Run gpt-4o-mini on OpenAI gpt-4o-mini" in panel.answer.value


def test_in_the_background_the_newest_slider_value_wins(runs_with_smollm2):
    """Three quick moves on the worker thread: the figures shown are those of the last value,
    and the Compare button is enabled again once they are."""
    panel = DecisionPanel(
        "support_chatbot", runs_dir=str(runs_with_smollm2), requests=500, background=True
    )
    panel.requests_per_month.value = 60_000
    panel.compare()
    before = _monthly_usd(panel, "OpenAI gpt-4o-mini")

    for volume in (120_000, 300_000, 600_000):
        panel.requests_per_month.value = volume
    _wait_until_idle(panel)

    assert ERROR_CLASS not in panel.status.value
    assert _monthly_usd(panel, "OpenAI gpt-4o-mini") == pytest.approx(10 * before)
    assert formats.usd(10 * before) in panel.table.value


def test_a_decide_that_can_leave_routing_out_shows_the_priced_figures_first(
    runs_with_smollm2, monkeypatch
):
    """In the background, with a decide that takes routing=False, the answer and the options
    are on show (the routing marked as updating) before routing is simulated; the routed
    decision replaces them."""
    import widgets.decision_panel as module

    real_decide, real_route, seen = module.decide, module.with_routing, []

    def priced(*args, **kwargs):
        seen.append(("decide", kwargs.get("routing", True)))
        return real_decide(*args, **kwargs)

    def routed(decision):
        seen.append(("route", panel.table.value, "wb-updating" in panel.pareto_plot._dom_classes))
        return real_route(decision)

    monkeypatch.setattr(module, "decide", priced)
    monkeypatch.setattr(module, "with_routing", routed)
    panel = DecisionPanel(
        "support_chatbot", runs_dir=str(runs_with_smollm2), requests=500, background=True
    )

    panel.compare()

    (_, routing_first), (_, table_then, updating_then) = seen
    assert routing_first is False
    assert "This machine" in table_then and updating_then
    assert "local-only" in panel.policy_table.value
    assert "wb-updating" not in panel.pareto_plot._dom_classes


def test_an_overloaded_policy_shows_its_status_instead_of_percentiles():
    """The p50 and p95 cells of an overloaded row give way to its status; the others keep
    their percentiles."""
    frame = pd.DataFrame(
        {
            "policy": ["local-only", "cloud-only"],
            "p50_ms": [4_368_228.0, 850.0],
            "p95_ms": [9_000_000.0, 1250.0],
            "monthly_cost": [3.07, 4.54],
            "pareto": [False, True],
            "overloaded": [True, False],
            "status": ["overloaded: needs 3 workers", "ok"],
        }
    )

    table = policies_html(frame)

    assert '<td class="wb-note" colspan="2">overloaded: needs 3 workers</td>' in table
    assert "4,368" not in table and "9,000" not in table
    assert "850 ms" in table and "1.25 s" in table


def test_a_routing_cost_that_cannot_be_known_says_why_and_intervals_are_tooltips():
    """A NaN monthly cost reads "unknown" beside its note; a p95 cell's tooltip gives its
    interval."""
    frame = pd.DataFrame(
        {
            "policy": ["local-only"],
            "p95_ms": [710.0],
            "p95_low_ms": [700.0],
            "p95_high_ms": [725.0],
            "monthly_cost": [float("nan")],
            "cost_note": ["the peak needs 2 local units; the scenario allows 1"],
        }
    )

    table = policies_html(frame)

    assert "why no cost" in table and "the peak needs 2 local units" in table
    assert ">unknown<" in table
    assert 'title="95% interval 700 ms–725 ms"' in table


def test_a_routing_table_without_an_overloaded_column_shows_every_percentile():
    """Tables from before overload was flagged render as they are."""
    frame = pd.DataFrame({"policy": ["local-only"], "p50_ms": [850.0], "p95_ms": [1250.0]})

    table = policies_html(frame)

    assert "850 ms" in table and "1.25 s" in table and "wb-note" not in table


def test_one_compare_prices_the_options_once(runs_with_smollm2, monkeypatch):
    """Compare looks the options up and prices them once; the routing simulation reuses that."""
    import workbench.decision.compare as compare
    import workbench.decision.hybrid_setup as hybrid_setup

    calls = {"compare_options": 0, "resolve_options": 0}
    for module in (compare, hybrid_setup):  # every caller of the two in a Compare
        for name in calls:
            real = getattr(module, name, None)
            if real is None:
                continue

            def counted(*args, _real=real, _name=name, **kwargs):
                calls[_name] += 1
                return _real(*args, **kwargs)

            monkeypatch.setattr(module, name, counted)
    panel = DecisionPanel("support_chatbot", runs_dir=str(runs_with_smollm2), requests=500)

    panel.compare()

    assert ERROR_CLASS not in panel.status.value
    assert panel.policies_frame is not None
    assert calls == {"compare_options": 1, "resolve_options": 1}


def test_empty_runs_dir_shows_how_to_record_a_run(tmp_path):
    """Without a bench run the panel shows an error box naming `workbench bench`, no traceback."""
    panel = DecisionPanel("support_chatbot", runs_dir=str(tmp_path))

    panel.compare()

    assert ERROR_CLASS in panel.status.value
    assert "workbench bench smollm2-135m" in panel.status.value
    assert "Traceback" not in panel.status.value
    assert panel.options_frame is None


def test_panel_can_be_displayed(compared):
    """The panel's text representation (what a notebook falls back to) builds without error."""
    assert "DecisionPanel" in repr(compared)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").strip()


def _wait_until_idle(panel: DecisionPanel, timeout_s: float = 300) -> None:
    """Wait for the worker to finish every request (a wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while panel.compare_button.disabled or panel._wake.is_set():
        assert time.monotonic() < deadline, "the worker did not finish"
        time.sleep(0.05)


# -- pages sharing their decisions ----------------------------------------------------------------


def _shown(panel: DecisionPanel) -> list[object]:
    """What a page shows: the texts and the chart images."""
    texts = [panel.title.value, panel.answer.value, panel.table.value, panel.policy_table.value]
    return [*texts, *(image.value for image in panel.charts.values())]


def test_a_shared_panel_shows_what_another_page_computed_without_computing(
    runs_with_smollm2, monkeypatch
):
    """A second page on the same runs and workload reads the first page's decision and charts:
    the same answer, tables and charts, and no pricing, simulation or drawing of its own."""
    import widgets.decision_panel as decision_panel

    first = DecisionPanel(
        "support_chatbot", runs_dir=str(runs_with_smollm2), requests=500, shared=True
    )
    first.compare()
    assert ERROR_CLASS not in first.status.value

    def refuse(*args, **kwargs):
        raise AssertionError("the second page computed what the first had kept")

    monkeypatch.setattr(decision_panel, "decide", refuse)
    monkeypatch.setattr(decision_panel, "_image", refuse)
    second = DecisionPanel(
        "support_chatbot", runs_dir=str(runs_with_smollm2), requests=500, shared=True
    )
    second.compare()

    assert ERROR_CLASS not in second.status.value
    assert _shown(second) == _shown(first)
    assert all(image for image in _shown(second)[4:])


def test_a_shared_decision_is_not_read_for_other_inputs(runs_with_smollm2, monkeypatch):
    """Another workload, another day, or a new file in the runs folder is computed afresh."""
    from workbench.decision import cache

    panel = DecisionPanel(
        "support_chatbot", runs_dir=str(runs_with_smollm2), requests=500, shared=True
    )
    scenario = panel.scenario_with_workload()
    keys = {panel._shared_key(scenario)}
    panel.requests_per_month.value = panel.requests_per_month.value * 2
    keys.add(panel._shared_key(panel.scenario_with_workload()))
    other_day = DecisionPanel(
        "support_chatbot",
        runs_dir=str(runs_with_smollm2),
        requests=500,
        shared=True,
        today=datetime.date(2030, 1, 1),
    )
    keys.add(other_day._shared_key(scenario))
    before = cache.decision_key(scenario, runs_with_smollm2, requests=500, today=None, routing=True)
    (runs_with_smollm2 / "new-run-marker.txt").write_text("a run folder changed")
    try:
        after = cache.decision_key(
            scenario, runs_with_smollm2, requests=500, today=None, routing=True
        )
    finally:
        (runs_with_smollm2 / "new-run-marker.txt").unlink()

    assert len(keys) == 3
    assert before in keys and after != before
