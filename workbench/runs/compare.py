"""Runs side by side: one result table from several runs, stacked, with the settings that tell
them apart as its first columns (:func:`compare_runs`); or, for tables of per-item answers such
as an eval's ``items``, one row per item with each run's answer beside the others
(:func:`compare_items`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.kit.errors import InvalidInputError, TableNotFoundError
from workbench.runs.model import Run, flat_config, json_text
from workbench.runs.store import load_run

#: The table compared when none is named and every run has it (``bench`` and ``cloud`` runs).
DEFAULT_TABLE = "points"
#: The columns of a table of per-item answers (an eval's ``items``), laid side by side by
#: :func:`compare_items`.
ITEM_COLUMNS = ("id", "answer", "correct")
RunRefs = str | Run | Sequence[str | Run]


def compare_runs(
    run_ids: RunRefs,
    table: str | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    config_keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One table from several runs, stacked, with the settings that tell the runs apart.

    Parameters
    ----------
    run_ids
        Run ids or unique prefixes (or runs already loaded).
    table
        The table to take from each run; ``None`` takes ``"points"`` when every run has it, else
        the first table every run has (an eval's ``"items"``); see :func:`shared_table`.
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
        When a run lacks the table; the message names the run, the tables it has and the tables
        every run has.
    """
    runs = load_runs(run_ids, runs_dir)
    table = shared_table(runs, table)
    flat = [_comparable(run.config) for run in runs]
    keys = _differing_keys(flat) if config_keys is None else list(config_keys)
    frames = [
        _with_run_columns(run.tables[table], run.id, config, keys)
        for run, config in zip(runs, flat, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class ItemComparison:
    """Per-item answers of several runs side by side (what :func:`compare_items` returns).

    The runs are named by letter in the order given: ``A`` is the first.
    """

    table: str
    runs: pd.DataFrame
    """One row per run: ``run``, ``run_id``, the config entries that differ between the runs,
    ``items``, ``correct`` and ``accuracy`` (correct / items, from the table)."""
    items: pd.DataFrame
    """One row per item id: ``id``, ``reference`` (when the table has one), ``right_in`` (the
    letters of the runs that got the item right, ``"all"`` or ``"none"``), then ``answer_A``,
    ``correct_A``, ``answer_B``, ... Items some runs got right and others wrong come first."""

    @property
    def letters(self) -> list[str]:
        """The runs' letters, in order."""
        return list(self.runs["run"])

    def right_in_counts(self) -> dict[str, int]:
        """Items by who got them right: ``{"all": n, "A": n, ..., "none": n}``, zeros included
        for ``all``, ``none`` and (with two runs) each run alone."""
        always = ["all", *(self.letters if len(self.letters) == 2 else []), "none"]
        counts = dict.fromkeys(always, 0)
        for value in self.items["right_in"]:
            counts[value] = counts.get(value, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Plain values: the table's name, the runs and the items as lists of records."""
        return {
            "table": self.table,
            "runs": self.runs.to_dict(orient="records"),
            "items": self.items.to_dict(orient="records"),
        }


def compare_items(
    run_ids: RunRefs,
    table: str | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
) -> ItemComparison:
    """Several runs' answers to the same items side by side, one row per item id: which items
    one run (an eval of a variant, a model, an endpoint) gets right and another gets wrong.

    Parameters
    ----------
    run_ids
        Run ids or unique prefixes (or runs already loaded); at most 26, named ``A``, ``B``, ...
    table
        A table of per-item answers (columns ``id``, ``answer``, ``correct``); ``None`` picks
        as :func:`shared_table` does (an eval run's ``"items"``).
    runs_dir
        Where the runs are; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.

    Returns
    -------
    ItemComparison
        The runs with their accuracy, and the items side by side.

    Raises
    ------
    TableNotFoundError
        When a run lacks the table (the message names the tables every run has).
    InvalidInputError
        When the table holds no per-item answers, repeats an item id, or the runs give one item
        different references (they asked different questions).
    """
    runs = load_runs(run_ids, runs_dir)
    table = shared_table(runs, table)
    if len(runs) > 26:
        raise InvalidInputError(
            f"Side by side takes at most 26 runs (named A to Z), got {len(runs)}: compare fewer "
            "runs, or stack them with compare_runs (`--stacked`)."
        )
    for run in runs:
        missing = [c for c in ITEM_COLUMNS if c not in run.tables[table].columns]
        if missing:
            raise InvalidInputError(
                f"Table {table!r} of run {run.id} has no column {', '.join(missing)}, so it holds "
                f"no per-item answers ({', '.join(ITEM_COLUMNS)}) to lay side by side: stack it "
                "with compare_runs (`--stacked`)."
            )
    letters = [chr(ord("A") + i) for i in range(len(runs))]
    answers = [_answers_by_id(run, table) for run in runs]
    ids = list(dict.fromkeys(i for frame in answers for i in frame.index))
    columns: dict[str, Any] = {"id": ids}
    if all("reference" in frame.columns for frame in answers):
        columns["reference"] = _references(runs, answers, ids)
    side_by_side: dict[str, Any] = {}
    right = pd.DataFrame(index=ids)
    for letter, frame in zip(letters, answers, strict=True):
        correct = pd.array(frame["correct"].reindex(ids).astype(object), dtype="boolean")
        side_by_side[f"answer_{letter}"] = frame["answer"].reindex(ids).to_numpy()
        side_by_side[f"correct_{letter}"] = correct
        right[letter] = correct.fillna(False).to_numpy(dtype=bool)
    items = pd.DataFrame({**columns, "right_in": _right_in(right), **side_by_side})
    split = ~items["right_in"].isin(["all", "none"])
    items = pd.concat([items[split], items[~split]], ignore_index=True)
    return ItemComparison(table, _run_rows(runs, letters, answers), items)


def holds_item_answers(runs: Sequence[Run], table: str) -> bool:
    """Whether every run's ``table`` has the columns of per-item answers (:data:`ITEM_COLUMNS`),
    as an eval's ``items`` does."""
    return all(set(ITEM_COLUMNS) <= set(run.tables[table].columns) for run in runs)


def load_runs(run_ids: RunRefs, runs_dir: str | os.PathLike[str] | None = None) -> list[Run]:
    """The runs ``run_ids`` names (ids, unique prefixes, or runs already loaded).

    Raises
    ------
    InvalidInputError
        When no run is named.
    RunNotFoundError, AmbiguousRunIdError
        As :func:`~workbench.runs.load_run` does.
    """
    refs = [run_ids] if isinstance(run_ids, (str, Run)) else list(run_ids)
    if not refs:
        raise InvalidInputError("`run_ids` must name at least one run to compare.")
    return [ref if isinstance(ref, Run) else load_run(ref, runs_dir) for ref in refs]


def shared_table(runs: Sequence[Run], table: str | None = None) -> str:
    """The table to compare ``runs`` on: ``table`` when every run has it; for ``None``,
    ``"points"`` when every run has it, else the first table (in the first run's order) that
    every run has.

    Raises
    ------
    TableNotFoundError
        When a run lacks ``table``, or the runs share no table; one paragraph that names the
        table, the runs lacking it with the tables they have, and the tables every run has.
    """
    if not runs:
        raise InvalidInputError("`runs` must hold at least one run to compare.")
    shared = [name for name in runs[0].tables if all(name in run.tables for run in runs)]
    if table is None and shared:
        return DEFAULT_TABLE if DEFAULT_TABLE in shared else shared[0]
    if table in shared:
        return table
    no_shared = (
        "compare runs of one kind (`workbench runs list` shows each run's kind), or leave a run "
        "out."
    )
    if table is None:
        have = "; ".join(f"run {run.id} has {', '.join(run.tables) or 'none'}" for run in runs)
        raise TableNotFoundError(
            f"These runs share no table, so there is nothing to compare them on ({have}): "
            f"{no_shared}"
        )
    lacking = " or ".join(
        f"run {run.id} (its tables: {', '.join(run.tables) or 'none'})"
        for run in runs
        if table not in run.tables
    )
    choice = (
        f"The tables every run has: {', '.join(shared)}; pick one with `--table NAME` "
        "(`table=` in Python)."
        if shared
        else f"The runs share no table: {no_shared}"
    )
    raise TableNotFoundError(
        f"No table {table!r} in {lacking}, so the runs cannot be compared on it. {choice}"
    )


def _answers_by_id(run: Run, table: str) -> pd.DataFrame:
    """The run's answers indexed by item id as text (``reference`` too, when it has one)."""
    frame = run.tables[table]
    columns = [c for c in ("reference", "answer", "correct") if c in frame.columns]
    answers = frame[columns].set_axis(frame["id"].astype(str), axis=0)
    repeated = answers.index[answers.index.duplicated()].unique()
    if len(repeated):
        raise InvalidInputError(
            f"Table {table!r} of run {run.id} has item id {repeated[0]!r} more than once, so its "
            "answers cannot be matched to other runs' by id: stack it with compare_runs "
            "(`--stacked`)."
        )
    return answers


def _references(runs: Sequence[Run], answers: list[pd.DataFrame], ids: list[str]) -> list[Any]:
    """Each item's reference, refusing an item the runs give different references."""
    merged: list[Any] = []
    for item_id in ids:
        seen = {
            run.id: frame.at[item_id, "reference"]
            for run, frame in zip(runs, answers, strict=True)
            if item_id in frame.index and not pd.isna(frame.at[item_id, "reference"])
        }
        values = list(dict.fromkeys(seen.values()))
        if len(values) > 1:
            said = " and ".join(f"{value!r} in run {run_id}" for run_id, value in seen.items())
            raise InvalidInputError(
                f"Item {item_id!r} has reference {said}: the runs asked different questions "
                "(different eval sets?), so their answers cannot be laid side by side. Compare "
                "runs of one set, or stack them with compare_runs (`--stacked`)."
            )
        merged.append(values[0] if values else None)
    return merged


def _right_in(right: pd.DataFrame) -> list[str]:
    """Per item: ``"all"``, ``"none"``, or the letters of the runs that got it right."""
    names = list(right.columns)
    labels = []
    for row in right.itertuples(index=False):
        hits = [name for name, hit in zip(names, row, strict=True) if hit]
        labels.append("all" if len(hits) == len(names) else ",".join(hits) or "none")
    return labels


def _run_rows(runs: Sequence[Run], letters: list[str], answers: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per run: letter, id, the differing config entries, items, correct, accuracy."""
    flat = [_comparable(run.config) for run in runs]
    keys = _differing_keys(flat)
    rows = []
    for letter, run, config, frame in zip(letters, runs, flat, answers, strict=True):
        correct = int(frame["correct"].eq(True).sum())
        row: dict[str, Any] = {"run": letter, "run_id": run.id}
        fixed = {"items", "correct", "accuracy"} | set(row)
        row |= {(f"config_{k}" if k in fixed else k): config.get(k) for k in keys}
        row |= {
            "items": len(frame),
            "correct": correct,
            "accuracy": correct / len(frame) if len(frame) else float("nan"),
        }
        rows.append(row)
    return pd.DataFrame(rows)


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


__all__ = [
    "DEFAULT_TABLE",
    "ITEM_COLUMNS",
    "ItemComparison",
    "compare_items",
    "compare_runs",
    "holds_item_answers",
    "load_runs",
    "shared_table",
]
