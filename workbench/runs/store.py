"""The run store: every benchmark, cloud comparison or simulation is a folder of plain files.

A run lives in ``<runs dir>/<run id>/``::

    run.json      id, kind, label, config, seed, started_at, ended_at, status, error,
                  environment, summary, the table names and each table's column types
    points.csv    one CSV file per result table (any name made of a-z, 0-9 and _)

The runs directory is ``--runs-dir`` when given, else ``$WORKBENCH_RUNS_DIR``, else ``./runs`` in
the current directory. Every file is written through a temporary file and a rename, so a reader
(or a process killed mid-run) only ever leaves whole files: a run killed before it ended says
``"incomplete"``, and the tables it had finished stay readable.

An open run keeps its owner process (host, pid, start time) in ``owner.json`` and touches a
``heartbeat`` file every few seconds, both removed when it ends (:mod:`workbench.runs.owner`);
a run left ``incomplete`` by a process that is gone is listed and loaded as ``"interrupted"``. A run that stops on an input error before it
saved anything leaves no folder: nothing was measured.

Tables hold scalars only and read back exactly (:mod:`workbench.runs.tables`); the row index is
not kept, so move a meaningful index into a column with ``reset_index()`` first.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.kit.errors import (
    AmbiguousRunIdError,
    CorruptRunError,
    InvalidInputError,
    InvalidModelError,
    ModelNotFoundError,
    RunNotFoundError,
    RunsDirError,
    UnsafeModelError,
)
from workbench.kit.files import atomic_write_bytes, atomic_write_text
from workbench.runs.config import (
    CHECKPOINT_FILE,
    FORMAT_VERSION,
    ID_TIME,
    ID_TIME_FORMAT,
    LABEL_SLUG_CHARS,
    RUN_FILE,
    RUNS_DIR_ENV,
    STATUSES,
    TABLE_NAME,
    check_kind,
    check_table_name,
    resolve_runs_dir,
)
from workbench.runs.credentials import refuse_credentials
from workbench.runs.environment import environment
from workbench.runs.model import Run, RunSummary, config_mapping, plain_values
from workbench.runs.owner import Heartbeat, owner_is_gone, read_owner
from workbench.runs.tables import (
    corrupt_run_error,
    csv_text,
    read_table,
    schema_ok,
    table_schema,
)

# The fields of run.json and the JSON types each may hold.
META_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "kind": (str,),
    "label": (str,),
    "status": (str,),
    "started_at": (str,),
    "ended_at": (str, type(None)),
    "seed": (int, type(None)),
    "error": (str, type(None)),
    "config": (dict,),
    "summary": (dict,),
    "environment": (dict,),
    "tables": (list,),
    "table_schemas": (dict,),
}
NEW_ID_TRIES = 100
# Errors that mean the inputs were wrong, not that a measurement went wrong: a run that stops on
# one before saving anything leaves no folder behind.
INPUT_ERRORS = (InvalidInputError, ModelNotFoundError, InvalidModelError, UnsafeModelError)


# ---------------------------------------------------------------------------------------------
# The runs directory


def check_runs_dir(runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """Make sure runs can be saved in the runs directory, creating it when missing.

    Call it before any expensive work so that a bad ``--runs-dir`` fails in a second rather than
    after the benchmark. :func:`start_run` calls it too.

    Parameters
    ----------
    runs_dir
        The folder; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.

    Returns
    -------
    Path
        The absolute path of the runs directory.

    Raises
    ------
    RunsDirError
        When the path is a file, lies under a file, or cannot be written to.
    """
    path = resolve_runs_dir(runs_dir)
    if path.exists() and not path.is_dir():
        raise _runs_dir_error(path, "it is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = (
            f"{blocker} is a file, so no folder can be created under it"
            if blocker
            else f"it cannot be created or written to ({exc.strerror or exc})"
        )
        raise _runs_dir_error(path, reason) from exc
    return path


def _runs_dir_error(path: Path, reason: str) -> RunsDirError:
    return RunsDirError(
        f"The runs directory {path} cannot hold runs: {reason}. Results are saved there, so "
        f"choose a folder you can write to with --runs-dir PATH or the {RUNS_DIR_ENV} "
        "environment variable (the default is ./runs in the current directory)."
    )


def _existing_runs_dir(runs_dir: str | os.PathLike[str] | None) -> Path:
    path = resolve_runs_dir(runs_dir)
    if path.exists() and not path.is_dir():
        raise _runs_dir_error(path, "it is a file, not a folder")
    return path


def _run_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


# ---------------------------------------------------------------------------------------------
# Writing a run


class RunRecorder:
    """The open run inside ``with start_run(...) as run:``; adds tables and summary values.

    Every call rewrites the files at once, so whatever was added before a crash stays readable.
    """

    def __init__(self, path: Path, state: dict[str, Any]) -> None:
        self._path = path
        self._state = state
        self._lock = threading.Lock()
        self._open = True
        self._failure: str | None = None
        self._saved_anything = False
        self._heartbeat: Heartbeat | None = None

    def __repr__(self) -> str:
        return f"<RunRecorder {self.id} ({self.status})>"

    @property
    def id(self) -> str:
        """The run id, also the folder name."""
        return self._state["id"]

    @property
    def path(self) -> Path:
        """The run folder."""
        return self._path

    @property
    def status(self) -> str:
        """``"incomplete"`` while the run is open, then ``"complete"`` or ``"failed"``."""
        return self._state["status"]

    @property
    def tables(self) -> list[str]:
        """Names of the tables added so far."""
        return list(self._state["tables"])

    def add_table(self, name: str, frame: pd.DataFrame) -> Path:
        """Save a result table now, replacing an earlier table of the same name.

        Parameters
        ----------
        name
            1 to 64 characters from ``a-z``, ``0-9`` and ``_``; the file is ``<name>.csv``.
        frame
            Columns with unique, non-empty string names holding ints, floats, bools or strings
            (numpy or pandas nullable dtypes). The row index is dropped.

        Returns
        -------
        Path
            The CSV file.

        Raises
        ------
        InvalidInputError
            For a bad name, a column type that cannot be stored exactly, or a run that has ended.
        """
        check_table_name(name)
        schema = table_schema(name, frame)
        text = csv_text(frame)
        target = self._path / f"{name}.csv"
        with self._lock:
            self._check_open(f"add table {name!r}")
            atomic_write_text(target, text, newline="")
            if name not in self._state["tables"]:
                self._state["tables"].append(name)
            self._state["table_schemas"][name] = schema
            self._saved_anything = True
            self._write()
        return target

    def save_checkpoint(self, data: bytes) -> Path:
        """Save the state a later process needs to continue this run (``checkpoint.npz``),
        replacing the previous one at once.

        Raises
        ------
        InvalidInputError
            For a run that has ended.
        """
        target = self._path / CHECKPOINT_FILE
        with self._lock:
            self._check_open("save a checkpoint")
            atomic_write_bytes(target, bytes(data))
            self._saved_anything = True
        return target

    def fail_at_end(self, error: str) -> None:
        """End the run ``failed`` with ``error`` instead of ``complete`` when the block ends
        normally: for a run that finished but whose results say it did not work (every request
        failed), where raising would lose the result the caller still wants to show."""
        self._failure = " ".join(str(error).split()) or "failed"

    def set_summary(self, **values: Any) -> None:
        """Add or replace headline values (JSON values: numbers, strings, bools, lists, dicts)."""
        plain = plain_values(values, "summary")
        refuse_credentials(plain, "summary")
        with self._lock:
            self._check_open("set the summary")
            self._state["summary"].update(plain)
            self._saved_anything = True
            self._write()

    def _check_open(self, action: str) -> None:
        if not self._open:
            raise InvalidInputError(
                f"Cannot {action}: run {self.id} has ended ({self.status}) and saved runs are "
                "never changed. Do it inside the `with start_run(...)` block, or start a new run."
            )

    def _write(self) -> None:
        atomic_write_text(self._path / RUN_FILE, json.dumps(self._state, indent=2) + "\n")

    def _start_heartbeat(self) -> None:
        self._heartbeat = Heartbeat(self._path).start()

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None

    def _finish(self, status: str, error: str | None) -> None:
        with self._lock:
            self._state.update(status=status, ended_at=_iso(_utcnow()), error=error)
            self._open = False
            try:
                self._write()
            finally:
                self._stop_heartbeat()

    def _complete(self) -> None:
        if self._failure is not None:
            self._finish("failed", self._failure)
        else:
            self._finish("complete", None)

    def _end_by(self, exc: BaseException) -> None:
        """End the run on ``exc``: gone when it only met an input error before saving anything,
        else ``failed``."""
        if isinstance(exc, INPUT_ERRORS) and not self._saved_anything:
            self._discard()
        else:
            self._fail(exc)

    def _discard(self) -> None:
        with self._lock:
            self._open = False
            self._stop_heartbeat()
            shutil.rmtree(self._path, ignore_errors=True)

    def _fail(self, exc: BaseException) -> None:
        """Mark the run failed by ``exc``; a failure to write is noted on ``exc``, not raised."""
        try:
            self._finish("failed", _one_line(exc))
        except Exception as write_error:
            exc.add_note(f"The run {self._path} could not be marked failed: {write_error}")


@contextmanager
def start_run(
    kind: str,
    config: Mapping[str, Any] | Any = None,
    *,
    seed: int | None = None,
    label: str = "",
    runs_dir: str | os.PathLike[str] | None = None,
    environment_extra: Mapping[str, Any] | None = None,
) -> Iterator[RunRecorder]:
    """Record a run: a new folder whose ``run.json`` says how it went.

    The folder is created on entry with status ``"incomplete"``; leaving the block normally marks
    it ``"complete"`` (``"failed"`` after :meth:`RunRecorder.fail_at_end`), an exception marks it
    ``"failed"`` with the error's message on one line and goes on to the caller. An input error
    (:data:`INPUT_ERRORS`) raised before any table or summary value was saved removes the folder
    instead: nothing was measured. Earlier runs are never touched.

    Parameters
    ----------
    kind
        What produces the run, in lowercase letters, digits, ``-`` and ``_``: ``"bench"``.
    config
        The settings: a mapping of JSON values, or a config object with ``to_dict()`` or a
        dataclass. ``None`` means no settings.
    seed
        The random seed used, if any.
    label
        Free text naming the run; a slug of it goes into the run id.
    runs_dir
        Where to save; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    environment_extra
        Values added to :func:`environment` (e.g. the accelerator used), JSON values only.

    Yields
    ------
    RunRecorder
        Add tables with ``add_table`` and headline values with ``set_summary``.

    Raises
    ------
    RunsDirError
        Before the block runs, when the runs directory cannot be written.
    InvalidInputError
        Before the block runs, for a bad kind, label, seed or config, or a config holding the
        value of a credential environment variable.
    """
    plain_config, extra = _checked_inputs(kind, config, seed, label, environment_extra)
    root = check_runs_dir(runs_dir)
    recorder = _open_run(root, kind, label, seed, plain_config, {**environment(), **extra})
    yield from _held(recorder)


def _held(recorder: RunRecorder) -> Iterator[RunRecorder]:
    """The body of an open run: heartbeat while it runs, then its end (see :func:`start_run`)."""
    recorder._start_heartbeat()
    try:
        yield recorder
    except BaseException as exc:
        recorder._end_by(exc)
        raise
    else:
        recorder._complete()
    finally:
        recorder._stop_heartbeat()


@contextmanager
def reopen_run(
    run_id: str, runs_dir: str | os.PathLike[str] | None = None
) -> Iterator[RunRecorder]:
    """Continue a run that stopped before it ended (``interrupted`` or ``failed``), in its folder.

    On entry the run is ``incomplete`` again and owned by this process; it ends as
    :func:`start_run`'s runs do, except that an error never removes it. ``run.json`` keeps a
    ``resumed`` list of when it was continued.

    Raises
    ------
    RunNotFoundError, AmbiguousRunIdError, CorruptRunError
        As :func:`load_run` does.
    InvalidInputError
        For a run that is complete, or still open in a live process.
    """
    folder = _find_run(_existing_runs_dir(runs_dir), run_id)
    meta = _read_meta(folder)
    status = _shown_status(meta, folder)
    if status == "complete":
        raise InvalidInputError(
            f"Run {meta['id']} is complete; there is nothing to continue. Start a new run instead."
        )
    if status == "incomplete":
        owner = read_owner(folder)
        where = f" (pid {owner.pid} on {owner.host})" if owner else ""
        raise InvalidInputError(
            f"Run {meta['id']} is still running{where}; wait for it to end, or stop that "
            "process first."
        )
    state = {
        **meta,
        "status": "incomplete",
        "ended_at": None,
        "error": None,
        "resumed": [*meta.get("resumed", []), {"at": _iso(_utcnow()), "from_status": status}],
    }
    recorder = RunRecorder(folder, state)
    recorder._saved_anything = True  # an error while continuing must not remove what was there
    recorder._write()
    yield from _held(recorder)


def checkpoint_of(run_id: str, runs_dir: str | os.PathLike[str] | None = None) -> bytes | None:
    """The checkpoint a run saved with :meth:`RunRecorder.save_checkpoint`; ``None`` if none.

    Raises
    ------
    RunNotFoundError, AmbiguousRunIdError
        As :func:`load_run` does.
    """
    folder = _find_run(_existing_runs_dir(runs_dir), run_id)
    try:
        return (folder / CHECKPOINT_FILE).read_bytes()
    except FileNotFoundError:
        return None


def _checked_inputs(
    kind: Any, config: Any, seed: Any, label: Any, environment_extra: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and extra environment as plain JSON values, once every input is checked."""
    check_kind(kind)
    if not isinstance(label, str):
        raise InvalidInputError(f"`label` must be a string, got {type(label).__name__}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidInputError(f"`seed` must be an int or None, got {seed!r}.")
    plain_config = plain_values(config_mapping(config), "config")
    extra = plain_values(dict(environment_extra or {}), "environment_extra")
    for value, where in ((plain_config, "config"), (extra, "environment_extra"), (label, "label")):
        refuse_credentials(value, where)
    return plain_config, extra


def _open_run(
    root: Path, kind: str, label: str, seed: int | None, config: dict, env: dict
) -> RunRecorder:
    """A new run folder holding an ``incomplete`` run.json, and its recorder."""
    started = _utcnow()
    path = _new_run_folder(root, started, kind, label)
    state: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "id": path.name,
        "kind": kind,
        "label": label,
        "status": "incomplete",
        "started_at": _iso(started),
        "ended_at": None,
        "seed": seed,
        "error": None,
        "config": config,
        "summary": {},
        "environment": env,
        "tables": [],
        "table_schemas": {},
    }
    recorder = RunRecorder(path, state)
    try:
        recorder._write()
    except OSError as exc:
        with suppress(OSError):
            path.rmdir()
        raise _runs_dir_error(root, f"{path / RUN_FILE} cannot be written ({exc})") from exc
    return recorder


def _new_run_folder(root: Path, started: datetime, kind: str, label: str) -> Path:
    slug = _slug(label)
    for _ in range(NEW_ID_TRIES):
        parts = [f"{started:{ID_TIME_FORMAT}}", kind, slug, secrets.token_hex(2)]
        path = root / "-".join(p for p in parts if p)
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise _runs_dir_error(root, f"the run folder {path.name} cannot be created") from exc
        return path
    raise _runs_dir_error(root, f"no unused run id was found after {NEW_ID_TRIES} tries")


def _slug(text: str, limit: int = LABEL_SLUG_CHARS) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


# ---------------------------------------------------------------------------------------------
# Reading runs


def list_runs(runs_dir: str | os.PathLike[str] | None = None) -> list[RunSummary]:
    """Every run in the runs directory, oldest first (newest last).

    A run whose ``run.json`` or tables cannot be read is listed with status ``"corrupt"`` and the
    reason in ``error``; it never hides the others. Tables are read in full, so a run listed as
    anything else loads with :func:`load_run`.

    Raises
    ------
    RunsDirError
        When the runs directory is a file. A missing directory simply has no runs.
    """
    summaries = [_summary_of(folder) for folder in _run_folders(_existing_runs_dir(runs_dir))]
    return sorted(summaries, key=_start_key)


def _summary_of(folder: Path) -> RunSummary:
    """The runs list's line for one folder; ``corrupt`` when any of its files cannot be read."""
    meta: dict[str, Any] = {}
    try:
        meta = _read_meta(folder)
        for name in meta["tables"]:
            read_table(folder, name, meta["table_schemas"][name])
    except CorruptRunError as exc:
        return RunSummary(
            id=folder.name,
            kind=meta.get("kind", ""),
            status="corrupt",
            started_at=meta.get("started_at") or _started_from_id(folder.name),
            label=meta.get("label", ""),
            error=exc.reason,
        )
    values = {f.name: meta[f.name] for f in dataclasses.fields(RunSummary) if f.name != "tables"}
    values["status"] = _shown_status(meta, folder)
    return RunSummary(**values, tables=tuple(meta["tables"]))


def _shown_status(meta: dict[str, Any], folder: Path) -> str:
    """The saved status, or ``"interrupted"`` for an incomplete run whose process is gone."""
    if meta["status"] == "incomplete" and owner_is_gone(folder):
        return "interrupted"
    return meta["status"]


def runs_table(runs_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """:func:`list_runs` as a DataFrame for printing: one row per run, summary as ``k=v`` text."""
    columns = ["id", "kind", "label", "status", "started_at", "ended_at", "tables", "summary"]
    rows = [
        {
            **{c: getattr(s, c) for c in columns},
            "tables": ", ".join(s.tables),
            "summary": ", ".join(f"{k}={_short(v)}" for k, v in s.summary.items()),
            "error": s.error or "",
        }
        for s in list_runs(runs_dir)
    ]
    return pd.DataFrame(rows, columns=[*columns, "error"])


def load_run(run_id: str, runs_dir: str | os.PathLike[str] | None = None) -> Run:
    """The saved run ``run_id``, or the only run whose id starts with it.

    Raises
    ------
    RunNotFoundError
        When no run has that id or prefix; the message lists the closest ids.
    AmbiguousRunIdError
        When several runs start with the prefix; the message lists them.
    CorruptRunError
        When ``run.json`` or a table cannot be read; the message names the file.
    """
    folder = _find_run(_existing_runs_dir(runs_dir), run_id)
    meta = _read_meta(folder)
    tables = {
        name: read_table(folder, name, meta["table_schemas"][name]) for name in meta["tables"]
    }
    values = {f.name: meta[f.name] for f in dataclasses.fields(Run) if f.name != "tables"}
    values["status"] = _shown_status(meta, folder)
    return Run(**values, tables=tables)


def _find_run(root: Path, run_id: str) -> Path:
    ids = [p.name for p in _run_folders(root)]
    if not isinstance(run_id, str) or not run_id.strip():
        raise RunNotFoundError(f"A run id must be a non-empty string, got {run_id!r}.")
    if run_id in ids:
        return root / run_id
    matches = [i for i in ids if i.startswith(run_id)]
    if len(matches) == 1:
        return root / matches[0]
    if matches:
        shown = ", ".join(matches[:10]) + (" …" if len(matches) > 10 else "")
        raise AmbiguousRunIdError(
            f"{len(matches)} runs in {root} start with {run_id!r}: {shown}. "
            "Give more of the id so that it names one run."
        )
    if not ids:
        raise RunNotFoundError(
            f"There is no run {run_id!r}: {root} holds no runs yet. Check that --runs-dir or "
            f"{RUNS_DIR_ENV} points to where the runs were saved."
        )
    close = [i for i in ids if run_id in i] or difflib.get_close_matches(run_id, ids, 5, 0.0)
    raise RunNotFoundError(
        f"There is no run {run_id!r} in {root}. The closest ids are: {', '.join(close[:5])}. "
        "`workbench runs list` shows every run id."
    )


def _read_meta(folder: Path) -> dict[str, Any]:
    """``run.json`` checked field by field; raises :class:`CorruptRunError` naming the problem."""
    file = folder / RUN_FILE

    def corrupt(problem: str) -> CorruptRunError:
        return corrupt_run_error(folder, file, problem)

    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise corrupt("is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise corrupt(f"cannot be read ({exc})") from exc
    except ValueError as exc:
        raise corrupt(f"is not valid JSON ({exc}); it may have been cut short") from exc
    if not isinstance(meta, dict):
        raise corrupt("does not hold a JSON object")
    if meta.get("format") != FORMAT_VERSION:
        raise corrupt(
            f"has format {meta.get('format')!r}; this workbench reads format {FORMAT_VERSION}"
        )
    for key, types in META_FIELDS.items():
        if key not in meta:
            raise corrupt(f"lacks the field {key!r}")
        if not isinstance(meta[key], types) or isinstance(meta[key], bool):
            raise corrupt(f"has a {type(meta[key]).__name__} in {key!r}")
    if meta["id"] != folder.name:
        raise corrupt(f"belongs to run {meta['id']!r}, not to the folder it is in")
    if meta["status"] not in STATUSES:
        raise corrupt(f"has the unknown status {meta['status']!r}")
    try:
        datetime.fromisoformat(meta["started_at"])
    except ValueError:
        raise corrupt(f"has a started_at that is not an ISO time: {meta['started_at']!r}") from None
    for name in meta["tables"]:
        if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
            raise corrupt(f"lists a table with the invalid name {name!r}")
        if not schema_ok(meta["table_schemas"].get(name)):
            raise corrupt(f"has no valid column types for table {name!r}")
    return meta


def _start_key(summary: RunSummary) -> tuple[datetime, str]:
    moment = datetime.min.replace(tzinfo=UTC)
    if summary.started_at:
        try:
            parsed = datetime.fromisoformat(summary.started_at)
            moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return moment, summary.id


def _started_from_id(run_id: str) -> str | None:
    match = ID_TIME.match(run_id)
    if not match:
        return None
    try:
        return _iso(datetime.strptime(match.group(1), ID_TIME_FORMAT).replace(tzinfo=UTC))
    except ValueError:
        return None


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


__all__ = [
    "RunRecorder",
    "check_runs_dir",
    "checkpoint_of",
    "list_runs",
    "load_run",
    "reopen_run",
    "runs_table",
    "start_run",
]
