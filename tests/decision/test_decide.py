"""The decision as a value: its rules, its variant choice, its round trip, its run and its CLI."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from decision_runs import record_generation_run, write_scenario

from workbench.decision import load_scenario
from workbench.decision.compare import decide
from workbench.decision.recommend import recommend
from workbench.decision.report import to_html, write_report
from workbench.decision.result import Decision, record_decision
from workbench.kit.errors import InvalidInputError
from workbench.runs import list_runs, load_run, start_run


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    record_generation_run(folder)
    return folder


def test_local_option_uses_the_fastest_variant_within_the_drift_tolerance(tmp_path, runs_dir):
    """int8 (90% agreement) is faster but drifts; int8-weight-only (98.5%) is used, and why."""
    decision = decide(write_scenario(tmp_path), runs_dir, requests=500)
    here = decision.options.set_index("option").loc["Here"]
    assert here["variant"] == "int8-weight-only"
    assert "98.5% ≥ 95%" in here["variant_reason"]
    assert "int8: agreement with fp32 90.0% < 95%" in here["variant_reason"]
    assert here["model"] == "tiny-chat"


def test_a_looser_tolerance_lets_the_faster_variant_in(tmp_path, runs_dir):
    """With min_agreement 0.85, int8 is within tolerance and, being fastest, is used."""
    scenario = write_scenario(tmp_path, extra="min_agreement = 0.85")
    decision = decide(scenario, runs_dir, requests=500)
    assert decision.options.set_index("option").loc["Here", "variant"] == "int8"


def test_latency_is_rescaled_to_the_workloads_answer_length(tmp_path, runs_dir):
    """A 120-token answer takes ttft + 119 tpot, not the measured 8-token call's time."""
    scenario = load_scenario(write_scenario(tmp_path, extra=""))
    decision = decide(scenario, runs_dir, overrides={"output_tokens": 120}, requests=500)
    here = decision.options.set_index("option").loc["Here"]
    ttft, tpot = 300 / 2.4, 100 / 2.4  # int8-weight-only
    assert here["p50_ms"] == pytest.approx(ttft + 119 * tpot)
    assert here["p95_ms"] == pytest.approx((ttft + 119 * tpot) * 1.2)


def test_unknown_quality_across_models_is_said_not_hidden(tmp_path, runs_dir):
    """No quality known and two models: the recommendation says it ranks on cost only."""
    decision = decide(write_scenario(tmp_path), runs_dir, requests=500)
    rec = decision.recommendation
    assert rec.quality is None and "quality unknown" in rec.sentence
    assert any("different models" in c for c in rec.caveats)


def test_known_quality_is_recommended_over_a_cheaper_unknown_one(tmp_path, runs_dir):
    """With a floor, the API's stated score wins over the cheaper local option of unknown
    quality, which the caveats name."""
    api_extra = 'quality = 0.8\nquality_source = "vendor card, 2026-11"'
    scenario = write_scenario(tmp_path, extra="quality_floor = 0.5", api_extra=api_extra)
    decision = decide(scenario, runs_dir, requests=500)
    frame = decision.options.set_index("option")
    assert frame.loc["Here", "monthly_usd"] < frame.loc["API", "monthly_usd"]  # the premise
    assert decision.recommendation.option == "API"
    assert decision.recommendation.quality_label == "quality 80% (sourced, not measured here)"
    assert any("Here is cheaper" in c for c in decision.recommendation.caveats)
    assert "quality unknown" in decision.recommendation.reasons["Here"]


def test_without_a_floor_the_cheaper_unknown_option_wins_and_says_so(tmp_path, runs_dir):
    """No floor: the cheaper local option is recommended, and the caveat names the known one."""
    api_extra = 'quality = 0.8\nquality_source = "vendor card, 2026-11"'
    decision = decide(write_scenario(tmp_path, api_extra=api_extra), runs_dir, requests=500)
    assert decision.recommendation.option == "Here"
    assert any("API (80%) is known" in c for c in decision.recommendation.caveats)


def test_quality_from_an_eval_run_of_the_model(tmp_path, runs_dir):
    """An `eval` run of the local model on the scenario's set gives its quality (fp32's score
    standing for a variant within tolerance); with the floor it is ruled out."""
    with start_run("eval", {"model": "tiny-chat"}, runs_dir=runs_dir) as run:
        run.set_summary(model="tiny-chat", variant="fp32", score=0.4, eval_set="support_faq")
    with start_run("eval", {"model": "tiny-chat"}, runs_dir=runs_dir) as run:
        run.set_summary(model="tiny-chat", variant="fp32", score=0.9, eval_set="other-set")
    api_extra = 'quality = 0.8\nquality_source = "vendor card, 2026-11"'
    extra = 'quality_floor = 0.6\neval_set = "support_faq"'
    scenario = write_scenario(tmp_path, extra=extra, api_extra=api_extra)
    frame = decide(scenario, runs_dir, requests=500).options.set_index("option")
    assert frame.loc["Here", "quality"] == pytest.approx(0.4)
    assert "support_faq" in frame.loc["Here", "quality_source"]
    assert "fp32's score" in frame.loc["Here", "quality_source"]
    assert frame.loc["Here", "quality_kind"] == "inherited"
    assert frame.loc["API", "quality_kind"] == "sourced"
    assert frame.loc["Here", "ruled_out"] == "quality 40% is below the floor 60%"


def test_data_that_must_stay_on_the_device_rules_out_the_api(tmp_path, runs_dir):
    """data_must_stay = "device": the API is priced but ruled out, and the rule is named."""
    scenario = write_scenario(tmp_path, extra='data_must_stay = "device"')
    decision = decide(scenario, runs_dir, requests=500)
    frame = decision.options.set_index("option")
    assert frame.loc["API", "ruled_out"].startswith("keeps data at provider-region")
    assert decision.recommendation.option == "Here"
    assert decision.recommendation.where == "device"
    assert "data stays on the device" in decision.recommendation.sentence


def test_when_every_option_is_ruled_out_the_error_gives_each_reason(tmp_path, runs_dir):
    """A 1 ms objective rules both out; the message names both options and why."""
    scenario = write_scenario(tmp_path)
    with pytest.raises(InvalidInputError, match=r"API: p50 latency .* misses.*Here: p50"):
        decide(scenario, runs_dir, overrides={"latency_objective_ms": 1}, requests=500)


def test_an_unknown_override_is_refused_naming_the_fields(tmp_path, runs_dir):
    """--set request_per_month=… suggests requests_per_month."""
    with pytest.raises(InvalidInputError, match="requests_per_month"):
        decide(write_scenario(tmp_path), runs_dir, overrides={"request_per_month": 5})


def test_recommendation_sentence_names_what_where_cost_p95_quality_and_runner_up():
    """The one sentence carries every figure a reader needs, formatted for people."""
    frame = pd.DataFrame(
        [
            _row("A", 1234.5, p95=850.0, quality=0.9, model="m1", variant="int8"),
            _row("B", 2000.0, p95=1500.0, quality=0.95, model="m2"),
        ]
    )
    scenario = load_scenario("support_chatbot")
    rec = recommend(frame, scenario)
    assert rec.sentence.startswith("Run m1 (int8) on A (data stays on the device): $1,234.50")
    assert "p95 850 ms, quality 90%" in rec.sentence
    assert "Runner-up: B at $2,000.00 a month ($765.50 more)." in rec.sentence


def test_decision_round_trips_through_json_and_a_saved_run(tmp_path, runs_dir):
    """to_dict/from_dict through JSON, and a decision run, give back the same decision."""
    decision = decide(write_scenario(tmp_path), runs_dir, requests=500)
    again = Decision.from_dict(json.loads(json.dumps(_json(decision.to_dict()))))
    assert again.recommendation == decision.recommendation
    pd.testing.assert_frame_equal(
        again.options.reset_index(drop=True), decision.options, check_dtype=False
    )
    assert again.setup.config == decision.setup.config
    record_decision(decision, runs_dir)
    loaded = Decision.from_run(load_run(decision.run_id, runs_dir))
    assert loaded.recommendation == decision.recommendation
    assert set(loaded.latency_samples_ms) == set(decision.latency_samples_ms)


def test_report_is_one_offline_page_with_the_recommendation(tmp_path, runs_dir):
    """The HTML report holds the sentence, the table, inline charts and loads nothing remote."""
    decision = decide(write_scenario(tmp_path), runs_dir, requests=500)
    page = to_html(decision)
    assert decision.recommendation.sentence.replace("'", "&#x27;") in page
    assert page.count("<h1>") == 1
    assert "data:image/png;base64," in page
    assert "src='http" not in page and "<script" not in page and "<link" not in page
    markdown = write_report(decision, tmp_path / "decision.md")
    assert (tmp_path / "decision_charts" / "cost.png").stat().st_size > 0
    assert "](decision_charts/cost.png)" in markdown.read_text(encoding="utf-8")


def test_the_report_and_the_static_export_show_a_decision_the_same_way(tmp_path, runs_dir):
    """The static export opens with the very section the HTML report shows for the decision."""
    from workbench.publish.export import decision_html

    decision = decide(write_scenario(tmp_path), runs_dir, requests=500)

    section = decision_html(decision)

    assert section.startswith('<section class="decision">') and section.count('class="answer"') == 1
    assert section.count("data:image/png;base64,") == 5
    assert section in to_html(decision)


def test_report_refuses_an_unknown_suffix(tmp_path, runs_dir):
    """--report decision.pdf is refused before any work, naming the formats."""
    decision = decide(write_scenario(tmp_path), runs_dir, requests=500)
    with pytest.raises(InvalidInputError, match=r"\.html or \.md"):
        write_report(decision, tmp_path / "decision.pdf")


def test_cli_decide_prints_json_and_records_a_decision_run(tmp_path, runs_dir, capsys):
    """`workbench decide FILE --json -` prints the decision; a `decision` run is recorded."""
    from workbench.cli import main

    scenario = write_scenario(tmp_path)
    main(["decide", str(scenario), "--runs-dir", str(runs_dir), "--json", "-", "--requests", "500"])
    data = json.loads(capsys.readouterr().out)
    rec = data["recommendation"]
    for key in ("option", "model", "variant", "where", "monthly_usd", "p95_ms", "quality"):
        assert key in rec
    assert rec["monthly_usd"] > 0 and rec["p95_ms"] > 0
    kinds = [s.kind for s in list_runs(runs_dir)]
    assert kinds.count("decision") == 1


def test_cli_decide_refuses_a_bad_set_before_any_work(tmp_path, runs_dir):
    """--set without '=' is refused with the form to write."""
    from workbench.cli import main

    status = main(
        ["decide", str(write_scenario(tmp_path)), "--runs-dir", str(runs_dir), "--set", "x"]
    )
    assert status != 0
    assert not any(s.kind == "decision" for s in list_runs(runs_dir))


def _row(name: str, monthly: float, **values) -> dict:
    row = {
        "option": name,
        "kind": "local",
        "feasible": True,
        "monthly_usd": monthly,
        "p50_ms": values.get("p95", 100.0) / 2,
        "p95_ms": math.nan,
        "quality": math.nan,
        "model": "",
        "variant": "",
        "data_location": "device",
        "on_premises_ok": True,
        "estimate": False,
        "ruled_out": "",
        "reason": "",
    }
    row.update({("p95_ms" if k == "p95" else k): v for k, v in values.items()})
    return row


def _json(value):
    from workbench.kit.jsonvalues import json_ready

    return json_ready(value)


def test_a_scale_to_zero_instance_to_overflow_to_brings_its_cold_start(tmp_path, runs_dir):
    """Overflowing to an instance with min_replicas 0: the simulation's cloud pays its start."""
    from workbench.decision import setup_from_scenario

    path = write_scenario(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8")
        + textwrap.dedent(
            """
            [[options]]
            name = "Endpoint"
            kind = "instance"
            instance = "aws-nvidia-t4-x1"
            tokens_per_s = 200
            min_replicas = 0
            cold_start_s = 45
            scale_to_zero_after_s = 600
            """
        ),
        encoding="utf-8",
    )
    setup = setup_from_scenario(path, runs_dir, requests=500, cloud_option="Endpoint")
    assert setup.config.cloud.cold_start_s == 45
    assert setup.config.cloud.idle_timeout_s == 600


def test_a_p95_from_few_calls_is_flagged_not_trusted(tmp_path, runs_dir):
    """Data must stay on the device; the local p95 rests on 5 calls, which the caveats say."""
    scenario = write_scenario(tmp_path, extra='data_must_stay = "device"')
    decision = decide(scenario, runs_dir, requests=500)
    assert any(
        "too few samples for a p95 interval (n = 5; need ≥ 72)" in c
        for c in decision.recommendation.caveats
    )


@pytest.mark.browser
def test_report_opens_offline_in_chromium_with_its_charts(tmp_path, runs_dir):
    """Chromium opens the HTML report from disk: one title, the sentence, every chart drawn,
    no request leaves the file."""
    from voila_util import CHROMIUM, CHROMIUM_ARGS

    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    decision = decide(write_scenario(tmp_path), runs_dir, requests=500)
    report = write_report(decision, tmp_path / "decision.html")
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(report.as_uri())
            assert page.locator("h1").all_inner_texts() == [decision.title]
            assert decision.recommendation.option in page.locator(".answer").inner_text()
            widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
            overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        finally:
            browser.close()
    assert len(widths) == 5 and all(w > 0 for w in widths)
    assert not overflow
    assert all(u.startswith(("file:", "data:")) for u in requested)


def test_a_published_score_on_the_scenarios_set_is_sourced_and_dated(tmp_path, runs_dir):
    """eval_set = "mmlu": gpt-4o-mini's published MMLU comes from data/quality with its source
    and date, marked as not measured here; the local model's stays unknown."""
    scenario = write_scenario(tmp_path, extra='eval_set = "mmlu"')
    frame = decide(scenario, runs_dir, requests=500).options.set_index("option")
    assert frame.loc["API", "quality"] == pytest.approx(0.82)
    assert frame.loc["API", "quality_kind"] == "sourced"
    assert "not measured here" in frame.loc["API", "quality_source"]
    assert "as of 2024-07-18" in frame.loc["API", "quality_source"]
    assert frame.loc["Here", "quality_kind"] == "unknown"
