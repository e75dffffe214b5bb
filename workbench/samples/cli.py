"""``workbench samples``: make the sample runs the dashboards start from."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.kit.cli import add_json_option, check_writable, json_to_stdout, write_json
from workbench.samples.config import SAMPLE_KINDS, SampleSettings
from workbench.samples.runs import ensure_sample_runs, usable_runs


def add_parser(commands: Any) -> None:
    """Add ``workbench samples`` to ``commands`` (the ``workbench`` subparsers)."""
    samples = commands.add_parser(
        "samples",
        help="make the sample runs the dashboards start from, if the runs folder lacks them",
        description="Make, offline on this machine, the runs the dashboards show when there are "
        f"none: {SampleSettings().describe()}. Kinds that already have a complete run are "
        "skipped, so running it again makes nothing.",
    )
    samples.add_argument(
        "--kind",
        action="append",
        choices=SAMPLE_KINDS,
        dest="kinds",
        help="make only this kind (repeat for several; default: all)",
    )
    samples.add_argument(
        "--runs-dir", help="where runs are saved (default $WORKBENCH_RUNS_DIR or ./runs)"
    )
    add_json_option(samples, "each kind's run id and whether it was made now")
    samples.set_defaults(handler=_samples)


def _samples(args: argparse.Namespace) -> None:
    from workbench.runs import resolve_runs_dir

    check_writable(args.json)
    kinds = tuple(args.kinds or SAMPLE_KINDS)
    settings = SampleSettings()
    made = ensure_sample_runs(
        args.runs_dir,
        progress=True,
        kinds=kinds,
        settings=settings,
        on_step=lambda text: print(f"Making {text} …", flush=True),
    )
    found = usable_runs(args.runs_dir, settings)
    write_json(
        args.json, {kind: {"run_id": found[kind], "made": found[kind] in made} for kind in kinds}
    )
    if json_to_stdout(args):
        return
    for kind in kinds:
        state = "made" if found[kind] in made else "already there"
        print(f"{kind}: {found[kind]} ({state})")
    if not made:
        print(f"Nothing to make: {resolve_runs_dir(args.runs_dir)} has every sample run.")
