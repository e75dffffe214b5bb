"""`workbench serve` gives kernels back: a closed tab releases its kernel within a minute, and
`workbench serve` killed with -9 leaves no Voilà and no kernel behind.

The decision dashboard is published from a tiny-llama sample benchmark and served with
``workbench serve``, as a user would.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from voila_util import (
    LoopbackBrowser,
    get,
    health,
    kernel_processes,
    process_tree,
    serve_published_server,
)

from workbench import publish as pub
from workbench.samples.runs import SampleSettings, ensure_sample_runs

RELEASE_S = 60  # a closed tab's kernel is gone within this


@pytest.fixture(scope="module")
def decision_app(tmp_path_factory):
    """The decision dashboard published from one tiny-llama sample benchmark."""
    work = tmp_path_factory.mktemp("kernels")
    runs_dir = work / "runs"
    ids = ensure_sample_runs(
        runs_dir, kinds=("bench",), settings=SampleSettings.for_model("tiny-llama")
    )
    return pub.publish(list(ids), work / "app", runs_dir=runs_dir)


def _alive(process) -> bool:
    """Whether a psutil process still runs (a zombie waiting to be reaped does not)."""
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_until(condition, timeout_s: float) -> float | None:
    """Seconds until ``condition()`` held, or ``None`` if it did not within ``timeout_s``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if condition():
            return time.monotonic() - start
        time.sleep(0.5)
    return None


@pytest.mark.browser
def test_a_closed_tab_releases_its_kernel_within_a_minute(decision_app, tmp_path):
    """Open the page in Chromium (one kernel), close the tab: its kernel is shut down and its
    process is gone within 60 s; no request left 127.0.0.1."""
    from playwright.sync_api import expect

    with serve_published_server(decision_app, tmp_path / "serve.log") as server:
        with LoopbackBrowser() as browser:
            page = browser.page(server.url, height=2000)
            expect(page.locator(".wb-decision-dashboard")).to_contain_text("Move the workload")
            open_kernels = health(server.url)["kernels"]
            open_processes = len(kernel_processes(server.process.pid))

            page.close(run_before_unload=True)  # as a tab closes: the page's beforeunload runs
            released = _wait_until(
                lambda: (
                    health(server.url)["kernels"] == 0 and not kernel_processes(server.process.pid)
                ),
                RELEASE_S,
            )
        log = (tmp_path / "serve.log").read_text()

    assert (open_kernels, open_processes) == (1, 1)
    assert released is not None, f"still running after {RELEASE_S} s; log:\n{log[-3000:]}"
    assert "403 POST" not in log  # the shutdown request was not refused (the _xsrf cookie)
    assert browser.elsewhere() == []


def test_serve_killed_with_sigkill_leaves_no_voila_and_no_kernel(decision_app, tmp_path):
    """`workbench serve` killed with -9 while a page holds a kernel: Voilà and the kernel are
    gone within a few seconds instead of serving on under PID 1."""
    with serve_published_server(decision_app, tmp_path / "serve.log") as server:
        status, _ = get(server.url)
        children = process_tree(server.process.pid)[1:]
        kernels = kernel_processes(server.process.pid)

        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        gone = _wait_until(lambda: not any(_alive(c) for c in children), 40)
        left = [c.pid for c in children if _alive(c)]

    assert status == 200
    assert len(kernels) == 1 and len(children) >= 2  # Voilà and the page's kernel
    assert gone is not None, f"still running: {left}"
