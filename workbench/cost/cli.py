"""The ``cost`` and ``prices`` subcommands, added to the ``workbench`` command line.

``workbench.cli.build_parser`` calls :func:`add_parser` with its subparsers object; the
handlers print tables and raise :class:`workbench.errors.WorkbenchError` for anything a user
can fix (the main entry point prints those on one line and exits with status 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from workbench.cli_util import check_writable, json_ready
from workbench.errors import InvalidInputError

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
    """Add ``cost compare`` and ``prices list`` to an argparse subparsers object.

    Parameters
    ----------
    commands
        What ``parser.add_subparsers(...)`` returned; each command sets ``handler``.
    """
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

    prices = commands.add_parser("prices", help="the dated price catalog (data/prices/)")
    price_verbs = prices.add_subparsers(dest="verb", required=True)
    listing = price_verbs.add_parser("list", help="every price row with its source and as_of")
    listing.add_argument("--stale", action="store_true", help="only rows older than --max-age-days")
    listing.add_argument(
        "--max-age-days", type=int, default=180, help="age that makes a row stale (default 180)"
    )
    listing.add_argument("--overrides", metavar="FILE", help="apply a price overrides TOML file")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=_prices_list)


def _cost_compare(args: argparse.Namespace) -> None:
    from workbench.cost.prices import StalePriceWarning, load_prices
    from workbench.devices import load_devices
    from workbench.scenarios import compare_options, load_scenario

    if args.json:
        check_writable(args.json)
    _check_age(args.max_age_days)
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
        from workbench.runs_io import atomic_write_text

        report = {
            "scenario": scenario.to_dict(),
            "options": json_ready(table.to_dict("records")),
            "warnings": list(table.attrs.get("warnings", [])),
        }
        atomic_write_text(Path(args.json), json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")


def _prices_list(args: argparse.Namespace) -> None:
    from workbench.cost.prices import load_prices, prices_table

    _check_age(args.max_age_days)
    catalog = load_prices(overrides=args.overrides)
    if args.stale:
        table = catalog.stale_rows(args.max_age_days)
        empty = f"no price row is older than {args.max_age_days} days"
    else:
        table = prices_table(catalog)
        empty = "the price catalog is empty"
    if args.json:
        print(json.dumps(json_ready(table.to_dict("records")), indent=2, ensure_ascii=False))
    elif table.empty:
        print(empty)
    else:
        print(table.to_string(index=False))


def _check_age(days: Any) -> None:
    if not isinstance(days, int) or days < 0:
        raise InvalidInputError(f"--max-age-days must be a whole number >= 0, got {days!r}.")


__all__ = ["TABLE_COLUMNS", "add_parser"]
