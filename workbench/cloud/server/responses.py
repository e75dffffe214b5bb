"""OpenAI-style JSON answers and error bodies, shared by the emulated service and the API routes."""

from __future__ import annotations

from typing import Any

from workbench.cloud.client import require_aiohttp


def error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> dict:
    """The ``{"error": {...}}`` body OpenAI's API sends with a failed request."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    """An aiohttp JSON response."""
    return require_aiohttp().web.json_response(data, status=status, headers=headers)


def bad_request(message: str, param: str | None, status: int = 400, code: str | None = None) -> Any:
    """A 400 (or ``status``) answer blaming the request's ``param``."""
    body = error_body(message, "invalid_request_error", code=code, param=param)
    return json_response(body, status=status)


def stopping() -> Any:
    """The 503 for a request whose generation was stopped because the server is stopping."""
    return json_response(
        error_body("The server is stopping.", "server_error", code="stopping"), status=503
    )


def overloaded() -> Any:
    """The 503 for a request that found every slot busy and the queue full."""
    return json_response(
        error_body(
            "The server is overloaded: every slot is busy and the queue is full. Retry later.",
            "server_error",
            code="overloaded",
        ),
        status=503,
        headers={"Retry-After": "1"},
    )


def abort(request: Any) -> None:
    """Close the connection at once, with no (further) response bytes."""
    transport = request.transport
    if transport is not None:
        transport.abort()


__all__ = ["abort", "bad_request", "error_body", "json_response", "overloaded", "stopping"]
