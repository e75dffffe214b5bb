"""The run store's settings: where runs are saved, the format they are saved in, and the rules
for the names that become files and folders."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from workbench.kit.errors import InvalidInputError

RUNS_DIR_ENV = "WORKBENCH_RUNS_DIR"
DEFAULT_RUNS_DIR = "runs"  # relative to the current directory
RUN_FILE = "run.json"
FORMAT_VERSION = 1  # of run.json; a reader refuses any other
STATUSES = ("incomplete", "complete", "failed")  # what run.json says
# An incomplete run whose process is gone is shown as interrupted: it will never finish.
RUN_STATUSES = (*STATUSES, "interrupted")
LISTED_STATUSES = (*RUN_STATUSES, "corrupt")
# A run's own state for resuming it (model weights and the like), beside its tables.
CHECKPOINT_FILE = "checkpoint.npz"

# A table name becomes the file name <name>.csv; a kind and a label slug become part of the run id.
TABLE_NAME = re.compile(r"[a-z0-9_]{1,64}")
KIND = re.compile(r"[a-z][a-z0-9_-]{0,39}")
LABEL_SLUG_CHARS = 32
# A run id starts with its UTC start time: 20260102-030405-bench-...
ID_TIME = re.compile(r"(\d{8}-\d{6})-")
ID_TIME_FORMAT = "%Y%m%d-%H%M%S"


def resolve_runs_dir(runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """The runs directory as an absolute path: ``runs_dir``, ``$WORKBENCH_RUNS_DIR`` or ``./runs``.

    Nothing is created or checked; see :func:`workbench.runs.check_runs_dir`.
    """
    chosen = (
        runs_dir if runs_dir not in (None, "") else os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_DIR
    )
    return Path(chosen).expanduser().absolute()


def check_table_name(name: Any) -> None:
    """Refuse a table name that cannot be a file name ``<name>.csv`` of a run folder.

    Raises
    ------
    InvalidInputError
        Naming the allowed characters and an example.
    """
    if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
        raise InvalidInputError(
            f"table name {name!r} is not allowed: use 1 to 64 characters from a-z, 0-9 and _ "
            "(it becomes the file name <name>.csv), e.g. 'points'."
        )


def check_kind(kind: Any) -> None:
    """Refuse a run kind that cannot be part of a run id.

    Raises
    ------
    InvalidInputError
        Naming the allowed characters and an example.
    """
    if not isinstance(kind, str) or not KIND.fullmatch(kind):
        raise InvalidInputError(
            "`kind` must start with a lowercase letter and use only a-z, 0-9, '-' and '_' "
            f"(at most 40 characters), like 'bench'; got {kind!r}."
        )


__all__ = [
    "CHECKPOINT_FILE",
    "FORMAT_VERSION",
    "LISTED_STATUSES",
    "RUNS_DIR_ENV",
    "RUN_FILE",
    "RUN_STATUSES",
    "STATUSES",
    "check_kind",
    "check_table_name",
    "resolve_runs_dir",
]
