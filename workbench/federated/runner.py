"""Run one federated experiment on a launcher and keep it in the run store.

:func:`run_federated` is what the CLI, the panel and the notebooks call. It validates the config,
runs the same Flower apps on the chosen launcher (``inline`` in this process, ``ray`` on Flower's
simulation engine), trains the central baseline on the pooled data for comparison, and saves the
per-round table as a run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench import runs
from workbench.federated import learning
from workbench.federated.apps import (
    RoundObserver,
    ServerResult,
    client_app,
    client_partitions,
    make_server_app,
    quiet_flower,
)
from workbench.federated.config import FedConfig
from workbench.federated.launchers.inline import run_inline
from workbench.federated.partition import label_distribution
from workbench.federated.tasks import load_task
from workbench.kit.errors import InvalidInputError

RUN_KIND = "federated"
# The columns every per-round record has (the CLI's --json promises these).
ROUND_COLUMNS = (
    "round",
    "accuracy",
    "loss",
    "clients_available",
    "clients_selected",
    "clients_completed",
    "clients_dropped",
    "clients_failed",
    "clients_straggling",
    "bytes_down",
    "bytes_up",
    "sim_time_s",
    "sim_clock_s",
    "wall_time_s",
    "train_loss",
    "client_accuracy_mean",
    "client_accuracy_std",
    "client_accuracy_min",
    "epsilon",
)


@dataclass
class FedResult:
    """A finished federated run: per-round metrics, per-client outcomes, data split, baseline."""

    config: FedConfig
    rounds: pd.DataFrame
    clients: pd.DataFrame
    label_distribution: pd.DataFrame
    client_info: pd.DataFrame
    baseline: dict[str, Any] | None
    privacy: dict[str, Any] | None
    wall_time_s: float
    run_id: str | None = None

    @property
    def final_accuracy(self) -> float:
        return float(self.rounds["accuracy"].iloc[-1]) if len(self.rounds) else math.nan

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready record per round."""
        return self.rounds.to_dict(orient="records")

    def summary(self) -> dict[str, Any]:
        r = self.rounds
        return {
            "final_accuracy": self.final_accuracy,
            "baseline_accuracy": self.baseline["accuracy"] if self.baseline else None,
            "rounds": len(r),
            "clients": self.config.clients,
            "sim_hours": float(r["sim_clock_s"].iloc[-1] / 3600) if len(r) else 0.0,
            "wall_time_s": self.wall_time_s,
            "bytes_down": int(r["bytes_down"].sum()) if len(r) else 0,
            "bytes_up": int(r["bytes_up"].sum()) if len(r) else 0,
            "clients_dropped": int(r["clients_dropped"].sum()) if len(r) else 0,
            "clients_failed": int(r["clients_failed"].sum()) if len(r) else 0,
            "clients_straggling": int(r["clients_straggling"].sum()) if len(r) else 0,
            "epsilon": self.privacy["epsilon"] if self.privacy else None,
        }


Launcher = Callable[[Any, Any, FedConfig], None]


def _launch_inline(server_app, client_app_, config: FedConfig) -> None:
    run_inline(server_app, client_app_, config.clients)


def _launch_ray(server_app, client_app_, config: FedConfig) -> None:
    from workbench.federated.launchers.ray import run_on_ray  # imports Ray only when asked

    run_on_ray(server_app, client_app_, config)


LAUNCHERS: dict[str, Launcher] = {"inline": _launch_inline, "ray": _launch_ray}


def run_federated(
    config: FedConfig,
    *,
    observer: RoundObserver | None = None,
    progress: bool = False,
    baseline: bool = True,
    save: bool = True,
    runs_dir: str | None = None,
    launcher: Launcher | None = None,
) -> FedResult:
    """Run ``config`` on its launcher; ``observer`` gets each round's record as it finishes.

    ``launcher`` replaces ``LAUNCHERS[config.launcher]``: the Flower deployment's ServerApp passes
    one that drives the grid it was given (:mod:`workbench.federated.flower_app`).

    With ``save`` the run goes to the run store (kind ``"federated"``): tables ``rounds``,
    ``clients`` (each selected client's outcome per round), ``label_distribution`` and
    ``client_info``. A run that fails part-way keeps the rounds it finished.
    """
    if save:
        runs.check_runs_dir(runs_dir)
    # Fail on bad data settings (empty partitions, unknown task) before any launcher starts.
    parts = client_partitions(config)
    task = load_task(config.task, seed=config.seed, difficulty=config.difficulty)
    rows: list[dict[str, Any]] = []
    bar = _progress_bar(config, progress)

    def on_round(row: dict[str, Any]) -> None:
        rows.append(row)
        if bar is not None:
            bar.set_postfix(accuracy=f"{row['accuracy']:.3f}", refresh=False)
            bar.update(1)
        if observer is not None:
            observer(row)

    if launcher is None and config.launcher not in LAUNCHERS:
        raise InvalidInputError(
            f"Federated setting 'launcher' = {config.launcher!r} is not started from here: a "
            "deployment runs with `flwr run` against a SuperLink and its SuperNodes (see "
            "workbench.federated.launchers.deployment). Use launcher inline or ray to simulate."
        )
    launch = launcher if launcher is not None else LAUNCHERS[config.launcher]
    sink: dict[str, Any] = {}
    server_app = make_server_app(config, observer=on_round, sink=sink)
    started = time.perf_counter()

    def execute() -> FedResult:
        try:
            with quiet_flower():
                launch(server_app, client_app, config)
        finally:
            if bar is not None:
                bar.close()
        if "error" in sink:
            raise sink["error"]
        server: ServerResult = sink["result"]
        distribution = label_distribution(task.y_train, list(parts), task.num_classes)
        info = pd.DataFrame(
            {
                "client": range(config.clients),
                "tier": server.client_tiers,
                "examples": server.partition_sizes,
            }
        )
        central = None
        if baseline:
            central = learning.train_central(
                task,
                kind=config.model,
                epochs=max(1, config.rounds * config.local_epochs // 2),
                batch_size=config.batch_size,
                lr=config.lr,
                seed=config.seed,
            )
            central = {"accuracy": float(central["accuracy"]), "loss": float(central["loss"])}
        return FedResult(
            config=config,
            rounds=pd.DataFrame(rows, columns=list(ROUND_COLUMNS)),
            clients=pd.DataFrame(server.client_rounds),
            label_distribution=distribution,
            client_info=info,
            baseline=central,
            privacy=server.privacy,
            wall_time_s=time.perf_counter() - started,
        )

    if not save:
        return execute()
    label = f"{config.task} {config.strategy} {config.clients} clients"
    with runs.start_run(
        RUN_KIND, config.to_dict(), seed=config.seed, label=label, runs_dir=runs_dir
    ) as recorder:
        try:
            result = execute()
        except BaseException:
            if rows:  # keep the rounds that finished
                recorder.add_table("rounds", pd.DataFrame(rows, columns=list(ROUND_COLUMNS)))
            raise
        recorder.add_table("rounds", result.rounds)
        if len(result.clients):
            recorder.add_table("clients", result.clients)
        recorder.add_table("label_distribution", _columns_as_text(result.label_distribution))
        recorder.add_table("client_info", result.client_info)
        recorder.set_summary(**_json_ready(result.summary()))
        result.run_id = recorder.id
    return result


def _columns_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reset_index()
    out.columns = [str(c) if str(c) == "client" else f"class_{c}" for c in out.columns]
    return out


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()
    }


def _progress_bar(config: FedConfig, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=config.rounds, desc=f"federated {config.strategy}", unit="round")
