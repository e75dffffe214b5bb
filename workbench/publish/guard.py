"""Voilà with the guards a dashboard left running for a room needs: ``python -m
workbench.publish.guard NOTEBOOK [voila options]`` takes every option ``voila`` takes.

What it adds to Voilà 0.5 (each one answers a finding of issue 13):

- **Kernel channels speak protocol v1 only.** Voilà's ``VoilaKernelWebsocketHandler.write_message``
  reads every binary message as the v1 wire format. A client that does not offer the
  ``v1.kernel.websocket.jupyter.org`` subprotocol gets the legacy format, whose first 8 bytes
  read as a little-endian count of about 10**17 offsets: Voilà's event loop then builds that list
  forever (100% CPU, memory growing, every request and SIGTERM waiting). Such a handshake is
  refused with 400, and binary messages are read with a bounded parser.
- **Every route asks for the token** when one is set (``--token``): the runs' files, Voilà's
  static files and templates, labextensions, themes and the preheat query socket too; only the
  login page and ``/health`` answer without it. A preheated kernel reads its visitor's request
  (the page address's dashboard settings) from that socket with a key the server gives its
  kernels (``$WORKBENCH_QUERY_KEY``, :mod:`workbench.publish.links`), never with the token.
- **A page sets the ``_xsrf`` cookie**, so its own shutdown request on closing (a ``sendBeacon``
  that copies the cookie into the form) is accepted and the tab's kernel is released at once.
- **At most ``max_kernels`` kernels** serve pages; a visitor beyond them gets a short "busy, retry
  in N s" page (HTTP 503 with ``Retry-After``) that reloads itself.
- **At most ``max_starting`` pages start at once** (by default one per CPU core): a page's kernel
  imports the stack and runs the notebook, and on 2 cores sixteen of them starting together all
  crawl (measured: 5 of 30 viewers had a first widget within 300 s). Later arrivals wait their
  turn in the order they came, with their request open.
- **``GET /health``** answers ``{"status": "ok", ...}`` without starting a kernel.
- **It stops with its parent**: when the process that started it is gone it shuts down as on
  SIGTERM (its kernels with it) and exits within ``STOP_TIMEOUT_S`` even if that hangs.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Int
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from workbench.publish.config import (
    HEALTH_PATH,
    MAX_KERNELS,
    PARENT_POLL_S,
    RETRY_AFTER_S,
    STOP_TIMEOUT_S,
)
from workbench.publish.links import QUERY_KEY_ENV

KERNEL_PROTOCOL_V1 = "v1.kernel.websocket.jupyter.org"
GUARD_SETTING = "workbench_guard"  # the Guard, in the tornado application's settings


def read_header_v1(message: bytes) -> dict[str, Any] | None:
    """The header of a kernel message in the v1 websocket format, or ``None`` if it is not one.

    Bounded, unlike Voilà's ``read_header_from_binary_message``: the offset count is checked
    against the message length before any offset is read.
    """
    if len(message) < 8:
        return None
    count = int.from_bytes(message[:8], "little")
    if not 3 <= count <= len(message) // 8 - 1:
        return None
    start, end = (int.from_bytes(message[8 * i : 8 * (i + 1)], "little") for i in (2, 3))
    if not 8 * (count + 1) <= start <= end <= len(message):
        return None
    try:
        header = json.loads(message[start:end].decode("utf-8"))
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def offered_subprotocols(handler: web.RequestHandler) -> list[str]:
    """The websocket subprotocols a handshake offers (``Sec-WebSocket-Protocol``)."""
    offered = handler.request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in offered.split(",") if p.strip()]


# -- state shared by the handlers ----------------------------------------------------------------


@dataclass
class _Admission:
    """One page request let in; it holds a place until its kernel is counted (or it ends)."""

    pending: bool = True


_ADMISSION: contextvars.ContextVar[_Admission | None] = contextvars.ContextVar(
    "workbench_admission", default=None
)


@dataclass
class Guard:
    """The kernel cap and the token, shared by the handlers of one server."""

    kernel_manager: Any
    max_kernels: int
    retry_after_s: int
    token: str = ""
    query_key: str = ""  # what this server's kernels present on the preheat query socket
    max_starting: int = 2
    pending: int = 0  # pages let in whose kernel the manager does not list yet
    started_at: float = field(default_factory=time.time)
    _starting: asyncio.Semaphore | None = None

    def starting(self) -> asyncio.Semaphore:
        """The places for pages being rendered (a kernel starting and running the notebook)."""
        if self._starting is None:  # made on the server's event loop, on first use
            self._starting = asyncio.Semaphore(self.max_starting)
        return self._starting

    def pooled(self) -> set[str]:
        """Ids of preheated kernels waiting for a visitor (they serve no page yet)."""
        ready: set[str] = set()
        for pool in getattr(self.kernel_manager, "_pools", {}).values():
            for item in pool:
                if item.done() and not item.cancelled() and item.exception() is None:
                    ready.add(item.result().get("kernel_id"))
        return ready

    def kernels_in_use(self) -> int:
        """Kernels serving pages, plus pages let in whose kernel is still starting."""
        listed = set(self.kernel_manager.list_kernel_ids())
        return len(listed - self.pooled()) + self.pending

    def admit(self) -> _Admission | None:
        """A place for one more page, or ``None`` when every place is taken."""
        if self.kernels_in_use() >= self.max_kernels:
            return None
        self.pending += 1
        admission = _Admission()
        _ADMISSION.set(admission)
        return admission

    def settle(self, admission: _Admission | None) -> None:
        """The page's kernel is listed now (or the page ended): it no longer holds a place."""
        if admission is not None and admission.pending:
            admission.pending = False
            self.pending -= 1

    def has_token(self, handler: web.RequestHandler) -> bool:
        """Whether a request carries the token (address or header) or a valid login cookie."""
        if not self.token:
            return True
        provider = handler.settings["identity_provider"]
        given = provider.get_token(handler) or ""
        if given and hmac.compare_digest(given.encode(), self.token.encode()):
            return True
        return provider.get_user_cookie(handler) is not None

    def counting_starts(self) -> None:
        """Settle the admission of the request that starts a kernel once the kernel is listed."""
        manager = self.kernel_manager
        start_kernel = manager.start_kernel

        async def start_and_settle(*args: Any, **kwargs: Any) -> str:
            kernel_id = await ensure_async(start_kernel(*args, **kwargs))
            self.settle(_ADMISSION.get())
            return kernel_id

        manager.start_kernel = start_and_settle


# -- handlers ------------------------------------------------------------------------------------


class TokenRequired:
    """Mixed into a handler: refuse (403) a request without the token or a login cookie."""

    async def prepare(self) -> Any:
        guard: Guard = self.settings[GUARD_SETTING]  # type: ignore[attr-defined]
        if not guard.has_token(self):  # type: ignore[arg-type]
            raise web.HTTPError(403, "this dashboard asks for its token: add ?token=TOKEN")
        return await ensure_async(super().prepare())  # type: ignore[misc]


class QueryKeyOrTokenRequired(TokenRequired):
    """Mixed into Voilà's preheat query socket: the server's own kernels present ``?key=`` (the
    key they were given in their environment) instead of the token, which they never see."""

    async def prepare(self) -> Any:
        guard: Guard = self.settings[GUARD_SETTING]  # type: ignore[attr-defined]
        key = self.get_argument("key", "")  # type: ignore[attr-defined]
        if guard.query_key and key and hmac.compare_digest(key.encode(), guard.query_key.encode()):
            return await ensure_async(super(TokenRequired, self).prepare())  # type: ignore[misc]
        return await super().prepare()


class V1KernelWebsocketHandler(VoilaKernelWebsocketHandler):
    """Voilà's kernel channel, refusing clients that do not speak protocol v1 (see module doc)."""

    async def pre_get(self) -> None:
        if KERNEL_PROTOCOL_V1 not in offered_subprotocols(self):
            raise web.HTTPError(
                400, f"kernel channels need the {KERNEL_PROTOCOL_V1} websocket subprotocol"
            )
        await super().pre_get()

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return KERNEL_PROTOCOL_V1 if KERNEL_PROTOCOL_V1 in subprotocols else None

    def write_message(self, message: Any, binary: bool = False) -> Any:
        header = read_header_v1(message) if isinstance(message, bytes) else None
        if isinstance(message, dict):
            header = message.get("header")
        if header and header.get("msg_type") == "execute_input":
            return None  # as Voilà does: the page never shows the code it runs
        return super(VoilaKernelWebsocketHandler, self).write_message(message, binary)


class GuardedPageHandler(TornadoVoilaHandler):
    """The dashboard page: sets the ``_xsrf`` cookie and keeps to the kernel cap."""

    async def get(self, path: str | None = None) -> None:
        guard: Guard = self.settings[GUARD_SETTING]
        if self.current_user is None or path:
            return await super().get(path)  # the login redirect, or a file redirect: no kernel
        admission = guard.admit()
        if admission is None:
            return self.busy(guard)
        try:
            self.xsrf_token  # noqa: B018 - sets the _xsrf cookie the page's shutdown request sends
            async with guard.starting():
                await super().get(path)
        finally:
            guard.settle(admission)

    def busy(self, guard: Guard) -> None:
        """503 and a page that says when to come back (and reloads itself then)."""
        wait = guard.retry_after_s
        self.set_status(503)
        self.set_header("Retry-After", str(wait))
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(busy_page(guard.max_kernels, wait))


class HealthHandler(web.RequestHandler):
    """``GET /health``: the server answers; how many kernels serve pages; starts none."""

    def get(self) -> None:
        guard: Guard = self.settings[GUARD_SETTING]
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            {
                "status": "ok",
                "kernels": guard.kernels_in_use(),
                "max_kernels": guard.max_kernels,
            }
        )

    def head(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish()


def busy_page(max_kernels: int, retry_after_s: int) -> str:
    """The page a visitor beyond the cap sees."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="{retry_after_s}">
<title>Busy: retry in {retry_after_s} s</title></head>
<body style="font-family: sans-serif; margin: 3em;">
<h1>This dashboard is busy</h1>
<p>All {max_kernels} places are taken by other visitors.
This page tries again in {retry_after_s} s.</p>
</body></html>"""


# -- the application -----------------------------------------------------------------------------

_OPEN_HANDLERS = ("LoginHandler", "LogoutHandler")  # reached without the token, by design


class GuardedVoila(Voila):
    """Voilà with the guards of this module."""

    max_kernels = Int(
        MAX_KERNELS, help="the most kernels serving pages at once; beyond: 503 busy"
    ).tag(config=True)
    retry_after_s = Int(RETRY_AFTER_S, help="the Retry-After of the busy page, in s").tag(
        config=True
    )
    max_starting = Int(
        os.cpu_count() or 2, help="the most pages rendered at once; later ones wait their turn"
    ).tag(config=True)

    def init_settings(self) -> dict[str, Any]:
        if self.token:  # kernels read their visitor's request with a key, not the token
            os.environ[QUERY_KEY_ENV] = secrets.token_urlsafe(32)
        settings = super().init_settings()
        guard = Guard(
            kernel_manager=self.kernel_manager,
            max_kernels=max(self.max_kernels, 1),
            retry_after_s=max(self.retry_after_s, 1),
            token=self.token or "",
            max_starting=max(self.max_starting, 1),
            query_key=os.environ.get(QUERY_KEY_ENV, "") if self.token else "",
        )
        guard.counting_starts()
        settings[GUARD_SETTING] = guard
        return settings

    def init_handlers(self) -> list[Any]:
        handlers = [(url_path_join(self.server_url, HEALTH_PATH), HealthHandler)]
        for route in super().init_handlers():
            pattern, handler, *rest = route
            handlers.append((pattern, _guarded(handler), *rest))
        return handlers


def _guarded(handler: type) -> type:
    """The handler class to serve instead of ``handler``."""
    if handler is VoilaKernelWebsocketHandler:
        handler = V1KernelWebsocketHandler
    elif handler is RequestInfoSocketHandler:
        return type(f"KeyOrToken{handler.__name__}", (QueryKeyOrTokenRequired, handler), {})
    elif handler is TornadoVoilaHandler:
        return GuardedPageHandler  # already redirects to the login page without the token
    if any(name in c.__name__ for c in handler.__mro__ for name in _OPEN_HANDLERS):
        return handler
    return type(f"TokenRequired{handler.__name__}", (TokenRequired, handler), {})


def _stop_with_parent(parent_pid: int) -> None:
    """When the process that started this one is gone, stop as on SIGTERM; exit soon after."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    print("[workbench] the process that started Voilà is gone: stopping", file=sys.stderr)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_TIMEOUT_S)
    os._exit(1)  # the kernels notice their parent is gone and exit too


def main(argv: list[str] | None = None) -> None:
    """Run :class:`GuardedVoila` with ``argv`` (default: this command line)."""
    watchdog = threading.Thread(
        target=_stop_with_parent, args=(os.getppid(),), name="stop-with-parent", daemon=True
    )
    watchdog.start()
    GuardedVoila.launch_instance(argv)


if __name__ == "__main__":
    main()
