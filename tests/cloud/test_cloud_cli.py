"""`cloud serve` and `cloud bench` on the command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from workbench.cloud.cli import main
from workbench.cloud.server import LoopbackCloud

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def cloud(tiny_llama, tiny_bert):
    """A loopback cloud with no delays, serving tiny-llama and tiny-bert."""
    with LoopbackCloud(tiny_llama, tiny_bert) as base_url:
        yield base_url


def test_bench_prints_a_summary_saves_a_run_and_writes_json(cloud, tmp_path, capsys):
    """`cloud bench` measures, prints the summary and run id, and writes the JSON summary."""
    out = tmp_path / "summary.json"
    code = main(
        ["bench", "--base-url", cloud, "--model", "tiny-llama", "--requests", "3",
         "--max-new-tokens", "4", "--json", str(out), "--runs-dir", str(tmp_path / "runs")]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "latency p50 / p95 / p99" in printed and "saved as run" in printed
    assert "output tokens/s per request" in printed and "output tokens/s, all requests" in printed
    record = json.loads(out.read_text(encoding="utf-8"))[0]
    assert record["requests"] == 3 and record["p50_ms"] > 0


def test_bench_open_loop_on_embeddings(cloud, tmp_path, capsys):
    """`--rate` runs an open loop; `--api embeddings` measures the embeddings route."""
    code = main(
        ["bench", "--base-url", cloud, "--model", "tiny-bert", "--api", "embeddings",
         "--rate", "50", "--requests", "3", "--no-save"]
    )  # fmt: skip
    assert code == 0 and "open loop" in capsys.readouterr().out


def test_bench_against_a_closed_port_exits_2_naming_the_url(tmp_path, capsys):
    """When every request fails, the summary is printed and the error names the URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    code = main(["bench", "--base-url", url, "--model", "m", "--requests", "2", "--no-save"])
    captured = capsys.readouterr()
    assert code == 2
    assert url in captured.err and "Cannot connect" in captured.err
    assert "connection_error 2" in captured.out


def test_bench_refuses_an_objective_of_zero(capsys):
    """--slo-ms 0 is refused with a message naming the objective."""
    code = main(["bench", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--slo-ms", "0"])
    assert code == 2 and "slo_ms" in capsys.readouterr().err


def test_users_and_rate_cannot_both_be_given(capsys):
    """--users and --rate are alternatives."""
    with pytest.raises(SystemExit):
        main(["bench", "--base-url", "http://x/v1", "--model", "m", "--users", "2", "--rate", "1"])
    assert "not allowed with" in capsys.readouterr().err


def test_serve_refuses_a_public_host_without_the_flag(capsys):
    """`cloud serve --host 0.0.0.0` exits 2 naming --allow-remote, before loading any model."""
    code = main(["serve", "--host", "0.0.0.0", "--chat-model", "tiny-llama"])
    assert code == 2 and "--allow-remote" in capsys.readouterr().err


def test_serve_prints_its_url_answers_and_stops_on_ctrl_c(tmp_path):
    """`cloud serve --port 0` prints its base URL first, serves /v1/models, and Ctrl-C ends it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cloud.cli", "serve", "--chat-model", "tiny-llama",
         "--embedding-model", "tiny-bert", "--port", "0", "--region", "same-metro"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        env=os.environ.copy(),
        # Ctrl-C as a terminal delivers it: a test run started in the background (`cmd &` in a
        # script) ignores SIGINT, and a child would inherit that and never see it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        base_url = process.stdout.readline().strip()
        with urllib.request.urlopen(f"{base_url}/models", timeout=30) as answer:
            models = {m["id"] for m in json.load(answer)["data"]}
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
    assert models == {"tiny-llama", "tiny-bert"}
    assert code == 0 and "stopped" in process.stderr.read()
