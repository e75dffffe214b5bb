"""Saved runs exported to an MLflow tracking server, where teams already track their experiments.

Each workbench run becomes one MLflow run, in an experiment named after its kind
(``workbench-bench``, ``workbench-federated``, ...; or one experiment given by name):

- params: the run's settings, flattened (``model.name``), strings as themselves and every other
  value as JSON text; keys keep ``A-Z a-z 0-9 _ . -`` (anything else becomes ``_``) and values are
  cut to MLflow's 6,000 characters. The tags ``workbench.renamed_params`` and
  ``workbench.truncated_params`` say which; ``run.json`` holds the whole values.
- metrics: the summary's numbers (bools, text and missing values are not figures); a federated
  run's ``rounds`` table as steps (``rounds.accuracy`` at step = round), a benchmark's ``points``
  as steps (``points.p50_ms`` at step = row of ``points.csv``).
- artifacts: every file of the run folder (``run.json``, the tables as CSV, charts, a checkpoint),
  not the files that only say which process holds an open run.
- tags: ``workbench.run_id``, ``workbench.kind``, ``workbench.status``, ``workbench.model``,
  ``workbench.variant``, ``workbench.seed``, ``workbench.version`` (of the workbench that
  exported it: runs record their git revision, not a version), ``workbench.git_revision`` and
  ``mlflow.source.git.commit``, ``workbench.label``.

Exporting a run again finds its MLflow run by the ``workbench.run_id`` tag (in any experiment of
that tracking server, so ``--experiment`` only places runs exported for the first time) and
updates it: tags and artifacts are written again, params and metric points it lacks are added,
never a second run. Nothing else is read: no environment variable and
no file outside the run folder goes to MLflow, and the tracking URI is shown without
``user:password@``. MLflow's usage telemetry stays off unless ``MLFLOW_DISABLE_TELEMETRY`` says
otherwise (the workbench sends nothing anywhere it was not pointed at).

mlflow is an optional dependency (``pip install 'ai-deployment-workbench[mlflow]'``), imported
only here and only when an export starts.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import socket
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.kit.urls import without_userinfo
from workbench.runs.config import resolve_runs_dir
from workbench.runs.model import Run, flat_config
from workbench.runs.owner import HEARTBEAT_FILE, OWNER_FILE
from workbench.runs.store import list_runs, load_run

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
INSTALL_COMMAND = "pip install 'ai-deployment-workbench[mlflow]'"
#: The tag that holds the workbench run id: how an export finds the MLflow run it made before.
RUN_ID_TAG = "workbench.run_id"
#: Experiments are named ``workbench-<kind>`` unless one name is given.
EXPERIMENT_PREFIX = "workbench-"
#: Runs exported when no run id is given: ended ones (a run still running is left for later).
EXPORTED_STATUSES = ("complete", "failed", "interrupted")
#: MLflow's run status for each workbench status.
MLFLOW_STATUS = {
    "complete": "FINISHED",
    "failed": "FAILED",
    "interrupted": "KILLED",
    "incomplete": "RUNNING",
}
#: The table each kind logs as metric steps, and the column that numbers the steps (``None``:
#: the row number).
STEP_TABLES: dict[str, tuple[str, str | None]] = {
    "bench": ("points", None),
    "cloud": ("points", None),
    "federated": ("rounds", "round"),
}
#: Files of an open run that say which process holds it: bookkeeping, not results.
BOOKKEEPING_FILES = (OWNER_FILE, HEARTBEAT_FILE)
#: MLflow's limits (mlflow.utils.validation): key length, param and tag value length.
MAX_KEY_CHARS = 250
MAX_PARAM_CHARS = 6000
MAX_TAG_CHARS = 8000
TRUNCATED_MARK = "…"
CONNECT_TIMEOUT_S = 5.0
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")


class MlflowMissingError(WorkbenchError):
    """mlflow is not installed in this environment."""


@dataclass(frozen=True)
class MlflowRecord:
    """What one workbench run becomes in MLflow, as plain values (no MLflow needed to compute).

    ``metrics`` holds ``(key, value, step)``; summary figures are at step 0. ``artifacts`` are
    files of ``folder``.
    """

    params: dict[str, str]
    metrics: list[tuple[str, float, int]]
    tags: dict[str, str]
    folder: Path | None = None
    artifacts: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class ExportedRun:
    """One run exported: where it went and whether its MLflow run was made now or updated."""

    run_id: str
    mlflow_run_id: str
    experiment: str
    experiment_id: str
    action: str
    params: int
    metrics: int
    artifacts: int

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# A run as MLflow values (pure)


def mlflow_record(run: Run, folder: Path | None = None, version: str | None = None) -> MlflowRecord:
    """``run`` as MLflow params, metrics, tags and artifact files.

    Parameters
    ----------
    run
        The saved run.
    folder
        Its folder, whose files become artifacts (``None``: no artifacts).
    version
        The workbench version for the ``workbench.version`` tag (default: this one).
    """
    params, renamed, truncated = _params(flat_config(run.config))
    tags = _tags(run, version)
    if renamed:
        tags["workbench.renamed_params"] = _tag_value(json.dumps(renamed, ensure_ascii=False))
    if truncated:
        tags["workbench.truncated_params"] = _tag_value(
            f"{', '.join(truncated)}: cut to {MAX_PARAM_CHARS:,} characters; run.json holds "
            "the whole values"
        )
    return MlflowRecord(
        params=params,
        metrics=_metrics(run),
        tags=tags,
        folder=folder,
        artifacts=artifact_files(folder) if folder is not None else [],
    )


def param_value(value: Any) -> str:
    """A setting as MLflow param text: a string as itself, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def mlflow_key(name: str, taken: set[str] | None = None) -> str:
    """``name`` as an MLflow param or metric key: ASCII letters, digits, ``_ . -`` (anything else
    becomes ``_``), at most 250 characters, never ``.`` or ``..``, and distinct from the keys in
    ``taken`` (a ``_2``, ``_3``... suffix), which it is added to."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    key = _KEY_CHARS.sub("_", ascii_name)[:MAX_KEY_CHARS]
    if key.strip(".") == "":
        key = f"_{key}"[:MAX_KEY_CHARS]  # "", "." and ".." would name a folder, not a key
    if taken is None:
        return key
    candidate, number = key, 1
    while candidate in taken:
        number += 1
        suffix = f"_{number}"
        candidate = key[: MAX_KEY_CHARS - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def artifact_files(folder: Path) -> list[Path]:
    """The files of a run folder that are exported, sorted; bookkeeping and hidden files left
    out."""
    return sorted(
        path
        for path in Path(folder).rglob("*")
        if path.is_file()
        and path.name not in BOOKKEEPING_FILES
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _params(config: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Params, the keys renamed (new key to setting), and the keys whose values were cut."""
    params: dict[str, str] = {}
    renamed: dict[str, str] = {}
    truncated: list[str] = []
    taken: set[str] = set()
    for name, value in config.items():
        key = mlflow_key(name, taken)
        if key != name:
            renamed[key] = name
        text = param_value(value)
        if len(text) > MAX_PARAM_CHARS:
            text = text[: MAX_PARAM_CHARS - len(TRUNCATED_MARK)] + TRUNCATED_MARK
            truncated.append(key)
        params[key] = text
    return params, renamed, truncated


def _metrics(run: Run) -> list[tuple[str, float, int]]:
    taken: set[str] = set()
    metrics = [
        (mlflow_key(name, taken), float(value), 0)
        for name, value in flat_config(run.summary).items()
        if _is_figure(value)
    ]
    table_name, step_column = STEP_TABLES.get(run.kind, (None, None))
    table = run.tables.get(table_name) if table_name else None
    if table is None or table.empty:
        return metrics
    steps = _steps(table, step_column)
    for column in table.columns:
        if column == step_column or not _numeric_column(table[column]):
            continue
        key = mlflow_key(f"{table_name}.{column}", taken)
        for step, value in zip(steps, table[column], strict=True):
            if _is_figure(value):
                metrics.append((key, float(value), step))
    return metrics


def _steps(table: pd.DataFrame, column: str | None) -> list[int]:
    if column is not None and column in table.columns:
        numbers = pd.to_numeric(table[column], errors="coerce")
        if numbers.notna().all() and (numbers == numbers.round()).all():
            return [int(n) for n in numbers]
    return list(range(len(table)))


def _numeric_column(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _is_figure(value: Any) -> bool:
    """A finite number that is not a bool (numpy and pandas scalars too)."""
    if value is None or isinstance(value, bool | str) or value is pd.NA:
        return False
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _tags(run: Run, version: str | None) -> dict[str, str]:
    if version is None:
        from workbench import __version__ as version
    revision = run.environment.get("git_revision")
    tags = {
        RUN_ID_TAG: run.id,
        "workbench.kind": run.kind,
        "workbench.status": run.status,
        "workbench.label": run.label,
        "workbench.model": _model(run),
        "workbench.variant": _variant(run),
        "workbench.seed": None if run.seed is None else str(run.seed),
        "workbench.version": version,
        "workbench.git_revision": revision,
        "mlflow.source.git.commit": revision,
    }
    dirty = run.environment.get("git_dirty")
    if isinstance(dirty, bool):
        tags["workbench.git_dirty"] = "true" if dirty else "false"
    if run.kind in STEP_TABLES:
        table, column = STEP_TABLES[run.kind]
        tags["workbench.steps"] = (
            f"{table}.* metrics: step = the {column} column of {table}.csv"
            if column
            else f"{table}.* metrics: step = the row of {table}.csv (from 0)"
        )
    return {key: _tag_value(str(value)) for key, value in tags.items() if value}


def _model(run: Run) -> str | None:
    for source in (run.summary, run.config):
        if isinstance(source.get("model"), str):
            return source["model"]
    return None


def _variant(run: Run) -> str | None:
    for source in (run.summary, run.config):
        if isinstance(source.get("variant"), str):
            return source["variant"]
    for source in (run.summary, run.config):
        variants = source.get("variants")
        if isinstance(variants, list | tuple) and variants:
            return ",".join(str(v) for v in variants)
    return None


def _tag_value(text: str) -> str:
    if len(text) <= MAX_TAG_CHARS:
        return text
    return text[: MAX_TAG_CHARS - len(TRUNCATED_MARK)] + TRUNCATED_MARK


# ---------------------------------------------------------------------------------------------
# Talking to MLflow


def tracking_uri_of(uri: str | None) -> str:
    """The tracking URI: ``uri``, else ``$MLFLOW_TRACKING_URI``.

    Raises
    ------
    InvalidInputError
        When neither is given.
    """
    chosen = (uri or "").strip() or os.environ.get(TRACKING_URI_ENV, "").strip()
    if not chosen:
        raise InvalidInputError(
            "`--mlflow` needs the tracking server to export to, e.g. --mlflow "
            f"http://127.0.0.1:5000, or set {TRACKING_URI_ENV}; start a local one with "
            "`mlflow server --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000`."
        )
    return chosen


def require_mlflow() -> ModuleType:
    """The ``mlflow`` module, imported now (with its usage telemetry off unless
    ``MLFLOW_DISABLE_TELEMETRY`` says otherwise).

    Raises
    ------
    MlflowMissingError
        One paragraph naming the install command, when mlflow cannot be imported.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow
        import mlflow.tracking  # the client lives there
    except ImportError as exc:
        reason = "" if isinstance(exc, ModuleNotFoundError) else f" ({exc})"
        raise MlflowMissingError(
            "Exporting runs to MLflow needs the Python package mlflow, which is not installed in "
            f"this environment{reason}. Install the workbench's optional extra with "
            f"`{INSTALL_COMMAND}` (from a checkout: `pip install -e '.[mlflow]'`), then run the "
            "command again."
        ) from exc
    return mlflow


def check_reachable(uri: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse an ``http(s)`` tracking URI whose host does not accept connections, before any run
    is read (MLflow's own client would retry for minutes).

    Raises
    ------
    WorkbenchError
        Naming the URI (without credentials) and how to start a local server.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            return
    except OSError as exc:
        raise WorkbenchError(
            f"Cannot reach the MLflow tracking server at {without_userinfo(uri)} ("
            f"{exc.strerror or exc}). Check --mlflow or {TRACKING_URI_ENV}, or start a local "
            "server with `mlflow server --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 "
            f"--port {port}`."
        ) from None


def export_runs(
    run_ids: Sequence[str] = (),
    *,
    tracking_uri: str | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    experiment: str | None = None,
    on_run: Callable[[ExportedRun], None] | None = None,
) -> list[ExportedRun]:
    """Export runs to an MLflow tracking server; a run exported before is updated, not copied.

    Parameters
    ----------
    run_ids
        The runs to export (ids or unique prefixes); none means every ended run (complete,
        failed, interrupted) that this tracking server does not hold yet.
    tracking_uri
        The server (``http://127.0.0.1:5000``) or any MLflow store URI; ``None`` means
        ``$MLFLOW_TRACKING_URI``.
    runs_dir
        Where the runs are; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    experiment
        One experiment for every run; ``None`` means ``workbench-<kind>`` per run.
    on_run
        Called with each :class:`ExportedRun` as it is done.

    Returns
    -------
    list of ExportedRun
        One per exported run, in the order exported.

    Raises
    ------
    MlflowMissingError
        Without mlflow installed.
    InvalidInputError
        Without a tracking URI, or for an empty experiment name.
    RunNotFoundError, AmbiguousRunIdError, CorruptRunError
        For a run id that names no readable run (before anything is exported).
    WorkbenchError
        When the server cannot be reached, an experiment of that name was deleted, or an MLflow
        run already holds other values for a param.
    """
    require_mlflow()
    uri = tracking_uri_of(tracking_uri)
    if experiment is not None and not experiment.strip():
        raise InvalidInputError("`--experiment` must name an experiment, got an empty name.")
    named = {run.id: run for run in (load_run(run_id, runs_dir) for run_id in run_ids)}
    chosen = list(named.values())  # two prefixes of one run export it once
    check_reachable(uri)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exported = _exported_runs(client)
    if not run_ids:
        chosen = [
            load_run(s.id, runs_dir)
            for s in list_runs(runs_dir)
            if s.status in EXPORTED_STATUSES and s.id not in exported
        ]
    root = resolve_runs_dir(runs_dir)
    experiments: dict[str, tuple[str, str]] = {}
    done = []
    for run in chosen:
        name = experiment or f"{EXPERIMENT_PREFIX}{run.kind}"
        record = mlflow_record(run, root / run.id)
        existing = exported.get(run.id)
        if existing is None:
            if name not in experiments:
                experiments[name] = (name, _experiment_id(client, name))
            result = _create(client, experiments[name], run, record)
        else:
            result = _update(client, existing, run, record)
        done.append(result)
        if on_run is not None:
            on_run(result)
    return done


def _exported_runs(client: Any) -> dict[str, Any]:
    """The active MLflow runs that carry a workbench run id, by that id (the oldest one when
    several do)."""
    from mlflow.entities import ViewType

    experiment_ids = [
        e.experiment_id
        for e in _all_pages(client.search_experiments, view_type=ViewType.ACTIVE_ONLY)
    ]
    found: dict[str, Any] = {}
    if not experiment_ids:
        return found
    runs = _all_pages(
        client.search_runs,
        experiment_ids=experiment_ids,
        filter_string=f"tags.`{RUN_ID_TAG}` LIKE '%'",
        run_view_type=ViewType.ACTIVE_ONLY,
        order_by=["attributes.start_time ASC"],
    )
    for mlflow_run in runs:
        found.setdefault(mlflow_run.data.tags[RUN_ID_TAG], mlflow_run)
    return found


def _all_pages(search: Any, **options: Any) -> Iterable[Any]:
    token = None
    while True:
        page = search(max_results=1000, page_token=token, **options)
        yield from page
        token = page.token
        if not token:
            return


def _experiment_id(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name)
    if found.lifecycle_stage != "active":
        raise WorkbenchError(
            f"The MLflow experiment {name!r} was deleted on that server, and a new one cannot "
            f"take its name. Restore it (`mlflow experiments restore --experiment-id "
            f"{found.experiment_id}`) or export into another with --experiment NAME."
        )
    return found.experiment_id


def _create(
    client: Any, experiment: tuple[str, str], run: Run, record: MlflowRecord
) -> ExportedRun:
    name, experiment_id = experiment
    started = _millis(run.started_at)
    mlflow_run = client.create_run(
        experiment_id, start_time=started, tags=record.tags, run_name=run.id
    )
    run_id = mlflow_run.info.run_id
    _log(client, run_id, run, record.params, record.metrics, record.tags)
    _finish(client, run_id, run, record)
    return _exported(run, run_id, name, experiment_id, "created", record)


def _update(client: Any, mlflow_run: Any, run: Run, record: MlflowRecord) -> ExportedRun:
    run_id = mlflow_run.info.run_id
    have = mlflow_run.data.params
    clashes = [k for k, v in record.params.items() if k in have and have[k] != v]
    if clashes:
        raise WorkbenchError(
            f"The MLflow run {run_id} of workbench run {run.id} holds other values for the "
            f"params {', '.join(clashes[:5])}, and MLflow never changes a param. Delete that "
            f"MLflow run (`mlflow runs delete --run-id {run_id}`) and export again."
        )
    params = {k: v for k, v in record.params.items() if k not in have}
    metrics = _missing_metrics(client, run_id, record.metrics, set(mlflow_run.data.metrics))
    _log(client, run_id, run, params, metrics, record.tags)
    _finish(client, run_id, run, record)
    experiment_id = mlflow_run.info.experiment_id
    name = client.get_experiment(experiment_id).name
    return _exported(run, run_id, name, experiment_id, "updated", record)


def _missing_metrics(
    client: Any, run_id: str, metrics: list[tuple[str, float, int]], logged_keys: set[str]
) -> list[tuple[str, float, int]]:
    """The metric points an MLflow run does not hold yet (same key, step and value)."""
    have: set[tuple[str, float, int]] = set()
    for key in {k for k, _, _ in metrics} & logged_keys:
        have |= {(key, m.value, m.step) for m in client.get_metric_history(run_id, key)}
    return [m for m in metrics if m not in have]


def _log(
    client: Any,
    run_id: str,
    run: Run,
    params: Mapping[str, str],
    metrics: list[tuple[str, float, int]],
    tags: Mapping[str, str],
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    stamp = _millis(run.ended_at or run.started_at)
    client.log_batch(
        run_id,
        metrics=[Metric(key, value, stamp, step) for key, value, step in metrics],
        params=[Param(key, value) for key, value in params.items()],
        tags=[RunTag(key, value) for key, value in tags.items()],
    )


def _finish(client: Any, run_id: str, run: Run, record: MlflowRecord) -> None:
    for path in record.artifacts:
        parent = path.parent.relative_to(record.folder).as_posix()
        client.log_artifact(run_id, str(path), None if parent == "." else parent)
    end = _millis(run.ended_at) if run.ended_at else None
    # MLflow's client prints "View run ... at ..." on stdout here, which would break `--json`;
    # the CLI prints its own line with the same link.
    with contextlib.redirect_stdout(io.StringIO()):
        client.set_terminated(run_id, status=MLFLOW_STATUS[run.status], end_time=end)


def _exported(
    run: Run, run_id: str, name: str, experiment_id: str, action: str, record: MlflowRecord
) -> ExportedRun:
    return ExportedRun(
        run_id=run.id,
        mlflow_run_id=run_id,
        experiment=name,
        experiment_id=str(experiment_id),
        action=action,
        params=len(record.params),
        metrics=len(record.metrics),
        artifacts=len(record.artifacts),
    )


def _millis(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def run_link(tracking_uri: str, exported: ExportedRun) -> str | None:
    """The MLflow UI page of an exported run, for an ``http(s)`` tracking URI (no credentials)."""
    if urlsplit(tracking_uri).scheme not in ("http", "https"):
        return None
    base = without_userinfo(tracking_uri).rstrip("/")
    return f"{base}/#/experiments/{exported.experiment_id}/runs/{exported.mlflow_run_id}"


__all__ = [
    "EXPERIMENT_PREFIX",
    "INSTALL_COMMAND",
    "RUN_ID_TAG",
    "TRACKING_URI_ENV",
    "ExportedRun",
    "MlflowMissingError",
    "MlflowRecord",
    "artifact_files",
    "check_reachable",
    "export_runs",
    "mlflow_key",
    "mlflow_record",
    "param_value",
    "require_mlflow",
    "run_link",
    "tracking_uri_of",
]
