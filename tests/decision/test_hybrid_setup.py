"""A hybrid simulation built from a scenario: its local workers priced, or said to be unknown."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from decision_runs import record_generation_run as record_fp32_run
from decision_runs import write_scenario

from workbench.decision import load_scenario, setup_from_scenario, simulate_scenario
from workbench.decision.resolve import resolve_options

pytestmark = pytest.mark.filterwarnings("ignore::workbench.cost.StalePriceWarning")


LOCAL = """
[[options]]
name = "Here"
kind = "local"
power_w = 100
hardware_usd = 1200
amortization_months = 12
usd_per_kwh = 0.2
ops_usd_per_month = 10
max_units = 1
"""


def record_generation_run(runs_dir: Path) -> str:
    """A bench run of one fp32 generation point: 8-token calls of about 1 s."""
    return record_fp32_run(runs_dir, variants=(("fp32", 1.0, 1.0),))


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    record_generation_run(folder)
    return folder


def scenario(tmp_path: Path, local: str = LOCAL):
    return load_scenario(write_scenario(tmp_path, extra='arrival_pattern = "poisson"', local=local))


def test_local_workers_are_priced_with_hardware_operations_and_energy(tmp_path, runs_dir):
    """One unit: $1,200 / 12 + 0.1 kW x 730 h x $0.20 + $10 = $124.60 a month."""
    setup = setup_from_scenario(scenario(tmp_path), runs_dir, requests=500)

    assert setup.config.local_fixed_monthly_cost == pytest.approx(124.6)
    assert any(note.startswith("local cost: 1 unit(s) of Here") for note in setup.notes)
    assert not any("counted as" in note for note in setup.notes)


def test_more_workers_than_the_scenario_allows_cannot_be_priced(tmp_path, runs_dir):
    """Two workers of a one-unit option: unknown cost, and every policy serving locally is NaN."""
    # This used to be "unknown ... counted as $0", so the policy that could not serve looked free.
    setup = setup_from_scenario(scenario(tmp_path), runs_dir, requests=500, workers=2)
    table = simulate_scenario(setup).set_index("policy")

    assert setup.config.local_fixed_monthly_cost is None
    assert "max_units" in setup.config.local_cost_note
    assert math.isnan(table.loc["local-only", "monthly_cost"])
    assert "max_units" in table.loc["overflow(k=0)", "cost_note"]
    assert table.loc["cloud-only", "monthly_cost"] > 0


def test_scenario_without_a_local_option_leaves_the_local_cost_unknown(tmp_path, runs_dir):
    """No option of kind local: the local workers' cost is unknown and said so, never $0."""
    setup = setup_from_scenario(scenario(tmp_path, local=""), runs_dir, requests=500)

    assert setup.config.local_fixed_monthly_cost is None
    assert 'no option of kind "local"' in setup.config.local_cost_note


def test_resolved_options_given_by_the_caller_give_the_same_setup(tmp_path, runs_dir):
    """Passing the options already resolved builds the same simulation as looking them up."""
    chat = scenario(tmp_path)

    looked_up = setup_from_scenario(chat, runs_dir, requests=500)
    given = setup_from_scenario(
        chat, runs_dir, requests=500, resolved=resolve_options(chat, runs_dir)
    )

    assert given.config == looked_up.config
