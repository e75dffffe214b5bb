"""Run one federated experiment on a launcher and keep it in the run store.

:func:`run_federated` is what the CLI, the panel and the notebooks call. It validates the config,
runs the same Flower apps on the chosen launcher (``inline`` in this process, ``ray`` on Flower's
simulation engine), trains the central baseline on the pooled data for comparison, and records
the result as a run (:func:`workbench.runs.record`). Each round is saved as it finishes, with the
state to continue from, so a run killed part-way keeps its rounds and
:func:`resume_federated` (``workbench runs resume ID``) can finish it.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from workbench import runs
from workbench.federated import learning
from workbench.federated.apps import client_app, client_partitions, make_server_app, quiet_flower
from workbench.federated.checkpoint import RoundState
from workbench.federated.config import FedConfig
from workbench.federated.launchers import Launcher, launcher_for
from workbench.federated.partition import label_distribution
from workbench.federated.result import ROUND_COLUMNS, FedResult
from workbench.federated.server import FinishedRound, RoundObserver, ServerResult
from workbench.federated.tasks import TaskData, load_task
from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.runs.record import record_resumed

# Launchers whose runs can be continued: the inline one runs every client in this process, so a
# continued run is bitwise the uninterrupted one (checked by tests/federated).
RESUMABLE_LAUNCHERS = ("inline",)


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
    :meth:`FedResult.tables`). Every round is saved as it finishes (its ``rounds`` and
    ``clients`` rows, and a checkpoint of the model), so a run that fails or is killed part-way
    keeps the rounds it finished.
    """
    runs.check_can_record(save, runs_dir)
    # Fail on bad data settings (empty partitions, unknown task) before any launcher starts.
    parts = client_partitions(config)
    task = load_task(config.task, seed=config.seed, difficulty=config.difficulty)
    launch = launcher if launcher is not None else launcher_for(config)
    label = f"{config.task} {config.strategy} {config.num_clients} clients"
    with runs.record(
        FedResult, config, save=save, seed=config.seed, label=label, runs_dir=runs_dir
    ) as recording:
        collector = _Collector(recording, observer, config, progress)
        result = _run(config, task, parts, launch, collector, baseline, None)
        recording.save(result)
    return result


def resume_federated(
    run_id: str,
    *,
    runs_dir: str | None = None,
    observer: RoundObserver | None = None,
    progress: bool = False,
    baseline: bool = True,
) -> FedResult:
    """Continue the saved federated run ``run_id`` from its last finished round, in its folder.

    The rounds still to run come out exactly as in a run that was never stopped: every draw of a
    round depends only on (seed, round), and the checkpoint saved with each round holds the rest
    (model weights, simulated clock, FedAdam's moments, the privacy ledger). The run ends
    ``complete`` with every round, as if it had not been stopped.

    Raises
    ------
    RunNotFoundError
        For an unknown run id.
    InvalidInputError
        For a run that is not federated, is complete or still running, ran on a launcher other
        than inline, or has no finished round to continue from.
    CorruptRunError
        When its checkpoint or tables cannot be read.
    """
    run = runs.load_run(run_id, runs_dir)
    config, state = _resumable(run, runs_dir)
    parts = client_partitions(config)
    task = load_task(config.task, seed=config.seed, difficulty=config.difficulty)
    with record_resumed(FedResult, run.id, runs_dir) as recording:
        collector = _Collector(recording, observer, config, progress)
        done = state.round
        collector.keep(_saved_rows(run, "rounds", done), _saved_rows(run, "clients", done))
        result = _run(config, task, parts, launcher_for(config), collector, baseline, state)
        result.run_id = run.id
        recording.save(result)
    return result


def resume_refusal(run_id: str, *, runs_dir: str | None = None) -> str | None:
    """Why :func:`resume_federated` would refuse the run ``run_id`` (the same message), or
    ``None`` when it can be continued: for a page that offers the resume only where it works."""
    try:
        _resumable(runs.load_run(run_id, runs_dir), runs_dir)
    except WorkbenchError as exc:  # not found, not resumable, or unreadable
        return str(exc)
    return None


def _resumable(run: runs.Run, runs_dir: str | None) -> tuple[FedConfig, RoundState]:
    """The config and last checkpoint of a run that can be continued, else a clear refusal."""
    from workbench.runs.store import checkpoint_of

    if run.kind != FedResult.KIND:
        raise InvalidInputError(
            f"Run {run.id} is a {run.kind!r} run; only federated runs (`workbench fed run`) can "
            f"be resumed. Run the {run.kind} again instead."
        )
    if run.status == "complete":
        raise InvalidInputError(f"Run {run.id} is complete; there is nothing to resume.")
    if run.status == "incomplete":
        raise InvalidInputError(
            f"Run {run.id} is still running in another process; wait for it to end (or stop "
            "that process) before resuming it."
        )
    try:
        config = FedConfig.from_mapping(run.config, source=f"run {run.id}")
    except WorkbenchError as exc:
        raise InvalidInputError(
            f"Run {run.id} was saved by another version of the workbench and cannot be resumed "
            f"here: {exc}"
        ) from exc
    if config.launcher not in RESUMABLE_LAUNCHERS:
        raise InvalidInputError(
            f"Run {run.id} ran on the {config.launcher!r} launcher, which cannot be resumed "
            f"(only {', '.join(RESUMABLE_LAUNCHERS)} runs can: their rounds come out bitwise as "
            "in an uninterrupted run). Run it again with `workbench fed run`."
        )
    data = checkpoint_of(run.id, runs_dir)
    if data is None:
        raise InvalidInputError(
            f"Run {run.id} has no finished round to resume from (it stopped during round 1, "
            "or was saved by an older version); run it again with `workbench fed run`."
        )
    state = RoundState.from_bytes(data, source=f"The checkpoint of run {run.id}")
    saved = run.tables.get("rounds")
    have = [] if saved is None else saved["round"].tolist()
    if [r for r in have if r <= state.round] != list(range(1, state.round + 1)):
        raise InvalidInputError(
            f"Run {run.id} has a checkpoint after round {state.round} but its rounds table "
            f"holds rounds {have}; it cannot be resumed. Run it again with `workbench fed run`."
        )
    return config, state


def _saved_rows(run: runs.Run, table: str, last_round: int) -> list[dict[str, Any]]:
    """The saved rows of ``table`` up to ``last_round`` (later ones have no checkpoint)."""
    frame = run.tables.get(table)
    if frame is None:
        return []
    return frame[frame["round"] <= last_round].to_dict(orient="records")


def _run(config, task, parts, launch, collector, baseline: bool, resume: RoundState | None):
    started = time.perf_counter()
    server = _serve(config, launch, collector, resume)
    return _result(config, task, parts, server, collector, baseline, started)


def _result(config, task, parts, server: ServerResult, collector, baseline: bool, started: float):
    """The finished run, with the central baseline trained now when asked for."""
    return FedResult(
        config=config,
        rounds=_rounds_frame(collector.rows),
        clients=_clients_frame(collector.client_rows),
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


def _serve(
    config: FedConfig, launch: Launcher, on_round: _Collector, resume: RoundState | None
) -> ServerResult:
    """Run the ServerApp on ``launch`` and hand back what it produced (or raise what it raised)."""
    sink: dict[str, Any] = {}
    server_app = make_server_app(
        config, observer=on_round, sink=sink, on_round=on_round.finished, resume=resume
    )
    try:
        with quiet_flower():
            launch(server_app, client_app, config)
    finally:
        on_round.close()
    if "error" in sink:
        raise sink["error"]
    return sink["result"]


class _Collector:
    """Each round's record to the progress bar and the caller's observer, then, with its clients'
    records and checkpoint, into the run (written at once: a kill keeps every finished round)."""

    def __init__(
        self,
        recording: runs.Recording,
        observer: RoundObserver | None,
        config: FedConfig,
        progress: bool,
    ) -> None:
        self.recording, self.observer, self.bar = recording, observer, None
        self.rows: list[dict[str, Any]] = []
        self.client_rows: list[dict[str, Any]] = []
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=config.rounds, desc=f"federated {config.strategy}", unit="round")

    def keep(self, rows: list[dict[str, Any]], client_rows: list[dict[str, Any]]) -> None:
        """Start from the rounds a stopped run had finished."""
        self.rows, self.client_rows = list(rows), list(client_rows)
        if self.bar is not None:
            self.bar.update(len(rows))

    def finished(self, done: FinishedRound) -> None:
        """Save the round: tables first, then the checkpoint, so a checkpoint never runs ahead
        of the rounds table."""
        self.rows.append(done.row)
        self.client_rows += done.client_rows
        if self.recording.id is None:  # not saving
            return
        tables = {"rounds": _rounds_frame(self.rows)}
        if self.client_rows:
            tables["clients"] = _clients_frame(self.client_rows)
        self.recording.save_tables(tables)
        self.recording.save_checkpoint(done.state.to_bytes())

    def __call__(self, row: dict[str, Any]) -> None:
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


def _clients_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


__all__ = ["ROUND_COLUMNS", "FedResult", "resume_federated", "resume_refusal", "run_federated"]
