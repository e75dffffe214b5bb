"""The decision's local and owned options on the fastest engine+variant path that keeps quality."""

from __future__ import annotations

from pathlib import Path

import pytest
from decision_runs import ENGINE_VARIANTS, HOST_PEAK, record_generation_run, write_scenario

from workbench.decision.compare import decide
from workbench.devices import HostPeak, load_devices, project_points
from workbench.runs import load_run, start_run

#: An owned Raspberry Pi 5: 17.1 GB/s, so a decode step of these models is bandwidth-bound.
OWNED_PI = """
[[options]]
name = "Pi"
kind = "owned"
device = "raspberry-pi-5"
amortization_months = 36
usd_per_kwh = 0.15
max_units = 8
"""


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    record_generation_run(folder, variants=ENGINE_VARIANTS)
    return folder


def test_the_fastest_tolerated_path_is_another_engines_and_is_named(tmp_path, runs_dir):
    """llama.cpp q4_1 (97% agreement, 6x fp32) is used and named in the row, the reason, the
    recommendation and the run sources."""
    decision = decide(write_scenario(tmp_path), runs_dir, requests=500)

    here = decision.options.set_index("option").loc["Here"]
    assert (here["engine"], here["variant"]) == ("llama.cpp", "llama.cpp q4_1")
    assert "llama.cpp q4_1: agreement with transformers fp32 97.0% ≥ 95%" in here["variant_reason"]
    assert "fastest of 3 tolerated paths" in here["variant_reason"]
    assert here["p50_ms"] == pytest.approx((300 + 7 * 100) / 6)
    assert decision.recommendation.option == "Here"
    assert "tiny-chat (llama.cpp q4_1)" in decision.recommendation.sentence
    runs = decision.sources["runs"].set_index("used for").loc["local", "what it measured"]
    assert "transformers fp32, int8-weight-only; llama.cpp q4_1" in runs
    assert "Here runs llama.cpp q4_1" in runs


def test_a_path_below_the_agreement_floor_gives_way_to_transformers(tmp_path, runs_dir):
    """With min_agreement 0.98, q4_1 (97%) is rejected and said so; transformers
    int8-weight-only (98.5%) is used."""
    scenario = write_scenario(tmp_path, extra="min_agreement = 0.98")

    here = decide(scenario, runs_dir, requests=500).options.set_index("option").loc["Here"]

    assert (here["engine"], here["variant"]) == ("transformers", "transformers int8-weight-only")
    assert (
        "not used: llama.cpp q4_1: agreement with transformers fp32 97.0% < 98%"
        in (here["variant_reason"])
    )


def test_the_tolerated_path_inherits_the_models_fp32_score(tmp_path, runs_dir):
    """An eval run of fp32 gives the q4_1 path its score, inherited and said so."""
    with start_run("eval", {"model": "tiny-chat"}, runs_dir=runs_dir) as run:
        run.set_summary(model="tiny-chat", variant="fp32", score=0.7, eval_set="support_faq")
    scenario = write_scenario(tmp_path, extra='eval_set = "support_faq"')

    here = decide(scenario, runs_dir, requests=500).options.set_index("option").loc["Here"]

    assert here["quality"] == pytest.approx(0.7)
    assert here["quality_kind"] == "inherited"
    assert "the llama.cpp q4_1 path being within the drift tolerance" in here["quality_source"]


def test_the_chosen_4_bit_path_projects_with_its_own_bytes(tmp_path, runs_dir):
    """On a bandwidth-bound Pi the q4_1 path (100 MB) projects to more than twice the tokens/s
    its point would reach if it moved fp32's 400 MB a token."""
    scenario = write_scenario(tmp_path, local=OWNED_PI)

    pi = decide(scenario, runs_dir, requests=500).options.set_index("option").loc["Pi"]

    assert pi["variant"] == "llama.cpp q4_1" and pi["estimate"]
    points = load_run(pi["throughput_source"].split()[2], runs_dir).table("points")
    q4 = points[points["variant"] == "q4_1"]
    as_fp32 = q4.assign(weight_bytes=400_000_000)
    device = load_devices()["raspberry-pi-5"]
    host = HostPeak.from_dict(HOST_PEAK)
    own, fp32_bytes = (
        project_points(p, host, [device]).iloc[0] for p in (q4.reset_index(drop=True), as_fp32)
    )
    assert own["bound"] == "memory"
    assert pi["throughput"] == pytest.approx(8 * 1000 / own["projected_p50_ms"])
    assert pi["throughput"] > 2 * 8 * 1000 / fp32_bytes["projected_p50_ms"]


def test_a_run_from_before_the_engine_axis_decides_as_before(tmp_path):
    """A run without an engine column: transformers int8-weight-only, named as before."""
    runs_dir = tmp_path / "runs"
    run_id = record_generation_run(runs_dir)
    assert "engine" not in load_run(run_id, runs_dir).table("points").columns  # the premise

    here = decide(write_scenario(tmp_path), runs_dir, requests=500).options.set_index("option")
    here = here.loc["Here"]

    assert (here["engine"], here["variant"]) == ("transformers", "int8-weight-only")
    assert "int8-weight-only: agreement with fp32 98.5% ≥ 95%" in here["variant_reason"]
    assert "fastest of 2 tolerated variants" in here["variant_reason"]
