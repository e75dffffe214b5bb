"""A real benchmark point of smollm2-135m on llama.cpp Q4_1 beside transformers fp32
(skipped without the llama-cpp extra)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math

import pytest

from workbench.cli import main

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed: pip install 'ai-deployment-workbench[llama-cpp]'",
    ),
]

# One thread: llama.cpp's two-thread barriers stall when another process holds a core.
FAST = ("--min-iters", "2", "--min-seconds", "0", "--warmup", "0", "--threads", "1")


@pytest.fixture(scope="module")
def engine_sweep(tmp_path_factory, smollm2):
    """`bench smollm2-135m --engines transformers,llama.cpp --variants fp32,q4_1`, 4 tokens."""
    folder = tmp_path_factory.mktemp("bench-engines")
    stdout, stderr = io.StringIO(), io.StringIO()
    # In this process (the CLI's own entry point): the model and libraries are already loaded.
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([
            "bench", "smollm2-135m", "--engines", "transformers,llama.cpp",
            "--variants", "fp32,q4_1", "--max-new-tokens", "4", "--quality-items", "1", *FAST,
            "--runs-dir", str(folder / "runs"), "--json", str(folder / "points.json"),
        ])  # fmt: skip
    assert code == 0, stderr.getvalue()
    records = json.loads((folder / "points.json").read_text(encoding="utf-8"))
    return stdout.getvalue(), {r["engine"]: r for r in records}


def test_the_table_has_an_engine_column(engine_sweep):
    """The printed table starts with the engine of each point, and the run is saved."""
    stdout, _ = engine_sweep
    assert stdout.splitlines()[0].split()[:2] == ["engine", "variant"]
    assert "saved as run" in stdout


def test_llama_cpp_reports_the_same_figures_as_transformers(engine_sweep):
    """The llama.cpp point has latency, tokens/s, TTFT, TPOT and memory like the fp32 one."""
    _, rows = engine_sweep
    fp32, q4_1 = rows["transformers"], rows["llama.cpp"]
    assert (fp32["variant"], q4_1["variant"]) == ("fp32", "q4_1")
    for name in ("p50_ms", "tokens_per_s", "ttft_ms", "tpot_ms", "peak_rss_mb", "weight_bytes"):
        assert q4_1[name] > 0, name
        assert set(fp32) >= {name}
    assert q4_1["output_tokens"] == 4
    assert q4_1["weight_bytes"] < fp32["weight_bytes"] / 4  # 4-bit weights against float32


def test_llama_cpp_drift_is_teacher_forced_against_fp32(engine_sweep):
    """llama.cpp gives logits, so its drift is teacher-forced agreement, and says so."""
    _, rows = engine_sweep
    q4_1 = rows["llama.cpp"]
    assert q4_1["drift_method"].startswith("teacher-forced")
    assert 0 <= q4_1["agreement"] <= 1 and not math.isnan(q4_1["agreement"])
    assert 0 <= q4_1["exact_match"] <= 1
    assert rows["transformers"]["agreement"] == 1.0
