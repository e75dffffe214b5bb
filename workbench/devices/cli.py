"""``workbench devices``: the device catalog, and roofline projections of a benchmark run."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.kit.cli import add_json_option, check_writable, json_to_stdout, write_json
from workbench.kit.errors import InvalidInputError

# The columns `devices project` prints as a table, in this order (those the run has).
_PROJECT_SHOWN = (
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
)


def add_parser(commands: Any) -> None:
    """Mount ``devices list`` and ``devices project`` on the top-level subcommands."""
    devices = commands.add_parser("devices", help="the edge and cloud device catalog")
    verbs = devices.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="the device catalog as a table")
    add_json_option(listing, "one record per device")
    listing.set_defaults(handler=_devices_list)
    project = verbs.add_parser(
        "project", help="estimate a benchmark run's figures on other devices (roofline)"
    )
    project.add_argument("run_id", help="a benchmark run (see `workbench runs list`)")
    project.add_argument("--device", action="append", help="a device name; repeat for several")
    project.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    add_json_option(project, "one record per point and device")
    project.set_defaults(handler=_devices_project)


# The handlers import the room when they run, so that `workbench --help` and the other
# commands do not pay for pandas.


def _devices_list(args: argparse.Namespace) -> None:
    from workbench.devices import devices_table

    check_writable(args.json)
    table = devices_table()
    write_json(args.json, table.to_dict("records"))
    if not json_to_stdout(args):
        print(table.to_string(index=False))


def _devices_project(args: argparse.Namespace) -> None:
    from workbench.devices import HostPeak, get_device, load_devices, project_points
    from workbench.runs import load_run

    check_writable(args.json)
    run = load_run(args.run_id, runs_dir=args.runs_dir)
    if run.kind != "bench":
        raise InvalidInputError(
            f"Run {run.id} is a {run.kind} run: `devices project RUN_ID` projects the points of a "
            "benchmark run (kind bench, made by `workbench bench`) onto other devices. "
            "`workbench runs list` shows each run's kind."
        )
    if "host_peak" not in run.environment:
        raise InvalidInputError(
            f"Run {run.id} was saved without the measured peak of the host that ran it, which "
            "the projection is calibrated on: record the benchmark again with `workbench bench`."
        )
    host = HostPeak.from_dict(run.environment["host_peak"])
    devices = [get_device(n) for n in args.device] if args.device else list(load_devices().values())
    table = project_points(run.table("points"), host, devices)
    write_json(args.json, table.to_dict("records"))
    if json_to_stdout(args):
        return
    print(
        f"ESTIMATES (roofline projection of run {run.id}, calibrated on the host that ran it: "
        f"{host.fp32_gflops:.0f} GFLOP/s fp32, {host.bandwidth_gbs:.1f} GB/s)"
    )
    shown = [column for column in _PROJECT_SHOWN if column in table.columns]
    print(table[shown].round(3).to_string(index=False))
