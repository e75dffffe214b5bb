"""``workbench runs``: list, show and compare saved runs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.kit.cli import json_ready, print_json


def add_parser(commands: Any) -> None:
    runs = commands.add_parser("runs", help="saved benchmark and simulation runs")
    verbs = runs.add_subparsers(dest="verb", required=True)
    for verb, helptext in (
        ("list", "all runs"),
        ("show", "one run"),
        ("compare", "a table across runs"),
    ):
        sub = verbs.add_parser(verb, help=helptext)
        if verb == "show":
            sub.add_argument("run_id")
        if verb == "compare":
            sub.add_argument("run_ids", nargs="+")
            sub.add_argument("--table", default="points", help="which table to compare")
        sub.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
        sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
        sub.set_defaults(handler=globals()[f"_runs_{verb}"])


def _runs_list(args: argparse.Namespace) -> None:
    from workbench.runs import runs_table

    table = runs_table(args.runs_dir)
    if args.json:
        print_json(json_ready(table.to_dict("records")))
    elif table.empty:
        print("no runs yet: `workbench bench MODEL` records one")
    else:
        print(table.to_string(index=False))


def _runs_show(args: argparse.Namespace) -> None:
    from workbench.runs import load_run

    run = load_run(args.run_id, runs_dir=args.runs_dir)
    if args.json:
        print_json(json_ready(run.to_dict()))
        return
    print(f"run {run.id} ({run.kind}, {run.status}), {run.started_at} to {run.ended_at}")
    print(f"config: {json.dumps(run.config)}")
    for name, table in run.tables.items():
        print(f"\n{name}:")
        print((points_table(table) if name == "points" else table.head(20)).to_string(index=False))


def _runs_compare(args: argparse.Namespace) -> None:
    from workbench.runs import compare_runs

    table = compare_runs(args.run_ids, table=args.table, runs_dir=args.runs_dir)
    if args.json:
        print_json(json_ready(table.to_dict("records")))
    else:
        print(table.round(3).to_string(index=False))


def points_table(points: Any) -> Any:
    """A benchmark's points with the columns a reader checks first, rounded for the terminal."""
    columns = [
        "variant",
        "dtype",
        "threads",
        "batch",
        "seq_len",
        "p50_ms",
        "p95_ms",
        "throughput_items_per_s",
        "tokens_per_s",
        "ttft_ms",
        "tpot_ms",
        "peak_rss_mb",
        "cosine_min",
        "agreement",
        "first_divergence_min",
    ]
    table = points[[c for c in columns if c in points.columns]].copy()
    return table.round(3)
