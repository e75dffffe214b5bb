"""The ``workbench`` command line: a dispatcher that mounts each room's commands.

Every room (``workbench/<capability>/cli.py``) adds its commands with ``add_parser(commands)``
and sets a ``handler`` on each; this module builds the parser, calls the handler and keeps the
conventions every command shares:

* ``--json`` (every command but the two servers, ``serve`` and ``cloud serve``): the result as
  JSON on stdout when given alone or as ``--json -``, and then everything else the command prints
  goes to stderr; ``--json FILE`` writes it to FILE (atomically) and prints the usual output.
* Exit status: 0 success; 2 bad input or usage (argparse's own usage errors, and every
  :class:`~workbench.kit.errors.WorkbenchError`); 1 an unexpected failure, whose message says to
  rerun with ``--debug`` for the traceback; 130 on Ctrl-C.
* An error is one line, ``error: ...``, on stderr. With ``--json`` one more line follows it, the
  last on stderr: ``{"error": {"type": ..., "message": ..., "exit_status": N}}``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from workbench.kit.cli import json_only_stdout
from workbench.kit.errors import (
    EXIT_OK,
    EXIT_USAGE,
    describe,
    exit_status,
)

#: The distribution whose version ``workbench --version`` prints.
DISTRIBUTION = "ai-deployment-workbench"
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


class UsageError(SystemExit):
    """argparse's exit on a usage error (status 2), keeping its message for the JSON error."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_USAGE)
        self.message = message


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors raise :class:`UsageError`; the subcommands' parsers
    are of the same class (argparse makes them with ``type(parent)``)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise UsageError(message)


class _VersionAction(argparse.Action):
    """``--version``: the version and git revision, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(version_text())
        parser.exit()


def version_text() -> str:
    """``workbench 0.1.0``, with ``(git REVISION)`` when run from a git checkout (``+dirty``
    when its files differ from that revision)."""
    import importlib.metadata

    from workbench.kit.paths import REPO_ROOT
    from workbench.runs.environment import git_state

    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "(not installed as a package)"
    revision, dirty = git_state(REPO_ROOT)
    if revision is None:
        return f"workbench {version}"
    return f"workbench {version} (git {revision[:12]}{'+dirty' if dirty else ''})"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(
        prog="workbench",
        description="Decide where AI should run: measure open models locally, at the edge, in the cloud.",
        epilog="Every command but the servers takes --json [FILE]: its result as JSON on stdout "
        "(alone or '-'), or written to FILE. Exit status: 0 success, 2 bad input or usage, "
        "1 an unexpected failure (rerun with --debug for the traceback), 130 Ctrl-C.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument(
        "--version", action=_VersionAction, help="print the version and git revision and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for room in ROOMS:
        importlib.import_module(f"workbench.{room}.cli").add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (see the module's docstring).

    A usage error raises ``SystemExit(2)``, as argparse does (after the JSON error with
    ``--json``); ``--help`` and ``--version`` raise ``SystemExit(0)``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        if _wants_json(argv):
            _print_json_error("UsageError", exc.message, EXIT_USAGE)
        raise
    return run_handler(args)


def run_handler(args: argparse.Namespace) -> int:
    """Call the parsed command's handler under the shared conventions; its exit status."""
    # The commands print their own one-line warnings (stale prices); Python's copies are noise.
    warnings.filterwarnings("ignore", message=r"price row .* days old")
    wants_json = getattr(args, "json", None) is not None
    try:
        with json_only_stdout(args):
            args.handler(args)
    except KeyboardInterrupt as exc:
        # No traceback even with --debug: where Ctrl-C landed says nothing about a bug.
        return _report(exc, "Interrupted (Ctrl-C).", wants_json)
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        return _report(exc, describe(exc), wants_json)
    return EXIT_OK


def _report(exc: BaseException, message: str, wants_json: bool) -> int:
    """Print the error (and its JSON line with --json) on stderr; the exit status for it."""
    status = exit_status(exc)
    # One line: the terminal wraps it, and paths and run ids stay whole for copying.
    print(f"error: {message}", file=sys.stderr, flush=True)
    if wants_json:
        _print_json_error(type(exc).__name__, message, status)
    return status


def _print_json_error(kind: str, message: str, status: int) -> None:
    error = {"type": kind, "message": message, "exit_status": status}
    print(json.dumps({"error": error}, ensure_ascii=False), file=sys.stderr, flush=True)


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` is among the options (before any ``--``), read without the parser."""
    for token in argv:
        if token == "--":
            return False
        if token == "--json" or token.startswith("--json="):
            return True
    return False


__all__ = ["UsageError", "build_parser", "main", "run_handler", "version_text"]


if __name__ == "__main__":
    sys.exit(main())
