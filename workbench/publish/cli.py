"""The ``publish``, ``serve`` and ``export`` subcommands, added to the ``workbench`` command line.

``workbench publish RUN_ID... --out DIR`` writes a Voilà dashboard folder for those runs,
``workbench serve DIR`` serves it on 127.0.0.1, and ``workbench export`` writes one static HTML
file of their figures and tables.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from workbench.kit.cli import add_config_flags, config_values
from workbench.kit.errors import InvalidInputError

TOKEN_ENV = "WORKBENCH_SERVE_TOKEN"


def add_parser(commands: Any) -> None:
    """Add the three subcommands to ``commands`` (the ``workbench`` subparsers)."""
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
    publish.set_defaults(handler=_publish)

    serve = commands.add_parser(
        "serve",
        help="serve a published dashboard folder with Voilà on 127.0.0.1",
        description="Serve a folder written by `workbench publish` on 127.0.0.1, with no request "
        "leaving the machine. Ctrl-C stops it.",
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
    export.set_defaults(handler=_export)


def _publish(args: argparse.Namespace) -> None:
    from workbench.publish import dashboard_for_kinds, publish
    from workbench.runs import list_runs

    out = publish(
        args.run_ids,
        args.out,
        dashboard=args.dashboard,
        force=args.force,
        runs_dir=args.runs_dir,
    )
    shown = list_runs(out / "runs")
    name = args.dashboard or dashboard_for_kinds(s.kind for s in shown)
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
    source = args.sources[0] if len(args.sources) == 1 else args.sources
    settings = ExportSettings(**config_values(args, ExportSettings))
    out = export_static(source, args.out, runs_dir=args.runs_dir, max_rows=settings.max_rows)
    print(f"wrote {out}")
