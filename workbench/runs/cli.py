"""``workbench runs``: list, show, compare, resume and export saved runs.

::

    workbench runs list                           # status says interrupted when the process died
    workbench runs resume ID                      # a federated run: continue from its last round

    workbench runs compare ID ID                  # bench runs: their points, stacked
    workbench runs compare ID ID                  # eval runs: each item's answers side by side
    workbench runs compare ID ID --table items --stacked

    workbench runs export --mlflow http://127.0.0.1:5000   # runs not in MLflow yet (again: ID)
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.kit import formats
from workbench.kit.cli import add_json_option, check_writable, json_to_stdout, write_json
from workbench.models.engines import DEFAULT_ENGINE

#: Characters of an answer shown in a side-by-side table (the JSON keeps them whole).
ANSWER_CHARS = 40
#: The run kinds that can be continued, and the handler (module:function) that continues one.
RESUMERS = {"federated": "workbench.federated.cli:resume"}


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
            sub.add_argument(
                "--table",
                help="which table to compare (default: points when every run has it, else the "
                "first table they all have, e.g. an eval's items)",
            )
            sub.add_argument(
                "--stacked",
                action="store_true",
                help="stack the runs' rows even for per-item answers (an eval's items), which "
                "are otherwise shown side by side per item id",
            )
        sub.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
        add_json_option(sub, f"{helptext}, every field")
        sub.set_defaults(handler=globals()[f"_runs_{verb}"])
    resume = verbs.add_parser(
        "resume",
        help="continue an interrupted run from its last finished round",
        description="Continue a run whose process stopped (listed as interrupted or failed) "
        "from its last finished round, in the same run folder. Federated runs of the inline "
        "launcher can be continued; the result equals an uninterrupted run with the same seed.",
    )
    resume.add_argument("run_id")
    resume.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    resume.add_argument(
        "--no-baseline", action="store_true", help="skip the centrally trained baseline"
    )
    add_json_option(resume, "one record per round")
    resume.set_defaults(handler=_runs_resume)
    export = verbs.add_parser(
        "export",
        help="export runs to an MLflow tracking server",
        description="Export runs to MLflow: one MLflow run per run, in an experiment named "
        "after its kind (workbench-bench, ...), with its settings as params, its figures as "
        "metrics (federated rounds and benchmark points as steps), its files as artifacts and "
        "the workbench run id as a tag. A run exported before is updated, never copied. Needs "
        "`pip install 'ai-deployment-workbench[mlflow]'`.",
    )
    export.add_argument(
        "run_ids",
        nargs="*",
        metavar="RUN_ID",
        help="runs to export (default: every ended run the server does not hold yet)",
    )
    export.add_argument(
        "--mlflow",
        metavar="URI",
        help="the tracking server, e.g. http://127.0.0.1:5000 (default $MLFLOW_TRACKING_URI)",
    )
    export.add_argument(
        "--experiment", metavar="NAME", help="one experiment for every run (default per kind)"
    )
    export.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    add_json_option(export, "per run: its id, the MLflow run id, experiment, created or updated")
    export.set_defaults(handler=_runs_export)


def _runs_resume(args: argparse.Namespace) -> None:
    import importlib

    from workbench.kit.errors import InvalidInputError
    from workbench.runs import load_run

    check_writable(args.json)
    run = load_run(args.run_id, runs_dir=args.runs_dir)
    if run.kind not in RESUMERS:
        raise InvalidInputError(
            f"Run {run.id} is a {run.kind!r} run, which cannot be resumed; only "
            f"{', '.join(RESUMERS)} runs can. Run it again instead."
        )
    module, _, name = RESUMERS[run.kind].partition(":")
    getattr(importlib.import_module(module), name)(
        argparse.Namespace(**{**vars(args), "run_id": run.id})
    )


def _runs_export(args: argparse.Namespace) -> None:
    from workbench.kit.urls import without_userinfo
    from workbench.runs.mlflow_export import export_runs, run_link, tracking_uri_of

    check_writable(args.json)
    quiet = json_to_stdout(args)

    def say(done: Any) -> None:
        if not quiet:
            link = run_link(tracking_uri_of(args.mlflow), done) or done.mlflow_run_id
            print(f"{done.action} {done.run_id} in {done.experiment}: {link}", flush=True)

    exported = export_runs(
        args.run_ids,
        tracking_uri=args.mlflow,
        runs_dir=args.runs_dir,
        experiment=args.experiment,
        on_run=say,
    )
    uri = tracking_uri_of(args.mlflow)
    write_json(
        args.json,
        {"tracking_uri": without_userinfo(uri), "runs": [e.to_dict() for e in exported]},
    )
    if not quiet and not exported:
        print(
            f"nothing to export: {without_userinfo(uri)} already holds every ended run in the "
            "runs folder (name run ids to export them again)"
        )


def _runs_list(args: argparse.Namespace) -> None:
    from workbench.runs import runs_table

    check_writable(args.json)
    table = runs_table(args.runs_dir)
    write_json(args.json, table.to_dict("records"))
    if json_to_stdout(args):
        return
    if table.empty:
        print("no runs yet: `workbench bench MODEL` records one")
    else:
        print(table.to_string(index=False))


def _runs_show(args: argparse.Namespace) -> None:
    from workbench.runs import load_run

    check_writable(args.json)
    run = load_run(args.run_id, runs_dir=args.runs_dir)
    write_json(args.json, run.to_dict())
    if json_to_stdout(args):
        return
    print(f"run {run.id} ({run.kind}, {run.status}), {run.started_at} to {run.ended_at}")
    print(f"config: {json.dumps(run.config)}")
    for name, table in run.tables.items():
        print(f"\n{name}:")
        print((points_table(table) if name == "points" else table.head(20)).to_string(index=False))


def _runs_compare(args: argparse.Namespace) -> None:
    from workbench.runs.compare import (
        compare_items,
        compare_runs,
        holds_item_answers,
        load_runs,
        shared_table,
    )

    check_writable(args.json)
    runs = load_runs(args.run_ids, args.runs_dir)
    name = shared_table(runs, args.table)
    if holds_item_answers(runs, name) and not args.stacked:
        comparison = compare_items(runs, name)
        write_json(args.json, comparison.to_dict())
        if not json_to_stdout(args):
            print(items_text(comparison))
        return
    table = compare_runs(runs, table=name)
    if name == "points" and "engine" in table.columns:
        table["engine"] = _engines(table)  # rows of runs older than the engine column
    write_json(args.json, table.to_dict("records"))
    if not json_to_stdout(args):
        print(table.round(3).to_string(index=False))


def items_text(comparison: Any) -> str:
    """An :class:`~workbench.runs.compare.ItemComparison` for the terminal: the runs with their
    accuracy, who got how many items right, then the items (split ones first)."""
    runs = comparison.runs.copy()
    runs["accuracy"] = runs["accuracy"].map(formats.percent)
    letters = comparison.letters
    counts = comparison.right_in_counts()
    if len(letters) == 2:
        a, b = letters
        tally = (
            f"right in {a} only: {_items(counts[a])}; in {b} only: {_items(counts[b])}; "
            f"in both: {_items(counts['all'])}; in neither: {_items(counts['none'])}"
        )
    else:
        some = sum(n for key, n in counts.items() if key not in ("all", "none"))
        tally = (
            f"right in all runs: {_items(counts['all'])}; in none: {_items(counts['none'])}; in "
            f"some: {_items(some)} (right_in names the runs)"
        )
    items = comparison.items.copy()
    for letter in letters:
        items[f"answer_{letter}"] = items[f"answer_{letter}"].map(_short)
    return "\n".join(
        [
            f"table {comparison.table!r} of {len(letters)} runs, side by side per item id:",
            runs.to_string(index=False),
            "",
            tally,
            "",
            items.to_string(index=False),
        ]
    )


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _short(answer: Any) -> Any:
    """One line of at most :data:`ANSWER_CHARS` characters (a missing answer stays missing)."""
    if not isinstance(answer, str):
        return answer
    flat = " ".join(answer.split())
    return flat if len(flat) <= ANSWER_CHARS else flat[: ANSWER_CHARS - 1] + "…"


def points_table(points: Any) -> Any:
    """A benchmark's points with the columns a reader checks first, rounded for the terminal;
    the ``engine`` of each point comes first when the run measured more than transformers."""
    columns = [
        "engine",
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
    if set(_engines(points)) == {DEFAULT_ENGINE}:
        columns.remove("engine")  # one engine, as every run before the engine axis
    table = points[[c for c in columns if c in points.columns]].copy()
    return table.round(3)


def _engines(points: Any) -> list[str]:
    """The engines of a points table's rows (runs older than the column ran transformers)."""
    if "engine" not in points.columns:
        return [DEFAULT_ENGINE] * len(points)
    return [str(e) if isinstance(e, str) and e else DEFAULT_ENGINE for e in points["engine"]]
