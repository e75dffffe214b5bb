"""Dashboard links that carry their question: ``http://127.0.0.1:8866/?scenario=document_search&
requests_per_month=200000`` opens the decision dashboard on that scenario and volume.

A dashboard declares the parameters its address may carry (:func:`decision_parameters`,
:func:`federated_parameters`: the controls it shows, with the ranges those controls take).
:func:`parse_query` turns a query string into typed values and, for anything it cannot use, one
paragraph naming the parameter and what it accepts; the dashboard starts from the values and
shows the paragraphs, so a bad link still opens a working page. :func:`link_for` writes a link.

In a Voilà page :func:`page_query` reads the address: from ``$QUERY_STRING``, which Voilà puts
in a kernel's environment, or, when kernels are preheated (``--preheat``), after waiting for the
visitor's request the way ``voila.utils.wait_for_request`` does. ``token`` (and Voilà's own
``template`` and ``theme``) are never dashboard parameters: they are skipped, never echoed.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from workbench.kit.errors import WorkbenchError

#: Query parameters that belong to the server, not to a dashboard: skipped, never shown.
SERVER_PARAMETERS = frozenset({"token", "template", "theme"})
#: Environment variable holding the key a guarded server gives its kernels to read their
#: visitor's request from its preheat query socket (the token stays out of the kernels).
QUERY_KEY_ENV = "WORKBENCH_QUERY_KEY"
MAX_QUERY_CHARS = 4000  # longer addresses are refused whole: no link needs more
MAX_SHOWN_CHARS = 40  # of a value or name echoed in a message
MAX_NAMES_SHOWN = 5  # unknown names listed in the message; the rest are counted
REQUEST_TIMEOUT_S = 5.0  # to open the preheat query socket
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?")


class LinkError(WorkbenchError):
    """The page's address could not be read."""


@dataclass(frozen=True)
class LinkParameter:
    """One setting a dashboard's address may carry.

    ``choices`` asks for one of a few names; ``low``/``high`` bound a number (both included) and
    ``whole`` asks for a whole one; ``pattern`` (a regular expression) a word such as a run id;
    ``note`` adds what a value means (``0: no deadline``).
    """

    name: str
    help: str  # what it sets, as the dashboard labels it ("Requests / month")
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    whole: bool = False
    pattern: str = ""
    note: str = ""

    def accepts(self) -> str:
        """What this parameter accepts, in words."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.pattern:
            return "a run id (letters, digits, '.', '_' and '-')"
        kind = "a whole number" if self.whole else "a number"
        if self.low is not None and self.high is not None:
            kind += f" from {_number_text(self.low)} to {_number_text(self.high)}"
        elif self.low is not None:
            kind += f" of at least {_number_text(self.low)}"
        return kind + (f" ({self.note})" if self.note else "")

    def read(self, text: str) -> Any:
        """The typed value of ``text``; raises :class:`ValueError` with the reason otherwise."""
        if self.choices:
            if text not in self.choices:
                raise ValueError("not one of the names it accepts")
            return text
        if self.pattern:
            if not re.fullmatch(self.pattern, text):
                raise ValueError("not a run id")
            return text
        value = _read_number(text)
        if self.whole:
            if not value.is_integer():
                raise ValueError("not a whole number")
            value = int(value)
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise ValueError("out of range")
        return value


@dataclass(frozen=True)
class LinkValues:
    """What a page's address asks for: typed ``values`` by parameter name, in the order the
    dashboard declares them, and one paragraph per parameter it could not use."""

    values: dict[str, Any] = field(default_factory=dict)
    messages: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.values or self.messages)


def parse_query(query: str | None, parameters: Sequence[LinkParameter]) -> LinkValues:
    """The values a query string asks for, checked against ``parameters``.

    Parameters
    ----------
    query
        The query string, with or without its leading ``?`` (``None`` or ``""``: no values).
    parameters
        What the dashboard accepts.

    Returns
    -------
    LinkValues
        The values that were good; a message for each parameter given twice, empty, of the wrong
        kind or out of range, and one listing the names the dashboard does not have. Server
        parameters (``token``, ``template``, ``theme``) are skipped and never mentioned.
    """
    query = (query or "").lstrip("?")
    if not query:
        return LinkValues()
    if len(query) > MAX_QUERY_CHARS:
        return LinkValues(
            messages=(
                f"The page's address carries {len(query):,} characters of settings, more than "
                f"the {MAX_QUERY_CHARS:,} a link of this dashboard can hold, so none was used. "
                f"Open it with only the settings it accepts: {_names(parameters)}.",
            )
        )
    given: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if name not in SERVER_PARAMETERS:
            given.setdefault(name, []).append(value)
    by_name = {p.name: p for p in parameters}
    values: dict[str, Any] = {}
    messages: list[str] = []
    for parameter in parameters:
        texts = given.get(parameter.name)
        if texts is None:
            continue
        if len(texts) > 1:
            messages.append(
                f"`{parameter.name}` ({parameter.help}) is given {len(texts)} times in the page's "
                f"address, so it was not used: give it once, as {parameter.accepts()}."
            )
            continue
        try:
            values[parameter.name] = parameter.read(texts[0].strip())
        except ValueError:
            messages.append(
                f"`{parameter.name}` ({parameter.help}) in the page's address must be "
                f"{parameter.accepts()}, got {_shown(texts[0])}; the dashboard starts from its "
                "own value instead."
            )
    unknown = [name for name in given if name not in by_name]
    if unknown:
        messages.append(_unknown_message(unknown, parameters))
    return LinkValues(values, tuple(messages))


def link_for(base_url: str, **values: Any) -> str:
    """``base_url`` with ``values`` as its query: a link that opens a dashboard on them.

    Parameters already in ``base_url`` (``?token=...``) are kept; a value given here replaces
    one of the same name there; ``None`` values are left out. Floats with no fraction are
    written as whole numbers (``200000``, not ``200000.0``).

    >>> link_for("http://127.0.0.1:8866/", scenario="document_search", requests_per_month=2e5)
    'http://127.0.0.1:8866/?scenario=document_search&requests_per_month=200000'
    """
    parts = urlsplit(base_url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in values]
    added = [(k, _value_text(v)) for k, v in values.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(kept + added)))


def page_query() -> str:
    """The query string of the Voilà page this kernel serves (``""`` outside Voilà).

    A kernel Voilà starts for a request has it in ``$QUERY_STRING``. A preheated kernel
    (``VOILA_PREHEAT``) ran before any visitor came: this waits until Voilà hands it the
    visitor's request, as ``voila.utils.wait_for_request`` does, presenting the key a guarded
    server gave its kernels (:data:`QUERY_KEY_ENV`) when there is one.

    Raises
    ------
    LinkError
        When a preheated kernel cannot read its visitor's request.
    """
    if os.environ.get("VOILA_PREHEAT", "False") != "False":
        try:
            info = _request_info()
        except Exception as exc:  # the reason by its kind only: its text may hold the key
            raise LinkError(
                "The settings in this page's address could not be read (Voilà's request socket "
                f"answered {type(exc).__name__}); the dashboard starts from its own values. "
                "Serve it with `workbench serve`, which lets its kernels read the address."
            ) from exc
        os.environ.update({str(k): str(v) for k, v in info.items()})
        os.environ["VOILA_PREHEAT"] = "False"  # the request is this kernel's now
    return os.environ.get("QUERY_STRING", "")


def read_page_link(parameters: Sequence[LinkParameter]) -> LinkValues:
    """:func:`parse_query` of :func:`page_query`; an address that cannot be read is a message."""
    try:
        query = page_query()
    except LinkError as exc:
        return LinkValues(messages=(str(exc),))
    return parse_query(query, parameters)


# -- the dashboards' parameters -------------------------------------------------------------------


def decision_parameters() -> tuple[LinkParameter, ...]:
    """What the decision dashboard's address may set: the scenario and its workload sliders,
    with the ranges the sliders take (from :class:`workbench.decision.ScenarioWorkload`)."""
    from workbench.decision import ScenarioWorkload, list_scenarios

    names = tuple(p.stem for p in list_scenarios())
    workload = [
        _field_parameter(ScenarioWorkload, "requests_per_month"),
        _field_parameter(ScenarioWorkload, "peak_requests_per_s"),
        _field_parameter(ScenarioWorkload, "input_tokens", whole=True),
        _field_parameter(ScenarioWorkload, "output_tokens", whole=True),
        _field_parameter(ScenarioWorkload, "latency_objective_ms"),
        _field_parameter(ScenarioWorkload, "quality_floor", note="0: no floor; 0.7 is 70%"),
    ]
    return (LinkParameter("scenario", "Scenario", choices=names), *workload)


def federated_parameters() -> tuple[LinkParameter, ...]:
    """What the federated dashboard's address may set: the saved run shown and the settings its
    Rerun knobs change (from :class:`workbench.federated.config.FedConfig`)."""
    from workbench.federated.config import FedConfig

    return (
        LinkParameter("run", "Saved run", pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"),
        _field_parameter(FedConfig, "strategy"),
        _field_parameter(FedConfig, "partition"),
        _field_parameter(FedConfig, "alpha", low=0.001, high=100.0),  # the knob's log range
        _field_parameter(FedConfig, "deadline_s", high=1e6, note="0: no deadline"),
        _field_parameter(FedConfig, "dp_noise"),
    )


def _field_parameter(config: Any, name: str, **overrides: Any) -> LinkParameter:
    """A parameter for a config field: its help and choices, and the range its control takes
    (the field's ``widget_range``, else its bounds)."""
    from workbench.kit.fields import specs

    spec = specs(config)[name]
    low, high = spec.widget_range or (spec.low, spec.high)
    settings: dict[str, Any] = {"help": spec.label or spec.help, "choices": spec.choices}
    if not spec.choices:
        settings |= {"low": low, "high": high, "whole": spec.whole}
    return LinkParameter(name, **(settings | overrides))


# -- helpers --------------------------------------------------------------------------------------


def _read_number(text: str) -> float:
    """A finite number written plainly (``200000``, ``2e5``, ``200,000``, ``0.7``)."""
    plain = text.replace(",", "").replace("_", "")
    if len(plain) > 40 or not _NUMBER.fullmatch(plain):
        raise ValueError("not a number")
    value = float(plain)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _number_text(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _value_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _shown(text: str) -> str:
    """A value as a message quotes it: cut short, without control characters."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    if len(clean) > MAX_SHOWN_CHARS:
        clean = clean[:MAX_SHOWN_CHARS] + "…"
    return repr(clean)


def _names(parameters: Iterable[LinkParameter]) -> str:
    return ", ".join(p.name for p in parameters)


def _unknown_message(unknown: list[str], parameters: Sequence[LinkParameter]) -> str:
    shown = ", ".join(_shown(n) for n in unknown[:MAX_NAMES_SHOWN])
    more = len(unknown) - MAX_NAMES_SHOWN
    if more > 0:
        shown += f" and {more:,} more"
    what = "a setting" if len(unknown) == 1 else "settings"
    return (
        f"The page's address names {what} this dashboard does not have: {shown}; "
        f"{'it was' if len(unknown) == 1 else 'they were'} ignored. It accepts "
        f"{_names(parameters)}."
    )


def _request_info() -> Mapping[str, str]:
    """The visitor's request, as Voilà hands it to a preheated kernel (its query socket)."""
    protocol = os.environ.get("VOILA_WS_PROTOCOL", "ws")
    host = os.environ.get("VOILA_APP_IP", "127.0.0.1")
    port = os.environ.get("VOILA_APP_PORT", "8866")
    base = os.environ.get("VOILA_WS_BASE_URL", os.environ.get("VOILA_SERVER_URL", "/"))
    url = f"{protocol}://{host}:{port}{base}voila/query/{os.environ['VOILA_KERNEL_ID']}"
    key = os.environ.get(QUERY_KEY_ENV)
    if key:
        url += "?" + urlencode({"key": key})
    import websockets

    from workbench.kit.aio import run_sync

    async def first_message() -> Any:
        async with websockets.connect(url, open_timeout=REQUEST_TIMEOUT_S) as socket:
            return await socket.recv()

    # The kernel's own loop is running in this thread: run_sync uses a helper thread then.
    text = run_sync(first_message)
    info = json.loads(text)
    if not isinstance(info, dict):
        raise ValueError("Voilà sent no request details")
    return info


__all__ = [
    "QUERY_KEY_ENV",
    "SERVER_PARAMETERS",
    "LinkError",
    "LinkParameter",
    "LinkValues",
    "decision_parameters",
    "federated_parameters",
    "link_for",
    "page_query",
    "parse_query",
    "read_page_link",
]
