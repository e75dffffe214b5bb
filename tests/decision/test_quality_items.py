"""Quality read from an eval run of another set that scores the scenario set's items
(``same_items_as``): ticket-topics scores the ticket-routing tickets with embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest
from decision_runs import record_generation_run, write_scenario

from workbench.decision.compare import decide
from workbench.decision.quality import eval_scores
from workbench.runs import start_run


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    record_generation_run(folder)
    return folder


def _eval_run(runs_dir: Path, **summary) -> str:
    with start_run("eval", {"model": summary["model"]}, runs_dir=runs_dir) as run:
        run.set_summary(**summary)
    return run.id


def test_a_run_on_a_set_scoring_the_same_items_measures_the_scenarios_set(tmp_path, runs_dir):
    """An embeddings eval whose set scores the scenario set's items counts as measured on it,
    and the source says which set, which items and which classifier."""
    run_id = _eval_run(
        runs_dir,
        model="tiny-chat",
        variant="fp32",
        score=0.95,
        score_low=0.915,
        score_high=0.971,
        items=240,
        eval_set="ticket-topics",
        same_items_as="ticket-routing",
        classifier="logreg-head",
    )
    scenario = write_scenario(tmp_path, extra='eval_set = "ticket-routing"')

    frame = decide(scenario, runs_dir, requests=500).options.set_index("option")

    assert frame.loc["Here", "quality"] == pytest.approx(0.95)
    source = frame.loc["Here", "quality_source"]
    assert run_id in source and "ticket-topics: the ticket-routing items" in source
    assert "logistic-regression head" in source and "92%–97%" in source


def test_a_run_on_an_unrelated_set_or_a_sample_does_not_count(runs_dir):
    """Another set's score, or a --limit sample of the right set, is not the scenario's."""
    _eval_run(runs_dir, model="a", variant="fp32", score=0.9, eval_set="short-answer")
    _eval_run(
        runs_dir,
        model="b",
        variant="fp32",
        score=0.9,
        eval_set="ticket-topics",
        same_items_as="ticket-routing",
        limit=40,
    )
    _eval_run(runs_dir, model="c", variant="fp32", score=0.5, eval_set="ticket-routing")

    assert set(eval_scores(runs_dir, "ticket-routing")) == {("c", "fp32")}


def test_shipped_ticket_routing_recommends_the_measured_head_over_unmeasured_llms(minilm, tmp_path):
    """The ticket_routing scenario on a real minilm benchmark and a real minilm + head eval on
    the ticket-routing tickets: the local option's quality is measured (well above the 90%
    floor), the hosted LLMs' is unknown until measured, and the decision says so."""
    from workbench.bench.config import BenchConfig, MeasurePolicy
    from workbench.bench.runner import run_benchmark
    from workbench.eval import EvalConfig, run_eval

    runs_dir = tmp_path / "runs"
    quick = MeasurePolicy(warmup=1, min_iters=5, min_seconds=0.0)
    bench = BenchConfig("minilm", seq_lens=(64,), policy=quick)
    run_benchmark(bench, runs_dir=runs_dir, progress=False)
    head = run_eval(
        EvalConfig("minilm", "ticket-topics", classifier="logreg-head"),
        runner=minilm,
        runs_dir=runs_dir,
        progress=False,
    )

    decision = decide("ticket_routing", runs_dir, requests=500, routing=False)

    frame = decision.options.set_index("option")
    assert decision.recommendation.option in ("This machine", "Raspberry Pi 5 at the office")
    assert frame.loc["This machine", "quality_kind"] == "measured"
    assert frame.loc["This machine", "quality"] == pytest.approx(head.score) and head.score > 0.9
    assert frame.loc["Raspberry Pi 5 at the office", "quality_kind"] == "inherited"
    assert (
        frame.loc[["OpenAI gpt-4o-mini", "Llama 3.1 8B on Groq"], "quality_kind"] == "unknown"
    ).all()
    assert any("quality is unknown" in c for c in decision.recommendation.caveats)
