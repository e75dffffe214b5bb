"""The README's first command, `make dashboard`, serves the decision dashboard offline.

In its own module so that no other Voila server of the test session runs beside it.
"""

from __future__ import annotations

import os
import re
import urllib.request
from pathlib import Path

import pytest
from voila_util import free_port, serving

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs_with_smollm2(tmp_path_factory, smollm2):
    """A runs folder with one quick smollm2-135m benchmark: what the dashboard decides from."""
    from workbench.bench import BenchConfig, MeasurePolicy, run_benchmark

    runs_dir = tmp_path_factory.mktemp("make-dashboard-runs")
    config = BenchConfig(
        "smollm2-135m",
        seq_lens=(0,),
        max_new_tokens=4,
        quality_items=1,
        policy=MeasurePolicy(warmup=1, min_iters=2, min_seconds=0.0),
    )
    run_benchmark(config, runs_dir=runs_dir)
    return runs_dir


def test_readme_dashboard_command_serves_the_decision_dashboard(repo_root, runs_with_smollm2):
    """`make dashboard` prints its loopback address and serves the decision dashboard: a widget,
    no error banner, no code, nothing from a CDN."""
    port = free_port()
    log = Path(os.environ["WORKBENCH_CACHE_DIR"]).parent / f"make-dashboard-{port}.log"
    command = ["make", "--no-print-directory", "dashboard", f"PORT={port}"]
    env = {**os.environ, "WORKBENCH_RUNS_DIR": str(runs_with_smollm2)}
    with serving(command, repo_root, port, log, env=env) as url:
        with urllib.request.urlopen(url, timeout=300) as response:
            status, page = response.status, response.read().decode("utf-8")
        served = log.read_text()
    # On failure, say what the page and Voila's log held (the log is deleted with the session).
    shown = re.sub(r"\s+", " ", re.sub(r"<(script|style)[\s\S]*?</\1>", "", page))[-1500:]
    why = f"\npage text (end): {shown}\nvoila log (end): {served[-3000:]}"

    assert f"Serving the decision dashboard at {url}" in served, why
    assert status == 200, why
    assert "There was an error when executing cell" not in page, why
    assert "Traceback" not in page, why
    assert "application/vnd.jupyter.widget-view+json" in page, why
    assert "DecisionDashboard" not in page  # the notebook's code stays hidden
    assert "cdn.jsdelivr.net" not in page  # the offline template
