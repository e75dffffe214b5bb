"""Dashboard responsiveness in a real browser: first widget after `workbench serve`, and updates.

A sample benchmark run (``workbench samples``) is published with the decision dashboard and
served with ``workbench serve`` on 127.0.0.1, twice: cold (the kernel starts and runs the notebook
when the page is requested) and with ``--preheat`` (a kernel has already run it). Headless
Chromium (/usr/bin/chromium) opens the page; the script prints

- serve -> first widget: from starting ``workbench serve`` to the first widget drawn in the page;
- request -> first widget: from asking for the page to the first widget drawn;
- request -> loaded: until the decision dashboard has priced its options;
- slider -> table / chart / whole comparison: pressing the right arrow on the Requests / month
  slider until the options table shows new figures, until the cost-vs-volume chart is a new
  image, and until the whole comparison (every chart, the routing simulation) is redrawn and the
  Compare button is enabled again (median of ``--moves``). The kept decisions
  (``workbench.decision.cache``) are cleared before each server, so every move computes.

Targets (issues 6 and 11): first widget within 4 s with a preheated kernel; slider to every
figure updated within 300 ms at p50.
Run with ``python benchmarks/bench_dashboards.py`` (``--help`` for the options); ``--cold-only``
skips the preheated server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _report import print_machine

from workbench import publish
from workbench.decision.cache import decisions_dir
from workbench.samples.runs import ensure_sample_runs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOADED_TEXT = "Move the workload sliders"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(app: Path, port: int, preheat: bool, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "workbench.cli", "serve", str(app), "--port", str(port)]
    if preheat:
        command.append("--preheat")
    with log.open("w") as sink:
        return subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for_port(port: int, server: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("workbench serve did not start") from None
            time.sleep(0.05)


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def measure(app: Path, preheat: bool, preheat_wait: float, moves: int, work: Path) -> dict:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=300_000)
    # Both servers compute every decision: kept ones (from the other server's identical slider
    # moves) would make the second server's figures cache reads.
    shutil.rmtree(decisions_dir(), ignore_errors=True)
    port = free_port()
    started = time.perf_counter()
    server = start_server(app, port, preheat, work / f"serve-{preheat}.log")
    figures: dict[str, float | list[float]] = {}
    try:
        wait_for_port(port, server)
        if preheat:
            time.sleep(preheat_wait)  # let the waiting kernel run the notebook first
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1400, "height": 3800})
            page.set_default_timeout(300_000)
            requested = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
            page.locator(".jupyter-widgets").first.wait_for(state="visible")
            first = time.perf_counter()
            dashboard = page.locator(".wb-decision-dashboard")
            expect(dashboard).to_contain_text(LOADED_TEXT)
            loaded = time.perf_counter()
            figures["serve_to_first_widget_s"] = first - started
            figures["request_to_first_widget_s"] = first - requested
            figures["request_to_loaded_s"] = loaded - requested
            options = dashboard.locator("table.wb-card").first
            compare = page.get_by_role("button", name="Compare")
            handle = page.locator(".widget-hslider", has_text="Requests / month").locator(
                ".noUi-handle"
            )
            chart = dashboard.locator("img.wb-chart-cost")  # cost per month against volume
            if not chart.count():  # a dashboard from before the charts were named
                chart = dashboard.locator("img").first
            table_ms, chart_ms, all_ms = [], [], []
            for _ in range(moves):
                expect(compare).to_be_enabled()
                before, before_chart = options.inner_text(), chart.get_attribute("src")
                handle.focus()
                pressed = time.perf_counter()
                page.keyboard.press("ArrowRight")
                while options.inner_text() == before:
                    page.wait_for_timeout(5)
                table_ms.append((time.perf_counter() - pressed) * 1000)
                while chart.get_attribute("src") == before_chart:
                    page.wait_for_timeout(5)
                chart_ms.append((time.perf_counter() - pressed) * 1000)
                expect(compare).to_be_enabled()
                all_ms.append((time.perf_counter() - pressed) * 1000)
            figures["slider_to_table_ms"] = table_ms
            figures["slider_to_chart_ms"] = chart_ms
            figures["slider_to_all_ms"] = all_ms
            browser.close()
    finally:
        stop(server)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=5, help="slider moves to time (default 5)")
    parser.add_argument(
        "--preheat-wait", type=float, default=45.0, help="seconds to let the preheat finish (45)"
    )
    parser.add_argument("--cold-only", action="store_true", help="skip the preheated server")
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("chromium is not installed: apt-get install chromium")
    print_machine()
    with tempfile.TemporaryDirectory(prefix="bench-dashboards-") as folder:
        work = Path(folder)
        made = time.perf_counter()
        run_ids = ensure_sample_runs(work / "runs", kinds=("bench",))
        print(f"sample benchmark run made in {time.perf_counter() - made:.1f} s")
        app = publish.publish(run_ids, work / "app", runs_dir=work / "runs")
        for preheat in (False,) if args.cold_only else (False, True):
            f = measure(app, preheat, args.preheat_wait, args.moves, work)
            label = "preheated" if preheat else "cold"
            print(
                f"{label}: serve -> first widget {f['serve_to_first_widget_s']:.2f} s "
                f"(includes {args.preheat_wait:g} s waiting for the preheat)"
                if preheat
                else f"{label}: serve -> first widget {f['serve_to_first_widget_s']:.2f} s",
            )
            print(
                f"{label}: request -> first widget {f['request_to_first_widget_s']:.2f} s, "
                f"request -> loaded {f['request_to_loaded_s']:.2f} s (target: first widget "
                f"within 4 s preheated)"
            )
            for key, what in (
                ("slider_to_table_ms", "options table"),
                ("slider_to_chart_ms", "cost-vs-volume chart"),
                ("slider_to_all_ms", "whole comparison (all charts, routing simulation)"),
            ):
                values = f[key]
                print(
                    f"{label}: slider -> {what}: median {statistics.median(values):.0f} ms "
                    f"(each: {', '.join(f'{x:.0f}' for x in values)}; target: within 300 ms)"
                )


if __name__ == "__main__":
    main()
