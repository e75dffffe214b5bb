"""``workbench decide``, ``workbench cost compare`` and ``workbench hybrid simulate``: the
recommendation for a scenario, its options priced side by side, and its routing policies
simulated. Flags of settings come from the config fields
(:class:`~workbench.decision.config.CompareSettings`,
:class:`~workbench.decision.config.ScenarioSimulation`)."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import TYPE_CHECKING, Any

from workbench.decision.config import CompareSettings, ScenarioSimulation
from workbench.kit.cli import (
    add_config_flags,
    add_json_option,
    check_writable,
    config_values,
    json_ready,
    json_to_stdout,
    write_json,
)

if TYPE_CHECKING:
    import pandas as pd

#: Columns ``cost compare`` prints; the JSON file has every column.
TABLE_COLUMNS = (
    "option",
    "kind",
    "model",
    "variant",
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
    "ruled_out",
)
#: Columns ``hybrid simulate`` prints; the JSON file has every column.
POLICY_COLUMNS = (
    "policy", "status", "p50_ms", "p95_ms", "p99_ms", "goodput_share", "offloaded_share",
    "local_utilization", "monthly_cost", "cost_note", "pareto",
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
    add_json_option(compare, "the scenario, every option with every column, and the warnings")
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
    add_json_option(simulate, "one record per policy, every column")
    simulate.set_defaults(handler=_hybrid_simulate)
    _add_decide(commands)


def _add_decide(commands: Any) -> None:
    decide = commands.add_parser(
        "decide",
        help="where should a scenario's model run: one recommendation, with its reasons",
        description="Price a scenario's options, apply the rules (capacity, data location, "
        "latency objective, quality floor), recommend one, and simulate hybrid routing. "
        "Prints the recommendation; --json and --report write the whole decision.",
    )
    decide.add_argument(
        "scenario", help="a scenario TOML file, or the name of a shipped one (support_chatbot)"
    )
    decide.add_argument(
        "--run",
        action="append",
        default=None,
        metavar="ID",
        help="a run to decide from instead of the scenario's [runs] (repeat for several)",
    )
    decide.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="replace a workload field, e.g. --set requests_per_month=2000000 (repeatable)",
    )
    add_json_option(decide, "the whole decision")
    decide.add_argument(
        "--report", metavar="FILE", help="write a one-page report: decision.html or decision.md"
    )
    decide.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    decide.add_argument(
        "--requests",
        type=int,
        default=5000,
        help="requests per simulated routing stream (default 5000; 100 to 200000)",
    )
    decide.add_argument(
        "--today", metavar="YYYY-MM-DD", help="the day price ages are counted to (default today)"
    )
    decide.add_argument("--no-save", action="store_true", help="do not record a decision run")
    decide.set_defaults(handler=_decide)


def _decide(args: argparse.Namespace) -> None:
    from workbench.decision.compare import decide
    from workbench.decision.report import check_report_path, write_report
    from workbench.decision.result import record_decision
    from workbench.kit import checks
    from workbench.runs import check_can_record

    to_stdout = json_to_stdout(args)
    check_writable(args.json)
    if args.report:
        check_report_path(args.report)
    checks.whole("requests", args.requests, 100, 200_000, flag="--requests")
    today = _parse_day(args.today) if args.today else None
    overrides = _parse_sets(args.set)
    check_can_record(not args.no_save, args.runs_dir)
    say = (lambda text: print(text, file=sys.stderr)) if to_stdout else print
    decision = decide(
        args.scenario,
        args.runs_dir,
        runs=args.run,
        overrides=overrides,
        requests=args.requests,
        today=today,
    )
    if not args.no_save:
        record_decision(decision, args.runs_dir)
    say(decision.title)
    say(decision.recommendation.sentence)
    for caveat in decision.recommendation.caveats:
        say(f"  - {caveat}")
    if args.report:
        say(f"wrote {write_report(decision, args.report)}")
    if decision.run_id:
        say(f"recorded run {decision.run_id}")
    write_json(args.json, decision.to_dict())
    if args.json and not to_stdout:
        say(f"wrote {args.json}")


def _parse_sets(items: list[str]) -> dict[str, Any]:
    """``["requests_per_month=2e6"]`` as ``{"requests_per_month": 2000000.0}``."""
    from workbench.kit.errors import InvalidInputError

    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(
                f"--set {item!r}: write KEY=VALUE, e.g. --set requests_per_month=2000000."
            )
        values[key.strip()] = _parse_value(text.strip())
    return values


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null", ""):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _parse_day(text: str) -> Any:
    import datetime

    from workbench.kit.errors import InvalidInputError

    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"--today {text!r}: give a day as YYYY-MM-DD, e.g. --today 2026-12-03."
        ) from None


def _cost_compare(args: argparse.Namespace) -> None:
    from workbench.cost import StalePriceWarning, load_prices
    from workbench.decision.options import compare_options
    from workbench.decision.scenarios import load_scenario
    from workbench.devices import load_devices

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
        write_json(args.json, report)
        if not json_to_stdout(args):
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

    check_writable(args.json)
    settings = ScenarioSimulation(**config_values(args, ScenarioSimulation))
    setup = setup_from_scenario(args.scenario, args.runs_dir, settings=settings)
    table = simulate_scenario(setup)
    for note in setup.notes:
        print(note)
    print(table[[c for c in POLICY_COLUMNS if c in table.columns]].round(4).to_string(index=False))
    write_json(args.json, table.to_dict("records"))


__all__ = ["add_parser"]
