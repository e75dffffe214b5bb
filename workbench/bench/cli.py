"""``workbench bench``: measure latency, throughput, memory and quality drift of a model."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from workbench.kit.cli import check_writable, json_ready
from workbench.runs.cli import points_table


def add_parser(commands: Any) -> None:
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
    print(points_table(points).to_string(index=False))
    if result.run_id:
        print(f"\nsaved as run {result.run_id}")
    if args.json:
        from workbench.kit.files import atomic_write_text

        records = [
            {**row, "throughput": row["throughput_items_per_s"]}
            for row in points.to_dict("records")
        ]
        atomic_write_text(args.json, json.dumps(json_ready(records), indent=2) + "\n")
