"""`runs show` and `runs compare` list each point's engine when a run measured more than
transformers."""

from __future__ import annotations

import pandas as pd
from decision_runs import ENGINE_VARIANTS, record_generation_run

from workbench.cli import main
from workbench.runs.cli import points_table


def test_points_table_lists_the_engine_only_beside_another_engine():
    """transformers only (or no engine column): no engine column; with llama.cpp: first."""
    one = pd.DataFrame({"variant": ["fp32", "int8"], "p50_ms": [2.0, 1.0]})
    two = one.assign(engine=["transformers", "llama.cpp"], variant=["fp32", "q4_1"])

    assert "engine" not in points_table(one).columns
    assert "engine" not in points_table(one.assign(engine="transformers")).columns
    assert list(points_table(two).columns[:2]) == ["engine", "variant"]


def test_runs_show_and_compare_print_the_engine(tmp_path, capsys):
    """A two-engine run shows llama.cpp in `runs show`; compared with an older run, that run's
    points read as transformers."""
    runs_dir = tmp_path / "runs"
    old = record_generation_run(runs_dir)
    new = record_generation_run(runs_dir, variants=ENGINE_VARIANTS)

    assert main(["runs", "show", new, "--runs-dir", str(runs_dir)]) == 0
    shown = capsys.readouterr().out
    assert main(["runs", "compare", old, new, "--runs-dir", str(runs_dir)]) == 0
    compared = capsys.readouterr().out

    assert "engine" in shown and "llama.cpp" in shown
    lines = [line for line in compared.splitlines() if old in line]
    assert len(lines) == 3 and all("transformers" in line for line in lines)
