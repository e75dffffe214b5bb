"""Running the loopback cloud: in this thread until Ctrl-C (:func:`serve`, for ``cloud serve``) or
in a background thread (:class:`LoopbackCloud`, for tests and notebooks).

Both bind loopback only unless told otherwise, and hand out the base URL the ``openai`` client
takes (``http://127.0.0.1:PORT/v1``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any

from workbench.cloud.client import require_aiohttp
from workbench.cloud.config import ServiceProfile
from workbench.cloud.server.api import CloudServer
from workbench.cloud.server.profile import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_EMBEDDING_MODEL,
    ServerStartError,
)
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_host(host: str, allow_remote: bool = False) -> None:
    """Refuse to bind anything but loopback unless ``allow_remote``.

    Raises
    ------
    InvalidInputError
        Naming the host and the flag that allows it.
    """
    if host in LOCAL_HOSTS:
        return
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            return
    if not allow_remote:
        raise InvalidInputError(
            f"`host` {host!r} would expose the server beyond this machine. The loopback cloud "
            "binds 127.0.0.1 only; pass --allow-remote (allow_remote=True) if you really mean to "
            "serve other machines, ideally with --api-key-env."
        )


def check_port(port: Any) -> int:
    """``port`` if it is a TCP port number (0 picks a free one), else an error naming --port.

    Raises
    ------
    InvalidInputError
        For anything but a whole number from 0 to 65535.
    """
    return checks.whole(
        "port", port, 0, 65_535, flag="--port", fix="Ports go up to 65535; 0 picks a free one."
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ServerStartError(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}). Choose another --port "
            "(0 picks a free one) or stop what uses it."
        ) from exc
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


def _app_runner(app: Any) -> Any:
    """An aiohttp runner that leaves signals to the caller and cancels handlers on stop."""
    return require_aiohttp().web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=1.0,
        handler_cancellation=True,
    )


async def _start(server: CloudServer, sock: socket.socket) -> Any:
    runner = _app_runner(server.make_app())
    await runner.setup()
    await require_aiohttp().web.SockSite(runner, sock).start()
    return runner


def serve(
    chat_model: Any = DEFAULT_CHAT_MODEL,
    embedding_model: Any = DEFAULT_EMBEDDING_MODEL,
    profile: ServiceProfile | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    allow_remote: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the loopback cloud in this thread until interrupted (Ctrl-C).

    Parameters
    ----------
    chat_model, embedding_model
        Aliases, paths or loaded runners; ``None`` leaves that endpoint out.
    profile
        The service profile (default: no delays, no limits, no faults).
    host, port
        Where to listen; ``port=0`` picks a free port.
    allow_remote
        Allow a host other than loopback.
    on_ready
        Called with the base URL (``http://127.0.0.1:8000/v1``) once the server listens.

    Raises
    ------
    ServerStartError
        When the port cannot be bound or the API key variable is unset.
    """
    check_host(host, allow_remote)
    check_port(port)
    sock = _bind(host, port)  # before the models load: a taken port fails in a second
    try:
        server = CloudServer(chat_model, embedding_model, profile)
    except BaseException:
        sock.close()
        raise

    async def main() -> None:
        runner = await _start(server, sock)
        try:
            if on_ready:
                on_ready(_base_url(sock))
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    finally:
        sock.close()


class BackgroundServer:
    """An aiohttp application served on loopback from a background thread.

    ``with BackgroundServer(make_app) as base_url:`` binds 127.0.0.1 on a free port, serves the
    application that ``make_app()`` returns from a thread with its own event loop, yields
    ``http://127.0.0.1:PORT/v1``, and stops the server when the block ends.
    """

    def __init__(
        self, make_app: Callable[[], Any], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        check_host(host)
        self._make_app = make_app
        self.host, self.port = host, port
        self.base_url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url or 'stopped'}>"

    def start(self) -> str:
        """Start the server thread; returns the base URL."""
        if self._thread is not None:
            raise InvalidInputError(
                f"This {type(self).__name__} is already running; stop() it first."
            )
        sock = _bind(self.host, self.port)
        self._ready.clear()
        self._failure = None
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name="loopback-server", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            self._thread = None
            raise ServerStartError(
                f"The server failed to start: {self._failure}"
            ) from self._failure
        self.base_url = _base_url(sock)
        return self.base_url

    def _run(self, sock: socket.socket) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            runner = _app_runner(self._make_app())
            try:
                await runner.setup()
                await require_aiohttp().web.SockSite(runner, sock).start()
            except BaseException as exc:
                self._failure = exc
                self._ready.set()
                await runner.cleanup()
                return
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await runner.cleanup()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        self._thread = None
        self.base_url = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LoopbackCloud(BackgroundServer):
    """The loopback cloud in a background thread, for tests and notebooks.

    ``with LoopbackCloud(chat_model=..., profile=...) as base_url:`` starts the server on
    127.0.0.1 on a free port and yields its base URL (``http://127.0.0.1:PORT/v1``, what the
    ``openai`` client takes as ``base_url``); leaving the block stops it. ``counters`` tells what
    the server did (requests, rate_limited, faults_..., cold_starts).

    Parameters
    ----------
    chat_model, embedding_model
        Aliases or paths to load, loaded runners, or ``None`` to leave that endpoint out.
    profile
        The service profile (default: no delays, no limits, no faults).
    """

    def __init__(
        self,
        chat_model: Any = DEFAULT_CHAT_MODEL,
        embedding_model: Any = DEFAULT_EMBEDDING_MODEL,
        profile: ServiceProfile | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        check_host(host)
        self.server = CloudServer(chat_model, embedding_model, profile)
        super().__init__(self.server.make_app, host=host, port=port)

    def __repr__(self) -> str:
        return f"<LoopbackCloud {self.base_url or 'stopped'} {self.server!r}>"

    @property
    def counters(self) -> dict[str, int]:
        """A copy of the server's counters."""
        return dict(self.server.counters)

    def stop(self) -> None:
        """Stop the server (running generations end at their next token) and its thread."""
        self.server.cancel_all()
        super().stop()


__all__ = ["LOCAL_HOSTS", "BackgroundServer", "LoopbackCloud", "check_host", "serve"]
