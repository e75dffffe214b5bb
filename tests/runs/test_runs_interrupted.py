"""Runs whose process is gone say so, input errors leave no run behind, and `runs resume`
continues a federated run where that is possible."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from workbench.cli import main
from workbench.kit.errors import InvalidInputError
from workbench.runs import list_runs, load_run, runs_table, start_run
from workbench.runs.owner import (
    HEARTBEAT_FILE,
    HEARTBEAT_S,
    OWNER_FILE,
    STALE_HEARTBEATS,
    current_owner,
    process_start_time,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def open_run_owned_by(runs_dir: Path, owner: dict, heartbeat_age_s: float | None) -> str:
    """An incomplete run held by ``owner`` (as a killed process would leave it)."""
    with start_run("bench", {}, runs_dir=runs_dir) as run:
        run.add_table("points", pd.DataFrame({"x": [1]}))
        meta_file = run.path / "run.json"
        frozen = meta_file.read_text()
    # Put the folder back as a process that died mid-run would have left it.
    meta_file.write_text(frozen)
    (run.path / OWNER_FILE).write_text(json.dumps(owner))
    if heartbeat_age_s is not None:
        heartbeat = run.path / HEARTBEAT_FILE
        heartbeat.touch()
        old = time.time() - heartbeat_age_s
        os.utime(heartbeat, (old, old))
    return run.id


def test_a_run_whose_process_died_is_listed_interrupted(tmp_path):
    """A run left incomplete by a process that no longer exists lists as interrupted."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = {"host": socket.gethostname(), "pid": child.pid, "process_started": 1.0}
    run_id = open_run_owned_by(tmp_path, dead, heartbeat_age_s=0)

    (summary,) = list_runs(tmp_path)

    assert (summary.id, summary.status) == (run_id, "interrupted")
    assert load_run(run_id, tmp_path).status == "interrupted"
    assert runs_table(tmp_path)["status"].tolist() == ["interrupted"]


def test_a_reused_pid_does_not_keep_a_run_alive(tmp_path):
    """A live process with the owner's pid but another start time is not the owner."""
    me = current_owner().to_dict()
    impostor = {**me, "process_started": me["process_started"] - 3600}
    open_run_owned_by(tmp_path, impostor, heartbeat_age_s=0)

    assert [s.status for s in list_runs(tmp_path)] == ["interrupted"]


def test_a_live_owner_keeps_its_run_incomplete(tmp_path):
    """While its process runs and beats, an open run stays incomplete."""
    with start_run("bench", {}, runs_dir=tmp_path) as run:
        listed = list_runs(tmp_path)
        claimed = {(run.path / HEARTBEAT_FILE).exists(), (run.path / OWNER_FILE).exists()}
        saved = json.loads((run.path / "run.json").read_text())

    assert [s.status for s in listed] == ["incomplete"]
    assert claimed == {True}
    assert "owner" not in saved, "run.json is published: the owner's host stays out of it"
    assert not (run.path / HEARTBEAT_FILE).exists(), "a finished run needs no heartbeat"
    assert not (run.path / OWNER_FILE).exists(), "a finished run has no owner process"


def test_a_stale_heartbeat_on_another_host_means_interrupted(tmp_path):
    """A run owned by another machine is interrupted once its heartbeat is several beats old."""
    elsewhere = {"host": "another-host.invalid", "pid": 1, "process_started": 1.0}
    fresh = open_run_owned_by(tmp_path / "fresh", elsewhere, heartbeat_age_s=1)
    stale = open_run_owned_by(
        tmp_path / "stale", elsewhere, heartbeat_age_s=(STALE_HEARTBEATS + 1) * HEARTBEAT_S
    )

    assert load_run(fresh, tmp_path / "fresh").status == "incomplete"
    assert load_run(stale, tmp_path / "stale").status == "interrupted"


def test_process_start_time_tells_processes_apart():
    """This process has a start time in the past; a pid that does not exist has none."""
    started = process_start_time(os.getpid())

    assert started is not None and started <= time.time()
    assert process_start_time(2**22 + 12345) is None


def test_sigkilled_run_with_heartbeat_is_interrupted(tmp_path):
    """A real process killed with -9 mid-run leaves a run listed as interrupted."""
    code = """
        import os, signal, sys
        import pandas as pd
        from workbench.runs import start_run
        with start_run("bench", {}, runs_dir=sys.argv[1]) as run:
            run.add_table("points", pd.DataFrame({"x": [1]}))
            os.kill(os.getpid(), signal.SIGKILL)
    """
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(tmp_path)], env=env, timeout=120
    )

    assert done.returncode == -signal.SIGKILL
    assert [s.status for s in list_runs(tmp_path)] == ["interrupted"]


def test_an_input_error_before_anything_was_saved_leaves_no_run(tmp_path):
    """A run that stops on a validation error before measuring leaves no failed folder."""
    with pytest.raises(InvalidInputError), start_run("bench", {}, runs_dir=tmp_path):
        raise InvalidInputError("`batch` must be <= 64, got 1000000")

    assert list_runs(tmp_path) == []
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


def test_an_input_error_after_measuring_keeps_a_failed_run(tmp_path):
    """Once a table is saved, a later validation error still leaves the failed run and its table."""
    with pytest.raises(InvalidInputError), start_run("bench", {}, runs_dir=tmp_path) as run:
        run.add_table("points", pd.DataFrame({"x": [1]}))
        raise InvalidInputError("bad second point")

    assert load_run(run.id, tmp_path).status == "failed"


def test_runs_resume_refuses_a_kind_that_cannot_be_resumed(tmp_path, capsys):
    """`runs resume` on a benchmark run exits 2 naming the kinds that can be resumed."""
    with pytest.raises(RuntimeError), start_run("bench", {}, runs_dir=tmp_path) as run:
        run.add_table("points", pd.DataFrame({"x": [1]}))
        raise RuntimeError("stopped")

    code = main(["runs", "resume", run.id, "--runs-dir", str(tmp_path)])

    err = capsys.readouterr().err
    assert code == 2
    assert "'bench' run, which cannot be resumed; only federated runs can" in err
    assert "Traceback" not in err


def test_runs_resume_finishes_a_killed_federated_run(tmp_path, capsys):
    """`runs resume ID` on a federated run killed after round 1 ends it complete with 3 rounds."""
    code = """
        import os, signal, sys
        from workbench.federated.config import FedConfig
        from workbench.federated.runner import run_federated
        def stop(row):
            if row["round"] == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        config = FedConfig(num_clients=4, rounds=3, seed=5)
        run_federated(config, observer=stop, runs_dir=sys.argv[1], baseline=False)
    """
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(tmp_path)], env=env, timeout=300
    )
    (killed,) = list_runs(tmp_path)

    status = main(["runs", "resume", killed.id[:20], "--runs-dir", str(tmp_path), "--no-baseline"])

    out = capsys.readouterr()
    run = load_run(killed.id, tmp_path)
    assert killed.status == "interrupted"
    assert status == 0, out.err
    assert run.status == "complete"
    assert run.table("rounds")["round"].tolist() == [1, 2, 3]
    assert f"saved as run {killed.id}" in out.out
    assert "round 2:" in out.err and "round 1:" not in out.err
