"""The ``fed`` subcommands, added to the ``workbench`` command line.

``workbench fed run`` runs one federated experiment and prints a line per round as it finishes;
``workbench fed tiers`` lists the device tiers of the synthetic fleet with their sources.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from workbench.federated.config import FedConfig
from workbench.kit.cli import (
    add_config_flags,
    add_json_option,
    check_writable,
    config_values,
    json_to_stdout,
    write_json,
)
from workbench.kit.errors import InvalidInputError

# device_mix takes tier=share pairs, parsed here; every other field is a flag of its own.
FLAG_FIELDS = [f.name for f in dataclasses.fields(FedConfig) if f.name != "device_mix"]


def add_parser(commands: Any) -> None:
    fed = commands.add_parser(
        "fed", help="federated training across simulated edge clients (Flower)"
    )
    verbs = fed.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser(
        "run",
        help="run one federated experiment",
        description="Run one federated experiment on Flower. Settings come from --config (a TOML "
        "file with a [federated] table), then the flags; anything unset keeps its default.",
    )
    run.add_argument("--config", help="TOML file with a [federated] table of settings")
    add_config_flags(run, FedConfig, FLAG_FIELDS)
    run.add_argument(
        "--device-mix",
        help="shares per device tier, e.g. phone-high=0.5,laptop=0.5 (see `workbench fed tiers`)",
    )
    run.add_argument(
        "--no-baseline", action="store_true", help="skip the centrally trained baseline"
    )
    add_json_option(run, "one record per round")
    run.add_argument(
        "--runs-dir", help="where runs are saved (default $WORKBENCH_RUNS_DIR or ./runs)"
    )
    run.add_argument("--no-save", action="store_true", help="do not save the run")
    run.set_defaults(handler=_run)

    tiers = verbs.add_parser("tiers", help="the device tiers of the simulated fleet")
    add_json_option(tiers, "one record per device tier")
    tiers.set_defaults(handler=_tiers)


def config_from_args(args: argparse.Namespace) -> FedConfig:
    """The FedConfig that --config plus the flags describe (``--deadline none``: no deadline)."""
    overrides = config_values(args, FedConfig)
    overrides.pop("device_mix", None)  # only a given --device-mix overrides the file's mix
    if args.device_mix:
        overrides["device_mix"] = _parse_mix(args.device_mix)
    if args.config:
        return FedConfig.from_toml(args.config, **overrides)
    return FedConfig.from_mapping(overrides, source="command line")


def _parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        name, sep, share = part.partition("=")
        try:
            if not sep:
                raise ValueError
            mix[name.strip()] = float(share)
        except ValueError:
            raise InvalidInputError(
                f"--device-mix {text!r}: write tier=share pairs separated by commas, e.g. "
                "phone-high=0.5,laptop=0.5 (`workbench fed tiers` lists the tiers)."
            ) from None
    return mix


def _run(args: argparse.Namespace) -> None:
    from workbench.federated.runner import run_federated

    config = config_from_args(args)
    check_writable(args.json)
    result = run_federated(
        config,
        observer=round_reporter(config.rounds),
        baseline=not args.no_baseline,
        save=not args.no_save,
        runs_dir=args.runs_dir,
    )
    print_result(result, args.json)


def resume(args: argparse.Namespace) -> None:
    """``workbench runs resume ID`` for a federated run: its remaining rounds, then its result."""
    from workbench.federated.runner import resume_federated

    check_writable(args.json)
    result = resume_federated(
        args.run_id,
        runs_dir=args.runs_dir,
        observer=round_reporter(None),
        baseline=not args.no_baseline,
    )
    print_result(result, args.json)


def round_reporter(rounds: int | None):
    """A round observer that prints one line per finished round to stderr."""

    def report(row: dict[str, Any]) -> None:
        of = f"/{rounds}" if rounds else ""
        print(
            f"round {row['round']}{of}: accuracy {row['accuracy']:.3f}, "
            f"{row['clients_completed']} of {row['clients_selected']} clients completed "
            f"({row['clients_dropped']} dropped, {row['clients_straggling']} late, "
            f"{row['clients_failed']} failed), {row['sim_time_s']:.1f} s simulated, "
            f"{row['wall_time_s']:.2f} s wall",
            file=sys.stderr,
            flush=True,
        )

    return report


def print_result(result: Any, json_path: str | None) -> None:
    """The rounds table, the final line, privacy spent and the run id; one record per round to
    ``json_path`` (a ``--json`` value: ``-`` is stdout)."""
    columns = [
        "round",
        "accuracy",
        "loss",
        "clients_completed",
        "clients_dropped",
        "clients_straggling",
        "bytes_up",
        "bytes_down",
        "sim_clock_s",
    ]
    print(result.rounds[columns].round(4).to_string(index=False))
    summary = result.summary()
    line = f"\nfinal accuracy {summary['final_accuracy']:.3f}"
    if result.baseline:
        line += f" (central baseline on pooled data {result.baseline['accuracy']:.3f})"
    line += (
        f"; {_duration(summary['sim_hours'] * 3600)} simulated, {summary['wall_time_s']:.1f} s wall"
    )
    print(line)
    if result.privacy:
        p = result.privacy
        print(
            f"privacy spent: epsilon {p['epsilon']:.2f} at delta {p['delta']:g} ({p['releases']} releases)"
        )
    if result.run_id:
        print(f"saved as run {result.run_id}")
    write_json(json_path, result.records())


def _tiers(args: argparse.Namespace) -> None:
    from workbench.federated.fleet import tiers_table

    check_writable(args.json)
    table = tiers_table()
    write_json(args.json, table.to_dict("records"))
    if not json_to_stdout(args):
        columns = [c for c in table.columns if c not in ("description", "source")]
        print(table[columns].to_string(index=False))
        print("\nsources:")
        for row in table.itertuples():
            print(f"  {row.tier}: {row.source}")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
