"""``workbench cost compare`` and ``workbench hybrid simulate``: a scenario's options priced side by
side, and its routing policies simulated."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from workbench.cost.cli import check_age
from workbench.kit.cli import check_writable, json_ready

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
    compare.add_argument(
        "--max-age-days",
        type=int,
        default=180,
        help="warn about price rows older than this (default 180)",
    )
    compare.set_defaults(handler=_cost_compare)

    _add_hybrid(commands)


def _cost_compare(args: argparse.Namespace) -> None:
    from workbench.cost.prices import StalePriceWarning, load_prices
    from workbench.decision.scenarios import compare_options, load_scenario
    from workbench.devices import load_devices

    if args.json:
        check_writable(args.json)
    check_age(args.max_age_days)
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
            max_age_days=args.max_age_days,
        )
    workload = scenario.workload
    print(
        f"{scenario.name}: {workload.requests_per_month:,.0f} requests/month, peak "
        f"{scenario.workload.cost_workload().peak_rate:.3g} requests/s, "
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
    problems = table[table["reason"] != ""]
    for _, row in problems.iterrows():
        print(f"{row['option']}: {row['reason']}")
    for message in table.attrs.get("warnings", []):
        print(f"warning: {message}", file=sys.stderr)
    if args.json:
        from workbench.kit.files import atomic_write_text

        report = {
            "scenario": scenario.to_dict(),
            "options": json_ready(table.to_dict("records")),
            "warnings": list(table.attrs.get("warnings", [])),
        }
        atomic_write_text(Path(args.json), json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")


def _add_hybrid(commands: Any) -> None:
    hybrid = commands.add_parser("hybrid", help="simulate local serving with overflow to the cloud")
    verbs = hybrid.add_subparsers(dest="verb", required=True)
    simulate = verbs.add_parser("simulate", help="every routing policy on a scenario's workload")
    simulate.add_argument("scenario", help="a scenario TOML file or a shipped scenario's name")
    simulate.add_argument("--requests", type=int, default=20_000, help="requests to simulate")
    simulate.add_argument("--workers", type=int, default=1, help="local workers (default 1)")
    simulate.add_argument("--region", default="same-region", help="network preset to the cloud")
    simulate.add_argument("--cloud-option", help="the scenario option to overflow to")
    simulate.add_argument(
        "--cloud-ms-per-token", type=float, default=10.0, help="assumed cloud time per output token"
    )
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    simulate.add_argument("--json", metavar="FILE", help="also write one JSON record per policy")
    simulate.set_defaults(handler=_hybrid_simulate)


def _hybrid_simulate(args: argparse.Namespace) -> None:
    from workbench.decision.hybrid_setup import setup_from_scenario, simulate_scenario

    if args.json:
        check_writable(args.json)
    setup = setup_from_scenario(
        args.scenario,
        args.runs_dir,
        requests=args.requests,
        workers=args.workers,
        region=args.region,
        cloud_option=args.cloud_option,
        cloud_ms_per_output_token=args.cloud_ms_per_token,
    )
    table = simulate_scenario(setup, seed=args.seed)
    for note in setup.notes:
        print(note)
    shown = [
        "policy", "p50_ms", "p95_ms", "p99_ms", "goodput_share", "offloaded_share",
        "local_utilization", "monthly_cost", "pareto",
    ]  # fmt: skip
    print(table[[c for c in shown if c in table.columns]].round(4).to_string(index=False))
    if args.json:
        from workbench.kit.files import atomic_write_text

        atomic_write_text(
            args.json, json.dumps(json_ready(table.to_dict("records")), indent=2) + "\n"
        )
