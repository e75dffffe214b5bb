"""Run one federated experiment on a launcher and keep it in the run store.

:func:`run_federated` is what the CLI, the panel and the notebooks call. It validates the config,
runs the same Flower apps on the chosen launcher (``inline`` in this process, ``ray`` on Flower's
simulation engine), trains the central baseline on the pooled data for comparison, and records
the result as a run (:func:`workbench.runs.record`).
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from workbench import runs
from workbench.federated import learning
from workbench.federated.apps import client_app, client_partitions, make_server_app, quiet_flower
from workbench.federated.config import FedConfig
from workbench.federated.launchers import Launcher, launcher_for
from workbench.federated.partition import label_distribution
from workbench.federated.result import ROUND_COLUMNS, FedResult
from workbench.federated.server import RoundObserver, ServerResult
from workbench.federated.tasks import TaskData, load_task


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

    ``launcher`` replaces :func:`~workbench.federated.launchers.launcher_for`'s choice: the
    Flower deployment's ServerApp passes one that drives the grid it was given
    (:mod:`workbench.federated.flower_app`).

    With ``save`` the run goes to the run store (kind ``"federated"``, the tables of
    :meth:`FedResult.tables`). A run that fails part-way keeps the rounds it finished.
    """
    runs.check_can_record(save, runs_dir)
    # Fail on bad data settings (empty partitions, unknown task) before any launcher starts.
    parts = client_partitions(config)
    task = load_task(config.task, seed=config.seed, difficulty=config.difficulty)
    launch = launcher if launcher is not None else launcher_for(config)
    rows: list[dict[str, Any]] = []
    label = f"{config.task} {config.strategy} {config.num_clients} clients"
    with runs.record(
        FedResult, config, save=save, seed=config.seed, label=label, runs_dir=runs_dir
    ) as recording:
        started = time.perf_counter()
        try:
            server = _serve(config, launch, _Collector(rows, observer, config, progress))
            result = _result(config, task, parts, server, rows, baseline, started)
        except BaseException:
            if rows:  # keep the rounds that finished
                recording.save_tables({"rounds": _rounds_frame(rows)})
            raise
        recording.save(result)
    return result


def _result(config, task, parts, server: ServerResult, rows, baseline: bool, started: float):
    """The finished run, with the central baseline trained now when asked for."""
    return FedResult(
        config=config,
        rounds=_rounds_frame(rows),
        clients=pd.DataFrame(server.client_rounds),
        label_distribution=label_distribution(task.y_train, list(parts), task.num_classes),
        client_info=pd.DataFrame(
            {
                "client": range(config.num_clients),
                "tier": server.client_tiers,
                "examples": server.partition_sizes,
            }
        ),
        baseline=_central_baseline(config, task) if baseline else None,
        privacy=server.privacy,
        wall_time_s=time.perf_counter() - started,
    )


def _serve(config: FedConfig, launch: Launcher, on_round: _Collector) -> ServerResult:
    """Run the ServerApp on ``launch`` and hand back what it produced (or raise what it raised)."""
    sink: dict[str, Any] = {}
    server_app = make_server_app(config, observer=on_round, sink=sink)
    try:
        with quiet_flower():
            launch(server_app, client_app, config)
    finally:
        on_round.close()
    if "error" in sink:
        raise sink["error"]
    return sink["result"]


class _Collector:
    """Each round's record into ``rows``, the progress bar and the caller's observer."""

    def __init__(
        self, rows: list, observer: RoundObserver | None, config: FedConfig, progress: bool
    ) -> None:
        self.rows, self.observer, self.bar = rows, observer, None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=config.rounds, desc=f"federated {config.strategy}", unit="round")

    def __call__(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if self.bar is not None:
            self.bar.set_postfix(accuracy=f"{row['accuracy']:.3f}", refresh=False)
            self.bar.update(1)
        if self.observer is not None:
            self.observer(row)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _central_baseline(config: FedConfig, task: TaskData) -> dict[str, float]:
    """The same model trained on the pooled data, for half the federated epochs."""
    central = learning.train_central(
        task,
        kind=config.model,
        epochs=max(1, config.rounds * config.local_epochs // 2),
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
    )
    return {"accuracy": float(central["accuracy"]), "loss": float(central["loss"])}


def _rounds_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(ROUND_COLUMNS))


__all__ = ["ROUND_COLUMNS", "FedResult", "run_federated"]
