"""The same federated apps under Flower's deployment runtime: a SuperLink, SuperNodes, ``flwr run``.

:func:`write_app` writes the Flower app folder (a ``pyproject.toml`` naming the ServerApp of
:mod:`workbench.federated.flower_app.server_app` and the ClientApp of
:mod:`workbench.federated.apps`, with the run config's defaults from a
:class:`~workbench.federated.config.FedConfig`); :func:`app_dir` is the one shipped in the package.

:func:`start_local_federation` starts a SuperLink and N SuperNodes on 127.0.0.1, each SuperNode with
its own ``partition-id``, port and ``FLWR_HOME``, to teach and test what a real deployment does;
:meth:`LocalFederation.run` submits the app with ``flwr run`` and waits for it. Nothing here
downloads anything: runtime dependency installation and the update check are off, and every
process gets this Python's environment, so the ``workbench`` package must be installed in it.

Each message a SuperNode receives starts a fresh ClientApp process (imports torch, loads the data),
so a round costs seconds even for a tiny model: this runtime is for real devices, the inline and Ray
launchers are for experiments.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import runs as run_store
from workbench.federated.config import FedConfig
from workbench.kit import checks
from workbench.kit.errors import WorkbenchError

APP_NAME = "workbench-federated"
APP_VERSION = "1.0.0"
APP_PUBLISHER = "workbench"
SERVER_APP_REF = "workbench.federated.flower_app.server_app:app"
CLIENT_APP_REF = "workbench.federated.apps:client_app"
CONNECTION_NAME = "local"
LOOPBACK = "127.0.0.1"
# Every process we start gets these: nothing reaches for the network.
QUIET_ENV = {
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "FLWR_TELEMETRY_ENABLED": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
}


class DeploymentError(WorkbenchError):
    """A SuperLink, SuperNode or ``flwr run`` that did not start or did not finish.

    ``output`` holds what ``flwr run`` printed, when there was a run.
    """

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def app_dir() -> Path:
    """The Flower app folder shipped in the package (defaults from ``FedConfig()``)."""
    return Path(__file__).resolve().parent.parent / "flower_app"


def app_pyproject(config: FedConfig | None = None) -> str:
    """The app's ``pyproject.toml``: components, and ``config`` as the run config's defaults.

    The run config is flat (:meth:`FedConfig.to_flower`); ``flwr run -c "num_clients=2 rounds=3"``
    overrides any key.
    """
    config = config if config is not None else FedConfig()
    lines = [
        "# Written by workbench.federated.launchers.deployment.write_app: the federated workbench's",
        "# ServerApp and ClientApp as a Flower app for `flwr run`. The run config below holds the",
        "# FedConfig defaults; override keys with `flwr run APP CONNECTION -c 'num_clients=2'`.",
        "[build-system]",
        'requires = ["hatchling"]',
        'build-backend = "hatchling.build"',
        "",
        "[project]",
        f'name = "{APP_NAME}"',
        f'version = "{APP_VERSION}"',
        'description = "Federated training across synthetic edge clients (AI deployment workbench)"',
        'license = "Apache-2.0"',
        'dependencies = ["flwr>=1.42,<1.43"]',
        "",
        "[tool.flwr.app]",
        f'publisher = "{APP_PUBLISHER}"',
        "",
        "[tool.flwr.app.components]",
        f'serverapp = "{SERVER_APP_REF}"',
        f'clientapp = "{CLIENT_APP_REF}"',
        "",
        "[tool.flwr.app.config]",
    ]
    lines += [f"{key} = {_toml_value(value)}" for key, value in config.to_flower().items()]
    return "\n".join(lines) + "\n"


def write_app(folder: str | Path | None = None, config: FedConfig | None = None) -> Path:
    """Write the app's ``pyproject.toml`` into ``folder`` (default: the packaged app folder).

    Returns the folder, ready for ``flwr run FOLDER CONNECTION``.
    """
    folder = Path(folder) if folder is not None else app_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(app_pyproject(config), encoding="utf-8")
    return folder


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def run_config_overrides(config: FedConfig) -> str:
    """``config`` as a TOML run config for ``flwr run -c FILE``: the keys that differ from the
    app's defaults (``FedConfig()``), one ``key = value`` line each."""
    defaults = FedConfig().to_flower()
    changed = {k: v for k, v in config.to_flower().items() if defaults.get(k) != v}
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in changed.items())


# --------------------------------------------------------------------------------------------
# A SuperLink and SuperNodes on this machine
# --------------------------------------------------------------------------------------------


@dataclass
class FlwrRun:
    """A finished ``flwr run``: the run id, the log it streamed, the SuperLink's final status."""

    run_id: int
    output: str
    status: str


@dataclass
class LocalFederation:
    """A SuperLink and its SuperNodes on 127.0.0.1, started by :func:`start_local_federation`.

    Use it as a context manager (or call :meth:`stop`): every process it started is stopped by PID.
    """

    address: str
    folder: Path
    num_clients: int  # one SuperNode per client
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)
    remove_folder: bool = False  # a temporary folder made for it: removed on stop

    @property
    def cli_home(self) -> Path:
        """The ``FLWR_HOME`` of the ``flwr`` CLI, whose config names this SuperLink."""
        return self.folder / "flwr-cli"

    def flwr(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
        """Run a ``flwr`` CLI command against this SuperLink (connection name ``local``)."""
        env = {**self.env, "FLWR_HOME": str(self.cli_home)}
        try:
            return subprocess.run(
                [_tool("flwr"), *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout_s,
                cwd=self.folder,
            )
        except subprocess.TimeoutExpired as exc:
            raise DeploymentError(
                f"`flwr {' '.join(args)}` did not finish within {timeout_s:g} s against the "
                f"SuperLink at {self.address}. The SuperLink log is {self.logs.get('superlink')}; "
                "raise the timeout or check that every SuperNode is running."
            ) from exc

    def run(
        self,
        config: FedConfig | None = None,
        *,
        app: str | Path | None = None,
        timeout_s: float = 600,
    ) -> FlwrRun:
        """Submit the app with ``flwr run --stream`` and wait until the run ends.

        Parameters
        ----------
        config
            The experiment; it goes to the run config as overrides of the app's defaults.
            ``config.num_clients`` must equal the number of SuperNodes.
        app
            The app folder (default: the packaged one).
        timeout_s
            Wall-clock limit; a run still going then is stopped with ``flwr stop``.

        Raises
        ------
        DeploymentError
            If ``flwr run`` fails or does not finish in time; the message holds its output.
        """
        config = config if config is not None else FedConfig(num_clients=self.num_clients)
        if config.num_clients != self.num_clients:
            raise DeploymentError(
                f"`num_clients` = {config.num_clients} but this federation has "
                f"{self.num_clients} SuperNodes, one per partition; set num_clients to "
                f"{self.num_clients} or start as many SuperNodes as clients."
            )
        output = self._submit(config, app, timeout_s)
        run_id = _run_id(output)
        # The stream ends the same way whether the ServerApp finished or raised: ask the SuperLink.
        status = {str(r.get("run-id")): r.get("status", "") for r in self.runs()}.get(str(run_id))
        if status != "finished:completed":
            raise DeploymentError(
                f"Run {run_id} ended with status {status!r} on the SuperLink at {self.address}: "
                f"{_last_error(output)}. The whole log is in this error's `output` (and "
                f"`flwr log {run_id} {CONNECTION_NAME} --show` while the SuperLink runs).",
                output,
            )
        return FlwrRun(run_id=run_id, output=output, status=status)

    def _submit(self, config: FedConfig, app: str | Path | None, timeout_s: float) -> str:
        """``flwr run --stream`` of ``config``; what it printed, once it has started a run."""
        args = ["run", str(app or app_dir()), CONNECTION_NAME, "--stream"]
        overrides = run_config_overrides(config)
        if overrides:
            # A file, not key=value text: flwr's parser splits values with spaces or quotes.
            path = self.folder / f"run-config-{time.time_ns()}.toml"
            path.write_text(overrides, encoding="utf-8")
            args += ["--run-config", str(path)]
        env = {**self.env, "FLWR_HOME": str(self.cli_home)}
        process = subprocess.Popen(
            [_tool("flwr"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=self.folder,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_process_tree(process.pid)
            output = process.communicate()[0] or ""
            run_id = _run_id(output)
            if run_id is not None:
                with contextlib.suppress(DeploymentError):
                    self.flwr("stop", str(run_id), timeout_s=30)
            raise DeploymentError(
                f"`flwr run` did not finish within {timeout_s:g} s (run {run_id}); it was stopped. "
                f"Raise timeout_s or use fewer rounds. Output so far:\n{_tail(output)}",
                output,
            ) from None
        if process.returncode != 0 or _run_id(output) is None:
            raise DeploymentError(
                f"`flwr run` failed (exit code {process.returncode}) against the SuperLink at "
                f"{self.address}. Its output:\n{_tail(output)}",
                output,
            )
        return output

    def runs(self) -> list[dict[str, Any]]:
        """The SuperLink's runs as ``flwr ls --format json`` lists them."""
        done = self.flwr("ls", CONNECTION_NAME, "--format", "json")
        try:
            data = json.loads(done.stdout)
        except json.JSONDecodeError as exc:
            raise DeploymentError(
                f"`flwr ls` did not print JSON (exit code {done.returncode}): "
                f"{_tail(done.stdout + done.stderr)}"
            ) from exc
        return list(data.get("runs", []))

    def stop(self) -> None:
        """Stop every process this federation started, SuperNodes first, by PID."""
        for process in reversed(self.processes):
            stop_process_tree(process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        self.processes.clear()
        if self.remove_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalFederation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_local_federation(
    num_clients: int = 2,
    *,
    folder: str | Path | None = None,
    runs_dir: str | Path | None = None,
    startup_timeout_s: float = 60,
) -> LocalFederation:
    """Start a SuperLink and ``num_clients`` SuperNodes on 127.0.0.1 (insecure, for teaching).

    SuperNode ``i`` gets ``--node-config "partition-id=i num-partitions=N"``; every process has its
    own port and ``FLWR_HOME`` under ``folder`` (a new temporary folder by default), and its log in
    ``folder/logs``. The ServerApp saves its run in ``runs_dir`` (default: the caller's run store,
    ``$WORKBENCH_RUNS_DIR`` else ``./runs``).

    Raises
    ------
    InvalidInputError
        If ``num_clients`` is not a whole number >= 1.
    DeploymentError
        If the SuperLink does not listen within ``startup_timeout_s`` or a process exits early;
        everything started so far is stopped first.
    """
    checks.whole(
        "num_clients",
        num_clients,
        1,
        owner="start_local_federation",
        fix="Each SuperNode holds one data partition, so start as many as the config's "
        "num_clients.",
    )
    remove_folder = folder is None
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="wb-flwr-"))
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **QUIET_ENV}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # Resolved here: the SuperLink's working folder is its FLWR_HOME, not the caller's folder.
    env["WORKBENCH_RUNS_DIR"] = str(run_store.resolve_runs_dir(runs_dir).resolve())
    port = _free_port()
    federation = LocalFederation(
        address=f"{LOOPBACK}:{port}",
        folder=folder,
        num_clients=num_clients,
        env=env,
        remove_folder=remove_folder,
    )
    _write_cli_config(federation.cli_home, federation.address)
    try:
        _start_processes(federation, port, startup_timeout_s)
    except BaseException:
        federation.stop()
        raise
    return federation


def _start_processes(federation: LocalFederation, port: int, startup_timeout_s: float) -> None:
    """The SuperLink, once it listens its SuperNodes, then a check that all are still up."""
    superlink = [
        _tool("flower-superlink"),
        "--insecure",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--disable-runtime-dependency-installation",
    ]
    federation.processes.append(_start(federation, "superlink", superlink))
    _wait_listening(federation, "superlink", port, startup_timeout_s)
    for i in range(federation.num_clients):
        supernode = [
            _tool("flower-supernode"),
            "--insecure",
            "--superlink",
            federation.address,
            "--host",
            LOOPBACK,
            "--port",
            str(_free_port()),
            "--node-config",
            f"partition-id={i} num-partitions={federation.num_clients}",
        ]
        federation.processes.append(_start(federation, f"supernode-{i}", supernode))
    time.sleep(0.5)
    for name, process in zip(federation.logs, federation.processes, strict=True):
        _check_alive(federation, name, process)


def _start(federation: LocalFederation, name: str, command: list[str]) -> subprocess.Popen:
    home = federation.folder / name
    home.mkdir(parents=True, exist_ok=True)
    log = federation.folder / "logs" / f"{name}.log"
    federation.logs[name] = log
    with log.open("wb") as handle:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**federation.env, "FLWR_HOME": str(home)},
            cwd=home,
            start_new_session=True,  # out of reach of a Ctrl-C meant for the caller
        )


def _write_cli_config(home: Path, address: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        "[superlink]\n"
        f'default = "{CONNECTION_NAME}"\n\n'
        f"[superlink.{CONNECTION_NAME}]\n"
        f'address = "{address}"\n'
        "insecure = true\n",
        encoding="utf-8",
    )


def _wait_listening(federation: LocalFederation, name: str, port: int, timeout_s: float) -> None:
    process = federation.processes[-1]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _check_alive(federation, name, process)
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
            return
        time.sleep(0.2)
    raise DeploymentError(
        f"The {name} did not listen on {LOOPBACK}:{port} within {timeout_s:g} s. Its log "
        f"({federation.logs[name]}) ends with:\n{_tail(_read(federation.logs[name]))}\n"
        "Raise startup_timeout_s on a busy machine."
    )


def _check_alive(federation: LocalFederation, name: str, process: subprocess.Popen) -> None:
    if process.poll() is not None:
        raise DeploymentError(
            f"The {name} exited at start-up (exit code {process.returncode}). Its log "
            f"({federation.logs[name]}) ends with:\n{_tail(_read(federation.logs[name]))}"
        )


def stop_process_tree(pid: int, grace_s: float = 5.0) -> None:
    """Stop ``pid`` and every process below it, by PID (some children start their own session).

    SIGTERM first, SIGKILL to whatever still runs after ``grace_s``.
    """
    pids = [pid, *_descendants(pid)]
    for target in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    for target in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (after the parenthesised command, which may hold spaces) is the parent PID.
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise DeploymentError(
            f"`{name}` is not installed next to this Python ({sys.executable}); install the "
            "workbench's dependencies (flwr) in this environment."
        )
    return str(path)


def _run_id(output: str) -> int | None:
    for line in output.splitlines():
        if "Successfully started run" in line:
            with contextlib.suppress(ValueError, IndexError):
                return int(line.split("Successfully started run", 1)[1].split()[0])
    return None


_ERROR_LINE = re.compile(r"^(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$")


def _last_error(output: str) -> str:
    """The last ``SomeError: message`` line of a log (the ServerApp's exception), else a note."""
    for line in reversed(output.splitlines()):
        match = _ERROR_LINE.match(line.strip())
        if match:
            return f"{match.group(1)}: {match.group(2).rstrip('.')}"
    return "the log names no exception"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def federation_logs(federation: LocalFederation) -> Mapping[str, str]:
    """Each process's log text, by name (superlink, supernode-0, ...), for diagnosis."""
    return {name: _read(path) for name, path in federation.logs.items()}
