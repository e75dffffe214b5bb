"""The ``workbench`` command line: a dispatcher that mounts each room's commands.

Every room (``workbench/<capability>/cli.py``) adds its commands with ``add_parser(commands)``
and sets a ``handler`` on each; this module only builds the parser, calls the handler and turns
an error into one paragraph on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from workbench.kit.errors import describe

EXIT_ERROR = 2
# The rooms whose commands the CLI mounts, in the order `workbench --help` lists them.
ROOMS = (
    "models",
    "bench",
    "devices",
    "runs",
    "cloud",
    "eval",
    "decision",
    "cost",
    "federated",
    "publish",
    "samples",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Decide where AI should run: measure open models locally, at the edge, in the cloud.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    for room in ROOMS:
        importlib.import_module(f"workbench.{room}.cli").add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, or 2 on any error)."""
    args = build_parser().parse_args(argv)
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
