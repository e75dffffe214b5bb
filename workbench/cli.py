"""The ``workbench`` command line: the same functions the notebooks and widgets use."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from workbench.cli_util import check_writable, json_ready
from workbench.errors import describe

EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Decide where AI should run: measure open models locally, at the edge, in the cloud.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="list, inspect and try open models")
    verbs = models.add_subparsers(dest="verb", required=True)

    listing = verbs.add_parser("list", help="the model catalog as a table")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=_models_list)

    info = verbs.add_parser("info", help="load a model and show what it is")
    info.add_argument("name", help="catalog alias, folder, .gguf file or hub id (owner/name)")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    _load_flags(info)
    info.set_defaults(handler=_models_info)

    trial = verbs.add_parser("try", help="embed a text, or generate from it")
    trial.add_argument("name", help="catalog alias, folder, .gguf file or hub id (owner/name)")
    trial.add_argument("text", help="the text to embed or to answer")
    trial.add_argument(
        "--max-new-tokens", type=int, default=64, help="most tokens to generate (default 64)"
    )
    trial.add_argument("--json", action="store_true", help="print JSON instead of text")
    _load_flags(trial)
    trial.set_defaults(handler=_models_try)

    _bench_parser(commands)
    _devices_parser(commands)
    _runs_parser(commands)
    from workbench.cloud.cli import add_parser as add_cloud_parsers
    from workbench.cost.cli import add_parser as add_cost_parsers
    from workbench.federated.cli import add_parser as add_fed_parsers
    from workbench.publish_cli import add_parser as add_publish_parsers
    from workbench.sample_runs import add_parser as add_sample_parsers

    add_cloud_parsers(commands)
    add_cost_parsers(commands)
    _hybrid_parser(commands)
    add_fed_parsers(commands)
    add_publish_parsers(commands)
    add_sample_parsers(commands)
    return parser


def _hybrid_parser(commands: Any) -> None:
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


def _bench_parser(commands: Any) -> None:
    from workbench.bench.config import BenchConfig, MeasurePolicy

    helps = {
        f: BenchConfig.__dataclass_fields__[f].metadata.get("help", "")
        for f in BenchConfig.__dataclass_fields__
    }
    policy = {
        f: MeasurePolicy.__dataclass_fields__[f].metadata.get("help", "")
        for f in MeasurePolicy.__dataclass_fields__
    }
    bench = commands.add_parser(
        "bench", help="measure latency, throughput, memory and quality drift of a model"
    )
    bench.add_argument("model", help="catalog alias, folder, .gguf file or hub id")
    bench.add_argument("--variants", default="fp32", help=f"comma-separated; {helps['variants']}")
    bench.add_argument(
        "--batch", default="1", help=f"comma-separated batch sizes; {helps['batch_sizes']}"
    )
    bench.add_argument("--seq-len", default=None, help=f"comma-separated; {helps['seq_lens']}")
    bench.add_argument("--threads", default=None, help=f"comma-separated; {helps['threads']}")
    bench.add_argument("--max-new-tokens", type=int, default=32, help=helps["max_new_tokens"])
    bench.add_argument("--warmup", type=int, default=2, help=policy["warmup"])
    bench.add_argument("--min-iters", type=int, default=10, help=policy["min_iters"])
    bench.add_argument("--min-seconds", type=float, default=1.0, help=policy["min_seconds"])
    bench.add_argument("--max-seconds", type=float, default=30.0, help=policy["max_seconds"])
    bench.add_argument("--quality-items", type=int, default=8, help=helps["quality_items"])
    bench.add_argument("--json", metavar="FILE", help="also write one JSON record per point")
    bench.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    bench.add_argument("--no-save", action="store_true", help="do not record a run")
    bench.set_defaults(handler=_bench)


def _devices_parser(commands: Any) -> None:
    devices = commands.add_parser("devices", help="the edge and cloud device catalog")
    verbs = devices.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="the device catalog as a table")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=_devices_list)
    project = verbs.add_parser(
        "project", help="estimate a benchmark run's figures on other devices (roofline)"
    )
    project.add_argument("run_id", help="a benchmark run (see `workbench runs list`)")
    project.add_argument("--device", action="append", help="a device name; repeat for several")
    project.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    project.add_argument("--json", action="store_true", help="print JSON instead of a table")
    project.set_defaults(handler=_devices_project)


def _runs_parser(commands: Any) -> None:
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


def _load_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-pickle", action="store_true", help="allow pickle weights (.bin/.pt); can run code"
    )
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="run Python code shipped with the model"
    )
    parser.add_argument(
        "--allow-download", action="store_true", help="let a hub id download when not cached"
    )
    parser.add_argument(
        "--task", choices=["embeddings", "text-generation"], help="override the task"
    )


def _load(args: argparse.Namespace):
    from workbench.models import load_model

    return load_model(
        args.name,
        allow_pickle=args.allow_pickle,
        trust_remote_code=args.trust_remote_code,
        allow_download=args.allow_download,
        task=args.task,
        progress=sys.stderr.isatty(),
    )


def _models_list(args: argparse.Namespace) -> None:
    from workbench.models import load_catalog

    rows = [entry.to_dict() for entry in load_catalog().values()]
    if args.json:
        _print_json(rows)
        return
    import pandas as pd

    table = pd.DataFrame(rows)[["alias", "task", "params", "license", "installed", "name"]]
    table["params"] = table["params"].map(lambda n: f"{n / 1e6:,.1f} M")
    table["installed"] = table["installed"].map({True: "yes", False: "no"})
    print(table.to_string(index=False))


def _models_info(args: argparse.Namespace) -> None:
    info = _load(args).info
    if args.json:
        _print_json(info.to_dict())
        return
    rows = info.summary_rows()
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        print(f"{label:<{width}}  {text}")


def _models_try(args: argparse.Namespace) -> None:
    runner = _load(args)
    if runner.task == "embeddings":
        vector = runner.embed([args.text])[0]
        if args.json:
            _print_json(
                {"model": runner.info.name, "dim": len(vector), "embedding": vector.tolist()}
            )
        else:
            head = ", ".join(f"{v:+.4f}" for v in vector[:8])
            print(
                f"{len(vector)} dimensions, norm {float((vector**2).sum() ** 0.5):.4f}: [{head}, …]"
            )
        return
    prompt = runner.chat_or_prompt(args.text)
    if args.json:
        result = runner.generate(prompt, args.max_new_tokens)
        _print_json({"model": runner.info.name, **result.to_dict()})
        return
    result = runner.generate(
        prompt, args.max_new_tokens, on_text=lambda piece: print(piece, end="", flush=True)
    )
    print(f"\n[{result.tokens} tokens, finish: {result.finish_reason}, {result.seconds:.2f} s]")


def _bench(args: argparse.Namespace) -> None:
    import os

    from workbench.bench.config import BenchConfig, MeasurePolicy, parse_int_list
    from workbench.bench.runner import run_benchmark
    from workbench.models import load_catalog

    entry = load_catalog().get(args.model)
    generation = entry is not None and entry.task == "text-generation"
    config = BenchConfig(
        model=args.model,
        variants=tuple(v.strip() for v in args.variants.split(",") if v.strip()),
        batch_sizes=parse_int_list(args.batch, "--batch"),
        seq_lens=parse_int_list(args.seq_len or ("0" if generation else "32"), "--seq-len"),
        threads=parse_int_list(args.threads or str(os.cpu_count() or 1), "--threads"),
        max_new_tokens=args.max_new_tokens,
        quality_items=args.quality_items,
        policy=MeasurePolicy(
            warmup=args.warmup,
            min_iters=args.min_iters,
            min_seconds=args.min_seconds,
            max_seconds=args.max_seconds,
        ),
    )
    if args.json:
        check_writable(args.json)
    interactive = sys.stderr.isatty()

    def report(row: dict[str, Any]) -> None:
        if not interactive:
            print(
                f"measured {row['variant']} threads={row['threads']} batch={row['batch']} "
                f"seq_len={row['seq_len']}: p50 {row['p50_ms']:.2f} ms",
                file=sys.stderr,
            )

    result = run_benchmark(
        config,
        runs_dir=args.runs_dir,
        save=not args.no_save,
        progress=interactive,
        on_point=report,
    )
    points = result.points
    print(_bench_table(points).to_string(index=False))
    if result.run_id:
        print(f"\nsaved as run {result.run_id}")
    if args.json:
        from workbench.runs_io import atomic_write_text

        records = [
            {**row, "throughput": row["throughput_items_per_s"]}
            for row in points.to_dict("records")
        ]
        atomic_write_text(args.json, json.dumps(json_ready(records), indent=2) + "\n")


def _bench_table(points: Any) -> Any:
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


def _devices_list(args: argparse.Namespace) -> None:
    from workbench.devices import devices_table

    table = devices_table()
    if args.json:
        _print_json(json_ready(table.to_dict("records")))
    else:
        print(table.to_string(index=False))


def _devices_project(args: argparse.Namespace) -> None:
    from workbench.devices import HostPeak, get_device, load_devices, project_points
    from workbench.runs import load_run

    run = load_run(args.run_id, runs_dir=args.runs_dir)
    host = HostPeak.from_dict(run.environment["host_peak"])
    devices = [get_device(n) for n in args.device] if args.device else list(load_devices().values())
    table = project_points(run.table("points"), host, devices)
    if args.json:
        _print_json(json_ready(table.to_dict("records")))
        return
    print(
        f"ESTIMATES (roofline projection of run {run.id}, calibrated on the host that ran it: "
        f"{host.fp32_gflops:.0f} GFLOP/s fp32, {host.bandwidth_gbs:.1f} GB/s)"
    )
    shown = [
        "variant",
        "batch",
        "seq_len",
        "device",
        "p50_ms",
        "projected_p50_ms",
        "tokens_per_s",
        "projected_tokens_per_s",
        "bound",
        "efficiency",
        "fits",
        "reason",
    ]
    print(table[[c for c in shown if c in table.columns]].round(3).to_string(index=False))


def _hybrid_simulate(args: argparse.Namespace) -> None:
    from workbench.hybrid.scenario import setup_from_scenario, simulate_scenario

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
        from workbench.runs_io import atomic_write_text

        atomic_write_text(
            args.json, json.dumps(json_ready(table.to_dict("records")), indent=2) + "\n"
        )


def _runs_list(args: argparse.Namespace) -> None:
    from workbench.runs import runs_table

    table = runs_table(args.runs_dir)
    if args.json:
        _print_json(json_ready(table.to_dict("records")))
    elif table.empty:
        print("no runs yet: `workbench bench MODEL` records one")
    else:
        print(table.to_string(index=False))


def _runs_show(args: argparse.Namespace) -> None:
    from workbench.runs import load_run

    run = load_run(args.run_id, runs_dir=args.runs_dir)
    if args.json:
        _print_json(json_ready(run.to_dict()))
        return
    print(f"run {run.id} ({run.kind}, {run.status}), {run.started_at} to {run.ended_at}")
    print(f"config: {json.dumps(run.config)}")
    for name, table in run.tables.items():
        print(f"\n{name}:")
        print((_bench_table(table) if name == "points" else table.head(20)).to_string(index=False))


def _runs_compare(args: argparse.Namespace) -> None:
    from workbench.runs import compare_runs

    table = compare_runs(args.run_ids, table=args.table, runs_dir=args.runs_dir)
    if args.json:
        _print_json(json_ready(table.to_dict("records")))
    else:
        print(table.round(3).to_string(index=False))


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, or 2 on any error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # The commands print their own one-line warnings (stale prices); Python's copies are noise.
    warnings.filterwarnings("ignore", message=r"price row .* days old")
    try:
        args.handler(args)
    except KeyboardInterrupt:
        _print_error("Interrupted.")
        return EXIT_ERROR
    except Exception as exc:
        if args.debug:
            raise
        _print_error(describe(exc))
        return EXIT_ERROR
    return 0


def _print_error(message: str) -> None:
    # One line: the terminal wraps it, and paths and run ids stay whole for copying.
    print(f"error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
