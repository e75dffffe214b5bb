"""The ``publish``, ``serve``, ``export`` and ``report`` subcommands of the ``workbench`` command
line.

``workbench publish RUN_ID... --out DIR`` writes a Voilà dashboard folder for those runs,
``workbench serve DIR`` serves it on 127.0.0.1, and ``workbench export`` writes one static HTML
file of their figures and tables. ``workbench report NOTEBOOK --out DIR`` runs a notebook with
papermill and writes it executed and as an HTML page without code.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from workbench.kit.cli import (
    add_config_flags,
    add_json_option,
    check_writable,
    config_values,
    json_to_stdout,
    write_json,
)
from workbench.kit.errors import InvalidInputError

TOKEN_ENV = "WORKBENCH_SERVE_TOKEN"


def add_parser(commands: Any) -> None:
    """Add the four subcommands to ``commands`` (the ``workbench`` subparsers)."""
    from workbench.publish import ExportSettings, ServeSettings

    publish = commands.add_parser(
        "publish",
        help="write saved runs as a self-contained Voilà dashboard folder",
        description="Write a folder holding a dashboard notebook bound to these runs, a copy of "
        "their files, voila.json and a README; `workbench serve DIR` serves it.",
    )
    publish.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="complete runs to show")
    publish.add_argument("--out", required=True, metavar="DIR", help="the folder to create")
    publish.add_argument(
        "--dashboard",
        metavar="NAME",
        help="a template of notebooks/dashboards/ (default: chosen from the runs' kinds: "
        "federated, decision, or runs for the run browser)",
    )
    publish.add_argument(
        "--force", action="store_true", help="replace DIR if it is an earlier published folder"
    )
    publish.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    add_json_option(publish, "the folder written, its dashboard and the runs it shows")
    publish.set_defaults(handler=_publish)

    serve = commands.add_parser(
        "serve",
        help="serve a published dashboard folder with Voilà on 127.0.0.1",
        description="Serve a folder written by `workbench publish` on 127.0.0.1, with no request "
        "leaving the machine. Ctrl-C stops it. A server has no result, so it takes no --json.",
    )
    serve.add_argument("app_dir", metavar="DIR", help="a folder written by `workbench publish`")
    add_config_flags(serve, ServeSettings)
    serve.set_defaults(handler=_serve)

    export = commands.add_parser(
        "export",
        help="one static HTML file of runs' figures and tables (no server, no network)",
    )
    export.add_argument(
        "sources", nargs="+", metavar="RUN_ID_OR_DIR", help="run ids, or one published folder"
    )
    export.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write")
    export.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    add_config_flags(export, ExportSettings)
    add_json_option(export, "the file written")
    export.set_defaults(handler=_export)

    report = commands.add_parser(
        "report",
        help="run a notebook with papermill; write it executed and as an HTML page without code",
        description="Run NOTEBOOK top to bottom in a fresh kernel (in its own folder, offline), "
        "with -p NAME VALUE replacing values of its cell tagged `parameters`, and write "
        "DIR/<name>.ipynb (executed) and DIR/<name>.html (its text and outputs, no code, nothing "
        "loaded from the network). A failing cell stops the run and keeps the partial notebook.",
    )
    report.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file to run")
    report.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a value for a name of the parameters cell, read as papermill reads -p "
        "(repeat for more: -p FED_ROUNDS 1 -p DEVICE jetson-orin-nano)",
    )
    report.add_argument("--out", required=True, metavar="DIR", help="the folder to write into")
    add_json_option(report, "the notebook and page written, the parameters and the seconds")
    report.set_defaults(handler=_report)


def _publish(args: argparse.Namespace) -> None:
    from workbench.publish import dashboard_for_kinds, publish
    from workbench.runs import list_runs

    check_writable(args.json)
    out = publish(
        args.run_ids,
        args.out,
        dashboard=args.dashboard,
        force=args.force,
        runs_dir=args.runs_dir,
    )
    shown = list_runs(out / "runs")
    name = args.dashboard or dashboard_for_kinds(s.kind for s in shown)
    write_json(args.json, {"out": str(out), "dashboard": name, "runs": [s.id for s in shown]})
    if json_to_stdout(args):
        return
    print(f"published {len(shown)} run{'s' if len(shown) != 1 else ''} with the {name} dashboard")
    print(f"to {out}\nserve it with: workbench serve {args.out}")


def _serve(args: argparse.Namespace) -> None:
    from workbench.publish import ServeError, ServeSettings, serve

    values = config_values(args, ServeSettings)
    if "token" not in values:  # read here, not at import, so a test can set it
        values["token"] = os.environ.get(TOKEN_ENV) or None
    settings = ServeSettings(**values)
    status = serve(
        args.app_dir,
        port=settings.port,
        token=settings.token,
        open_browser=settings.open_browser,
        preheat=settings.preheat,
        max_kernels=settings.max_kernels,
    )
    if status != 0:
        raise ServeError(
            f"Voilà stopped with exit status {status}; its messages above say why. Serve the "
            "folder again once that is fixed."
        )


def _export(args: argparse.Namespace) -> None:
    from workbench.publish import ExportSettings, export_static

    if not args.out.lower().endswith((".html", ".htm")):
        raise InvalidInputError(f"--out {args.out}: name an .html file, e.g. report.html.")
    check_writable(args.json)
    source = args.sources[0] if len(args.sources) == 1 else args.sources
    settings = ExportSettings(**config_values(args, ExportSettings))
    out = export_static(source, args.out, runs_dir=args.runs_dir, max_rows=settings.max_rows)
    write_json(args.json, {"out": str(out)})
    if not json_to_stdout(args):
        print(f"wrote {out}")


def _report(args: argparse.Namespace) -> None:
    from workbench.publish.report import run_report

    check_writable(args.json)
    report = run_report(args.notebook, args.out, dict(args.parameters))
    write_json(args.json, report.to_dict())
    if not json_to_stdout(args):
        print(f"wrote {report.notebook}\nand {report.html} in {report.seconds:,.1f} s")
