"""The decision commands end to end on a real (small) benchmark run of the bundled chat model."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs_with_smollm2(tmp_path_factory, smollm2):
    """A runs folder holding one quick, real `workbench bench smollm2-135m` run."""
    runs_dir = tmp_path_factory.mktemp("decision-runs")
    done = run_cli(
        "bench", "smollm2-135m", "--max-new-tokens", "4", "--min-iters", "2",
        "--min-seconds", "0", "--quality-items", "1", "--runs-dir", str(runs_dir),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return runs_dir


def test_hybrid_simulate_compares_every_policy(runs_with_smollm2, tmp_path):
    """Every routing policy gets a row; local-only never offloads and cloud-only always does."""
    out = tmp_path / "policies.json"

    done = run_cli(
        "hybrid", "simulate", "support_chatbot", "--requests", "2000",
        "--runs-dir", str(runs_with_smollm2), "--json", str(out),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    rows = {row["policy"]: row for row in json.loads(out.read_text())}
    assert {"local-only", "cloud-only", "deadline", "overflow(k=0)"} <= set(rows)
    assert rows["local-only"]["offloaded_share"] == 0
    assert rows["cloud-only"]["offloaded_share"] == 1
    assert any(row["pareto"] for row in rows.values())
    assert "local service:" in done.stdout  # says where its inputs came from


def test_cost_compare_prices_every_option_of_the_scenario(runs_with_smollm2):
    """`cost compare` prints each option, marks projections as estimates and warns on old prices."""
    done = run_cli("cost", "compare", "support_chatbot", "--runs-dir", str(runs_with_smollm2))

    assert done.returncode == 0, done.stderr
    for option in ("OpenAI gpt-4o-mini", "HF Endpoint T4", "This machine"):
        assert option in done.stdout
    assert "ESTIMATES" in done.stdout


def test_scenario_without_its_run_fails_clearly(tmp_path):
    """A scenario whose run was never recorded exits 2 and says how to record it."""
    done = run_cli("hybrid", "simulate", "support_chatbot", "--runs-dir", str(tmp_path))

    assert done.returncode == 2
    assert done.stderr.startswith("error:")
    assert "Traceback" not in done.stderr
    assert "workbench bench" in done.stderr or "workbench runs list" in done.stderr
