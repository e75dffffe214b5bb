"""The Ray launcher: same apps on Flower's simulation engine, same numbers as inline, clear errors.

Ray starts once for this module (the ``ray_head`` fixture) and is stopped at its end; every run
in between connects to that head, as runs in a notebook do.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ray", reason="the Ray launcher needs ray (pip install 'flwr[simulation]')")

from workbench.federated.config import FedConfig
from workbench.federated.launchers import ray as ray_launcher
from workbench.federated.launchers import ray_cluster, ray_pool
from workbench.federated.runner import ROUND_COLUMNS, run_federated
from workbench.kit.errors import WorkbenchError

# Digits, 10 clients, half of them asked per round, 3 rounds: small enough for seconds per run.
CONFIG = FedConfig(
    task="digits",
    num_clients=10,
    rounds=3,
    fraction=0.5,
    local_epochs=1,
    seed=3,
    round_timeout_s=120,
)
# Everything in a round's record but its wall time is a function of the config and the seed.
METRICS = [c for c in ROUND_COLUMNS if c != "wall_time_s"]


def _run(config: FedConfig) -> pd.DataFrame:
    return run_federated(config, save=False, baseline=False).rounds


@pytest.fixture(scope="module")
def ray_head():
    """The local Ray head, started once for the module and stopped after it."""
    cluster = ray_launcher.ensure_ray()
    yield cluster
    ray_launcher.stop_ray()


@pytest.fixture(scope="module")
def ray_rounds(ray_head) -> pd.DataFrame:
    """The per-round records of CONFIG on Ray (one run, shared by the tests that compare it)."""
    return _run(CONFIG.replace(launcher="ray"))


def test_ray_run_reports_every_round(ray_rounds):
    """A Ray run gives one record per round, and every asked client that did not drop out
    completed."""
    assert list(ray_rounds["round"]) == [1, 2, 3]
    r = ray_rounds
    assert (r["clients_completed"] == r["clients_selected"] - r["clients_dropped"]).all()
    assert (r["clients_completed"] > 0).all()
    assert ray_rounds["accuracy"].iloc[-1] > 0.5


def test_ray_matches_inline(ray_rounds):
    """Inline and Ray give the same per-round metrics for the same seed and config."""
    # Execute
    inline = _run(CONFIG)
    # Assert
    pd.testing.assert_frame_equal(
        ray_rounds[METRICS], inline[METRICS], check_exact=False, rtol=1e-6, atol=1e-9
    )


def test_repeated_ray_runs_are_identical(ray_rounds):
    """A second Ray run repeats the first one exactly."""
    again = _run(CONFIG.replace(launcher="ray"))
    pd.testing.assert_frame_equal(again[METRICS], ray_rounds[METRICS], check_exact=True)


def test_runs_reuse_the_head(ray_head, ray_rounds):
    """The head outlives a run: the next run starts no new Ray."""
    again = ray_launcher.ensure_ray()
    assert again.address == ray_head.address
    assert again.start_s == 0.0


def test_runs_keep_their_client_actors(ray_head, ray_rounds):
    """A later run takes the ClientApp actors an earlier one left: it starts no actor process."""
    # Prepare
    before = ray_pool.stats()
    # Execute
    again = _run(CONFIG.replace(launcher="ray"))
    # Assert
    after = ray_pool.stats()
    assert before["kept"] >= 1 and after["kept"] == before["kept"]
    assert after["created"] == before["created"]
    assert after["reused"] == before["reused"] + 1
    pd.testing.assert_frame_equal(again[METRICS], ray_rounds[METRICS], check_exact=True)


def test_a_dead_kept_actor_is_replaced(ray_head, ray_rounds):
    """An actor that died between runs (killed, out of memory) is replaced, not used."""
    # Prepare
    import ray

    _run(CONFIG.replace(launcher="ray", rounds=1))  # make sure actors are kept
    for actor in ray_pool._POOL.actors:
        ray.kill(actor, no_restart=True)
    created = ray_pool.stats()["created"]
    # Execute
    again = _run(CONFIG.replace(launcher="ray"))
    # Assert
    assert ray_pool.stats()["created"] > created
    pd.testing.assert_frame_equal(again[METRICS], ray_rounds[METRICS], check_exact=True)


def test_failing_client_is_counted_and_round_goes_on(ray_head):
    """A ClientApp that raises inside a Ray actor is a failed client, not a failed run."""
    # Prepare: a client that completes round 1 when nobody fails (selection ignores failures)
    config = CONFIG.replace(fraction=1.0, rounds=1)
    outcomes = run_federated(config, save=False, baseline=False).clients
    faulty = int(outcomes.loc[outcomes["status"] == "completed", "client"].iloc[0])
    # Execute
    rounds = _run(config.replace(launcher="ray", faulty_clients=(faulty,)))
    # Assert
    r = rounds.iloc[0]
    assert r["clients_failed"] == 1
    assert r["clients_completed"] == r["clients_selected"] - r["clients_dropped"] - 1


def test_address_that_does_not_answer_is_a_clear_error():
    """A ray_address where nothing listens fails at once, naming the address and the fix."""
    # Prepare: a port nobody listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"127.0.0.1:{port}"
    # Execute / Assert
    with pytest.raises(ray_launcher.RayLauncherError) as caught:
        run_federated(CONFIG.replace(launcher="ray", ray_address=address), save=False)
    message = str(caught.value)
    assert address in message and "ray_address" in message and "ray start --head" in message


def test_address_that_is_not_ray_is_a_clear_error(monkeypatch):
    """A ray_address where something else listens gives up after the probe's time limit."""
    # Prepare: a TCP server that accepts connections and says nothing
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    address = f"127.0.0.1:{server.getsockname()[1]}"
    monkeypatch.setattr(ray_cluster, "PROBE_TIMEOUT_S", 4.0)
    try:
        with pytest.raises(ray_launcher.RayLauncherError) as caught:
            ray_launcher.ensure_ray(address)
    finally:
        server.close()
    assert address in str(caught.value)
    assert "no Ray cluster could be joined" in str(caught.value)


@pytest.mark.parametrize("address", ["ray://10.0.0.5:10001", "10.0.0.5", "head:port"])
def test_malformed_address_is_a_clear_error(address):
    """An address that is not host:port says what form it must take."""
    with pytest.raises(ray_launcher.RayLauncherError, match="host:port"):
        ray_launcher.ensure_ray(address)


class _SilentGrid:
    """A grid whose nodes never answer."""

    def push_messages(self, messages):
        return [f"id-{i}" for i, _ in enumerate(messages)]

    def pull_messages(self, message_ids):
        return []


def test_round_timeout_bounds_the_wait_for_replies():
    """The server stops waiting for silent clients after the round timeout, with no replies."""
    grid = ray_launcher.PollingGrid(_SilentGrid(), threading.Event())
    started = time.monotonic()
    replies = grid.send_and_receive(["a", "b"], timeout=0.3)
    assert replies == []
    assert time.monotonic() - started >= 0.3


def test_engine_stop_ends_the_wait_for_replies():
    """When the engine stops, a server waiting for replies gets an error instead of waiting on."""
    stop = threading.Event()
    grid = ray_launcher.PollingGrid(_SilentGrid(), stop)
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(WorkbenchError, match="stopped while the server waited"):
        grid.send_and_receive(["a"], timeout=3600)


def test_seeded_runs_differ_by_seed(ray_rounds):
    """Determinism is not constancy: another seed gives other numbers (inline, for speed)."""
    other = _run(CONFIG.replace(seed=CONFIG.seed + 1))
    assert not np.allclose(other["accuracy"], ray_rounds["accuracy"])


def test_stop_ray_leaves_no_process(ray_head, ray_rounds):
    """stop_ray stops the head and every process under it."""
    from workbench.federated.launchers.deployment import _alive, _descendants

    head = ray_cluster._HEAD
    assert head is not None
    pids = [head.process.pid, *_descendants(head.process.pid)]
    ray_launcher.stop_ray()
    assert [pid for pid in pids if _alive(pid)] == []
    assert not Path(ray_head.temp_dir).exists()
    assert ray_pool.stats()["kept"] == 0
