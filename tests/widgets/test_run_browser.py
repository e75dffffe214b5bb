"""The run browser panel, driven headless: list, filter, compare, and explain when empty."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from widgets.common import ERROR_CLASS
from widgets.run_browser import RunBrowser
from workbench import runs


def _record(runs_dir, kind, label, config, p50_ms, *, fail=False):
    """Save a small run with a `points` table; return its id."""
    try:
        with runs.start_run(kind, config, label=label, runs_dir=runs_dir) as run:
            run.add_table("points", pd.DataFrame({"batch": [1, 2], "p50_ms": [p50_ms, 2 * p50_ms]}))
            run.set_summary(p50_ms=p50_ms)
            if fail:
                raise RuntimeError("the model ran out of memory")
    except RuntimeError:
        pass
    return run.id


@pytest.fixture
def runs_dir(tmp_path):
    """Two bench runs (batch settings differ), one federated run and one failed run."""
    folder = tmp_path / "runs"
    _record(folder, "bench", "minilm fp32", {"model": "minilm", "threads": 1}, 10.0)
    _record(folder, "bench", "minilm int8", {"model": "minilm", "threads": 2}, 6.0)
    _record(folder, "federated", "digits fedavg", {"clients": 10}, 1.0)
    _record(folder, "bench", "smollm2 oom", {"model": "smollm2"}, 1.0, fail=True)
    return folder


def test_lists_every_run_with_kind_status_and_summary(runs_dir):
    """Each run is a row with its kind, label, status and headline figures."""
    browser = RunBrowser(runs_dir=str(runs_dir))

    assert len(browser.summaries) == 4
    for summary in browser.summaries:
        assert summary.id in browser.listing.value
    assert "minilm int8" in browser.listing.value
    assert "failed: RuntimeError: the model ran out of memory" in browser.listing.value
    assert "p50_ms=6" in browser.listing.value
    assert "4 runs" in browser.status.value
    assert browser.errors.value == ""


def test_compares_the_first_two_runs_side_by_side(runs_dir):
    """Summaries and differing settings of A and B with B − A; their common table is stacked."""
    browser = RunBrowser(runs_dir=str(runs_dir))
    first, second = browser.summaries[0].id, browser.summaries[1].id

    assert (browser.first.value, browser.second.value) == (first, second)
    assert f"A: {first}" in browser.comparison.value
    assert f"B: {second}" in browser.comparison.value
    assert "<td>p50_ms</td><td>10</td><td>6</td><td>-4</td>" in browser.comparison.value
    assert "<td>config threads</td><td>1</td><td>2</td><td>+1</td>" in browser.comparison.value
    assert "config model" not in browser.comparison.value  # equal settings are left out
    assert browser.table_name.value == "points"
    assert list(browser.compared["run_id"]) == [first, first, second, second]


def test_picking_another_run_changes_the_comparison(runs_dir):
    """Choosing a different run B redraws the comparison with that run."""
    browser = RunBrowser(runs_dir=str(runs_dir))
    federated = next(s.id for s in browser.summaries if s.kind == "federated")

    browser.second.value = federated

    assert f"B: {federated}" in browser.comparison.value
    assert "<td>kind</td><td>bench</td><td>federated</td>" in browser.comparison.value
    assert set(browser.compared["run_id"]) == {browser.first.value, federated}


def test_filters_by_kind_and_by_text(runs_dir):
    """The kind menu and the search box narrow the list and the runs offered for comparison."""
    browser = RunBrowser(runs_dir=str(runs_dir))

    browser.kind.value = "federated"
    assert [s.kind for s in browser.shown] == ["federated"]
    assert "minilm" not in browser.listing.value
    assert "1 shown with these filters" in browser.status.value

    browser.kind.value = ""
    browser.search.value = "INT8"
    assert [s.label for s in browser.shown] == ["minilm int8"]
    assert [value for _, value in browser.first.options] == [browser.shown[0].id]


def test_no_runs_explains_how_to_make_one(tmp_path):
    """An empty runs folder gives the commands that make a run, not an error or a blank page."""
    browser = RunBrowser(runs_dir=str(tmp_path / "no-runs-yet"))

    assert "No saved runs yet" in browser.listing.value
    assert "workbench bench minilm" in browser.listing.value
    assert "workbench fed run --clients 10 --rounds 3" in browser.listing.value
    assert browser.compare_box.layout.display == "none"
    assert ERROR_CLASS not in browser.errors.value


def test_refresh_shows_runs_saved_after_opening(tmp_path):
    """Refresh reads the runs folder again."""
    folder = tmp_path / "runs"
    browser = RunBrowser(runs_dir=str(folder))
    new = _record(folder, "bench", "later", {"model": "minilm"}, 3.0)

    browser.refresh_button.click()

    assert new in browser.listing.value
    assert browser.compare_box.layout.display is None


def test_shows_only_the_requested_runs_and_names_missing_ones(runs_dir):
    """With run_ids, exactly those runs are listed in order; one that is gone is named."""
    ids = [s.id for s in runs.list_runs(runs_dir)]

    browser = RunBrowser(
        runs_dir=str(runs_dir), run_ids=[ids[2], "20990101-000000-gone-0000", ids[0]]
    )

    assert [s.id for s in browser.summaries] == [ids[2], ids[0]]
    assert ERROR_CLASS in browser.errors.value
    assert "20990101-000000-gone-0000" in browser.errors.value
    assert "publish the dashboard again" in browser.errors.value


def test_a_failing_callback_shows_its_error_in_the_page(runs_dir):
    """A run deleted after the page opened gives a one-paragraph error, not a traceback."""
    browser = RunBrowser(runs_dir=str(runs_dir))
    federated = next(s.id for s in browser.summaries if s.kind == "federated")
    shutil.rmtree(runs_dir / federated)

    browser.second.value = federated

    assert ERROR_CLASS in browser.comparison.value
    assert federated in browser.comparison.value
    assert "Traceback" not in browser.comparison.value


def test_an_interrupted_federated_run_is_resumed_from_the_browser(tmp_path):
    """A federated run killed after round 1 is offered for resuming, with what resuming does;
    pressing Resume continues it to a complete run with every round, and the list says so."""
    import os
    import subprocess
    import sys
    import textwrap

    code = """
        import os, signal, sys
        from workbench.federated.config import FedConfig
        from workbench.federated.runner import run_federated
        def stop(row):
            if row["round"] == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        run_federated(FedConfig(num_clients=4, rounds=3, seed=5), observer=stop,
                      runs_dir=sys.argv[1], baseline=False)
    """
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(tmp_path)], env=env, timeout=300
    )
    (killed,) = runs.list_runs(tmp_path)
    browser = RunBrowser(runs_dir=str(tmp_path))

    offered = (browser.resume_box.layout.display, browser.resume_run.value)
    enabled = not browser.resume_button.disabled
    browser.resume(background=False)

    assert killed.status == "interrupted"
    assert offered == (None, killed.id) and enabled
    assert runs.load_run(killed.id, tmp_path).table("rounds")["round"].tolist() == [1, 2, 3]
    assert f"Resumed {killed.id}: complete, 3 rounds." in browser.status.value
    assert browser.resume_box.layout.display == "none"  # nothing left to resume
