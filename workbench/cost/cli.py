"""``workbench prices list``: the dated price catalog.

``workbench cost compare`` prices a scenario's options, so it lives with the scenarios in
:mod:`workbench.decision.cli`. The handler prints a table and raises
:class:`workbench.kit.errors.WorkbenchError` for anything a user can fix (the main entry point
prints those on one line and exits with status 2).
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cost.prices import DEFAULT_MAX_AGE_DAYS, check_age, load_prices, prices_table
from workbench.kit.cli import add_json_option, check_writable, json_to_stdout, write_json


def add_parser(commands: Any) -> None:
    """Add ``prices list`` to an argparse subparsers object.

    Parameters
    ----------
    commands
        What ``parser.add_subparsers(...)`` returned; each command sets ``handler``.
    """
    prices = commands.add_parser("prices", help="the dated price catalog (data/prices/)")
    price_verbs = prices.add_subparsers(dest="verb", required=True)
    listing = price_verbs.add_parser("list", help="every price row with its source and as_of")
    listing.add_argument("--stale", action="store_true", help="only rows older than --max-age-days")
    listing.add_argument(
        "--max-age-days",
        type=int,
        default=DEFAULT_MAX_AGE_DAYS,
        help=f"age that makes a row stale (default {DEFAULT_MAX_AGE_DAYS})",
    )
    listing.add_argument("--overrides", metavar="FILE", help="apply a price overrides TOML file")
    add_json_option(listing, "one record per price row")
    listing.set_defaults(handler=_prices_list)


def _prices_list(args: argparse.Namespace) -> None:
    check_age(args.max_age_days, flag="--max-age-days")
    check_writable(args.json)
    catalog = load_prices(overrides=args.overrides)
    if args.stale:
        table = catalog.stale_rows(args.max_age_days)
        empty = f"no price row is older than {args.max_age_days} days"
    else:
        table = prices_table(catalog)
        empty = "the price catalog is empty"
    write_json(args.json, table.to_dict("records"))
    if json_to_stdout(args):
        return
    if table.empty:
        print(empty)
    else:
        print(table.to_string(index=False))


__all__ = ["add_parser"]
