"""minilm benchmarked on onnxruntime beside transformers: the missing extra, and a real short
sweep (skipped without the onnx extra)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys

import pytest

from workbench.cli import main

INSTALL = "pip install 'ai-deployment-workbench[onnx]'"
# One thread, two calls per point: this checks the figures are there, not how fast they are.
FAST = ("--min-iters", "2", "--min-seconds", "0", "--warmup", "0", "--threads", "1")


def test_bench_cli_without_the_onnx_extra_exits_2_with_the_install_command(monkeypatch, capsys):
    """`workbench bench minilm --engines transformers,onnxruntime` exits 2 with one paragraph,
    before loading anything."""
    import workbench.bench.runner as runner

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the extra was checked")

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(runner, "load_model", refuse)
    code = main(["bench", "minilm", "--engines", "transformers,onnxruntime", "--no-save"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error:") and err.count("\n") == 0
    assert INSTALL in err


@pytest.fixture(scope="module")
def onnx_sweep(tmp_path_factory, minilm):
    """`bench minilm --engines transformers,onnxruntime --variants fp32,onnx-fp32,onnx-int8`."""
    folder = tmp_path_factory.mktemp("bench-onnx")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([
            "bench", "minilm", "--engines", "transformers,onnxruntime",
            "--variants", "fp32,onnx-fp32,onnx-int8", "--batch", "4", "--seq-len", "16",
            "--quality-items", "4", *FAST,
            "--runs-dir", str(folder / "runs"), "--json", str(folder / "points.json"),
        ])  # fmt: skip
    assert code == 0, stderr.getvalue()
    records = json.loads((folder / "points.json").read_text(encoding="utf-8"))
    return stdout.getvalue(), {r["variant"]: r for r in records}


@pytest.mark.integration
@pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None,
    reason=f"onnxruntime is not installed: {INSTALL}",
)
def test_onnxruntime_points_report_the_same_figures_and_drift(onnx_sweep):
    """Each onnxruntime point has the transformers point's figures, its engine, and cosine drift
    against transformers fp32."""
    from workbench.models.engines.onnx_runtime import INT8_MIN_COSINE

    stdout, rows = onnx_sweep
    assert stdout.splitlines()[0].split()[:2] == ["engine", "variant"]
    assert "saved as run" in stdout
    fp32 = rows["fp32"]
    assert [rows[v]["engine"] for v in ("fp32", "onnx-fp32", "onnx-int8")] == [
        "transformers", "onnxruntime", "onnxruntime",
    ]  # fmt: skip
    for variant in ("onnx-fp32", "onnx-int8"):
        row = rows[variant]
        assert set(row) >= set(fp32) - {"drift_method"}
        for name in ("p50_ms", "throughput_items_per_s", "tokens_per_s", "peak_rss_mb"):
            assert row[name] > 0, (variant, name)
    assert fp32["cosine_min"] == 1.0
    assert rows["onnx-fp32"]["cosine_min"] >= 0.999
    assert INT8_MIN_COSINE <= rows["onnx-int8"]["cosine_min"] <= rows["onnx-int8"]["cosine_mean"]
    assert rows["onnx-int8"]["weight_bytes"] < rows["onnx-fp32"]["weight_bytes"] / 3.5
