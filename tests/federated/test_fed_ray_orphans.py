"""A killed workbench leaves no Ray processes and no wb-ray-* folder behind.

The first tests use a stand-in head (sleeping processes in their own session whose command lines
name the head's folder, as Ray's do), so they run in seconds without Ray; the last one kills a
process running a real federated run on Ray (about a minute: Ray starts).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench.federated.launchers import ray_reaper

REPO_ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # the most any test waits for processes to end; a pass is usually a second


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def run_python(code: str, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args], env=env, cwd=REPO_ROOT, **popen
    )


# A "workbench" that starts a stand-in head the way ray_cluster starts Ray's, prints the pids of
# the head's processes, and waits to be killed. The head's child starts a grandchild, which is
# what Ray's agents are: not a direct child of the process that dies with us.
FAKE_WORKBENCH = """
    import os, subprocess, sys, time
    from workbench.federated.launchers import ray_cluster, ray_reaper
    folder = sys.argv[1]
    ray_reaper.write_owner(folder, os.getpid())
    sleeper = "import subprocess, sys, time; " + (
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', sys.argv[1]]); "
    ) + "time.sleep(600)"
    head = subprocess.Popen([sys.executable, "-c", sleeper, folder], start_new_session=True)
    reaper = ray_cluster._start_reaper(folder, head.pid)
    time.sleep(1.0)  # the grandchild has started
    print(" ".join(map(str, ray_reaper.processes_naming(folder))), flush=True)
    time.sleep(600)
"""


def test_a_killed_workbench_takes_its_head_and_folder_down(tmp_path):
    """kill -9 of the workbench ends every process naming the head's folder and removes it."""
    # Prepare
    folder = tmp_path / "wb-ray-test"
    folder.mkdir()
    (folder / "session.log").write_text("ray was here")
    workbench = run_python(FAKE_WORKBENCH, str(folder), stdout=subprocess.PIPE, text=True)
    head_pids = [int(p) for p in workbench.stdout.readline().split()]

    # Execute
    os.kill(workbench.pid, signal.SIGKILL)
    workbench.wait()

    # Assert
    assert len(head_pids) >= 2, "the stand-in head and its grandchild should have started"
    assert wait_until(lambda: not any(alive(p) for p in head_pids)), "head processes survived"
    assert wait_until(lambda: not folder.exists()), "the head's folder was left behind"


def test_stale_folders_of_dead_owners_are_removed_at_the_next_start(tmp_path):
    """Folders whose owner process is gone are removed; live owners' and unmarked ones stay."""
    # Prepare
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(done.stdout)
    stale, mine, unmarked = (tmp_path / f"wb-ray-{n}" for n in ("stale", "mine", "unmarked"))
    for folder in (stale, mine, unmarked):
        folder.mkdir()
    ray_reaper.write_owner(str(stale), os.getpid())
    (stale / ray_reaper.OWNER_FILE).write_text(f"{dead_pid} 1\n")
    ray_reaper.write_owner(str(mine), os.getpid())

    # Execute
    from workbench.federated.launchers.ray_cluster import clean_stale_heads

    removed = clean_stale_heads(str(tmp_path))

    # Assert
    assert removed == [str(stale)]
    assert not stale.exists() and mine.exists() and unmarked.exists()


def test_a_reused_owner_pid_does_not_keep_a_folder(tmp_path):
    """A folder whose owner pid now belongs to a process started later is stale."""
    folder = tmp_path / "wb-ray-reused"
    folder.mkdir()
    ticks = ray_reaper.process_ticks(os.getpid())
    (folder / ray_reaper.OWNER_FILE).write_text(f"{os.getpid()} {ticks - 1}\n")

    assert ray_reaper.owner_is_gone(str(folder))


def test_a_killed_ray_run_leaves_no_ray_process_or_folder(tmp_path):
    """kill -9 of a process in a Ray run, with ClientApp actors kept from an earlier run, leaves
    no process naming its wb-ray folder, nor the folder."""
    pytest.importorskip("ray")
    code = """
        import sys
        from workbench.federated.config import FedConfig
        from workbench.federated.launchers import ray_cluster
        from workbench.federated.runner import run_federated
        from workbench.federated.launchers import ray_pool
        cluster = ray_cluster.ensure_ray()
        print(cluster.temp_dir, flush=True)
        def hang(row):
            print("round", ray_pool.stats()["reused"], flush=True)
            import time; time.sleep(600)
        config = FedConfig(num_clients=2, rounds=2, launcher="ray", round_timeout_s=120)
        # A finished run first: its ClientApp actors stay up, kept for the next run.
        run_federated(config.replace(rounds=1), runs_dir=sys.argv[1], baseline=False)
        run_federated(config, observer=hang, runs_dir=sys.argv[1], baseline=False)
    """
    workbench = run_python(code, str(tmp_path), stdout=subprocess.PIPE, text=True)
    try:
        folder = workbench.stdout.readline().strip()
        assert workbench.stdout.readline().strip() == "round 1", "the kept actors were not reused"
        ray_pids = ray_reaper.processes_naming(folder)
    finally:
        os.kill(workbench.pid, signal.SIGKILL)
        workbench.wait()

    assert folder and ray_pids, "Ray should have been running"
    assert wait_until(lambda: not any(alive(p) for p in ray_pids)), "Ray processes survived"
    assert wait_until(lambda: not Path(folder).exists()), "the wb-ray folder was left behind"
