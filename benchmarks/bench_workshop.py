"""A workshop's load on the published decision dashboard: viewers arriving over a minute.

A sample benchmark (tiny-llama unless ``--sample-model``) is published with the decision
dashboard and served with ``workbench serve`` on 127.0.0.1. ``--viewers`` headless Chromium pages
(one browser, a context each) arrive evenly over ``--arrival-s`` seconds; each waits for its first
widget, presses the right arrow on the Requests / month slider, waits for the options to be
repriced, and leaves (closing the tab as a person does, so the page's shutdown request is sent).
A visitor beyond the server's kernel cap sees the "busy" page, which reloads itself; its wait
counts in its time to first widget.

Printed beside each target (issue 13, on 2 cores / 24 GB):

- viewers that got their first widget (target: every viewer);
- p50 / p95 time from arriving to the first widget (target: p95 <= 20 s);
- peak resident memory of the server's process tree, Voilà and its kernels (target: <= 12 GB);
- seconds from the last viewer leaving until no kernel is left (target: <= 120 s);
- error banners shown (target: 0);
- the server's CPU seconds per viewer and its largest kernel, and from them what 100 viewers
  would need (an extrapolation, printed as one).

The pages of a published dashboard share their decision and charts
(:mod:`workbench.decision.cache`): the first viewer computes the first view, the others read it.

Run with ``python benchmarks/bench_workshop.py`` (30 viewers, several minutes on 2 cores);
``--viewers 3`` for a quick check. ``--help`` for the other options.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _report import print_machine
from bench_dashboards import CHROMIUM, CHROMIUM_ARGS, LOADED_TEXT, free_port

from workbench import publish
from workbench.publish.config import MAX_KERNELS
from workbench.samples.runs import SampleSettings, ensure_sample_runs

ERROR_BANNER = "There was an error when executing cell"
FIRST_WIDGET = ".jupyter-widgets"
VIEWER_TIMEOUT_S = 300
RELEASE_TIMEOUT_S = 300

TARGET_P95_FIRST_WIDGET_S = 20.0
TARGET_PEAK_MEMORY_GB = 12.0
TARGET_RELEASE_S = 120.0
SCALE_VIEWERS = 100  # the workshop size the report extrapolates to ...
SCALE_ARRIVAL_S = 60.0  # ... arriving over a minute


@dataclass
class Viewer:
    """What one viewer saw."""

    index: int
    first_widget_s: float | None = None
    loaded_s: float | None = None
    slider_moved: bool = False
    busy_pages: int = 0
    error_banners: int = 0
    error: str = ""


@dataclass
class ServerWatch:
    """Samples the server's process tree on a thread: peak resident memory, and CPU time.

    The CPU time of each process is its last sample (a kernel that ends between two samples
    loses at most half a second of its time), summed over every process seen.
    """

    pid: int
    peak_bytes: int = 0
    peak_kernel_bytes: int = 0  # the largest single kernel seen
    _cpu_s: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> ServerWatch:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            try:
                root = psutil.Process(self.pid)
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for process in processes:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    rss = process.memory_info().rss
                    times = process.cpu_times()
                    total += rss
                    self._cpu_s[process.pid] = times.user + times.system
                    if "ipykernel" in " ".join(process.cmdline()):
                        self.peak_kernel_bytes = max(self.peak_kernel_bytes, rss)
            self.peak_bytes = max(self.peak_bytes, total)

    @property
    def cpu_s(self) -> float:
        """CPU seconds used by the server and its kernels while watched."""
        return sum(self._cpu_s.values())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


def kernels(url: str) -> int:
    """Kernels serving pages, as the server's /health counts them."""
    with urllib.request.urlopen(url + "health", timeout=10) as response:
        return json.loads(response.read())["kernels"]


def start_server(app: Path, port: int, flags: list[str], log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "workbench.cli", "serve", str(app), "--port", str(port)]
    server = subprocess.Popen(
        [*command, *flags],
        cwd=app.parent,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            kernels(f"http://127.0.0.1:{port}/")
            return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    raise SystemExit(f"workbench serve did not start; its log:\n{log.read_text()}")


async def view(browser, url: str, viewer: Viewer) -> None:
    """One viewer: open the page, wait for the first widget, move the slider, leave."""
    context = await browser.new_context(viewport={"width": 1400, "height": 2400})
    page = await context.new_page()
    page.set_default_timeout(VIEWER_TIMEOUT_S * 1000)

    def on_response(response) -> None:
        if response.request.resource_type == "document" and response.status == 503:
            viewer.busy_pages += 1

    page.on("response", on_response)
    start = time.monotonic()
    try:
        await page.goto(url, wait_until="commit")
        await page.wait_for_selector(FIRST_WIDGET, state="attached")
        viewer.first_widget_s = time.monotonic() - start
        dashboard = page.locator(".wb-decision-dashboard")
        await dashboard.get_by_text(LOADED_TEXT).first.wait_for()
        viewer.loaded_s = time.monotonic() - start
        options = dashboard.locator("table.wb-card").first
        before = await options.inner_text()
        handle = page.locator(".widget-hslider", has_text="Requests / month").locator(
            ".noUi-handle"
        )
        await handle.focus()
        await page.keyboard.press("ArrowRight")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and await options.inner_text() == before:
            await asyncio.sleep(0.2)
        viewer.slider_moved = await options.inner_text() != before
        text = await page.locator("body").inner_text()
        viewer.error_banners = text.count(ERROR_BANNER) + await page.locator(".wb-error").count()
    except Exception as exc:  # a viewer that timed out is reported, not fatal
        viewer.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    finally:
        await page.close(run_before_unload=True)  # as a tab closes: the shutdown request goes
        await asyncio.sleep(1)  # let the beacon leave before the context goes
        await context.close()


async def workshop(url: str, viewers: int, arrival_s: float) -> list[Viewer]:
    from playwright.async_api import async_playwright

    seen = [Viewer(i) for i in range(viewers)]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        gap = arrival_s / max(viewers - 1, 1)

        async def arrive(viewer: Viewer) -> None:
            await asyncio.sleep(viewer.index * gap)
            await view(browser, url, viewer)

        await asyncio.gather(*(arrive(v) for v in seen))
        await browser.close()
    return seen


# -- viewers that speak the kernel protocol (no browser) -------------------------------------------

KERNEL_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def _fetch_page(url: str, jar: Any) -> tuple[int, str, int]:
    """GET the dashboard as a browser does (cookies kept): status, body, Retry-After."""
    import urllib.error

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    try:
        with opener.open(url, timeout=VIEWER_TIMEOUT_S) as response:
            return response.status, response.read().decode("utf-8", "replace"), 0
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), int(exc.headers["Retry-After"] or 5)


def _message(
    msg_type: str, content: dict[str, Any], session: str, metadata: dict[str, Any] | None = None
) -> bytes:
    """A kernel message in the v1 websocket framing, on the shell channel."""
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "session": session,
        "username": "viewer",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "version": "5.3",
    }
    parts = [json.dumps(part).encode() for part in (header, {}, metadata or {}, content)]
    return serialize_msg_to_ws_v1(parts, "shell")


def _comm_messages(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(message type, content) of a message from the kernel's channel."""
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1

    _channel, parts = deserialize_msg_from_ws_v1(raw)
    header, content = json.loads(parts[0]), json.loads(parts[3])
    return header["msg_type"], content


async def view_protocol(url: str, viewer: Viewer) -> None:
    """One viewer without a browser: load the page (the kernel runs the notebook), connect to its
    kernel as the page's widget manager does and fetch every widget's state (the first widget
    can be drawn then), move the Requests / month slider, wait for the options table to be
    repriced, and leave (the page's shutdown request on closing)."""
    import http.cookiejar

    import websockets

    jar = http.cookiejar.CookieJar()
    start = time.monotonic()
    try:
        while True:
            status, body, retry_after = await asyncio.to_thread(_fetch_page, url, jar)
            if status != 503:
                break
            viewer.busy_pages += 1
            await asyncio.sleep(retry_after)
        viewer.error_banners = body.count(ERROR_BANNER)
        kernel_id = re.search(r'"kernelId": "([0-9a-f-]+)"', body).group(1)
        session = uuid.uuid4().hex
        address = url.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels"
        cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
        async with websockets.connect(
            f"{address}?session_id={session}",
            subprotocols=[KERNEL_PROTOCOL],
            additional_headers={"Cookie": cookies},
            max_size=None,
        ) as socket:
            control = uuid.uuid4().hex
            open_control = {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}}
            version = {"version": "1.0.0"}  # the widget control protocol's
            await socket.send(_message("comm_open", open_control, session, version))
            ask = {"comm_id": control, "data": {"method": "request_states"}}
            await socket.send(_message("comm_msg", ask, session))
            states = await _wait_for(socket, lambda t, c: c.get("data", {}).get("method")
                                     == "update_states")  # fmt: skip
            states = states["data"]["states"]
            viewer.first_widget_s = time.monotonic() - start
            slider = next(i for i, m in states.items()
                          if m["state"].get("description") == "Requests / month")  # fmt: skip
            table = next(i for i, m in states.items()
                         if "This machine" in str(m["state"].get("value", "")))  # fmt: skip
            viewer.loaded_s = viewer.first_widget_s
            value = states[slider]["state"]["value"] * 10 ** states[slider]["state"]["step"]
            update = {"method": "update", "state": {"value": value}, "buffer_paths": []}
            await socket.send(_message("comm_msg", {"comm_id": slider, "data": update}, session))
            moved = await _wait_for(
                socket,
                lambda t, c: c.get("comm_id") == table and "value" in c["data"].get("state", {}),
                timeout=60,
            )
            viewer.slider_moved = moved is not None
            viewer.error_banners += str(moved).count("wb-error")
        xsrf = next((c.value for c in jar if c.name == "_xsrf"), "")
        shutdown = urllib.request.Request(
            url + f"voila/api/shutdown/{kernel_id}?_xsrf={xsrf}",
            method="POST",
            headers={"Cookie": cookies, "X-XSRFToken": xsrf},
        )
        await asyncio.to_thread(urllib.request.urlopen, shutdown, timeout=30)
    except Exception as exc:  # a viewer that failed is reported, not fatal
        viewer.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"


async def _wait_for(socket: Any, wanted: Any, timeout: float = VIEWER_TIMEOUT_S) -> Any:
    """The content of the first comm message ``wanted(type, content)`` accepts (None: timeout)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            raw = await asyncio.wait_for(socket.recv(), left)
        except TimeoutError:
            return None
        kind, content = _comm_messages(raw)
        if kind == "comm_msg" and wanted(kind, content):
            return content
    return None


async def workshop_protocol(url: str, viewers: int, arrival_s: float) -> list[Viewer]:
    seen = [Viewer(i) for i in range(viewers)]
    gap = arrival_s / max(viewers - 1, 1)

    async def arrive(viewer: Viewer) -> None:
        await asyncio.sleep(viewer.index * gap)
        await view_protocol(url, viewer)

    await asyncio.gather(*(arrive(v) for v in seen))
    return seen


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[q - 1]


def report(seen: list[Viewer], watch: ServerWatch, release_s: float | None) -> None:
    firsts = [v.first_widget_s for v in seen if v.first_widget_s is not None]
    got = len(firsts)
    banners = sum(v.error_banners for v in seen)
    busy = sum(v.busy_pages for v in seen)
    moved = sum(v.slider_moved for v in seen)

    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(f"\n{len(seen)} viewers (measured here; {busy} busy pages shown on the way)")
    print(f"{'figure':<44}{'measured':>16}  {'target':<14}")
    rows = [
        ("viewers that got their first widget", f"{got} / {len(seen)}", "every viewer",
         got == len(seen)),
    ]  # fmt: skip
    if firsts:
        p50, p95 = percentile(firsts, 50), percentile(firsts, 95)
        rows.append(
            (f"first widget p50 / p95 (n={got})", f"{p50:.1f} s / {p95:.1f} s",
             f"p95 <= {TARGET_P95_FIRST_WIDGET_S:.0f} s", p95 <= TARGET_P95_FIRST_WIDGET_S)
        )  # fmt: skip
    peak_gb = watch.peak_bytes / 1e9
    rows += [
        ("peak memory, Voila and its kernels", f"{peak_gb:.2f} GB",
         f"<= {TARGET_PEAK_MEMORY_GB:.0f} GB", peak_gb <= TARGET_PEAK_MEMORY_GB),
        ("kernels released after the last viewer left",
         "not within 300 s" if release_s is None else f"{release_s:.1f} s",
         f"<= {TARGET_RELEASE_S:.0f} s", release_s is not None and release_s <= TARGET_RELEASE_S),
        ("error banners", f"{banners}", "0", banners == 0),
    ]  # fmt: skip
    for name, value, target, ok in rows:
        print(f"{name:<44}{value:>16}  {target:<14}{mark(ok)}")
    print(f"viewers whose slider repriced the options: {moved} / {len(seen)}")
    per_viewer = watch.cpu_s / len(seen)
    print(
        f"server CPU: {watch.cpu_s:.0f} s in all, {per_viewer:.1f} s per viewer; "
        f"largest kernel {watch.peak_kernel_bytes / 1e6:.0f} MB"
    )
    print(
        f"for {SCALE_VIEWERS} viewers over {SCALE_ARRIVAL_S:.0f} s (extrapolated, not measured): "
        + scale_estimate(per_viewer, watch.peak_kernel_bytes, SCALE_ARRIVAL_S)
    )
    for viewer in seen:
        if viewer.error:
            print(f"  viewer {viewer.index}: {viewer.error}")


def scale_estimate(cpu_per_viewer_s: float, kernel_bytes: int, arrival_s: float) -> str:
    """Cores and memory for :data:`SCALE_VIEWERS` viewers from this run's per-viewer figures.

    Cores: the viewers' server CPU time spread over their arrival window plus the p95 target
    (the work must be done by the time the last viewer's p95 is due). Memory: every viewer's
    kernel alive at once (viewers who stay), plus Voilà's own ~0.3 GB.
    """
    cores = cpu_per_viewer_s * SCALE_VIEWERS / (arrival_s + TARGET_P95_FIRST_WIDGET_S)
    memory_gb = (SCALE_VIEWERS * kernel_bytes + 0.3e9) / 1e9
    return (
        f"about {max(cores, 1):.0f} cores busy for the arrivals, and up to {memory_gb:.0f} GB if "
        f"every viewer stays (--max-kernels {SCALE_VIEWERS}); a viewer's kernel is released "
        "when the tab closes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=30, help="viewers (default 30)")
    parser.add_argument(
        "--arrival-s", type=float, default=60.0, help="they arrive evenly over this (default 60)"
    )
    parser.add_argument(
        "--max-kernels", type=int, default=MAX_KERNELS, help="workbench serve --max-kernels"
    )
    parser.add_argument("--preheat", action="store_true", help="workbench serve --preheat")
    parser.add_argument(
        "--clients",
        choices=("chromium", "protocol"),
        default="chromium",
        help="viewers as headless Chromium pages (default; the browsers share this machine's "
        "cores with the server) or as clients that speak the kernel protocol (the page, the "
        "widget states, a slider update), as browsers on the participants' own laptops would "
        "leave the server's machine to the server",
    )
    parser.add_argument(
        "--sample-model", default="tiny-llama", help="the model of the sample benchmark"
    )
    args = parser.parse_args()
    if args.viewers < 1:
        parser.error(f"--viewers must be >= 1, got {args.viewers}")
    if CHROMIUM is None and args.clients == "chromium":
        raise SystemExit("chromium is not installed: apt-get install chromium")

    print_machine()
    with tempfile.TemporaryDirectory(prefix="bench-workshop-") as tmp:
        work = Path(tmp)
        settings = SampleSettings.for_model(args.sample_model)
        ids = ensure_sample_runs(work / "runs", kinds=("bench",), settings=settings)
        app = publish.publish(list(ids), work / "app", runs_dir=work / "runs")
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        flags = ["--max-kernels", str(args.max_kernels), *(["--preheat"] if args.preheat else [])]
        print(
            f"serving the decision dashboard with workbench serve {' '.join(flags)}; "
            f"{args.viewers} viewers ({args.clients}) over {args.arrival_s:.0f} s"
        )
        server = start_server(app, port, flags, work / "serve.log")
        try:
            with ServerWatch(server.pid) as watch:
                viewers = workshop if args.clients == "chromium" else workshop_protocol
                seen = asyncio.run(viewers(url, args.viewers, args.arrival_s))
                left_at = time.monotonic()
                release_s = None
                while time.monotonic() - left_at < RELEASE_TIMEOUT_S:
                    if kernels(url) == 0:
                        release_s = time.monotonic() - left_at
                        break
                    time.sleep(0.5)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        report(seen, watch, release_s)


if __name__ == "__main__":
    main()
