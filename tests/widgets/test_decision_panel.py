"""The decision panel, headless, on a real (small) benchmark run of the bundled chat model."""

from __future__ import annotations

import datetime

import pytest
from conftest import run_cli

from widgets.common import ERROR_CLASS
from widgets.decision_panel import DecisionPanel
from workbench.cost import load_prices

pytestmark = pytest.mark.integration


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


def test_every_chart_is_a_png(compared):
    """Cost, tornado, Pareto and latency charts are PNG images."""
    for image in (
        compared.cost_plot,
        compared.tornado_plot,
        compared.pareto_plot,
        compared.latency_plot,
    ):
        assert bytes(image.value).startswith(b"\x89PNG")


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
    assert f"{10 * before:,.4g}" in panel.table.value


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
