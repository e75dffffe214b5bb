"""``workbench cost compare`` and ``workbench hybrid simulate``: a scenario's options priced side by
side, and its routing policies simulated. Flags of settings come from the config fields
(:class:`~workbench.decision.config.CompareSettings`,
:class:`~workbench.decision.config.ScenarioSimulation`)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.decision.config import CompareSettings, ScenarioSimulation
from workbench.kit.cli import add_config_flags, check_writable, config_values, json_ready

if TYPE_CHECKING:
    import pandas as pd

#: Columns ``cost compare`` prints; the JSON file has every column.
TABLE_COLUMNS = (
    "option",
    "kind",
    "monthly_usd",
    "usd_per_1k_requests",
    "units",
    "capacity_requests_per_s",
    "throughput",
    "throughput_unit",
    "estimate",
    "p50_ms",
    "meets_latency_objective",
    "break_even_vs",
    "break_even_requests_per_month",
    "stale",
    "on_premises_ok",
)
#: Columns ``hybrid simulate`` prints; the JSON file has every column.
POLICY_COLUMNS = (
    "policy", "p50_ms", "p95_ms", "p99_ms", "goodput_share", "offloaded_share",
    "local_utilization", "monthly_cost", "pareto",
)  # fmt: skip


def add_parser(commands: Any) -> None:
    """Add ``cost compare`` and ``hybrid simulate`` to the ``workbench`` subparsers."""
    cost = commands.add_parser("cost", help="compare what serving a workload costs each way")
    verbs = cost.add_subparsers(dest="verb", required=True)
    compare = verbs.add_parser(
        "compare", help="price every option of a scenario file (data/scenarios/*.toml)"
    )
    compare.add_argument(
        "scenario", help="a scenario TOML file, or the name of a shipped one (support_chatbot)"
    )
    compare.add_argument("--json", metavar="FILE", help="also write the full comparison as JSON")
    compare.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    compare.add_argument(
        "--overrides", metavar="FILE", help="a TOML file of price rows replacing or adding rows"
    )
    add_config_flags(compare, CompareSettings)
    compare.set_defaults(handler=_cost_compare)

    hybrid = commands.add_parser("hybrid", help="simulate local serving with overflow to the cloud")
    verbs = hybrid.add_subparsers(dest="verb", required=True)
    simulate = verbs.add_parser("simulate", help="every routing policy on a scenario's workload")
    simulate.add_argument("scenario", help="a scenario TOML file or a shipped scenario's name")
    add_config_flags(simulate, ScenarioSimulation)
    simulate.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    simulate.add_argument("--json", metavar="FILE", help="also write one JSON record per policy")
    simulate.set_defaults(handler=_hybrid_simulate)


def _cost_compare(args: argparse.Namespace) -> None:
    from workbench.cost import StalePriceWarning, load_prices
    from workbench.decision.options import compare_options
    from workbench.decision.scenarios import load_scenario
    from workbench.devices import load_devices

    if args.json:
        check_writable(args.json)
    settings = CompareSettings(**config_values(args, CompareSettings))
    prices = load_prices(overrides=args.overrides)
    devices = load_devices()
    scenario = load_scenario(args.scenario, prices=prices, devices=devices)
    with warnings.catch_warnings():
        # The table's `stale` column and the lines below say it; no Python warning text too.
        warnings.simplefilter("ignore", StalePriceWarning)
        table = compare_options(
            scenario,
            args.runs_dir,
            prices=prices,
            devices=devices,
            max_age_days=settings.max_age_days,
        )
    _print_comparison(scenario, table)
    if args.json:
        report = {
            "scenario": scenario.to_dict(),
            "options": json_ready(table.to_dict("records")),
            "warnings": list(table.attrs.get("warnings", [])),
        }
        _write_json(args.json, report)
        print(f"\nwrote {args.json}")


def _print_comparison(scenario: Any, table: pd.DataFrame) -> None:
    """The workload in one line, the table, the estimates, the problems and the warnings."""
    workload = scenario.workload
    print(
        f"{scenario.name}: {workload.requests_per_month:,.0f} requests/month, peak "
        f"{workload.cost_workload().peak_rate:.3g} requests/s, "
        f"{workload.input_tokens:g} in / {workload.output_tokens:g} out tokens, objective "
        f"{workload.latency_objective_ms:g} ms"
    )
    shown = table[[c for c in TABLE_COLUMNS if c in table.columns]].round(4)
    print(shown.to_string(index=False))
    estimates = table[table["estimate"]]
    if not estimates.empty:
        print(
            "\nESTIMATES (roofline projection of a measured run, not measurements): "
            + ", ".join(estimates["option"])
        )
    for _, row in table[table["reason"] != ""].iterrows():
        print(f"{row['option']}: {row['reason']}")
    for message in table.attrs.get("warnings", []):
        print(f"warning: {message}", file=sys.stderr)


def _hybrid_simulate(args: argparse.Namespace) -> None:
    from workbench.decision.hybrid_setup import setup_from_scenario, simulate_scenario

    if args.json:
        check_writable(args.json)
    settings = ScenarioSimulation(**config_values(args, ScenarioSimulation))
    setup = setup_from_scenario(args.scenario, args.runs_dir, settings=settings)
    table = simulate_scenario(setup)
    for note in setup.notes:
        print(note)
    print(table[[c for c in POLICY_COLUMNS if c in table.columns]].round(4).to_string(index=False))
    if args.json:
        _write_json(args.json, json_ready(table.to_dict("records")))


def _write_json(path: str, value: Any) -> None:
    from workbench.kit.files import atomic_write_text

    atomic_write_text(Path(path), json.dumps(value, indent=2) + "\n")


__all__ = ["add_parser"]
