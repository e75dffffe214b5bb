"""The run store: every benchmark, cloud comparison or simulation is a folder of plain files.

A run lives in ``<runs dir>/<run id>/``::

    run.json      id, kind, label, config, seed, started_at, ended_at, status, error,
                  environment, summary, the table names and each table's column types
    points.csv    one CSV file per result table (any name made of a-z, 0-9 and _)

The runs directory is ``--runs-dir`` when given, else ``$WORKBENCH_RUNS_DIR``, else ``./runs`` in
the current directory. Every file is written through a temporary file and a rename, so a reader
(or a process killed mid-run) only ever leaves whole files: a run killed before it ended says
``"incomplete"``, and the tables it had finished stay readable.

Tables hold scalars only (ints, floats, bools, strings, and pandas' nullable versions of them) and
read back exactly: floats are written with the shortest text that parses to the same bits, and
``run.json`` records each column's dtype. The row index is not kept; tables come back with a
``0..n-1`` index, so move a meaningful index into a column with ``reset_index()`` first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib.metadata
import json
import math
import os
import platform
import re
import secrets
import subprocess
import tempfile
import threading
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.kit.errors import (
    AmbiguousRunIdError,
    CorruptRunError,
    InvalidInputError,
    RunNotFoundError,
    RunsDirError,
    TableNotFoundError,
)
from workbench.kit.paths import REPO_ROOT
from workbench.kit.files import atomic_write_text

RUNS_DIR_ENV = "WORKBENCH_RUNS_DIR"
RUN_FILE = "run.json"
FORMAT_VERSION = 1
STATUSES = ("incomplete", "complete", "failed")
LISTED_STATUSES = (*STATUSES, "corrupt")

# Versions recorded in every run, when installed; read from package metadata, never imported.
LIBRARIES = (
    "torch",
    "transformers",
    "numpy",
    "pandas",
    "tokenizers",
    "sentence-transformers",
    "flwr",
    "ray",
    "voila",
    "ipywidgets",
)

_TABLE_NAME = re.compile(r"[a-z0-9_]{1,64}")
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_ID_TIME = re.compile(r"(\d{8}-\d{6})-")
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_STRING_DTYPES = frozenset({"object", "str", "string"})
_NUMPY_DTYPES = frozenset(
    {"bool", "float32", "float64"}
    | {f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)}
)
_NULLABLE_DTYPES = frozenset(
    {"boolean", "Float32", "Float64"}
    | {f"{sign}Int{bits}" for sign in ("", "U") for bits in (8, 16, 32, 64)}
)
_TABLE_DTYPES = _STRING_DTYPES | _NUMPY_DTYPES | _NULLABLE_DTYPES
# pandas 3 parses floats exactly by default and deprecates the option; pandas 2 needs it.
_ROUND_TRIP = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
# CRLF, as RFC 4180 says: Python's csv module then quotes any field holding "\r" or "\n".
_CSV_LINE_END = "\r\n"


# ---------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True, eq=False)
class Run:
    """One saved run: what was run, on what, with which result tables.

    Compare two runs with :meth:`equals` (``==`` is identity, since tables are DataFrames).
    """

    id: str = field(metadata={"help": "Folder name: UTC start time, kind, label slug, random hex."})
    kind: str = field(metadata={"help": "What produced the run, e.g. 'bench'."})
    config: dict[str, Any] = field(metadata={"help": "The run's settings, JSON values only."})
    started_at: str = field(metadata={"help": "ISO 8601 UTC time the run started."})
    status: str = field(metadata={"help": "'incomplete', 'complete' or 'failed'."})
    environment: dict[str, Any] = field(metadata={"help": "Machine, libraries, git revision."})
    label: str = field(default="", metadata={"help": "Free text naming the run."})
    seed: int | None = field(default=None, metadata={"help": "Random seed, when one was used."})
    ended_at: str | None = field(default=None, metadata={"help": "ISO 8601 UTC end time."})
    summary: dict[str, Any] = field(default_factory=dict, metadata={"help": "Headline values."})
    tables: dict[str, pd.DataFrame] = field(
        default_factory=dict, metadata={"help": "Result tables by name."}
    )
    error: str | None = field(default=None, metadata={"help": "One line, for failed runs."})

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise InvalidInputError(
                f"`status` of run {self.id!r} must be one of {', '.join(STATUSES)}, "
                f"got {self.status!r}."
            )
        for name, frame in self.tables.items():
            _check_table_name(name)
            if not isinstance(frame, pd.DataFrame):
                raise InvalidInputError(
                    f"table {name!r} of run {self.id!r} must be a pandas DataFrame, "
                    f"got {type(frame).__name__}."
                )

    def table(self, name: str) -> pd.DataFrame:
        """The result table ``name``.

        Raises
        ------
        TableNotFoundError
            When the run has no such table; the message lists the tables it has.
        """
        if name not in self.tables:
            have = ", ".join(sorted(self.tables)) or "none"
            raise TableNotFoundError(
                f"Run {self.id} has no table {name!r}; its tables are: {have}. "
                "Ask for one of those (a run that failed or was stopped early may lack tables)."
            )
        return self.tables[name]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready; tables as lists of records plus their column dtypes."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["tables"] = {name: _records(frame) for name, frame in self.tables.items()}
        data["table_dtypes"] = {
            name: _table_schema(name, frame)["dtypes"] for name, frame in self.tables.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names and k != "tables"}
        dtypes = data.get("table_dtypes") or {}
        tables = {
            name: _frame_from_records(records, dtypes.get(name))
            for name, records in (data.get("tables") or {}).items()
        }
        return cls(**values, tables=tables)

    def equals(self, other: object) -> bool:
        """Whether ``other`` is a run with the same values and identical tables (dtypes too)."""
        if not isinstance(other, Run):
            return False
        plain = [f.name for f in dataclasses.fields(self) if f.name != "tables"]
        # JSON text compares NaN equal to NaN, as a saved summary would.
        if any(_json(getattr(self, n)) != _json(getattr(other, n)) for n in plain):
            return False
        if list(self.tables) != list(other.tables):
            return False
        for name, frame in self.tables.items():
            try:
                pd.testing.assert_frame_equal(frame, other.tables[name], check_exact=True)
            except AssertionError:
                return False
        return True


@dataclass(frozen=True)
class RunSummary:
    """One line of the runs list; a run that cannot be read has status ``"corrupt"``.

    For a corrupt run ``error`` says what is wrong, and ``started_at`` comes from the id when
    ``run.json`` could not be read.
    """

    id: str
    kind: str
    status: str
    started_at: str | None
    ended_at: str | None = None
    label: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    tables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in LISTED_STATUSES:
            raise InvalidInputError(
                f"`status` of run {self.id!r} must be one of {', '.join(LISTED_STATUSES)}, "
                f"got {self.status!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        data = dataclasses.asdict(self)
        data["tables"] = list(self.tables)
        return data


# ---------------------------------------------------------------------------------------------
# The runs directory


def resolve_runs_dir(runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """The runs directory as an absolute path: ``runs_dir``, ``$WORKBENCH_RUNS_DIR`` or ``./runs``.

    Nothing is created or checked; see :func:`check_runs_dir`.
    """
    chosen = runs_dir if runs_dir not in (None, "") else os.environ.get(RUNS_DIR_ENV) or "runs"
    return Path(chosen).expanduser().absolute()


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
# The environment


def environment() -> dict[str, Any]:
    """Where a run ran: machine, Python, key library versions and the project's git revision.

    Never reads environment variables, so no credential can end up in a saved run.

    Returns
    -------
    dict
        ``cpu_model``, ``logical_cores``, ``torch_threads`` (``None`` without torch), ``os``,
        ``machine``, ``python``, ``libraries`` (name to version, installed ones only),
        ``git_revision`` and ``git_dirty`` (both ``None`` outside a git checkout).
    """
    revision, dirty = _git_state(REPO_ROOT)
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "torch_threads": _torch_threads(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "libraries": _library_versions(),
        "git_revision": revision,
        "git_dirty": dirty,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def _torch_threads() -> int | None:
    try:
        import torch
    except Exception:  # not installed, or a broken install: the run is still worth recording
        return None
    return int(torch.get_num_threads())


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _git_state(root: Path) -> tuple[str | None, bool | None]:
    """HEAD's commit and whether the work tree differs from it; ``(None, None)`` if no checkout."""
    try:
        top, head = _git(root, "rev-parse", "--show-toplevel", "HEAD").splitlines()
        # An installed copy inside some other repository must not report that repository.
        if Path(top).resolve() != root.resolve():
            return None, None
        return head, bool(_git(root, "status", "--porcelain").strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None, None


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


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
        _check_table_name(name)
        schema = _table_schema(name, frame)
        text = frame.to_csv(index=False, lineterminator=_CSV_LINE_END)
        target = self._path / f"{name}.csv"
        with self._lock:
            self._check_open(f"add table {name!r}")
            atomic_write_text(target, text, newline="")
            if name not in self._state["tables"]:
                self._state["tables"].append(name)
            self._state["table_schemas"][name] = schema
            self._write()
        return target

    def set_summary(self, **values: Any) -> None:
        """Add or replace headline values (JSON values: numbers, strings, bools, lists, dicts)."""
        plain = _plain(values, "summary")
        _refuse_secrets(plain, "summary")
        with self._lock:
            self._check_open("set the summary")
            self._state["summary"].update(plain)
            self._write()

    def _check_open(self, action: str) -> None:
        if not self._open:
            raise InvalidInputError(
                f"Cannot {action}: run {self.id} has ended ({self.status}) and saved runs are "
                "never changed. Do it inside the `with start_run(...)` block, or start a new run."
            )

    def _write(self) -> None:
        atomic_write_text(self._path / RUN_FILE, json.dumps(self._state, indent=2) + "\n")

    def _finish(self, status: str, error: str | None) -> None:
        with self._lock:
            self._state.update(status=status, ended_at=_iso(_utcnow()), error=error)
            self._open = False
            self._write()


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
    it ``"complete"``, an exception marks it ``"failed"`` with the error's message on one line and
    goes on to the caller. Earlier runs are never touched.

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
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise InvalidInputError(
            "`kind` must start with a lowercase letter and use only a-z, 0-9, '-' and '_' "
            f"(at most 40 characters), like 'bench'; got {kind!r}."
        )
    if not isinstance(label, str):
        raise InvalidInputError(f"`label` must be a string, got {type(label).__name__}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidInputError(f"`seed` must be an int or None, got {seed!r}.")
    plain_config = _plain(_config_mapping(config), "config")
    extra = _plain(dict(environment_extra or {}), "environment_extra")
    for value, where in ((plain_config, "config"), (extra, "environment_extra"), (label, "label")):
        _refuse_secrets(value, where)
    root = check_runs_dir(runs_dir)

    env = {**environment(), **extra}
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
        "config": plain_config,
        "summary": {},
        "environment": env,
        "tables": [],
        "table_schemas": {},
    }
    recorder = RunRecorder(path, state)
    try:
        recorder._write()
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.rmdir()
        raise _runs_dir_error(root, f"{path / RUN_FILE} cannot be written ({exc})") from exc
    try:
        yield recorder
    except BaseException as exc:
        try:
            recorder._finish("failed", _one_line(exc))
        except Exception as write_error:
            exc.add_note(f"The run {path} could not be marked failed: {write_error}")
        raise
    else:
        recorder._finish("complete", None)


def _new_run_folder(root: Path, started: datetime, kind: str, label: str) -> Path:
    slug = _slug(label)
    for _ in range(100):
        parts = [f"{started:%Y%m%d-%H%M%S}", kind, slug, secrets.token_hex(2)]
        path = root / "-".join(p for p in parts if p)
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise _runs_dir_error(root, f"the run folder {path.name} cannot be created") from exc
        return path
    raise _runs_dir_error(root, "no unused run id was found after 100 tries")


def _slug(text: str, limit: int = 32) -> str:
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
    summaries = []
    for folder in _run_folders(_existing_runs_dir(runs_dir)):
        meta: dict[str, Any] = {}
        try:
            meta = _read_meta(folder)
            for name in meta["tables"]:
                _read_table(folder, name, meta["table_schemas"][name])
        except CorruptRunError as exc:
            summaries.append(
                RunSummary(
                    id=folder.name,
                    kind=meta.get("kind", ""),
                    status="corrupt",
                    started_at=meta.get("started_at") or _started_from_id(folder.name),
                    label=meta.get("label", ""),
                    error=exc.reason,
                )
            )
            continue
        summaries.append(
            RunSummary(
                id=meta["id"],
                kind=meta["kind"],
                status=meta["status"],
                started_at=meta["started_at"],
                ended_at=meta["ended_at"],
                label=meta["label"],
                summary=meta["summary"],
                error=meta["error"],
                tables=tuple(meta["tables"]),
            )
        )
    return sorted(summaries, key=_start_key)


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
        name: _read_table(folder, name, meta["table_schemas"][name]) for name in meta["tables"]
    }
    return Run(
        id=meta["id"],
        kind=meta["kind"],
        label=meta["label"],
        config=meta["config"],
        seed=meta["seed"],
        started_at=meta["started_at"],
        ended_at=meta["ended_at"],
        status=meta["status"],
        environment=meta["environment"],
        summary=meta["summary"],
        tables=tables,
        error=meta["error"],
    )


def compare_runs(
    run_ids: Sequence[str],
    table: str = "points",
    runs_dir: str | os.PathLike[str] | None = None,
    config_keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One table from several runs, stacked, with the settings that tell the runs apart.

    Parameters
    ----------
    run_ids
        Run ids or unique prefixes.
    table
        The table to take from each run.
    runs_dir
        Where the runs are; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    config_keys
        Config entries to add as columns (nested keys joined with ``.``, e.g. ``"model.name"``).
        ``None`` adds the scalar entries whose values differ between the runs.

    Returns
    -------
    DataFrame
        ``run_id`` first, then the config columns (named after their keys, or ``config_<key>``
        when the table has a column of that name), then the table's columns.

    Raises
    ------
    TableNotFoundError
        When a run lacks the table; the message names the run and the tables it has.
    """
    if isinstance(run_ids, str):
        run_ids = [run_ids]
    if not run_ids:
        raise InvalidInputError("`run_ids` must name at least one run to compare.")
    runs = [load_run(run_id, runs_dir) for run_id in run_ids]
    for run in runs:
        if table not in run.tables:
            have = ", ".join(run.tables) or "none"
            raise TableNotFoundError(
                f"Run {run.id} has no table {table!r} (its tables: {have}), so it cannot be "
                f"compared on it. Pick a table every run has with table=..., or leave {run.id} out."
            )
    flat = [_flatten(run.config) for run in runs]
    if config_keys is None:
        keys = list(dict.fromkeys(k for config in flat for k in config))
        keys = [k for k in keys if len({_json(c.get(k)) for c in flat}) > 1]
    else:
        keys = list(config_keys)
    frames = []
    for run, config in zip(runs, flat, strict=True):
        source = run.tables[table]
        extra = {}
        for key in keys:
            name = key if key not in source.columns and key != "run_id" else f"config_{key}"
            extra[name] = config.get(key)
        frame = source.copy()
        for position, (name, value) in enumerate({"run_id": run.id, **extra}.items()):
            frame.insert(position, name, [value] * len(frame))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


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
        return _corrupt(folder, file, problem)

    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise corrupt("is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise corrupt(f"cannot be read ({exc})") from exc
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise corrupt(f"is not valid JSON ({exc}); it may have been cut short") from exc
    if not isinstance(meta, dict):
        raise corrupt("does not hold a JSON object")
    if meta.get("format") != FORMAT_VERSION:
        raise corrupt(
            f"has format {meta.get('format')!r}; this workbench reads format {FORMAT_VERSION}"
        )
    expected: dict[str, tuple[type, ...]] = {
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
    for key, types in expected.items():
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
        if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
            raise corrupt(f"lists a table with the invalid name {name!r}")
        schema = meta["table_schemas"].get(name)
        if not _schema_ok(schema):
            raise corrupt(f"has no valid column types for table {name!r}")
    return meta


def _schema_ok(schema: Any) -> bool:
    if not isinstance(schema, dict) or not isinstance(schema.get("dtypes"), dict):
        return False
    rows, missing = schema.get("rows"), schema.get("missing", {})
    return (
        all(d in _TABLE_DTYPES for d in schema["dtypes"].values())
        and isinstance(rows, int)
        and rows >= 0
        and isinstance(missing, dict)
        and all(
            schema["dtypes"].get(c) in _STRING_DTYPES and (v == "empty" or isinstance(v, list))
            for c, v in missing.items()
        )
    )


def _read_table(folder: Path, name: str, schema: dict[str, Any]) -> pd.DataFrame:
    file = folder / f"{name}.csv"
    dtypes: dict[str, str] = schema["dtypes"]
    if not dtypes and file.is_file():  # a table without columns, e.g. pd.DataFrame([])
        return pd.DataFrame(index=pd.RangeIndex(schema["rows"]))
    read_as = {c: (object if d in _STRING_DTYPES else d) for c, d in dtypes.items()}
    # Only the empty cell means "missing", and only where the dtype can hold a missing value:
    # strings like "NA" or "nan" stay strings.
    na_values = {c: [""] for c, d in dtypes.items() if d not in _STRING_DTYPES}
    try:
        frame = pd.read_csv(
            file,
            dtype=read_as,
            keep_default_na=False,
            na_values=na_values,
            encoding="utf-8",
            **_ROUND_TRIP,
        )
    except FileNotFoundError:
        problem = "is missing"
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        problem = f"cannot be read as the table run.json describes ({' '.join(str(exc).split())})"
    else:
        if list(frame.columns) != list(dtypes):
            problem = f"has the columns {list(frame.columns)}, not {list(dtypes)}"
        elif len(frame) != schema["rows"]:
            problem = f"has {len(frame)} rows, not {schema['rows']}"
        else:
            problem = ""
    if problem:
        raise _corrupt(folder, file, problem)
    for column, where in schema.get("missing", {}).items():
        values = frame[column].tolist()
        rows = [i for i, v in enumerate(values) if v == ""] if where == "empty" else where
        for row in rows:
            values[row] = None
        frame[column] = _column(values, dtypes[column])
    for column, dtype in dtypes.items():
        if dtype in ("str", "string"):
            frame[column] = frame[column].astype(dtype)
    return frame


def _corrupt(folder: Path, file: Path, problem: str) -> CorruptRunError:
    return CorruptRunError(
        f"Run {folder.name} is damaged: {file} {problem}. The other runs are not affected; "
        f"restore the file from a backup, or move the folder {folder} out of the runs directory "
        "to stop seeing this run.",
        reason=f"{file.name} {problem}",
    )


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
    match = _ID_TIME.match(run_id)
    if not match:
        return None
    try:
        return _iso(datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=UTC))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Tables and plain values


def _check_table_name(name: Any) -> None:
    if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
        raise InvalidInputError(
            f"table name {name!r} is not allowed: use 1 to 64 characters from a-z, 0-9 and _ "
            "(it becomes the file name <name>.csv), e.g. 'points'."
        )


def _table_schema(name: str, frame: Any) -> dict[str, Any]:
    """Column dtypes, row count and where strings are missing; refuses what CSV would alter.

    ``missing`` maps a string column with missing values to ``"empty"`` (every empty cell is
    missing: the column holds no empty strings) or to the list of missing rows.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"table {name!r} must be a pandas DataFrame, got {type(frame).__name__}."
        )
    columns = list(frame.columns)
    if frame.index.nlevels > 1 or any(n is not None for n in frame.index.names):
        raise InvalidInputError(
            f"table {name!r} has a named index, which is not saved; call reset_index() first so "
            "it becomes a column."
        )
    bad = [c for c in columns if not isinstance(c, str) or not c]
    if bad or len(set(columns)) != len(columns):
        raise InvalidInputError(
            f"table {name!r} needs unique, non-empty string column names; got {columns!r}."
        )
    dtypes, missing = {}, {}
    for column in columns:
        series = frame[column]
        dtype = str(series.dtype)
        if dtype not in _TABLE_DTYPES:
            raise InvalidInputError(
                f"column {column!r} of table {name!r} has dtype {dtype}, which a CSV table cannot "
                "store exactly; convert it to ints, floats, bools or strings first (for times, "
                "ISO text such as series.dt.strftime('%Y-%m-%dT%H:%M:%S%z'))."
            )
        if dtype in _STRING_DTYPES:
            isna = series.isna().to_numpy()
            wrong = [v for v, na in zip(series.tolist(), isna, strict=True) if not na]
            wrong = [v for v in wrong if not isinstance(v, str)]
            if wrong:
                raise InvalidInputError(
                    f"column {column!r} of table {name!r} is an object column holding "
                    f"{type(wrong[0]).__name__} values such as {wrong[0]!r}; a saved column holds "
                    "one type (ints, floats, bools or strings), so convert it first, e.g. "
                    ".astype('boolean') or .astype('Int64') for values with gaps, or .astype(str)."
                )
            # CSV writes a missing string and "" alike; say which empty cells are missing.
            if isna.any():
                has_empty = any(v == "" for v in series[~isna])
                missing[column] = [int(i) for i in isna.nonzero()[0]] if has_empty else "empty"
        dtypes[column] = dtype
    return {"dtypes": dtypes, "rows": len(frame), "missing": missing}


def _column(values: list[Any], dtype: str) -> pd.Series:
    if dtype in _STRING_DTYPES:
        values = [None if _missing(v) else v for v in values]
    return pd.Series(values, dtype=dtype)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if v is pd.NA else v) for k, v in row.items()} for row in frame.to_dict("records")
    ]


def _frame_from_records(
    records: list[dict[str, Any]], dtypes: dict[str, str] | None
) -> pd.DataFrame:
    if dtypes is None:
        return pd.DataFrame.from_records(records)
    return pd.DataFrame(
        {c: _column([r.get(c) for r in records], d) for c, d in dtypes.items()},
        index=pd.RangeIndex(len(records)),
    )


def _config_mapping(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    if callable(getattr(config, "to_dict", None)):
        return dict(config.to_dict())
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    raise InvalidInputError(
        f"`config` must be a mapping, a dataclass or an object with to_dict(), "
        f"got {type(config).__name__}."
    )


def _plain(value: Any, where: str) -> Any:
    """A copy made of JSON values only (numpy scalars become Python ones); else a clear error."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return _plain(value.item(), where)
    if isinstance(value, Mapping):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"`{where}` keys must be strings, got {key!r}.")
            plain[key] = _plain(item, f"{where}.{key}")
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise InvalidInputError(
        f"`{where}` holds a {type(value).__name__}, which a run cannot save; use strings, "
        "numbers, bools, None, lists or dicts (e.g. str(path) for a path)."
    )


def _refuse_secrets(value: Any, where: str) -> None:
    """Refuse values that contain a credential from the environment (runs are shared files)."""
    text = json.dumps(value)
    for name, secret in os.environ.items():
        if len(secret) >= 8 and _SECRET_NAME.search(name) and secret in text:
            raise InvalidInputError(
                f"`{where}` contains the value of the environment variable {name}, which looks "
                "like a credential. Runs are saved as plain files that get shared, so keep "
                "credentials out of them: pass the variable's name and read it where it is used."
            )


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = _json(value)
        else:
            flat[name] = value
    return flat


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


__all__ = [
    "Run",
    "RunRecorder",
    "RunSummary",
    "check_runs_dir",
    "compare_runs",
    "environment",
    "list_runs",
    "load_run",
    "resolve_runs_dir",
    "runs_table",
    "start_run",
]
