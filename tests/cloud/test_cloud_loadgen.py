"""Load generation: bounded loops, retries that honour Retry-After, faults recorded, runs saved clean."""

from __future__ import annotations

import asyncio
import math
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.cloud.client import EndpointConfig, EndpointUnreachableError
from workbench.cloud.loadgen import (
    CloudBenchConfig,
    arrival_offsets,
    backoff_seconds,
    goodput,
    run_endpoint_benchmark,
    run_sync,
)
from workbench.cloud.server import LoopbackCloud, ServiceProfile
from workbench.kit.errors import InvalidInputError
from workbench.runs import load_run

SECRET = "sk-test-very-secret-123"


@pytest.fixture(scope="module")
def cloud(tiny_llama, tiny_bert):
    """A loopback cloud with no delays, serving tiny-llama and tiny-bert."""
    with LoopbackCloud(tiny_llama, tiny_bert) as base_url:
        yield base_url


def bench(base_url: str, model: str = "tiny-llama", endpoint=None, **load) -> CloudBenchConfig:
    """A small load test of ``base_url``."""
    endpoint = {"max_new_tokens": 4, **(endpoint or {})}
    return CloudBenchConfig(EndpointConfig(base_url, model, **endpoint), **load)


def test_closed_loop_stops_at_max_requests(cloud, tmp_path):
    """Three users and seven requests: exactly seven requests, spread over the users."""
    result = run_endpoint_benchmark(bench(cloud, users=3, max_requests=7), runs_dir=tmp_path)
    assert len(result.requests) == 7 and result.requests["ok"].all()
    assert sorted(result.requests["request_id"]) == list(range(7))
    assert set(result.requests["user"]) <= {0, 1, 2}


def test_open_loop_stops_at_max_requests(cloud):
    """At a high rate the open loop sends exactly max_requests, each with its schedule."""
    result = run_endpoint_benchmark(bench(cloud, rate_rps=200.0, max_requests=6), save=False)
    assert len(result.requests) == 6
    assert result.requests["scheduled_ms"].notna().all()
    assert (result.requests["start_ms"] >= result.requests["scheduled_ms"]).all()


def test_closed_loop_stops_at_max_seconds(cloud):
    """With a short time budget, the loop stops long before max_requests and starts none late."""
    config = bench(cloud, users=1, max_requests=10_000, max_seconds=0.3)
    result = run_endpoint_benchmark(config, save=False)
    assert 0 < len(result.requests) < 10_000
    assert (result.requests["start_ms"] <= 300).all()


def test_open_loop_schedules_nothing_after_max_seconds(cloud):
    """An open loop at 20/s for 0.25 s schedules only arrivals within 0.25 s."""
    config = bench(cloud, rate_rps=20.0, max_requests=1000, max_seconds=0.25)
    result = run_endpoint_benchmark(config, save=False)
    assert len(result.requests) < 1000
    assert (result.requests["scheduled_ms"] <= 250).all()


def test_retries_wait_at_least_retry_after(tiny_llama):
    """Against a rate-limited server each retry waits >= Retry-After, and every 429 is counted."""
    profile = ServiceProfile(rate_limit_rps=1.0, rate_limit_burst=1)
    cloud = LoopbackCloud(tiny_llama, None, profile)
    with cloud as url:
        config = bench(url, users=2, max_requests=3, retries=4, backoff_base_s=0.01)
        result = run_endpoint_benchmark(config, save=False)
    attempts = result.attempts
    limited = attempts[attempts["error_kind"] == "http_429"]
    assert result.requests["ok"].all()
    assert len(limited) == cloud.counters["rate_limited"] > 0
    assert (limited["wait_after_ms"] >= limited["retry_after_s"] * 1000).all()
    for _, row in limited.iterrows():  # the next try really started that much later
        following = attempts[
            (attempts["request_id"] == row["request_id"])
            & (attempts["attempt"] == row["attempt"] + 1)
        ].iloc[0]
        gap_ms = following["start_ms"] - (row["start_ms"] + row["latency_ms"])
        assert gap_ms >= row["retry_after_s"] * 1000 - 1  # 1 ms for clock rounding
    assert result.summary_row["http_429_responses"] == len(limited)
    assert result.summary_row["retries"] == len(limited)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("http_500", "http_5xx"), ("drop", "disconnected"), ("truncate", "truncated_stream")],
)
def test_injected_faults_are_recorded_and_counted_not_raised(tiny_llama, fault, kind):
    """Every request failing with an injected fault is a recorded row of the right kind."""
    profile = ServiceProfile(fault_rate=1.0, fault_kinds=(fault,))
    cloud = LoopbackCloud(tiny_llama, None, profile)
    with cloud as url:
        result = run_endpoint_benchmark(bench(url, users=2, max_requests=4, retries=0), save=False)
    assert len(result.requests) == 4 and not result.requests["ok"].any()
    assert result.errors() == {kind: 4}
    assert result.summary_row[f"errors_{kind}"] == 4
    assert cloud.counters[f"faults_{fault}"] == 4


def test_retryable_faults_are_retried_up_to_the_limit(tiny_llama):
    """A server that always fails with 500 is tried 1 + retries times per request."""
    profile = ServiceProfile(fault_rate=1.0, fault_kinds=("http_500",))
    with LoopbackCloud(tiny_llama, None, profile) as url:
        config = bench(url, max_requests=2, retries=2, backoff_base_s=0.001)
        result = run_endpoint_benchmark(config, save=False)
    assert result.requests["attempts"].tolist() == [3, 3]
    assert "gave up after 3 tries" in result.requests["error"].iloc[0]


def test_an_unreachable_endpoint_is_a_recorded_failure(tmp_path):
    """A closed port gives failed rows naming the URL, and the all-failed check raises clearly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    result = run_endpoint_benchmark(bench(url, max_requests=2), runs_dir=tmp_path)
    assert result.errors() == {"connection_error": 2}
    assert result.requests["error"].str.contains(url, regex=False).all()
    with pytest.raises(EndpointUnreachableError, match=url):
        result.raise_if_all_failed()


def test_a_saved_run_is_comparable_with_local_bench_runs(cloud, tmp_path):
    """The run is of kind cloud with requests, attempts and points using the bench's column names."""
    result = run_endpoint_benchmark(bench(cloud, max_requests=3), runs_dir=tmp_path)
    run = load_run(result.run_id, runs_dir=tmp_path)
    assert run.kind == "cloud" and run.status == "complete"
    assert {"requests", "attempts", "points"} <= set(run.tables)
    points = run.table("points")
    for column in ("p50_ms", "p95_ms", "p99_ms", "ttft_ms", "tpot_ms", "tokens_per_s", "goodput"):
        assert column in points.columns
    assert "throughput_tokens_per_s" in points.columns
    assert len(run.table("requests")) == 3
    pd.testing.assert_frame_equal(run.table("requests"), result.requests, check_dtype=False)


def test_tokens_per_s_is_per_request_like_a_local_call_and_the_aggregate_is_named(cloud):
    """With three users, tokens_per_s is tokens over end-to-end time per request, as a local
    bench reports a call; all requests together are throughput_tokens_per_s."""
    result = run_endpoint_benchmark(bench(cloud, users=3, max_requests=6), save=False)
    ok = result.requests[result.requests["ok"]]
    summary = result.summary_row
    tokens = float(ok["output_tokens"].sum())

    assert len(ok) == 6 and tokens > 0
    assert summary["tokens_per_s"] == pytest.approx(tokens / (ok["latency_ms"].sum() / 1000))
    assert summary["throughput_tokens_per_s"] == pytest.approx(tokens / summary["duration_s"])


def test_the_api_key_appears_in_no_file_of_the_run(tiny_llama, tmp_path, monkeypatch):
    """With the key in the environment, no file under the run folder contains it."""
    monkeypatch.setenv("WB_TEST_KEY", SECRET)
    profile = ServiceProfile(api_key_env="WB_TEST_KEY", fault_rate=0.5, seed=3)
    with LoopbackCloud(tiny_llama, None, profile) as url:
        config = bench(url, endpoint={"api_key_env": "WB_TEST_KEY"}, max_requests=4, retries=0)
        result = run_endpoint_benchmark(config, runs_dir=tmp_path)
    folder = tmp_path / result.run_id
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files and result.requests["ok"].any()
    for file in files:
        assert SECRET.encode() not in file.read_bytes(), file.name
    assert "WB_TEST_KEY" in (folder / "run.json").read_text(encoding="utf-8")


def test_goodput_counts_successes_within_the_objective():
    """Goodput is the share of all requests that succeeded within the objective."""
    ok = pd.Series([True, True, False, True])
    latency = pd.Series([100.0, 300.0, 50.0, 200.0])
    assert goodput(ok, latency, 200.0) == 0.5
    assert math.isnan(goodput(pd.Series([], dtype=bool), pd.Series([], dtype=float), 1.0))


def test_goodput_in_the_summary_uses_the_slo(cloud):
    """An objective far above any latency gives goodput 1; one far below gives 0."""
    loose = run_endpoint_benchmark(bench(cloud, max_requests=2, slo_ms=60_000), save=False)
    tight = run_endpoint_benchmark(bench(cloud, max_requests=2, slo_ms=0.001), save=False)
    assert loose.summary_row["goodput"] == 1.0 and tight.summary_row["goodput"] == 0.0


def test_arrivals_with_zero_burstiness_are_evenly_spaced():
    """cv=0 gives arrivals every 1/rate seconds, cut at max_seconds."""
    times = arrival_offsets(4.0, 0.0, 100, 1.0, np.random.default_rng(0))
    np.testing.assert_allclose(times, [0.25, 0.5, 0.75, 1.0])


def test_poisson_arrivals_have_the_requested_rate_and_spread():
    """cv=1 gaps have mean 1/rate and coefficient of variation near 1; cv=3 is burstier."""
    rng = np.random.default_rng(0)
    gaps = np.diff(arrival_offsets(10.0, 1.0, 50_000, 1e9, rng), prepend=0)
    bursty = np.diff(arrival_offsets(10.0, 3.0, 50_000, 1e9, rng), prepend=0)
    assert gaps.mean() == pytest.approx(0.1, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)
    assert bursty.std() / bursty.mean() == pytest.approx(3.0, rel=0.1)


def test_backoff_is_full_jitter_under_the_ceiling_and_honours_retry_after():
    """Back-off draws stay within min(cap, base * 2**n); a Retry-After is a floor."""
    rng = np.random.default_rng(0)
    draws = [backoff_seconds(3, 0.5, 2.0, rng) for _ in range(1000)]
    assert min(draws) >= 0 and max(draws) <= 2.0
    assert backoff_seconds(0, 0.5, 2.0, rng, retry_after_s=3.0) >= 3.0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slo_ms": 0}, "slo_ms"),
        ({"slo_ms": -5}, "slo_ms"),
        ({"users": 0}, "users"),
        ({"rate_rps": 0}, "rate_rps"),
        ({"max_requests": 0}, "max_requests"),
        ({"max_seconds": 0}, "max_seconds"),
        ({"retries": -1}, "retries"),
        ({"burstiness_cv": -1}, "burstiness_cv"),
    ],
)
def test_bench_config_validation_names_the_field(changes, field):
    """A bad CloudBenchConfig value is refused naming the field."""
    with pytest.raises(InvalidInputError, match=f"`{field}`"):
        bench("http://127.0.0.1:9/v1", **changes)


def test_a_bench_config_round_trips_through_a_dict():
    """to_dict then from_dict gives the same config."""
    config = bench("http://127.0.0.1:9/v1", rate_rps=3.0, burstiness_cv=2.0, label="x")
    assert CloudBenchConfig.from_dict(config.to_dict()) == config


def test_a_result_round_trips_through_a_dict(cloud):
    """A result's to_dict/from_dict keeps the requests table and the summary."""
    from workbench.cloud.loadgen import EndpointBenchResult

    result = run_endpoint_benchmark(bench(cloud, max_requests=2), save=False)
    again = EndpointBenchResult.from_dict(result.to_dict())
    pd.testing.assert_frame_equal(again.requests, result.requests)
    assert again.summary_row["p50_ms"] == result.summary_row["p50_ms"]


def test_a_saved_cloud_run_loads_back_equal(cloud, tmp_path):
    """A recorded run rebuilt with from_run has the saved config, tables, summary and id."""
    from workbench.cloud.loadgen import EndpointBenchResult

    config = bench(cloud, users=2, max_requests=3, label="round trip")
    result = run_endpoint_benchmark(config, runs_dir=tmp_path)
    run = load_run(result.run_id, runs_dir=tmp_path)
    again = EndpointBenchResult.from_run(run)

    assert run.kind == EndpointBenchResult.KIND == "cloud"
    assert again.config == result.config and again.run_id == result.run_id
    assert list(again.tables()) == list(result.tables()) == ["points", "requests", "attempts"]
    for name, frame in result.tables().items():
        pd.testing.assert_frame_equal(again.tables()[name], frame, check_exact=True)
    assert again.summary() == result.summary() == run.summary
    assert set(run.summary) == {
        "requests",
        "ok",
        "failed",
        "p50_ms",
        "p95_ms",
        "ttft_ms",
        "goodput",
    }


def test_the_benchmark_runs_from_inside_a_running_event_loop(cloud):
    """Called from a coroutine (as in a notebook), the benchmark still runs to completion."""

    async def inside():
        return run_endpoint_benchmark(bench(cloud, max_requests=1), save=False)

    assert len(asyncio.run(inside()).requests) == 1
    assert run_sync(lambda: asyncio.sleep(0, result=5)) == 5


def test_an_unwritable_runs_dir_fails_before_any_request(cloud, tmp_path: Path):
    """A runs directory that is a file is refused before the load test starts."""
    from workbench.kit.errors import RunsDirError

    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(RunsDirError):
        run_endpoint_benchmark(bench(cloud, max_requests=1), runs_dir=blocker)
