"""Every `workbench` command keeps the same conventions (README, "CLI conventions").

* ``--json`` (every command but the servers): the result as JSON; alone (or ``-``) on stdout and
  nothing else there, ``--json FILE`` written to FILE with the usual output still printed.
* Exit status 0 success, 2 bad input or usage, 1 an unexpected failure (with the hint to rerun
  with ``--debug``), 130 on Ctrl-C; with ``--json`` the error is also the last line of stderr as
  ``{"error": {"type", "message", "exit_status"}}``.

The commands are enumerated from ``workbench.cli.build_parser()``: a command missing from
:data:`COMMANDS` fails :func:`test_every_command_is_covered`, so a new command gets its row.
Cases run in this process through ``main(argv)`` (fast); one runs in a subprocess, as a user does.
"""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run_cli
from decision_runs import record_generation_run, write_scenario

from workbench import cli

FAST_BENCH = (
    "--variants fp32 --batch 1 --seq-len 8 --min-iters 1 --min-seconds 0 --max-seconds 1 "
    "--warmup 0 --quality-items 1"
)


@dataclass(frozen=True)
class Command:
    """How the tests drive one command. Placeholders: ``{runs}`` a runs folder holding two bench
    runs ``{run}`` and ``{other}``, ``{scenario}`` a scenario over them, ``{tmp}`` a folder with
    ``file.bin`` in it."""

    argv: str  # parses (the handler is replaced in the failure cases)
    bad: str  # a bad input: exits 2 before any work
    ok: str | None = None  # a cheap run that succeeds; None: its room's tests cover success
    json: bool = True  # False: the command takes no --json (see EXEMPT)


#: Commands without ``--json``, and why.
EXEMPT = {
    ("cloud", "serve"): "a long-running server: it has no result, only its base URL",
    ("serve",): "a long-running server (Voilà): it has no result to print",
}

COMMANDS: dict[tuple[str, ...], Command] = {
    ("models", "list"): Command("models list", "models list surplus", "models list"),
    ("models", "info"): Command(
        "models info x", "models info ./no/such/model", "models info tiny-bert"
    ),
    ("models", "try"): Command(
        "models try x hi",
        "models try tiny-llama hi --max-new-tokens 0",
        "models try tiny-llama hi --max-new-tokens 2",
    ),
    ("bench",): Command(
        "bench x", "bench tiny-bert --batch 0", f"bench tiny-bert {FAST_BENCH} --no-save"
    ),
    ("devices", "list"): Command("devices list", "devices list surplus", "devices list"),
    ("devices", "project"): Command(
        "devices project x",
        "devices project nope --runs-dir {runs}",
        "devices project {run} --runs-dir {runs} --device raspberry-pi-5",
    ),
    ("runs", "list"): Command(
        "runs list", "runs list --runs-dir {tmp}/file.bin", "runs list --runs-dir {runs}"
    ),
    ("runs", "show"): Command(
        "runs show x", "runs show nope --runs-dir {runs}", "runs show {run} --runs-dir {runs}"
    ),
    ("runs", "compare"): Command(
        "runs compare x y",
        "runs compare nope {run} --runs-dir {runs}",
        "runs compare {run} {other} --runs-dir {runs}",
    ),
    # Resuming needs an interrupted federated run: tests/federated covers it.
    ("runs", "resume"): Command("runs resume x", "runs resume {run} --runs-dir {runs}"),
    # Success needs an MLflow server: tests/runs covers it.
    ("runs", "export"): Command(
        "runs export", "runs export nope --runs-dir {runs} --mlflow http://127.0.0.1:9"
    ),
    ("cloud", "serve"): Command("cloud serve", "cloud serve --port 70000", json=False),
    # Success needs a served endpoint: tests/cloud covers it.
    ("cloud", "bench"): Command(
        "cloud bench --base-url http://127.0.0.1:9/v1 --model m",
        "cloud bench --base-url notaurl --model m",
    ),
    ("eval",): Command("eval x", "eval tiny-bert --set nope", "eval --list-sets"),
    ("cost", "compare"): Command(
        "cost compare x", "cost compare nope", "cost compare {scenario} --runs-dir {runs}"
    ),
    ("hybrid", "simulate"): Command(
        "hybrid simulate x",
        "hybrid simulate {scenario} --requests 0 --runs-dir {runs}",
        "hybrid simulate {scenario} --requests 500 --runs-dir {runs}",
    ),
    ("decide",): Command(
        "decide x",
        "decide {scenario} --requests 0 --runs-dir {runs}",
        "decide {scenario} --requests 500 --runs-dir {runs} --no-save",
    ),
    ("prices", "list"): Command("prices list", "prices list --max-age-days -1", "prices list"),
    # A federated run takes Flower's start-up: tests/federated covers its --json.
    ("fed", "run"): Command("fed run", "fed run --rounds 0"),
    ("fed", "tiers"): Command("fed tiers", "fed tiers surplus", "fed tiers"),
    ("publish",): Command(
        "publish x --out {tmp}/published",
        "publish nope --out {tmp}/published --runs-dir {runs}",
        "publish {run} --out {tmp}/published --runs-dir {runs}",
    ),
    ("serve",): Command("serve x", "serve {tmp}/file.bin", json=False),
    ("export",): Command(
        "export x --out {tmp}/x.html",
        "export nope --out {tmp}/x.html --runs-dir {runs}",
        "export {run} --out {tmp}/report.html --runs-dir {runs}",
    ),
    # Running a notebook starts a kernel: tests/publish covers it.
    ("report",): Command(
        "report x.ipynb --out {tmp}/report", "report {tmp}/missing.ipynb --out {tmp}/report"
    ),
    # Making the sample runs takes minutes: tests/samples covers it.
    ("samples",): Command("samples", "samples --kind nope"),
}


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict:
    """Every command that runs (no further subcommands) under ``parser``: path to its parser."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(leaf_commands(sub, (*path, name)))
    return found or {path: parser}


def ids(path: tuple[str, ...]) -> str:
    return " ".join(path)


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, str]:
    """The placeholders' values: two small bench runs, a scenario over them, a spare folder."""
    folder = tmp_path_factory.mktemp("conventions")
    runs = folder / "runs"
    run = record_generation_run(runs)
    other = record_generation_run(runs, model="tiny-chat-2")
    scenario = write_scenario(folder)
    tmp = folder / "tmp"
    tmp.mkdir()
    (tmp / "file.bin").write_bytes(b"x")
    return {
        "runs": str(runs),
        "run": run,
        "other": other,
        "scenario": str(scenario),
        "tmp": str(tmp),
    }


def call(argv: str, places: dict[str, str], capsys, *extra: str) -> tuple[int, str, str]:
    """``workbench ARGV EXTRA`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    try:
        status = cli.main([*shlex.split(argv.format(**places)), *extra])
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def json_error(stderr: str) -> dict:
    """The JSON error object of stderr's last line."""
    return json.loads(stderr.strip().splitlines()[-1])["error"]


def replace_handler(monkeypatch, path: tuple[str, ...], handler) -> None:
    """Make ``main`` run ``handler`` for the command at ``path``."""
    build = cli.build_parser

    def build_with_handler() -> argparse.ArgumentParser:
        parser = build()
        leaf_commands(parser)[path].set_defaults(handler=handler)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_with_handler)


def with_json(command: Command) -> tuple[str, ...]:
    return ("--json",) if command.json else ()


CASES = [pytest.param(path, command, id=ids(path)) for path, command in COMMANDS.items()]
SUCCEEDING = [case for case in CASES if case.values[1].ok and case.values[1].json]


# -- the table covers every command ----------------------------------------------------------------


def test_every_command_is_covered():
    """Every command of `workbench --help`, and no other, has a row in COMMANDS."""
    found = set(leaf_commands(cli.build_parser()))

    missing = sorted(ids(path) for path in found - set(COMMANDS))
    gone = sorted(ids(path) for path in set(COMMANDS) - found)
    assert not missing, f"add these commands to COMMANDS in {__file__}: {missing}"
    assert not gone, f"these commands no longer exist; remove their rows: {gone}"


def test_exempt_commands_are_the_servers():
    """The commands without --json are exactly those EXEMPT lists with a reason."""
    assert {path for path, command in COMMANDS.items() if not command.json} == set(EXEMPT)


# -- --json ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "command"), CASES)
def test_json_option_is_the_shared_one(path, command):
    """A command takes `--json [FILE]` (stdout alone or with '-'), unless it is exempt."""
    parser = leaf_commands(cli.build_parser())[path]
    options = {o: a for a in parser._actions for o in a.option_strings}

    if not command.json:
        assert "--json" not in options
        assert "no --json" in parser.description
        return
    option = options["--json"]
    assert (option.nargs, option.const, option.default) == ("?", "-", None)


@pytest.mark.parametrize(("path", "command"), SUCCEEDING)
def test_json_alone_puts_only_json_on_stdout(path, command, places, capsys):
    """`--json` exits 0 with stdout that parses as JSON and holds nothing else."""
    status, out, err = call(command.ok, places, capsys, "--json")

    assert status == 0, err
    assert out.strip()
    json.loads(out)


def test_json_file_keeps_the_usual_output(places, capsys, tmp_path):
    """`--json FILE` writes the JSON to FILE and still prints the table on stdout."""
    target = tmp_path / "devices.json"

    status, out, err = call("devices list", places, capsys, "--json", str(target))

    assert status == 0, err
    assert "raspberry-pi-5" in out and not out.lstrip().startswith("[")
    assert "raspberry-pi-5" in {row["name"] for row in json.loads(target.read_text())}


def test_json_dash_is_stdout(places, capsys):
    """`--json -` is the same as `--json` alone."""
    _, alone, _ = call("fed tiers", places, capsys, "--json")
    _, dash, _ = call("fed tiers", places, capsys, "--json", "-")

    assert dash == alone and json.loads(dash)


def test_stray_prints_go_to_stderr_with_json_on_stdout(places, capsys, monkeypatch):
    """What a command prints besides its JSON (a library's chatter) lands on stderr."""
    from workbench.devices import cli as devices_cli

    def chatty(args):
        print("loading something ...")
        devices_cli._devices_list(args)

    replace_handler(monkeypatch, ("devices", "list"), chatty)
    status, out, err = call("devices list", places, capsys, "--json")

    assert status == 0
    assert json.loads(out)
    assert "loading something" in err


# -- exit statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "command"), CASES)
def test_bad_input_exits_2_with_a_json_error(path, command, places, capsys):
    """A bad input exits 2 with an `error:` line; with --json stdout is empty and stderr's last
    line is the JSON error with exit_status 2."""
    status, out, err = call(command.bad, places, capsys, *with_json(command))

    assert status == 2, err
    assert "error:" in err and "Traceback" not in err
    assert out == ""
    if command.json:
        error = json_error(err)
        assert error["exit_status"] == 2
        assert error["message"] and error["type"]


@pytest.mark.parametrize(("path", "command"), [case for case in CASES if case.values[1].json])
def test_json_file_in_a_missing_folder_exits_2_before_any_work(path, command, places, capsys):
    """`--json DIR/missing/out.json` exits 2 with a message naming --json, stdout empty."""
    target = Path(places["tmp"]) / "missing" / "out.json"

    status, out, err = call(command.argv, places, capsys, "--json", str(target))

    assert status == 2, err
    assert "--json" in json_error(err)["message"]
    assert out == ""


@pytest.mark.parametrize(("path", "command"), CASES)
def test_unexpected_failure_exits_1_with_the_debug_hint(path, command, places, capsys, monkeypatch):
    """An unexpected exception exits 1 with one line that says to rerun with --debug."""

    def broken(args):
        raise RuntimeError("boom")

    replace_handler(monkeypatch, path, broken)
    status, out, err = call(command.argv, places, capsys, *with_json(command))

    assert status == 1, err
    assert "boom" in err and "--debug" in err and "Traceback" not in err
    assert out == ""
    if command.json:
        assert json_error(err) == {
            "type": "RuntimeError",
            "message": err.splitlines()[0].removeprefix("error: "),
            "exit_status": 1,
        }


@pytest.mark.parametrize(("path", "command"), CASES)
def test_ctrl_c_exits_130(path, command, places, capsys, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) exits 130 with a one-line message and no traceback."""

    def interrupted(args):
        raise KeyboardInterrupt

    replace_handler(monkeypatch, path, interrupted)
    status, out, err = call(command.argv, places, capsys, *with_json(command))

    assert status == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    assert out == ""
    if command.json:
        assert json_error(err)["exit_status"] == 130


def test_ctrl_c_midway_leaves_no_half_written_file(places, capsys, monkeypatch, tmp_path):
    """Ctrl-C at a sweep's second point exits 130; no --json file and no temporary file are
    left, and the run is saved as failed with the two points it finished."""
    from workbench.bench import runner
    from workbench.runs import list_runs, load_run

    real = runner.run_benchmark

    def stopped_at_the_second_point(config, **options):
        seen = []

        def on_point(row):
            seen.append(row)
            if len(seen) == 2:
                raise KeyboardInterrupt

        return real(config, **{**options, "on_point": on_point})

    monkeypatch.setattr(runner, "run_benchmark", stopped_at_the_second_point)
    out, runs_dir = tmp_path / "out" / "points.json", tmp_path / "runs"
    out.parent.mkdir()
    argv = f"bench tiny-bert {FAST_BENCH.replace('--batch 1', '--batch 1,2,4')}"

    status, _, err = call(argv, places, capsys, "--runs-dir", str(runs_dir), "--json", str(out))

    assert status == 130, err
    assert list(out.parent.iterdir()) == []
    (listed,) = list_runs(runs_dir)
    run = load_run(listed.id, runs_dir=runs_dir)
    assert run.status == "failed"
    assert run.table("points")["batch"].tolist() == [1, 2]


def test_debug_shows_the_traceback_of_an_unexpected_failure(places, capsys, monkeypatch):
    """With --debug the unexpected exception propagates, traceback and all."""

    def broken(args):
        raise RuntimeError("boom")

    replace_handler(monkeypatch, ("devices", "list"), broken)
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["--debug", "devices", "list", "--json"])


def test_usage_error_with_json_prints_the_json_error(places, capsys):
    """An unknown option with --json exits 2 with argparse's message as the JSON error."""
    status, out, err = call("prices list --nope", places, capsys, "--json")

    assert status == 2 and out == ""
    assert json_error(err) == {
        "type": "UsageError",
        "message": "unrecognized arguments: --nope",
        "exit_status": 2,
    }


# -- as a user runs it -----------------------------------------------------------------------------


def test_version_prints_the_installed_version():
    """`workbench --version` exits 0 and prints the package's version."""
    import importlib.metadata

    done = run_cli("--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"workbench {importlib.metadata.version(cli.DISTRIBUTION)}")


def test_a_bad_run_id_exits_2_in_a_real_process(tmp_path):
    """`workbench runs show nope --json` exits 2, stdout empty, the JSON error last on stderr."""
    done = run_cli("runs", "show", "nope", "--runs-dir", str(tmp_path), "--json")

    assert done.returncode == 2
    assert done.stdout == ""
    error = json_error(done.stderr)
    assert error["type"] == "RunNotFoundError" and "nope" in error["message"]


def test_help_lists_the_conventions(capsys):
    """`workbench --help` states the --json rule and the exit statuses."""
    with pytest.raises(SystemExit):
        cli.main(["--help"])

    text = " ".join(capsys.readouterr().out.split())
    assert "--json [FILE]" in text and "130 Ctrl-C" in text and "--version" in text
