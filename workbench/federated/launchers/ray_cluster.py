"""Starting, checking and stopping the Ray cluster the Ray launcher runs on.

Ray is slow and fragile to start (15-45 s on 2 cores; the raylet sometimes aborts), so this
module starts Ray *once per process* as a separate head (``ray start --head --block``, in a fresh
temporary folder with its own ports), checks it with a trivial task, and connects this process to
it once; the connection stays open across runs (the Ray launcher keeps its ClientApp actors on
it, :mod:`.ray_pool`) until :func:`stop_ray`, a run against another address, or the process
ends. With an address it joins that cluster instead, after checking (in a time-bounded
subprocess) that something there answers like Ray.

The head stops when the process exits (or on :func:`stop_ray`); it is a child of a thread that
lives as long as the head, and dies with this process even when this process is killed. What the
head started (agents, workers) and its temp folder are taken down by a watchdog
(:mod:`.ray_reaper`) that notices this process's end however it ends, ``kill -9`` included; and
each new head first removes the ``wb-ray-*`` folders whose owner process is gone.

Ray's processes listen on every network interface (Ray replaces 127.0.0.1 by the machine's
address on purpose) and, by default, accept anyone who connects. On a shared network, set
``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN`` in the environment before the first Ray run (the
head and this process both read them), or use the inline launcher.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.federated.launchers import ray_reaper
from workbench.kit.errors import WorkbenchError

RAY_START_TIMEOUT_S = 180.0  # ray start --head on a busy 2-core machine took up to 45 s
RAY_START_ATTEMPTS = 2
HEALTH_TIMEOUT_S = 60.0  # a trivial task must come back within this
CONNECT_TIMEOUT_S = 5.0  # TCP connect to a cluster's address
PROBE_TIMEOUT_S = 60.0  # joining an existing cluster, checked in a subprocess
TEMP_PREFIX = "wb-ray-"  # the local head's temp folder, in the system temp folder

LOCK = threading.RLock()  # one Ray run (and one head start) at a time in this process
_HEAD: _Head | None = None
_PROBED: dict[str, float] = {}  # external addresses that answered like Ray -> seconds it took
_CONNECTED = False  # whether this module made this process a Ray driver
_CONNECTED_TO: str | None = None  # the address it connected to
_CONNECTIONS = 0  # connections made so far: what was started under an earlier one is gone


class RayLauncherError(WorkbenchError):
    """Ray did not start, an address did not answer, or the simulation engine crashed."""


@dataclass(frozen=True)
class RayCluster:
    """The Ray cluster a run uses.

    ``start_s`` is what getting it ready cost this call: the head's start-up and health check the
    first time, the probe of an external address the first time, about 0 afterwards.
    """

    address: str
    started_here: bool
    start_s: float
    temp_dir: str | None = None


@dataclass
class _Head:
    process: subprocess.Popen
    address: str
    temp_dir: str
    log: Path
    reaper: subprocess.Popen | None = None

    def alive(self) -> bool:
        return self.process.poll() is None and _answers(self.address)


# --------------------------------------------------------------------------------------------
# Starting, checking, stopping
# --------------------------------------------------------------------------------------------


def ensure_ray(address: str | None = None, *, start_timeout_s: float = RAY_START_TIMEOUT_S):
    """A Ray cluster ready for a run: ``address`` if given, else this process's own local head.

    The local head is started at most once per process (with a retry), checked with a trivial
    task, and reused by every later call while it is alive.

    Raises
    ------
    RayLauncherError
        If Ray cannot be started or checked, or ``address`` does not answer like a Ray cluster.
    """
    with LOCK:
        if address:
            return _external(address)
        return _local(start_timeout_s)


def stop_ray() -> None:
    """Stop the local Ray head this process started (if any); the next run starts a new one."""
    global _HEAD
    with LOCK:
        disconnect()
        head, _HEAD = _HEAD, None
        if head is not None:
            _stop_head(head)


def _local(start_timeout_s: float) -> RayCluster:
    global _HEAD
    if _HEAD is not None and _HEAD.alive():
        return RayCluster(_HEAD.address, True, 0.0, _HEAD.temp_dir)
    if _HEAD is not None:  # it died (killed, out of memory): start afresh
        disconnect()
        _stop_head(_HEAD)
        _HEAD = None
    started = time.perf_counter()
    failures = []
    for _ in range(RAY_START_ATTEMPTS):
        head = None
        try:
            head = _start_head(start_timeout_s)
            _connect(head.address)
            _health_check()
        except _StartFailed as exc:
            failures.append(str(exc))
            disconnect()
            if head is not None:
                _stop_head(head)
            continue
        _HEAD = head
        return RayCluster(head.address, True, time.perf_counter() - started, head.temp_dir)
    raise RayLauncherError(
        f"Ray did not start on this machine ({RAY_START_ATTEMPTS} attempts, "
        f"{time.perf_counter() - started:.0f} s): {failures[-1]} Ray needs 15-45 s and about 1 GB "
        "of memory on 2 cores; close other Ray sessions or busy notebooks and run again, use "
        "launcher = 'inline' (no Ray: same apps, same results), or set ray_address to a running "
        "Ray cluster."
    )


class _StartFailed(Exception):
    pass


def _start_head(timeout_s: float) -> _Head:
    """``ray start --head --block`` in a fresh temp folder and free ports; wait until it is up."""
    ray_cli = Path(sys.executable).parent / "ray"
    if not ray_cli.exists():
        raise RayLauncherError(
            f"The `ray` command is not installed next to this Python ({sys.executable}); install "
            "the workbench's dependencies (flwr[simulation] brings Ray) or use launcher = 'inline'."
        )
    clean_stale_heads()
    # A fresh folder: a stale ray_current_cluster file in a shared one breaks later starts.
    temp_dir = tempfile.mkdtemp(prefix=TEMP_PREFIX)
    ray_reaper.write_owner(temp_dir, os.getpid())
    log = Path(temp_dir) / "ray-start.log"
    port, client_port, agent_port, dashboard_port = _free_ports(4)
    command = [
        str(ray_cli),
        "start",
        "--head",
        "--block",
        f"--port={port}",
        f"--num-cpus={os.cpu_count() or 1}",
        "--include-dashboard=false",
        f"--dashboard-port={dashboard_port}",  # a minimal dashboard still starts, on 8265
        f"--ray-client-server-port={client_port}",
        f"--dashboard-agent-listen-port={agent_port}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
    ]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    process = _spawn_kept(command, log, env)
    # Ray listens on every interface whatever --node-ip-address says; we connect over loopback.
    head = _Head(process, f"127.0.0.1:{port}", temp_dir, log, _start_reaper(temp_dir, process.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _StartFailed(
                f"`ray start --head` exited with code {process.returncode}; its log ends with: "
                f"{_tail(log)}."
            )
        if "Ray runtime started" in _read(log) and _answers(head.address):
            return head
        time.sleep(0.2)
    _stop_head(head)
    raise _StartFailed(
        f"`ray start --head` was not up after {timeout_s:g} s; its log ends with: {_tail(log)}."
    )


def _spawn_kept(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start ``command`` from a thread that lives as long as it does.

    The child is killed when its parent *thread* ends (Linux PR_SET_PDEATHSIG), so the thread
    must outlive the runs: a daemon thread waiting on the child lives until the child ends or this
    process exits, whichever comes first. SIGKILL, because ``ray start --block`` did not finish
    its SIGTERM handling within a minute; the head's own processes share its fate.
    """
    spawned: dict[str, Any] = {}
    ready = threading.Event()

    def keep() -> None:
        try:
            with log.open("wb") as handle:
                spawned["process"] = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # Ctrl-C in a notebook does not reach it
                    preexec_fn=_die_with_parent,
                )
        except BaseException as exc:
            spawned["error"] = exc
            return
        finally:
            ready.set()
        spawned["process"].wait()

    threading.Thread(target=keep, name="ray-head-keeper", daemon=True).start()
    ready.wait()
    if "error" in spawned:
        raise _StartFailed(f"`ray start` could not be run: {spawned['error']}.")
    return spawned["process"]


def _start_reaper(temp_dir: str, group: int) -> subprocess.Popen | None:
    """The watchdog of :mod:`.ray_reaper` for the head in ``temp_dir`` (process group ``group``,
    the head's own: it starts a new session). ``None`` where it cannot start: the head still
    dies with this process, only its children might not."""
    try:
        return subprocess.Popen(
            [sys.executable, "-I", ray_reaper.__file__, temp_dir, str(group)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a signal to this terminal's process group spares it
        )
    except OSError:
        return None


def clean_stale_heads(temp_root: str | None = None) -> list[str]:
    """Stop what is left of local Ray heads whose workbench process is gone, and remove their
    ``wb-ray-*`` folders; returns the folders removed."""
    removed = []
    for folder in sorted(Path(temp_root or tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*")):
        if folder.is_dir() and ray_reaper.owner_is_gone(str(folder)):
            ray_reaper.reap(str(folder))
            removed.append(str(folder))
    return removed


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _stop_head(head: _Head) -> None:
    from workbench.federated.launchers.deployment import stop_process_tree

    stop_process_tree(head.process.pid, grace_s=15.0)
    with contextlib.suppress(subprocess.TimeoutExpired):
        head.process.wait(timeout=5)
    if head.reaper is not None:  # closing its stdin lets it sweep up what is left, then exit
        with contextlib.suppress(OSError):
            head.reaper.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.reaper.wait(timeout=ray_reaper.GRACE_S + 10)
    shutil.rmtree(head.temp_dir, ignore_errors=True)


@atexit.register
def _stop_at_exit() -> None:
    with contextlib.suppress(Exception):
        stop_ray()


def _connect(address: str) -> None:
    """Connect this process to the cluster at ``address`` as a quiet driver (a connection to
    another address is closed first; one to this address is kept)."""
    global _CONNECTED, _CONNECTED_TO, _CONNECTIONS
    import ray

    if ray.is_initialized():
        if not _CONNECTED or address == _CONNECTED_TO:
            return
        disconnect()
    with quiet():
        try:
            ray.init(
                address=address,
                logging_level=logging.ERROR,
                log_to_driver=False,
                configure_logging=True,
            )
        except Exception as exc:
            raise _StartFailed(f"connecting to the Ray head at {address} failed: {exc}") from exc
    _CONNECTED, _CONNECTED_TO = True, address
    _CONNECTIONS += 1


def connection_id() -> int:
    """Which connection of this process is open (it changes with every new connection)."""
    return _CONNECTIONS


def disconnect() -> None:
    """Close this process's Ray connection; what it started there (kept ClientApp actors
    included) ends with it."""
    global _CONNECTED, _CONNECTED_TO
    _CONNECTED, _CONNECTED_TO = False, None
    pool = sys.modules.get("workbench.federated.launchers.ray_pool")
    if pool is not None:
        pool.forget()
    with contextlib.suppress(Exception):
        import ray

        if ray.is_initialized():
            ray.shutdown()


def _health_check() -> None:
    import ray

    @ray.remote(num_cpus=0)
    def ping() -> int:
        return os.getpid()

    try:
        ray.get(ping.remote(), timeout=HEALTH_TIMEOUT_S)
    except Exception as exc:
        raise _StartFailed(
            f"Ray started but could not run a trivial task within {HEALTH_TIMEOUT_S:g} s "
            f"({type(exc).__name__}: {exc})"
        ) from exc


# An existing cluster is first tried from a subprocess: ray.init to a port that does not speak
# Ray's protocol retries forever, and a hung ray.init cannot be undone in this process.
_PROBE = """
import logging, os, sys, warnings
warnings.simplefilter("ignore")
import ray
ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False)
@ray.remote(num_cpus=0)
def ping():
    return os.getpid()
ray.get(ping.remote(), timeout=float(sys.argv[2]))
"""


def _external(address: str) -> RayCluster:
    host, port = _host_port(address)
    started = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise RayLauncherError(
            f"`ray_address` = {address!r}: nothing answers there ({exc}; "
            f"waited at most {CONNECT_TIMEOUT_S:g} s). Start the cluster's head with "
            f"`ray start --head --port={port}` on {host} and check that this machine can reach "
            "that port, or leave ray_address empty to start a local Ray."
        ) from None
    if address in _PROBED:
        return RayCluster(address, False, time.perf_counter() - started)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, address, str(HEALTH_TIMEOUT_S)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env=env,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        raise RayLauncherError(
            f"`ray_address` = {address!r}: the port answers but no Ray cluster "
            f"could be joined there within {PROBE_TIMEOUT_S:g} s. Give the head's GCS address "
            "(host:port, as `ray start --head` prints it), or leave ray_address empty to start a "
            "local Ray."
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise RayLauncherError(
            f"`ray_address` = {address!r}: joining that Ray cluster failed "
            f"({lines[-1] if lines else f'exit code {done.returncode}'}). Check that the cluster "
            "runs the same Ray and Python versions as this machine, or leave ray_address empty "
            "to start a local Ray."
        )
    _PROBED[address] = time.perf_counter() - started
    return RayCluster(address, False, _PROBED[address])


def _host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or "://" in address or not port.isdigit():
        raise RayLauncherError(
            f"`ray_address` = {address!r} is not a Ray head address: give "
            "host:port of the head's GCS (for example 10.0.0.5:6379, as `ray start --head` "
            "prints it); Ray Client addresses (ray://) are not supported."
        )
    return host.strip("[]"), int(port)


def _answers(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _tail(path: Path, lines: int = 6) -> str:
    text = [line for line in _read(path).strip().splitlines() if line.strip()]
    return " | ".join(text[-lines:]) or "(empty)"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep Ray's and Flower's chatter (deprecation notes, per-client tracebacks) off the screen.

    Failures still surface: as the exceptions this module raises, and as failed clients in the
    per-round records.
    """
    logger = logging.getLogger("flwr")
    old = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray(\.|$)")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
            yield
    finally:
        logger.setLevel(old)


# --------------------------------------------------------------------------------------------
# Connecting a run
# --------------------------------------------------------------------------------------------


def use_cluster(address: str) -> None:
    import ray

    if ray.is_initialized() and not _CONNECTED:
        raise RayLauncherError(
            "Ray is already initialised in this process (ray.init was called outside the "
            "workbench), and the Ray launcher needs its own connection. Call ray.shutdown() "
            "first, or pass that cluster's address as ray_address."
        )
    try:
        _connect(address)
    except _StartFailed as exc:
        raise RayLauncherError(
            f"{exc}. The cluster answered a moment ago; run again, or call stop_ray() (or start a "
            "new process) to get a fresh local Ray."
        ) from exc


def node_cpus() -> list[float]:
    import ray

    cpus = [float(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
    cpus = [c for c in cpus if c > 0]
    if not cpus:
        raise RayLauncherError(
            "The Ray cluster has no node with CPUs to run ClientApps on; add a worker node "
            "(`ray start --address=HEAD`) or leave ray_address empty to start a local Ray."
        )
    return cpus


__all__ = [
    "LOCK",
    "RayCluster",
    "RayLauncherError",
    "connection_id",
    "disconnect",
    "ensure_ray",
    "node_cpus",
    "quiet",
    "stop_ray",
    "use_cluster",
]
