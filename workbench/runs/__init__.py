"""Runs: every result the workbench measures or simulates, saved atomically as a folder of tables.

The room's modules: :mod:`~workbench.runs.config` (where runs are saved, name rules),
:mod:`~workbench.runs.model` (a run as values), :mod:`~workbench.runs.tables` (tables as exact
CSV files), :mod:`~workbench.runs.environment` (what a run ran on),
:mod:`~workbench.runs.credentials` (keeping credentials out of shared files),
:mod:`~workbench.runs.owner` (which process holds a run open, and whether it is still there),
:mod:`~workbench.runs.store` (writing and reading run folders), :mod:`~workbench.runs.compare`
and :mod:`~workbench.runs.record` (the one way a result kind records itself). The names below are
the public surface.
"""

from __future__ import annotations

from workbench.runs.compare import compare_items, compare_runs
from workbench.runs.config import RUN_FILE, RUNS_DIR_ENV, resolve_runs_dir
from workbench.runs.credentials import CREDENTIAL_NAME, credential_in, refuse_credentials
from workbench.runs.environment import environment
from workbench.runs.model import Run, RunSummary, flat_config, format_value
from workbench.runs.record import Recordable, Recording, check_can_record, record
from workbench.runs.store import (
    RunRecorder,
    check_runs_dir,
    list_runs,
    load_run,
    runs_table,
    start_run,
)

__all__ = [
    "CREDENTIAL_NAME",
    "RUNS_DIR_ENV",
    "RUN_FILE",
    "Recordable",
    "Recording",
    "Run",
    "RunRecorder",
    "RunSummary",
    "check_can_record",
    "check_runs_dir",
    "compare_items",
    "compare_runs",
    "credential_in",
    "environment",
    "flat_config",
    "format_value",
    "list_runs",
    "load_run",
    "record",
    "refuse_credentials",
    "resolve_runs_dir",
    "runs_table",
    "start_run",
]
