"""Load generation against an endpoint: closed or open loop, retries, goodput, saved as a run.

* **Closed loop** (``users=N``): N simulated users, each sending its next request when the
  previous one has finished (including its retries). Throughput adapts to the server.
* **Open loop** (``rate_rps=R``): requests arrive on a schedule that does not wait for answers,
  with gamma-distributed gaps of mean ``1/R`` and coefficient of variation ``burstiness_cv``
  (1: Poisson arrivals; above 1: bursty; 0: evenly spaced).

Both stop at ``max_requests`` or ``max_seconds``, whichever comes first: no request and no retry
starts after ``max_seconds``; requests already under way may run on for at most ``timeout_s``.
A request that fails with a retryable error (429, 5xx, timeout, dropped connection) is sent
again, up to ``retries`` times, after an exponential back-off with full jitter
(a uniform draw in ``[0, min(backoff_max_s, backoff_base_s * 2**n)]``), or after the server's
``Retry-After`` when that is longer.

Latency, TTFT and goodput are measured from when the request was first sent, so retries and
back-off waits count: they are what a user waits. Goodput is the share of all requests that
succeeded within ``slo_ms``.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from workbench import runs
from workbench.bench import LatencyStats
from workbench.cloud.client import (
    ERROR_KINDS,
    RETRYABLE,
    Attempt,
    EndpointClient,
    EndpointError,
    read_api_key,
)
from workbench.cloud.config import MODES, CloudBenchConfig
from workbench.kit.aio import run_sync
from workbench.kit.jsonvalues import json_ready

# ---------------------------------------------------------------------------------------------
# Pure pieces


def arrival_offsets(
    rate_rps: float, cv: float, max_requests: int, max_seconds: float, rng: np.random.Generator
) -> np.ndarray:
    """Open-loop send times in seconds from the start, within ``max_seconds``.

    Gaps are gamma-distributed with mean ``1 / rate_rps`` and coefficient of variation ``cv``
    (shape ``1 / cv**2``); ``cv = 1`` gives Poisson arrivals, ``cv = 0`` a fixed spacing. The first
    request goes after the first gap.
    """
    mean = 1.0 / rate_rps
    if cv == 0:
        gaps = np.full(max_requests, mean)
    else:
        shape = 1.0 / cv**2
        gaps = rng.gamma(shape, mean / shape, size=max_requests)
    times = np.cumsum(gaps)
    return times[times <= max_seconds]


def backoff_seconds(
    retry: int,
    base_s: float,
    cap_s: float,
    rng: np.random.Generator,
    retry_after_s: float | None = None,
) -> float:
    """The wait before retry number ``retry`` (0 for the first): full jitter, or Retry-After.

    Full jitter draws uniformly in ``[0, min(cap_s, base_s * 2**retry)]``; a ``Retry-After``
    from the server is a floor, since asking again sooner only earns another refusal.
    """
    ceiling = min(cap_s, base_s * 2.0**retry)
    wait = float(rng.uniform(0.0, ceiling))
    if retry_after_s is not None:
        wait = max(wait, retry_after_s)
    return wait


def goodput(ok: pd.Series, latency_ms: pd.Series, slo_ms: float) -> float:
    """Share of requests that succeeded within ``slo_ms`` (NaN when there were none)."""
    if len(ok) == 0:
        return math.nan
    return float((ok.astype(bool) & (latency_ms <= slo_ms)).mean())


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class _Recorder:
    """Collects requests and attempts as they finish, with times relative to the start."""

    config: CloudBenchConfig
    start: float
    deadline: float
    rng: np.random.Generator
    requests: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def ms(self, moment: float) -> float:
        return (moment - self.start) * 1000.0


async def _one_request(
    client: EndpointClient,
    rec: _Recorder,
    request_id: int,
    user: int,
    scheduled_at: float | None,
) -> None:
    tries, waits, note = await _send_with_retries(client, rec)
    rec.attempts.extend(_attempt_rows(rec, request_id, tries, waits))
    rec.requests.append(_request_row(rec, request_id, user, scheduled_at, tries, waits, note))


async def _send_with_retries(
    client: EndpointClient, rec: _Recorder
) -> tuple[list[Attempt], list[float], str]:
    """Send one request, retrying retryable failures; returns (tries, waits in s, note)."""
    config = rec.config
    tries: list[Attempt] = []
    waits: list[float] = []
    while True:
        attempt = await client.request()
        tries.append(attempt)
        if attempt.ok or attempt.error_kind not in RETRYABLE:
            return tries, waits, ""
        if len(tries) > config.retries:
            return tries, waits, f" (gave up after {len(tries)} tries)" if len(tries) > 1 else ""
        wait = backoff_seconds(
            len(tries) - 1,
            config.backoff_base_s,
            config.backoff_max_s,
            rec.rng,
            attempt.retry_after_s,
        )
        if time.perf_counter() + wait > rec.deadline:
            return tries, waits, " (no retry: it would start after max_seconds)"
        waits.append(wait)
        await asyncio.sleep(wait)


def _attempt_rows(
    rec: _Recorder, request_id: int, tries: list[Attempt], waits: list[float]
) -> list[dict[str, Any]]:
    return [
        {
            "request_id": request_id,
            "attempt": number,
            "start_ms": rec.ms(attempt.started_at),
            "ok": attempt.ok,
            "status": attempt.status,
            "error_kind": attempt.error_kind,
            "retry_after_s": _nan(attempt.retry_after_s),
            "wait_after_ms": waits[number] * 1000.0 if number < len(waits) else math.nan,
            "latency_ms": attempt.latency_ms,
            "new_connection": attempt.new_connection,
            "connect_ms": attempt.connect_ms,
        }
        for number, attempt in enumerate(tries)
    ]


def _request_row(
    rec: _Recorder,
    request_id: int,
    user: int,
    scheduled_at: float | None,
    tries: list[Attempt],
    waits: list[float],
    note: str,
) -> dict[str, Any]:
    """The request as a user saw it: from its first try's start to its last try's end."""
    first, last = tries[0], tries[-1]
    latency_ms = (last.ended_at - first.started_at) * 1000.0
    scheduled = scheduled_at is not None
    return {
        "request_id": request_id,
        "user": user,
        "scheduled_ms": rec.ms(scheduled_at) if scheduled else math.nan,
        "start_ms": rec.ms(first.started_at),
        "start_lag_ms": (first.started_at - scheduled_at) * 1000.0 if scheduled else math.nan,
        "ok": last.ok,
        "met_slo": bool(last.ok and latency_ms <= rec.config.slo_ms),
        "status": last.status,
        "error_kind": last.error_kind,
        "error": last.error + note if last.error else "",
        "attempts": len(tries),
        "retries": len(tries) - 1,
        "retry_wait_ms": sum(waits) * 1000.0,
        "http_429_count": sum(a.error_kind == "http_429" for a in tries),
        "new_connection": last.new_connection,
        "connect_ms": last.connect_ms,
        "ttft_ms": (last.ttft_at - first.started_at) * 1000.0 if last.ok else math.nan,
        "tpot_ms": last.tpot_ms,
        "latency_ms": latency_ms,
        "last_attempt_ms": last.latency_ms,
        "output_tokens": last.output_tokens if last.ok else None,
        "prompt_tokens": last.prompt_tokens,
        "tokens_source": last.tokens_source,
        "chunks": last.chunks,
    }


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


async def _closed_loop(client: EndpointClient, rec: _Recorder) -> None:
    issued = 0

    async def user(index: int) -> None:
        nonlocal issued
        while issued < rec.config.max_requests and time.perf_counter() < rec.deadline:
            request_id = issued
            issued += 1
            await _one_request(client, rec, request_id, index, None)

    await asyncio.gather(*(user(i) for i in range(rec.config.users)))


async def _open_loop(client: EndpointClient, rec: _Recorder) -> None:
    config = rec.config
    offsets = arrival_offsets(
        config.rate_rps, config.burstiness_cv, config.max_requests, config.max_seconds, rec.rng
    )
    tasks = []
    for request_id, offset in enumerate(offsets):
        due = rec.start + float(offset)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.perf_counter() >= rec.deadline:
            break
        tasks.append(asyncio.create_task(_one_request(client, rec, request_id, -1, due)))
    await asyncio.gather(*tasks)


async def run_load(config: CloudBenchConfig) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Run the load test; returns (requests, attempts, duration in seconds)."""
    async with EndpointClient(config.endpoint, max_connections=config.max_connections) as client:
        start = time.perf_counter()
        rec = _Recorder(
            config=config,
            start=start,
            deadline=start + config.max_seconds,
            rng=np.random.default_rng(config.seed),
        )
        if config.mode == "open":
            await _open_loop(client, rec)
        else:
            await _closed_loop(client, rec)
        duration = time.perf_counter() - start
    requests = _requests_frame(rec.requests)
    attempts = _attempts_frame(rec.attempts)
    return requests, attempts, duration


_REQUEST_COLUMNS = {
    "request_id": "int64",
    "user": "int64",
    "scheduled_ms": "float64",
    "start_ms": "float64",
    "start_lag_ms": "float64",
    "ok": "bool",
    "met_slo": "bool",
    "status": "int64",
    "error_kind": "str",
    "error": "str",
    "attempts": "int64",
    "retries": "int64",
    "retry_wait_ms": "float64",
    "http_429_count": "int64",
    "new_connection": "boolean",
    "connect_ms": "float64",
    "ttft_ms": "float64",
    "tpot_ms": "float64",
    "latency_ms": "float64",
    "last_attempt_ms": "float64",
    "output_tokens": "Int64",
    "prompt_tokens": "Int64",
    "tokens_source": "str",
    "chunks": "int64",
}
_ATTEMPT_COLUMNS = {
    "request_id": "int64",
    "attempt": "int64",
    "start_ms": "float64",
    "ok": "bool",
    "status": "int64",
    "error_kind": "str",
    "retry_after_s": "float64",
    "wait_after_ms": "float64",
    "latency_ms": "float64",
    "new_connection": "boolean",
    "connect_ms": "float64",
}


def _typed(rows: list[dict[str, Any]], columns: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for name, dtype in columns.items():
        frame[name] = frame[name].astype(object if dtype == "str" else dtype)
        if dtype == "str":
            frame[name] = frame[name].fillna("").astype(str)
    return frame


def _requests_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = _typed(rows, _REQUEST_COLUMNS)
    return frame.sort_values("request_id", kind="stable").reset_index(drop=True)


def _attempts_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = _typed(rows, _ATTEMPT_COLUMNS)
    return frame.sort_values(["request_id", "attempt"], kind="stable").reset_index(drop=True)


def summarise_requests(
    requests: pd.DataFrame,
    attempts: pd.DataFrame,
    config: CloudBenchConfig,
    duration_s: float,
) -> dict[str, Any]:
    """The one-row summary (the ``points`` table), with column names the local bench uses.

    ``p50_ms``, ``p95_ms`` ... describe the end-to-end latency of successful requests;
    ``ttft_ms`` and ``tpot_ms`` are means over successful requests (as in local bench runs).
    ``tokens_per_s`` is what one request sees, defined as a local bench defines it for a call:
    mean output tokens over mean end-to-end latency of the successful requests. The aggregate
    of all concurrent requests, output tokens of successful requests per second of the whole
    run, is ``throughput_tokens_per_s`` (and successful requests per second of the run,
    ``throughput_items_per_s``).
    """
    ok = requests[requests["ok"]]
    row = _load_columns(requests, ok, config, duration_s)
    row.update(_latency_columns(ok))
    row.update(_token_columns(ok, duration_s))
    new = attempts["new_connection"].fillna(False).astype(bool)
    row.update(
        {
            "slo_ms": config.slo_ms,
            "goodput": goodput(requests["ok"], requests["latency_ms"], config.slo_ms),
            "retries": int(requests["retries"].sum()),
            "http_429_responses": int((attempts["error_kind"] == "http_429").sum()),
            "new_connections": int(new.sum()),
            "connect_ms": _mean(attempts.loc[new, "connect_ms"]),
        }
    )
    for kind in ERROR_KINDS:
        row[f"errors_{kind}"] = int((requests["error_kind"] == kind).sum())
    return row


def _load_columns(
    requests: pd.DataFrame, ok: pd.DataFrame, config: CloudBenchConfig, duration_s: float
) -> dict[str, Any]:
    """What was asked of the endpoint, and how many requests it answered."""
    endpoint = config.endpoint
    return {
        "model": endpoint.model,
        "api": endpoint.api,
        "stream": endpoint.stream,
        "mode": config.mode,
        "users": config.users if config.mode == "closed" else 0,
        "rate_rps": _nan(config.rate_rps),
        "burstiness_cv": config.burstiness_cv if config.mode == "open" else math.nan,
        "max_new_tokens": endpoint.max_new_tokens,
        "requests": len(requests),
        "ok": len(ok),
        "failed": len(requests) - len(ok),
        "duration_s": duration_s,
        "requests_per_s": len(requests) / duration_s if duration_s > 0 else math.nan,
        "throughput_items_per_s": len(ok) / duration_s if duration_s > 0 else math.nan,
    }


def _latency_columns(ok: pd.DataFrame) -> dict[str, Any]:
    """The latency statistics of successful requests, as a local bench reports them: the
    ``p50_ci_*``/``p95_ci_*`` bounds are order-statistic intervals, NaN with too few requests."""
    if len(ok):
        return LatencyStats.from_samples(ok["latency_ms"].to_numpy() / 1000.0).to_dict()
    return {**dict.fromkeys(LatencyStats.__dataclass_fields__, math.nan), "count": 0}


def _token_columns(ok: pd.DataFrame, duration_s: float) -> dict[str, Any]:
    """First-token and per-token times, and output tokens per second per request and overall."""
    tokens = ok["output_tokens"].astype("float64")
    seconds = ok["latency_ms"].astype("float64") / 1000.0
    counted = tokens.notna() & seconds.notna()
    return {
        "ttft_ms": _mean(ok["ttft_ms"]),
        "ttft_p50_ms": _percentile(ok["ttft_ms"], 50),
        "ttft_p95_ms": _percentile(ok["ttft_ms"], 95),
        "tpot_ms": _mean(ok["tpot_ms"]),
        "output_tokens": _mean(tokens),
        "tokens_per_s": _ratio(tokens[counted].sum(), seconds[counted].sum()),
        "throughput_tokens_per_s": _ratio(tokens.sum(), duration_s),
        "tokens_from_usage": bool(len(ok)) and bool((ok["tokens_source"] == "usage").all()),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator > 0 else math.nan


def _mean(values: pd.Series) -> float:
    clean = values.astype("float64").dropna()
    return float(clean.mean()) if len(clean) else math.nan


def _percentile(values: pd.Series, q: float) -> float:
    clean = values.astype("float64").dropna()
    return float(np.percentile(clean, q)) if len(clean) else math.nan


#: The summary values a saved run shows in ``workbench runs list``.
HEADLINE = ("requests", "ok", "failed", "p50_ms", "p95_ms", "ttft_ms", "goodput")


@dataclass
class EndpointBenchResult:
    """A finished load test: one row per request, per attempt, and the one-row summary.

    It records itself as a run of kind ``"cloud"`` (see :func:`workbench.runs.record`).
    """

    KIND: ClassVar[str] = "cloud"

    config: CloudBenchConfig
    requests: pd.DataFrame
    attempts: pd.DataFrame
    points: pd.DataFrame
    run_id: str | None = None

    @property
    def summary_row(self) -> dict[str, Any]:
        """Every column of the one summary row (the ``points`` table) as a dict."""
        return self.points.iloc[0].to_dict()

    def summary(self) -> dict[str, Any]:
        """The headline values a saved run shows (JSON values: NaN becomes ``None``), and the
        failed requests by error kind (``errors_<kind>``) when any failed."""
        row = self.summary_row
        errors = {
            key: row[key] for key in row if key.startswith("errors_") and row[key] and row[key] > 0
        }
        return json_ready({**{name: row[name] for name in HEADLINE}, **errors})

    def all_failed(self) -> bool:
        """Whether requests were sent and not one of them succeeded."""
        return bool(len(self.requests)) and not self.requests["ok"].any()

    def failure_text(self) -> str:
        """One line for a run in which every request failed: how many, by kind, the first error."""
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.errors().items()))
        first = self.requests.iloc[0]["error"] if len(self.requests) else ""
        return f"All {len(self.requests)} requests failed ({kinds}). The first: {first}"

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables a saved run holds: ``points``, ``requests`` and ``attempts``."""
        return {"points": self.points, "requests": self.requests, "attempts": self.attempts}

    @classmethod
    def from_run(cls, run: runs.Run) -> EndpointBenchResult:
        """The result rebuilt from a saved run of kind ``"cloud"``."""
        return cls(
            config=CloudBenchConfig.from_dict(run.config),
            requests=run.table("requests"),
            attempts=run.table("attempts"),
            points=run.table("points"),
            run_id=run.id,
        )

    def errors(self) -> dict[str, int]:
        """Failed requests by error kind (kinds with none left out)."""
        counts = self.requests.loc[~self.requests["ok"], "error_kind"].value_counts()
        return {str(k): int(v) for k, v in counts.items()}

    def to_frame(self) -> pd.DataFrame:
        """The tidy per-request table."""
        return self.requests

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {
            "config": self.config.to_dict(),
            "requests": self.requests.to_dict(orient="records"),
            "attempts": self.attempts.to_dict(orient="records"),
            "points": self.points.to_dict(orient="records"),
            "run_id": self.run_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EndpointBenchResult:
        """The inverse of :meth:`to_dict`."""
        return cls(
            config=CloudBenchConfig.from_dict(data["config"]),
            requests=_typed(data["requests"], _REQUEST_COLUMNS),
            attempts=_typed(data["attempts"], _ATTEMPT_COLUMNS),
            points=pd.DataFrame.from_records(data["points"]),
            run_id=data.get("run_id"),
        )

    def raise_if_all_failed(self) -> None:
        """Raise the first request's error when not one request succeeded.

        Raises
        ------
        EndpointError
            (or its unreachable/auth kinds) with the message that names the URL or the key's
            environment variable.
        """
        if self.all_failed():
            first = self.requests.iloc[0]
            attempt = Attempt(ok=False, error_kind=first["error_kind"], error=first["error"])
            error = attempt.to_error()
            raise type(error)(
                f"All {len(self.requests)} requests failed. The first: {first['error']}"
            )


def run_endpoint_benchmark(
    config: CloudBenchConfig,
    runs_dir: str | Path | None = None,
    save: bool = True,
) -> EndpointBenchResult:
    """Load-test an endpoint and, with ``save``, record a run of kind ``"cloud"``.

    The run has tables ``requests`` (one row per request), ``attempts`` (one row per HTTP try)
    and ``points`` (one summary row with ``p50_ms``, ``p95_ms``, ``p99_ms``, ``ttft_ms``,
    ``tpot_ms``, ``tokens_per_s`` per request, ``throughput_tokens_per_s`` over all concurrent
    requests, ``goodput`` and error counts), comparable with local ``bench`` runs through
    :func:`workbench.runs.compare_runs`.

    Failed requests are rows, never exceptions; see :meth:`EndpointBenchResult.raise_if_all_failed`.
    A run in which every request failed is saved ``failed``, with the failures by kind in its
    summary: it measured nothing. Works from plain scripts and from a running event loop (a
    notebook) alike.

    Raises
    ------
    MissingApiKeyError
        Before any request, when ``api_key_env`` names an unset variable.
    RunsDirError
        Before any request, when the runs directory cannot be written.
    """
    read_api_key(config.endpoint.api_key_env)
    runs.check_can_record(save, runs_dir)
    requests, attempts, duration = run_sync(lambda: run_load(config))
    points = pd.DataFrame([summarise_requests(requests, attempts, config, duration)])
    result = EndpointBenchResult(config, requests, attempts, points)
    label = config.label or config.endpoint.model
    with runs.record(
        EndpointBenchResult, config, save=save, seed=config.seed, label=label, runs_dir=runs_dir
    ) as recording:
        recording.save(result)
        if result.all_failed():
            recording.fail_at_end(result.failure_text())
    return result


__all__ = [
    "HEADLINE",
    "MODES",
    "CloudBenchConfig",
    "EndpointBenchResult",
    "EndpointError",
    "arrival_offsets",
    "backoff_seconds",
    "goodput",
    "run_endpoint_benchmark",
    "run_load",
    "summarise_requests",
]
