"""``workbench bench``: measure latency, throughput, memory and quality drift of a model.

The flags are built from :class:`~workbench.bench.config.BenchConfig` and
:class:`~workbench.bench.config.MeasurePolicy`, so their help and defaults are the fields' own.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.bench.config import TASK_DEFAULTS, BenchConfig, MeasurePolicy, defaults_for
from workbench.kit.cli import (
    add_config_flags,
    add_json_option,
    check_writable,
    config_values,
    write_json,
)
from workbench.kit.fields import help_of
from workbench.runs.cli import points_table

# The sweep's flags, in the order `workbench bench --help` lists them (model is positional).
SWEEP_FLAGS = ("engines", "variants", "batch_sizes", "seq_lens", "threads", "max_new_tokens")


def add_parser(commands: Any) -> None:
    """Add ``bench`` to the ``workbench`` subparsers."""
    bench = commands.add_parser(
        "bench", help="measure latency, throughput, memory and quality drift of a model"
    )
    bench.add_argument("model", help=help_of(BenchConfig, "model"))
    add_config_flags(bench, BenchConfig, SWEEP_FLAGS, defaults=_task_defaults_text())
    add_config_flags(bench, MeasurePolicy)
    add_config_flags(bench, BenchConfig, ["quality_items"])
    add_json_option(bench, "one record per measured point")
    bench.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    bench.add_argument("--no-save", action="store_true", help="do not record a run")
    bench.set_defaults(handler=_bench)


def _task_defaults_text() -> dict[str, str]:
    """``--help``'s default of each field whose default depends on the model's task."""
    own = defaults_for(None)
    names = {name for values in TASK_DEFAULTS.values() for name in values}
    return {
        name: "; ".join(
            [_listed(own[name])]
            + [
                f"{_listed(v[name])} for {task} models"
                for task, v in TASK_DEFAULTS.items()
                if name in v
            ]
        )
        for name in sorted(names)
    }


def engine_table(points: Any) -> Any:
    """The points table the terminal shows: with the engine of each point first when the sweep
    ran on more than transformers, and how quality drift was measured when an engine gives no
    logits."""
    table = points_table(points)
    engines = set(points["engine"]) if "engine" in points.columns else {"transformers"}
    if engines != {"transformers"} and "engine" not in table.columns:
        table.insert(0, "engine", points["engine"].to_numpy())
    if "drift_method" in points.columns and points["drift_method"].str.contains("no logits").any():
        table["drift_method"] = points["drift_method"].to_numpy()
    return table


def _listed(values: tuple[Any, ...]) -> str:
    return ",".join(str(v) for v in values)


def config_from(args: argparse.Namespace) -> BenchConfig:
    """The sweep the flags describe: the flags given, else the defaults for the model's task."""
    from workbench.models import load_catalog

    entry = load_catalog().get(args.model)
    values = {**defaults_for(entry.task if entry else None), **config_values(args, BenchConfig)}
    values["policy"] = MeasurePolicy(**config_values(args, MeasurePolicy))
    return BenchConfig(**values)


def _bench(args: argparse.Namespace) -> None:
    from workbench.bench.runner import run_benchmark

    config = config_from(args)
    check_writable(args.json)
    interactive = sys.stderr.isatty()

    def report(row: dict[str, Any]) -> None:
        if not interactive:
            print(
                f"measured {row.get('engine', 'transformers')} {row['variant']} "
                f"threads={row['threads']} batch={row['batch']} "
                f"seq_len={row['seq_len']}: p50 {row['p50_ms']:.2f} ms",
                file=sys.stderr,
            )

    result = run_benchmark(
        config, runs_dir=args.runs_dir, save=not args.no_save, progress=interactive, on_point=report
    )
    print(engine_table(result.points).to_string(index=False))
    if result.run_id:
        print(f"\nsaved as run {result.run_id}")
    records = [
        {**row, "throughput": row["throughput_items_per_s"]}
        for row in result.points.to_dict("records")
    ]
    write_json(args.json, records)
