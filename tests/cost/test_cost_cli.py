"""The `cost compare` and `prices list` handlers, driven through a parser built in the test."""

from __future__ import annotations

import argparse
import json

import pytest

from workbench.cost.cli import add_parser
from workbench.decision.cli import add_parser as add_decision_parser
from workbench.kit.errors import InvalidInputError, WorkbenchError

# Prices for the test scenario, added to the shipped catalog with --overrides.
OVERRIDES = """
[[api]]
provider = "testco"
model = "embed-1"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 0.0
source = "https://testco.example/prices"
as_of = "2026-11-01"

[[instances]]
provider = "testcloud"
name = "gpu-1"
usd_per_hour = 1.0
source = "https://testcloud.example"
as_of = "2026-11-01"
"""

# Throughputs are given, so no run is needed: API $262.80, GPU 1 x $730, machine $124.60.
SCENARIO = """
name = "CLI test"

[workload]
requests_per_month = 2628000
peak_requests_per_s = 3.0
input_tokens = 100
latency_objective_ms = 100

[[options]]
name = "API"
kind = "api"
provider = "testco"
model = "embed-1"

[[options]]
name = "Rented GPU"
kind = "instance"
instance = "gpu-1"
requests_per_s = 500
utilization = 0.5

[[options]]
name = "This machine"
kind = "local"
power_w = 100
hardware_usd = 1200
amortization_months = 12
usd_per_kwh = 0.2
ops_usd_per_month = 10
requests_per_s = 50
utilization = 0.5
"""


def run(argv: list[str]) -> None:
    """Parse ``argv`` with a parser holding only these commands and call the handler."""
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    add_parser(commands)
    add_decision_parser(commands)  # `cost compare` lives with the scenarios
    args = parser.parse_args(argv)
    args.handler(args)


@pytest.fixture
def files(tmp_path):
    """The scenario and overrides files."""
    (tmp_path / "overrides.toml").write_text(OVERRIDES, encoding="utf-8")
    (tmp_path / "scenario.toml").write_text(SCENARIO, encoding="utf-8")
    return tmp_path


def test_prices_list_prints_the_catalog(capsys):
    """The table names Hugging Face endpoint rows with their source."""
    run(["prices", "list"])

    out = capsys.readouterr().out
    assert "huggingface/aws-nvidia-t4-x1" in out
    assert "huggingface.co/docs/inference-endpoints" in out


def test_prices_list_json_is_a_list_of_rows(capsys):
    """--json prints one record per row with its source and as_of."""
    run(["prices", "list", "--json"])

    rows = json.loads(capsys.readouterr().out)
    assert {"table", "key", "price", "source", "as_of"} <= set(rows[0])
    assert any(r["key"] == "openai/gpt-4o-mini" for r in rows)


def test_prices_list_stale_with_a_generous_age_finds_nothing(capsys):
    """No shipped row is 100,000 days old."""
    run(["prices", "list", "--stale", "--max-age-days", "100000"])

    assert "no price row is older than 100000 days" in capsys.readouterr().out


def test_prices_list_applies_overrides(files, capsys):
    """Rows from --overrides appear in the list."""
    run(["prices", "list", "--overrides", str(files / "overrides.toml")])

    assert "testcloud/gpu-1" in capsys.readouterr().out


def test_cost_compare_prints_the_table_and_writes_json(files, capsys):
    """The printed table lists every option; the JSON has the hand-computed monthly costs."""
    target = files / "out.json"

    run(
        [
            "cost",
            "compare",
            str(files / "scenario.toml"),
            "--overrides",
            str(files / "overrides.toml"),
            "--json",
            str(target),
        ]
    )

    out = capsys.readouterr().out
    assert "CLI test" in out and "Rented GPU" in out and "This machine" in out
    report = json.loads(target.read_text(encoding="utf-8"))
    monthly = {row["option"]: row["monthly_usd"] for row in report["options"]}
    assert monthly == pytest.approx({"API": 262.8, "Rented GPU": 730.0, "This machine": 124.6})
    assert report["scenario"]["name"] == "CLI test"


def test_cost_compare_with_a_missing_run_raises_a_workbench_error(files, tmp_path):
    """A scenario naming a run that does not exist fails with a message, not a traceback."""
    text = SCENARIO.replace("requests_per_s = 50\n", "") + '\n[runs]\nlocal = "no-such-run"\n'
    path = files / "needs_run.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(WorkbenchError, match="no-such-run"):
        run(
            [
                "cost",
                "compare",
                str(path),
                "--overrides",
                str(files / "overrides.toml"),
                "--runs-dir",
                str(tmp_path / "runs"),
            ]
        )


def test_cost_compare_refuses_json_into_a_missing_folder(files):
    """--json into a folder that does not exist is refused before any work."""
    with pytest.raises(InvalidInputError, match="does not exist"):
        run(["cost", "compare", str(files / "scenario.toml"), "--json", "/no/such/dir/out.json"])
