"""Helpers that serve a dashboard with Voilà on 127.0.0.1 and drive it in headless Chromium.

Imported by the dashboard tests, never collected. Every server binds 127.0.0.1 and is stopped
(its whole process group) when its ``with`` block ends; every browser page aborts any request to
another host and records it, so a test can assert that nothing left the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import nbformat
import pytest

from workbench import publish as pub
from workbench.publish.serve import dies_with

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ERROR_BANNER = "There was an error when executing cell"
START_TIMEOUT_S = 180
PAGE_TIMEOUT_MS = 180_000


def free_port() -> int:
    """A port nobody listens on at the moment, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bound_template(name: str, folder: Path, **parameters: Any) -> Path:
    """A copy of ``notebooks/dashboards/<name>.ipynb`` in ``folder``, its parameters rewritten."""
    template = REPO_ROOT / "notebooks" / "dashboards" / f"{name}.ipynb"
    notebook = nbformat.read(template, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    cell.source = pub.bind_parameters(cell.source, parameters)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


@contextlib.contextmanager
def serving(
    command: list[str], cwd: Path, port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run a server command and yield its base URL once the port answers; stop it after.

    ``env`` (default: this process's) gets the offline Voila template added to its JUPYTER_PATH.
    """
    with running_server(command, cwd, port, log, env) as server:
        yield server.url


@dataclass
class Server:
    """A server started by :func:`running_server`: its base URL and its process."""

    url: str
    process: subprocess.Popen


@contextlib.contextmanager
def running_server(
    command: list[str], cwd: Path, port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """As :func:`serving`, yielding the process too (its own session, stopped as a group)."""
    with log.open("w") as sink:
        server = subprocess.Popen(
            command,
            cwd=cwd,
            env=pub.voila_environment(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=dies_with(os.getpid()),  # a test run killed does not leave it serving
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not start; its log:\n{log.read_text()}")
                time.sleep(0.3)
        yield Server(f"http://127.0.0.1:{port}/", server)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@contextlib.contextmanager
def serve_published(app: Path, log: Path) -> Iterator[str]:
    """``workbench serve APP`` on a free port (the way a user serves a published folder)."""
    port = free_port()
    command = [sys.executable, "-m", "workbench.cli", "serve", str(app), "--port", str(port)]
    with serving(command, app.parent, port, log) as url:
        yield url


@contextlib.contextmanager
def serve_published_server(
    app: Path, log: Path, *flags: str, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``workbench serve APP FLAGS...`` on a free port, yielding its URL and its process."""
    port = free_port()
    command = [sys.executable, "-m", "workbench.cli", "serve", str(app), "--port", str(port)]
    with running_server([*command, *flags], app.parent, port, log, env) as server:
        yield server


def process_tree(pid: int) -> list[Any]:
    """The process ``pid`` and every process below it (psutil processes; none if it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss_bytes(pid: int) -> int:
    """The resident memory of ``pid`` and its descendants together, in bytes."""
    import psutil

    total = 0
    for process in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total


def kernel_processes(pid: int) -> list[Any]:
    """The Jupyter kernels running below ``pid``."""
    import psutil

    kernels = []
    for process in process_tree(pid)[1:]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if any("ipykernel" in part for part in process.cmdline()):
                kernels.append(process)
    return kernels


def health(url: str, timeout_s: float = 5) -> dict[str, Any]:
    """What ``GET /health`` of a guarded server answers (status, kernels, max_kernels)."""
    import json

    with urllib.request.urlopen(urljoin(url, "health"), timeout=timeout_s) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def serve_notebook(notebook: Path, log: Path) -> Iterator[str]:
    """Voilà on one notebook with the offline template, as `make dashboard` serves one."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "voila",
        notebook.name,
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--template={pub.OFFLINE_TEMPLATE}",
        "--no-browser",
    ]
    with serving(command, notebook.parent, port, log) as url:
        yield url


def get(url: str) -> tuple[int, str]:
    """Status and text of a GET (Voilà answers once every cell has run)."""
    try:
        with urllib.request.urlopen(url, timeout=START_TIMEOUT_S) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, ""


def assert_clean_page(page: str, *code: str) -> None:
    """The widget is there; no error banner, traceback, code line or link to another host."""
    import re

    assert "application/vnd.jupyter.widget-view+json" in page
    assert ERROR_BANNER not in page
    assert "Traceback" not in page
    for line in ("RUN_IDS", "RUNS_DIR", *code):
        assert line not in page
    assert str(REPO_ROOT) not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


class LoopbackBrowser:
    """Headless Chromium whose pages may only talk to 127.0.0.1 (everything else is aborted)."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        self.console: list[str] = []  # the pages' console errors and warnings, printed on failure
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> LoopbackBrowser:
        if CHROMIUM is None:
            pytest.fail("chromium is not installed: run `apt-get install chromium` (.ci/run does)")
        from playwright.sync_api import expect, sync_playwright

        expect.set_options(timeout=PAGE_TIMEOUT_MS)
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        return self

    def page(self, url: str, width: int = 1500, height: int = 1100) -> Any:
        """A new page (its own context) opened at ``url``."""
        context = self._browser.new_context(viewport={"width": width, "height": height})
        context.route("**/*", self._only_loopback)
        page = context.new_page()
        page.on("websocket", lambda socket_: self.requested.append(socket_.url))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.goto(url)
        return page

    def _only_loopback(self, route: Any) -> None:
        self.requested.append(route.request.url)
        host = urlparse(route.request.url).hostname
        if host == "127.0.0.1" or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()  # the test never leaves the machine, even when the page tries

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.console.append(f"{message.type}: {message.text}")

    def elsewhere(self) -> list[str]:
        """Every requested address whose host is not 127.0.0.1."""
        return sorted(
            {u for u in self.requested if urlparse(u).hostname not in ("127.0.0.1", None)}
        )

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None and self.console:  # shown with the failure (captured output)
            print("The pages' console said:", *self.console[-40:], sep="\n  ")
        with contextlib.suppress(Exception):
            self._browser.close()
        self._playwright.stop()


def screenshot(page: Any, name: str, max_height: int = 6000) -> Path:
    """A screenshot of the whole dashboard kept under tests/artifacts/ (a CI artifact).

    Voilà's page scrolls inside an element, not the document, so a viewport shorter than the
    content is first made taller (up to ``max_height`` pixels). Open tall pages tall: a resize
    re-lays out the sliders, which can send their values again.
    """
    tallest = page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll('body, body *'),"
        " (e) => e.scrollHeight))"
    )
    size = page.viewport_size
    if tallest > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": int(min(tallest, max_height))})
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
