"""Runs side by side: one result table from several runs, stacked, with the settings that tell
them apart as its first columns."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from workbench.kit.errors import InvalidInputError, TableNotFoundError
from workbench.runs.model import Run, flat_config, json_text
from workbench.runs.store import load_run


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
    runs = _runs_with_table([run_ids] if isinstance(run_ids, str) else run_ids, table, runs_dir)
    flat = [_comparable(run.config) for run in runs]
    keys = _differing_keys(flat) if config_keys is None else list(config_keys)
    frames = [
        _with_run_columns(run.tables[table], run.id, config, keys)
        for run, config in zip(runs, flat, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def _runs_with_table(
    run_ids: Sequence[str], table: str, runs_dir: str | os.PathLike[str] | None
) -> list[Run]:
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
    return runs


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config's scalar entries by dotted key; a list as its JSON text, so it fits one cell."""
    return {
        key: json_text(value) if isinstance(value, list) else value
        for key, value in flat_config(config).items()
        if not isinstance(value, Mapping)  # an empty dict holds no setting
    }


def _differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    keys = list(dict.fromkeys(k for config in configs for k in config))
    return [k for k in keys if len({json_text(c.get(k)) for c in configs}) > 1]


def _with_run_columns(
    source: pd.DataFrame, run_id: str, config: dict[str, Any], keys: list[str]
) -> pd.DataFrame:
    """``source`` with ``run_id`` and the config ``keys`` as its first columns."""
    extra = {}
    for key in keys:
        name = key if key not in source.columns and key != "run_id" else f"config_{key}"
        extra[name] = config.get(key)
    frame = source.copy()
    for position, (name, value) in enumerate({"run_id": run_id, **extra}.items()):
        frame.insert(position, name, [value] * len(frame))
    return frame


__all__ = ["compare_runs"]
