"""What a saved run is, as values: :class:`Run` (one run with its tables), :class:`RunSummary`
(one line of the runs list), and the plain JSON values a run's settings and summary are made of.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.kit.errors import InvalidInputError, TableNotFoundError
from workbench.runs.config import LISTED_STATUSES, RUN_STATUSES, check_table_name
from workbench.runs.tables import frame_of, records_of, table_schema


@dataclass(frozen=True, eq=False)
class Run:
    """One saved run: what was run, on what, with which result tables.

    Compare two runs with :meth:`equals` (``==`` is identity, since tables are DataFrames).
    """

    id: str = field(metadata={"help": "Folder name: UTC start time, kind, label slug, random hex."})
    kind: str = field(metadata={"help": "What produced the run, e.g. 'bench'."})
    config: dict[str, Any] = field(metadata={"help": "The run's settings, JSON values only."})
    started_at: str = field(metadata={"help": "ISO 8601 UTC time the run started."})
    status: str = field(
        metadata={
            "help": "'incomplete' (still running), 'complete', 'failed' or 'interrupted' (its "
            "process is gone)."
        }
    )
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
        if self.status not in RUN_STATUSES:
            raise InvalidInputError(
                f"`status` of run {self.id!r} must be one of {', '.join(RUN_STATUSES)}, "
                f"got {self.status!r}."
            )
        for name, frame in self.tables.items():
            check_table_name(name)
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
        data["tables"] = {name: records_of(frame) for name, frame in self.tables.items()}
        data["table_dtypes"] = {
            name: table_schema(name, frame)["dtypes"] for name, frame in self.tables.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names and k != "tables"}
        dtypes = data.get("table_dtypes") or {}
        tables = {
            name: frame_of(records, dtypes.get(name))
            for name, records in (data.get("tables") or {}).items()
        }
        return cls(**values, tables=tables)

    def equals(self, other: object) -> bool:
        """Whether ``other`` is a run with the same values and identical tables (dtypes too)."""
        if not isinstance(other, Run):
            return False
        plain = [f.name for f in dataclasses.fields(self) if f.name != "tables"]
        # JSON text compares NaN equal to NaN, as a saved summary would.
        if any(json_text(getattr(self, n)) != json_text(getattr(other, n)) for n in plain):
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
# Plain values


def flat_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A run's nested settings as one level, nested keys joined with ``.`` (``"model.name"``).

    An empty dict stays a value of its own, so every setting keeps a row when shown.
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            flat.update(flat_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_mapping(config: Any) -> dict[str, Any]:
    """A run's settings as a dict: from a mapping, an object with ``to_dict()`` or a dataclass.

    Raises
    ------
    InvalidInputError
        For anything else.
    """
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


def plain_values(value: Any, where: str) -> Any:
    """A copy made of JSON values only (numpy scalars become Python ones); else a clear error.

    Unlike :func:`workbench.kit.jsonvalues.json_ready`, nothing is converted silently: a run
    saves exactly what it was given, or says which entry it cannot save.

    Raises
    ------
    InvalidInputError
        Naming the entry (``config.model.path``) that is not a JSON value.
    """
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return plain_values(value.item(), where)
    if isinstance(value, Mapping):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"`{where}` keys must be strings, got {key!r}.")
            plain[key] = plain_values(item, f"{where}.{key}")
        return plain
    if isinstance(value, list | tuple):
        return [plain_values(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise InvalidInputError(
        f"`{where}` holds a {type(value).__name__}, which a run cannot save; use strings, "
        "numbers, bools, None, lists or dicts (e.g. str(path) for a path)."
    )


def format_value(value: Any, digits: int = 4) -> str:
    """A setting or summary value as short text for a page: floats to ``digits`` significant
    digits, lists and dicts as JSON, and a missing value (None, NaN) as ``–``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def json_text(value: Any) -> str:
    """``value`` as canonical JSON text, for telling values apart (NaN equals NaN)."""
    return json.dumps(value, sort_keys=True, default=repr)


__all__ = [
    "Run",
    "RunSummary",
    "config_mapping",
    "flat_config",
    "format_value",
    "json_text",
    "plain_values",
]
