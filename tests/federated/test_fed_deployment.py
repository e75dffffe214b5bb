"""The same apps under Flower's deployment runtime: a SuperLink and two SuperNodes on 127.0.0.1.

One federation serves the module; each message starts a fresh ClientApp process (seconds each on
2 cores), so the run is kept to 2 rounds of 2 nodes.
"""

from __future__ import annotations

import contextlib
import sys
import tomllib
from pathlib import Path

import pytest

from workbench import runs
from workbench.federated.config import FedConfig
from workbench.federated.launchers import deployment
from workbench.federated.launchers.deployment import _alive, _descendants, start_local_federation

CONFIG = FedConfig(
    task="digits",
    model="logreg",
    num_clients=2,
    rounds=2,
    fraction=1.0,
    local_epochs=1,
    device_mix={"iot-gateway": 1.0},
    round_timeout_s=240,
)

if not (Path(sys.executable).parent / "flower-superlink").exists():
    pytest.skip(
        f"flower-superlink is not installed next to {sys.executable}; install flwr in this "
        "environment",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    """A SuperLink and two SuperNodes on 127.0.0.1, stopped (by PID) after the module."""
    folder = tmp_path_factory.mktemp("federation")
    fed = start_local_federation(2, folder=folder, runs_dir=folder / "runs")
    yield fed
    fed.stop()


@pytest.fixture(scope="module")
def finished_run(federation):
    """``flwr run`` of CONFIG through the federation, waited for."""
    return federation.run(CONFIG, timeout_s=600)


def test_packaged_app_holds_fedconfig_defaults():
    """The shipped app's pyproject.toml is what write_app makes from FedConfig()."""
    shipped = (deployment.app_dir() / "pyproject.toml").read_text(encoding="utf-8")
    assert shipped == deployment.app_pyproject(FedConfig())
    parsed = tomllib.loads(shipped)
    assert FedConfig.from_flower(parsed["tool"]["flwr"]["app"]["config"]) == FedConfig()


def test_run_config_round_trips_through_toml():
    """Overrides written for flwr run read back as the same FedConfig (JSON-valued keys too)."""
    config = CONFIG.replace(deadline_s=30.0, faulty_clients=(1,))
    overrides = tomllib.loads(deployment.run_config_overrides(config))
    defaults = tomllib.loads(deployment.app_pyproject())["tool"]["flwr"]["app"]["config"]
    assert FedConfig.from_flower({**defaults, **overrides}) == config


def test_failed_run_names_the_servers_exception():
    """A failed run's error quotes the ServerApp's exception line, not the traceback."""
    log = (
        '  File "apps.py", line 403, in run_server\n'
        "    raise FederationError(\n"
        "workbench.federated.apps.FederationError: Every client asked in round 1 failed.\n"
        "ERROR :     Exit Code: 201\n"
    )
    assert deployment._last_error(log) == "FederationError: Every client asked in round 1 failed"


def test_every_server_binds_loopback(federation, finished_run):
    """Every port the SuperLink, the SuperNodes and their helpers listen on is on 127.0.0.1."""
    psutil = pytest.importorskip("psutil", reason="listing listening sockets needs psutil")
    pids = [p.pid for p in federation.processes]
    pids += [child for pid in pids for child in _descendants(pid)]
    listening = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            connections = psutil.Process(pid).net_connections(kind="inet")
            listening += [c.laddr for c in connections if c.status == psutil.CONN_LISTEN]
    assert federation.address.startswith("127.0.0.1:")
    assert len(listening) >= 1 + federation.num_clients
    assert {addr.ip for addr in listening} == {"127.0.0.1"}


def test_flwr_run_finishes_all_rounds(federation, finished_run):
    """flwr run through the SuperLink finishes and saves a run with one record per round."""
    saved = [
        r for r in runs.list_runs(federation.env["WORKBENCH_RUNS_DIR"]) if r.kind == "federated"
    ]
    assert len(saved) == 1 and saved[0].status == "complete"
    run = runs.load_run(saved[0].id, federation.env["WORKBENCH_RUNS_DIR"])
    rounds = run.table("rounds")
    assert rounds["round"].tolist() == [1, 2]
    assert (rounds["clients_completed"] == 2).all()
    assert run.config["num_clients"] == 2 and run.config["model"] == "logreg"
    assert run.config["launcher"] == "deployment"
    assert f"workbench run {saved[0].id} saved: 2 rounds" in finished_run.output


def test_superlink_lists_the_run_as_completed(federation, finished_run):
    """The SuperLink reports the run finished and completed."""
    listed = {int(r["run-id"]): r for r in federation.runs()}
    assert listed[finished_run.run_id]["status"] == "finished:completed"
    assert finished_run.status == "finished:completed"


def test_run_with_wrong_client_count_is_refused(federation):
    """A config asking for more clients than SuperNodes is refused before anything is sent."""
    with pytest.raises(deployment.DeploymentError, match="clients"):
        federation.run(CONFIG.replace(num_clients=3))


def test_stop_leaves_no_process(federation, finished_run):
    """Stopping the federation ends the SuperLink, the SuperNodes and their helpers."""
    pids = [p.pid for p in federation.processes]
    pids += [child for pid in pids for child in _descendants(pid)]
    federation.stop()
    assert [pid for pid in pids if _alive(pid)] == []
