"""A cloud load test in which every request failed is saved as a failed run, with its errors."""

from __future__ import annotations

import socket

import pytest

from workbench.cli import main
from workbench.cloud.client import EndpointConfig
from workbench.cloud.loadgen import CloudBenchConfig, run_endpoint_benchmark
from workbench.runs import list_runs, load_run


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_a_load_test_where_every_request_failed_is_saved_failed(closed_port_url, tmp_path):
    """Every request refused: the run is failed, its summary counts the errors by kind."""
    config = CloudBenchConfig(
        EndpointConfig(closed_port_url, "m", max_new_tokens=4), max_requests=3
    )

    result = run_endpoint_benchmark(config, runs_dir=tmp_path)

    run = load_run(result.run_id, tmp_path)
    assert run.status == "failed"
    assert run.summary["failed"] == 3 and run.summary["ok"] == 0
    assert run.summary["errors_connection_error"] == 3
    assert run.error.startswith("All 3 requests failed (connection_error 3). The first:")
    assert closed_port_url in run.error
    assert len(run.table("requests")) == 3, "the failed requests stay readable"


def test_cloud_bench_cli_on_a_dead_endpoint_exits_2_and_says_failed(
    closed_port_url, tmp_path, capsys
):
    """`cloud bench` against a closed port prints the run as failed and exits 2 without a traceback."""
    args = ["cloud", "bench", "--base-url", closed_port_url, "--model", "m"]
    args += ["--requests", "2", "--runs-dir", str(tmp_path)]

    code = main(args)

    out = capsys.readouterr()
    (summary,) = list_runs(tmp_path)
    assert code == 2
    assert summary.status == "failed"
    assert "(status failed: every request failed)" in out.out
    assert "Traceback" not in out.err
