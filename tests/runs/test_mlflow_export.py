"""``workbench runs export --mlflow``: runs read back from a real MLflow tracking server (SQLite
backend, artifacts served through the server, on 127.0.0.1) equal what the run store holds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from decision_runs import record_generation_run, write_scenario

from workbench.cli import main
from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.runs import flat_config, load_run, start_run
from workbench.runs.mlflow_export import MAX_PARAM_CHARS, export_runs, mlflow_key

SERVER_START_S = 180
INSTALL = "pip install 'ai-deployment-workbench[mlflow]'"
#: An eval run's settings with a key MLflow refuses and a value longer than an MLflow param.
LONG_PROMPT = "Answer briefly. " * 500  # 8,000 characters


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1, stopped (its whole process group) after the module."""
    pytest.importorskip("mlflow", reason="the mlflow extra is part of [dev]")
    folder = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no job runner: nothing here needs it
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--serve-artifacts",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=folder,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(uri, server, folder / "server.log")
        yield uri
    finally:
        _stop(server)
        log.close()


def _wait_healthy(uri: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"mlflow server did not start: {log.read_text(errors='replace')[-2000:]}")


def _stop(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """One run of each kind, made cheaply: a hand-written benchmark, a decision over it, a small
    inline federated simulation and an eval whose settings MLflow cannot take as they are."""
    from workbench.decision.compare import decide
    from workbench.decision.result import record_decision
    from workbench.federated import FedConfig, run_federated

    folder = tmp_path_factory.mktemp("export")
    runs = folder / "runs"
    record_generation_run(runs)
    record_decision(decide(write_scenario(folder), runs, requests=200, routing=False), runs)
    config = FedConfig(num_clients=8, rounds=3, fraction=0.5, seed=3)
    run_federated(config, runs_dir=str(runs), baseline=False)
    settings = {"model": "tiny-llama", "prompt template": LONG_PROMPT, "limits": {"max items": 4}}
    with start_run("eval", settings, seed=7, label="odd settings", runs_dir=runs) as run:
        run.add_table("items", pd.DataFrame({"id": ["a", "b"], "correct": [True, False]}))
        run.set_summary(model="tiny-llama", variant="fp32", score=0.5, items=2, exact=False)
    return runs


@pytest.fixture(scope="module")
def exported(tracking_uri, runs_dir):
    """Every run exported once, by workbench run id."""
    return {done.run_id: done for done in export_runs(tracking_uri=tracking_uri, runs_dir=runs_dir)}


@pytest.fixture(scope="module")
def client(tracking_uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri)


def _run(runs_dir: Path, kind: str):
    run_id = next(p.name for p in sorted(runs_dir.iterdir()) if f"-{kind}-" in p.name)
    return load_run(run_id, runs_dir)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def test_every_run_goes_to_the_experiment_of_its_kind(exported, runs_dir):
    """Each saved run is created once, in `workbench-<kind>`."""
    kinds = {load_run(run_id, runs_dir).kind for run_id in exported}
    assert set(exported) == {p.name for p in runs_dir.iterdir()}
    assert kinds == {"bench", "decision", "federated", "eval"}
    for run_id, done in exported.items():
        assert done.experiment == f"workbench-{load_run(run_id, runs_dir).kind}"
        assert done.action == "created"


@pytest.mark.parametrize("kind", ["bench", "decision", "federated"])
def test_params_are_the_flattened_settings(exported, client, runs_dir, kind):
    """The params are the run's settings flattened, strings as themselves, the rest as JSON."""
    run = _run(runs_dir, kind)
    params = client.get_run(exported[run.id].mlflow_run_id).data.params
    assert params == {key: _text(value) for key, value in flat_config(run.config).items()}


def test_settings_mlflow_cannot_take_are_renamed_and_cut_and_the_tags_say_so(
    exported, client, runs_dir
):
    """Keys with other characters get `_`, a value past MLflow's limit is cut, and tags name
    both."""
    run = _run(runs_dir, "eval")
    data = client.get_run(exported[run.id].mlflow_run_id).data
    assert set(data.params) == {"model", "prompt_template", "limits.max_items"}
    assert data.params["limits.max_items"] == "4"
    cut = data.params["prompt_template"]
    assert len(cut) == MAX_PARAM_CHARS and LONG_PROMPT.startswith(cut[:-1])
    assert json.loads(data.tags["workbench.renamed_params"]) == {
        "prompt_template": "prompt template",
        "limits.max_items": "limits.max items",
    }
    assert data.tags["workbench.truncated_params"].startswith("prompt_template: cut to 6,000")


@pytest.mark.parametrize("kind", ["decision", "federated", "eval"])
def test_summary_figures_are_metrics(exported, client, runs_dir, kind):
    """Every number of the summary is a metric at step 0; text, bools and missing values are
    not."""
    run = _run(runs_dir, kind)
    mlflow_run_id = exported[run.id].mlflow_run_id
    metrics = client.get_run(mlflow_run_id).data.metrics
    figures = {
        key: float(value)
        for key, value in run.summary.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    assert figures  # the premise
    assert {key: metrics.get(key) for key in figures} == figures
    others = [key for key in run.summary if key not in figures]
    assert not set(others) & set(metrics)
    assert all(
        [(m.step, m.value) for m in client.get_metric_history(mlflow_run_id, key)] == [(0, value)]
        for key, value in figures.items()
    )


def test_federated_rounds_are_metric_steps(exported, client, runs_dir):
    """Each numeric column of the rounds table is a metric whose steps are the rounds."""
    run = _run(runs_dir, "federated")
    rounds = run.table("rounds")
    mlflow_run_id = exported[run.id].mlflow_run_id
    columns = [c for c in rounds.select_dtypes("number").columns if c != "round"]
    assert "accuracy" in columns
    for column in columns:
        history = client.get_metric_history(mlflow_run_id, f"rounds.{column}")
        pairs = zip(rounds["round"], rounds[column], strict=True)
        expected = [(int(r), float(v)) for r, v in pairs if v == v]
        assert sorted((m.step, m.value) for m in history) == expected, column


def test_benchmark_points_are_metric_steps(exported, client, runs_dir):
    """Each numeric column of the points table is a metric whose step is the point's row."""
    run = _run(runs_dir, "bench")
    points = run.table("points")
    mlflow_run_id = exported[run.id].mlflow_run_id
    for column in ("p50_ms", "tokens_per_s", "agreement", "batch"):
        history = client.get_metric_history(mlflow_run_id, f"points.{column}")
        assert sorted((m.step, m.value) for m in history) == list(enumerate(points[column]))


@pytest.mark.parametrize("kind", ["decision", "federated"])
def test_artifacts_are_the_files_of_the_run(exported, client, runs_dir, kind, tmp_path):
    """run.json, every table and any other file of the run folder are artifacts, byte for
    byte."""
    run = _run(runs_dir, kind)
    mlflow_run_id = exported[run.id].mlflow_run_id
    files = sorted(p.name for p in (runs_dir / run.id).iterdir())
    assert "run.json" in files and {f"{name}.csv" for name in run.tables} <= set(files)
    assert sorted(a.path for a in client.list_artifacts(mlflow_run_id)) == files
    copy = Path(client.download_artifacts(mlflow_run_id, "run.json", str(tmp_path)))
    assert copy.read_bytes() == (runs_dir / run.id / "run.json").read_bytes()


@pytest.mark.parametrize("kind", ["bench", "decision", "federated", "eval"])
def test_tags_name_the_run(exported, client, runs_dir, kind):
    """Tags hold the run id, kind, model, variant, seed, workbench version and git revision."""
    import workbench

    run = _run(runs_dir, kind)
    tags = client.get_run(exported[run.id].mlflow_run_id).data.tags
    expected = {
        "workbench.run_id": run.id,
        "workbench.kind": run.kind,
        "workbench.status": run.status,
        "workbench.version": workbench.__version__,
    }
    assert {key: tags.get(key) for key in expected} == expected
    assert tags.get("workbench.model") == run.summary.get("model", run.config.get("model"))
    assert tags.get("workbench.seed") == (None if run.seed is None else str(run.seed))
    assert tags.get("workbench.git_revision") == run.environment["git_revision"]
    assert tags["mlflow.runName"] == run.id
    if kind in ("decision", "eval"):
        assert tags["workbench.variant"] == run.summary["variant"]


def test_exporting_again_updates_the_same_runs_and_duplicates_nothing(
    exported, client, tracking_uri, runs_dir
):
    """A second export of every run updates the MLflow runs it made: same ids, one run per
    workbench run, no metric point twice."""
    again = export_runs(list(exported), tracking_uri=tracking_uri, runs_dir=runs_dir)
    assert {d.run_id: d.mlflow_run_id for d in again} == {
        run_id: d.mlflow_run_id for run_id, d in exported.items()
    }
    assert {d.action for d in again} == {"updated"}
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    for run_id in exported:
        found = client.search_runs(experiment_ids, f"tags.`workbench.run_id` = '{run_id}'")
        assert len(found) == 1
    federated = _run(runs_dir, "federated")
    history = client.get_metric_history(exported[federated.id].mlflow_run_id, "rounds.accuracy")
    assert len(history) == len(federated.table("rounds"))


def test_a_plain_export_takes_only_the_runs_the_server_lacks(
    exported, tracking_uri, runs_dir, tmp_path
):
    """With no run ids, runs already on the server are left alone and a new one is created."""
    runs = tmp_path / "runs"
    old = _run(runs_dir, "bench").id
    shutil.copytree(runs_dir / old, runs / old)
    new = record_generation_run(runs, model="tiny-other")
    done = export_runs(tracking_uri=tracking_uri, runs_dir=runs)
    assert [(d.run_id, d.action) for d in done] == [(new, "created")]
    assert old in exported  # the premise: the copied run was exported before


def test_the_command_prints_only_json_with_json(exported, tracking_uri, runs_dir, capsys):
    """`workbench runs export --json` prints one JSON object: per run its id, MLflow run id,
    experiment and whether it was created or updated."""
    run = _run(runs_dir, "bench")
    args = ["runs", "export", run.id, "--mlflow", tracking_uri, "--runs-dir", str(runs_dir)]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tracking_uri"] == tracking_uri
    assert out["runs"] == [
        {
            **out["runs"][0],
            "run_id": run.id,
            "mlflow_run_id": exported[run.id].mlflow_run_id,
            "experiment": "workbench-bench",
            "action": "updated",
        }
    ]


def test_without_mlflow_the_command_names_the_install(monkeypatch, capsys, runs_dir):
    """Without mlflow importable the command stops with one paragraph naming the extra."""
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    code = main(["runs", "export", "--mlflow", "http://127.0.0.1:9", "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert INSTALL in err and "Traceback" not in err


def test_without_a_tracking_uri_the_export_says_how_to_give_one(monkeypatch, runs_dir):
    """No --mlflow and no MLFLOW_TRACKING_URI: the error names both."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(InvalidInputError, match="MLFLOW_TRACKING_URI") as caught:
        export_runs(runs_dir=runs_dir)
    assert "--mlflow" in str(caught.value)


def test_the_tracking_uri_comes_from_the_environment(monkeypatch, exported, tracking_uri, runs_dir):
    """Without --mlflow, MLFLOW_TRACKING_URI names the server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    done = export_runs([_run(runs_dir, "eval").id], runs_dir=runs_dir)
    assert [d.mlflow_run_id for d in done] == [exported[done[0].run_id].mlflow_run_id]


def test_an_unreachable_server_is_named_before_any_export(runs_dir):
    """A server that does not answer is named in one paragraph, without its credentials."""
    uri = f"http://me:secret@127.0.0.1:{_free_port()}"
    with pytest.raises(WorkbenchError, match="Cannot reach the MLflow tracking server") as caught:
        export_runs(tracking_uri=uri, runs_dir=runs_dir)
    assert "secret" not in str(caught.value)


def test_keys_that_meet_after_renaming_stay_apart():
    """Two settings that become the same MLflow key, or a key that would name a folder, get
    distinct plain keys."""
    taken: set[str] = set()
    assert [mlflow_key(name, taken) for name in ("a b", "a/b", "a_b", "..")] == [
        "a_b",
        "a_b_2",
        "a_b_3",
        "_..",
    ]
