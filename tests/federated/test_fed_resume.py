"""Federated runs that survive a kill: every finished round is kept, and `runs resume` finishes
the run with the same results as a run that was never stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import runs
from workbench.federated.checkpoint import RoundState
from workbench.federated.config import FedConfig
from workbench.federated.runner import resume_federated, run_federated
from workbench.kit.errors import InvalidInputError
from workbench.runs.store import checkpoint_of

REPO_ROOT = Path(__file__).resolve().parents[2]
# Measured wall-clock columns differ between any two runs; everything else must not.
WALL_COLUMNS = ["wall_time_s"]
KILL_AFTER = 2


def kill_after_rounds(
    config: FedConfig, runs_dir: Path, rounds: int
) -> subprocess.CompletedProcess:
    """Run ``config`` in a fresh interpreter that kills itself (-9) once ``rounds`` are saved."""
    code = f"""
        import os, signal, sys
        from workbench.federated.config import FedConfig
        from workbench.federated.runner import run_federated
        config = FedConfig.from_mapping({config.to_dict()!r}, source="test")
        def stop(row):
            if row["round"] == {rounds}:  # the observer sees a round once it is saved
                os.kill(os.getpid(), signal.SIGKILL)
        run_federated(config, observer=stop, runs_dir=sys.argv[1], baseline=False)
    """
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(runs_dir)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=300,
    )


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in WALL_COLUMNS if c in frame]).reset_index(drop=True)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="fedavg"),
        pytest.param({"strategy": "fedadam", "server_lr": 0.05}, id="fedadam-moments"),
        pytest.param({"dp_noise": 0.5, "dp_clip": 1.0, "fraction": 1.0}, id="dp-ledger"),
    ],
)
def test_a_run_killed_after_k_rounds_resumes_to_the_uninterrupted_tables(tmp_path, changes):
    """Killed with -9 after 2 of 4 rounds and resumed, a run's tables equal an unbroken run's."""
    # Prepare
    config = FedConfig(**{"num_clients": 6, "rounds": 4, "fraction": 0.5, "seed": 7, **changes})
    whole = run_federated(config, runs_dir=tmp_path / "whole", baseline=False)

    # Execute
    killed = kill_after_rounds(config, tmp_path / "killed", KILL_AFTER)
    (summary,) = runs.list_runs(tmp_path / "killed")
    kept = runs.load_run(summary.id, tmp_path / "killed").table("rounds")
    resumed = resume_federated(summary.id, runs_dir=str(tmp_path / "killed"), baseline=False)

    # Assert
    assert killed.returncode == -9, killed.stderr
    assert summary.status == "interrupted"
    assert kept["round"].tolist() == [1, 2]
    run = runs.load_run(summary.id, tmp_path / "killed")
    assert run.status == "complete"
    assert resumed.run_id == summary.id
    pd.testing.assert_frame_equal(comparable(run.table("rounds")), comparable(whole.rounds))
    pd.testing.assert_frame_equal(comparable(run.table("clients")), comparable(whole.clients))
    assert resumed.summary()["epsilon"] == whole.summary()["epsilon"]


def test_every_finished_round_is_on_disk_before_the_next_starts(tmp_path):
    """When the observer sees round 2, the run folder already holds rounds 1, 2 and a checkpoint."""
    seen = {}

    def look(row):
        if row["round"] == 2:
            (summary,) = runs.list_runs(tmp_path)
            seen["rounds"] = runs.load_run(summary.id, tmp_path).table("rounds")["round"].tolist()
            seen["checkpoint"] = RoundState.from_bytes(checkpoint_of(summary.id, tmp_path)).round

    run_federated(
        FedConfig(num_clients=4, rounds=3, seed=1), observer=look, runs_dir=tmp_path, baseline=False
    )

    assert seen == {"rounds": [1, 2], "checkpoint": 2}


def test_checkpoint_round_trips_without_pickle():
    """A round state saved to .npz bytes loads back equal, with allow_pickle=False."""
    state = RoundState(
        round=3,
        clock_s=12.5,
        weights=[np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)],
        moments={"m_t": {"0": np.full((2, 3), 0.5)}, "v_t": {"0": np.zeros((2, 3))}},
        accountant={"compositions": [{"count": 2}]},
    )

    back = RoundState.from_bytes(state.to_bytes())

    assert (back.round, back.clock_s, back.accountant) == (3, 12.5, state.accountant)
    for a, b in zip(back.weights, state.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.moments["m_t"]["0"], state.moments["m_t"]["0"])


def test_a_complete_run_cannot_be_resumed(tmp_path):
    """Resuming a finished run says there is nothing to resume."""
    done = run_federated(FedConfig(num_clients=3, rounds=1), runs_dir=tmp_path, baseline=False)

    with pytest.raises(InvalidInputError, match="is complete"):
        resume_federated(done.run_id, runs_dir=str(tmp_path))


def test_a_run_of_another_kind_cannot_be_resumed(tmp_path):
    """Only federated runs resume; a benchmark run is refused by name."""
    with runs.start_run("bench", {}, runs_dir=tmp_path) as run:
        run.add_table("points", pd.DataFrame({"x": [1]}))

    with pytest.raises(InvalidInputError, match="'bench' run; only federated runs"):
        resume_federated(run.id, runs_dir=str(tmp_path))


def test_a_ray_run_cannot_be_resumed(tmp_path):
    """A stopped run of the Ray launcher is refused with the launcher named."""
    config = FedConfig(num_clients=3, rounds=2, launcher="ray")
    with pytest.raises(RuntimeError), runs.start_run("federated", config, runs_dir=tmp_path) as run:
        run.add_table("rounds", pd.DataFrame({"round": [1]}))
        raise RuntimeError("stopped")

    with pytest.raises(InvalidInputError, match="'ray' launcher, which cannot be resumed"):
        resume_federated(run.id, runs_dir=str(tmp_path))


def test_a_run_stopped_before_its_first_round_cannot_be_resumed(tmp_path):
    """Without a finished round there is no checkpoint, and the message says to run it again."""
    config = FedConfig(num_clients=3, rounds=2)
    with pytest.raises(RuntimeError), runs.start_run("federated", config, runs_dir=tmp_path) as run:
        run.set_summary(note="started")
        raise RuntimeError("stopped")

    with pytest.raises(InvalidInputError, match="no finished round to resume from"):
        resume_federated(run.id, runs_dir=str(tmp_path))
