"""Serving a published folder with Voilà on 127.0.0.1, offline.

Voilà 0.5's ``lab`` template links Font Awesome from a CDN and nbconvert's adds mermaid.js from
another; the ``workbench-offline`` template (``workbench/publish/share/jupyter/voila/templates/``)
drops both, since Voilà's own bundle already carries the icons. Voilà finds it when
:data:`~workbench.publish.config.JUPYTER_DATA_DIR` is on ``JUPYTER_PATH``;
:func:`voila_environment` and :data:`~workbench.publish.config.OFFLINE_TEMPLATE` give what any
Voilà command line needs.

Voilà runs as ``python -m workbench.publish.guard`` (:mod:`workbench.publish.guard`): Voilà with
kernel channels refused to clients that do not speak protocol v1, the token asked on every route,
a cap on kernels with a "busy" page beyond it, ``/health``, and the ``_xsrf`` cookie that lets a
closed tab release its kernel. It is started with a parent-death signal, so ``workbench serve``
killed with -9 takes Voilà (and through it its kernels) with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from workbench.publish.config import (
    CONFIG_FILE,
    CULL_IDLE_TIMEOUT_S,
    CULL_INTERVAL_S,
    DEFAULT_PORT,
    GUARD_MODULE,
    HOST,
    JUPYTER_DATA_DIR,
    MAX_KERNELS,
    NOTEBOOK,
    OFFLINE_TEMPLATE,
    RUNS_FOLDER,
    STOP_TIMEOUT_S,
)
from workbench.publish.errors import ServeError


def voila_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the offline template findable.

    Voilà looks for page templates under every ``JUPYTER_PATH`` entry; this puts
    :data:`JUPYTER_DATA_DIR` first.
    """
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(JUPYTER_DATA_DIR), env.get("JUPYTER_PATH", "")) if p
    )
    return env


def voila_command(
    app_dir: str | os.PathLike[str],
    *,
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    config_dir: str | os.PathLike[str] | None = None,
    preheat: bool = False,
    max_kernels: int = MAX_KERNELS,
) -> list[str]:
    """The guarded Voilà command line that serves a published folder (run it in the folder).

    ``config_dir`` is an extra folder searched first for ``voila.json``: :func:`serve` puts a
    token there, so that it does not show on Voilà's command line. ``preheat`` keeps one kernel
    that has already run the notebook waiting for the next visitor (a published notebook's
    parameters are bound in the file, so a preheated kernel shows the same page).
    ``max_kernels`` caps the kernels serving pages; the culling flags repeat the folder's
    ``voila.json`` so that a folder published by an older workbench is culled as quickly.
    """
    command = [
        sys.executable,
        "-m",
        GUARD_MODULE,
        NOTEBOOK,
        f"--Voila.ip={HOST}",
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--template={OFFLINE_TEMPLATE}",
        f"--GuardedVoila.max_kernels={max_kernels}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL_S}",
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_TIMEOUT_S}",
        "--MappingKernelManager.cull_connected=False",
    ]
    command.append("--Voila.open_browser=True" if open_browser else "--no-browser")
    if preheat:
        command += ["--preheat_kernel=True", "--pool_size=1"]
    if config_dir is not None:
        from jupyter_core.paths import jupyter_config_path

        folders = [str(config_dir), str(Path(app_dir).absolute()), *jupyter_config_path()]
        command += [arg for folder in folders for arg in ("--Voila.config_file_paths", folder)]
    return command


def serve(
    app_dir: str | os.PathLike[str],
    *,
    port: int | None = None,
    token: str | None = None,
    open_browser: bool = False,
    preheat: bool = False,
    max_kernels: int = MAX_KERNELS,
) -> int:
    """Serve a published folder with Voilà on 127.0.0.1 until Ctrl-C (or SIGTERM).

    Parameters
    ----------
    app_dir
        A folder written by :func:`workbench.publish.publish`.
    port
        The port; ``None`` means 8866.
    token
        When given, every visitor must add ``?token=TOKEN`` to the address (once: a cookie
        keeps it); every route but the login page and ``/health`` refuses requests without it.
    open_browser
        Open the page in the default browser.
    preheat
        Run the notebook ahead in a waiting kernel, so the first visitor does not wait for it
        (see ``benchmarks/bench_dashboards.py`` for the difference).
    max_kernels
        The most visitors served at once; the next ones get a "busy, retry in N s" page.

    Returns
    -------
    int
        Voilà's exit status (0 after Ctrl-C).

    Raises
    ------
    ServeError
        When the folder is not a published app, or the port is in use or not allowed.
    """
    app = published_app(app_dir)
    port = DEFAULT_PORT if port is None else port
    check_port(port)
    with tempfile.TemporaryDirectory(prefix="workbench-serve-") as private:
        config_dir = _token_config(Path(private), token) if token else None
        command = voila_command(
            app,
            port=port,
            open_browser=open_browser,
            config_dir=config_dir,
            preheat=preheat,
            max_kernels=max_kernels,
        )
        note = " (add ?token=YOUR_TOKEN)" if token else ""
        print(f"Serving {app.name} at http://{HOST}:{port}/{note}; Ctrl-C stops it.", flush=True)
        return _run_until_stopped(command, app)


def _token_config(folder: Path, token: str) -> Path:
    """``folder`` holding a voila.json that asks for ``token`` (kept off the command line)."""
    (folder / CONFIG_FILE).write_text(json.dumps({"Voila": {"token": token}}), "utf-8")
    return folder


def _run_until_stopped(command: list[str], app: Path) -> int:
    """Run Voilà in ``app`` until it exits or Ctrl-C (or SIGTERM) stops it; its exit status."""
    process = subprocess.Popen(
        command, cwd=app, env=voila_environment(), preexec_fn=dies_with(os.getpid())
    )
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGTERM)  # Voilà shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def dies_with(parent_pid: int) -> Any:
    """A ``preexec_fn`` after which the child gets SIGTERM when ``parent_pid`` dies (Linux).

    Voilà shuts its kernels down on SIGTERM; the guard also exits if that hangs. Elsewhere (no
    prctl) the guard's own parent watch is what stops it.
    """
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None

    def set_parent_death_signal() -> None:
        if libc is not None and hasattr(libc, "prctl"):
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return set_parent_death_signal


def published_app(app_dir: str | os.PathLike[str]) -> Path:
    """``app_dir`` as an absolute path, checked to be a folder written by :func:`workbench.publish.publish`."""
    app = Path(app_dir).expanduser().absolute()
    missing = [f for f in (NOTEBOOK, CONFIG_FILE, RUNS_FOLDER) if not (app / f).exists()]
    if not app.is_dir() or missing:
        what = "does not exist" if not app.exists() else f"lacks {', '.join(missing)}"
        raise ServeError(
            f"{app} is not a published dashboard: it {what}. Make one with "
            "`workbench publish RUN_ID... --out DIR`, then serve that folder."
        )
    return app


def check_port(port: int) -> None:
    """Refuse a port that is out of range, in use on 127.0.0.1, or not allowed to this user."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ServeError(f"--port must be a number from 1 to 65535, got {port!r}.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As Voilà binds: SO_REUSEADDR, so a port that only lingers after a closed server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            reason = (
                "is already in use by another program (perhaps another dashboard)"
                if exc.errno == errno.EADDRINUSE
                else f"cannot be used ({exc.strerror or exc})"
            )
            raise ServeError(
                f"Port {port} on {HOST} {reason}. Serve on another port with --port, e.g. "
                f"--port {port + 1 if port < 65535 else 8867}, or stop what holds port {port}."
            ) from exc


__all__ = [
    "check_port",
    "dies_with",
    "published_app",
    "serve",
    "voila_command",
    "voila_environment",
]
