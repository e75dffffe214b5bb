"""A run's result tables as CSV files that read back exactly.

Tables hold scalars only (ints, floats, bools, strings, and pandas' nullable versions of them).
Floats are written with the shortest text that parses to the same bits, and ``run.json`` records
each table's schema: its column dtypes, its row count and which empty string cells are missing
values (CSV writes a missing string and ``""`` alike). The row index is not kept; tables come back
with a ``0..n-1`` index.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.kit.errors import CorruptRunError, InvalidInputError

STRING_DTYPES = frozenset({"object", "str", "string"})
NUMPY_DTYPES = frozenset(
    {"bool", "float32", "float64"}
    | {f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)}
)
NULLABLE_DTYPES = frozenset(
    {"boolean", "Float32", "Float64"}
    | {f"{sign}Int{bits}" for sign in ("", "U") for bits in (8, 16, 32, 64)}
)
TABLE_DTYPES = STRING_DTYPES | NUMPY_DTYPES | NULLABLE_DTYPES
# pandas 3 parses floats exactly by default and deprecates the option; pandas 2 needs it.
_ROUND_TRIP = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
# CRLF, as RFC 4180 says: Python's csv module then quotes any field holding "\r" or "\n".
CSV_LINE_END = "\r\n"


def table_schema(name: str, frame: Any) -> dict[str, Any]:
    """Column dtypes, row count and where strings are missing; refuses what CSV would alter.

    ``missing`` maps a string column with missing values to ``"empty"`` (every empty cell is
    missing: the column holds no empty strings) or to the list of missing rows.

    Raises
    ------
    InvalidInputError
        For a value that is not a DataFrame, a named index, bad column names, or a column whose
        values a CSV file cannot store exactly; the message says how to convert it.
    """
    _check_frame_shape(name, frame)
    dtypes, missing = {}, {}
    for column in frame.columns:
        series = frame[column]
        dtype = str(series.dtype)
        if dtype not in TABLE_DTYPES:
            raise InvalidInputError(
                f"column {column!r} of table {name!r} has dtype {dtype}, which a CSV table cannot "
                "store exactly; convert it to ints, floats, bools or strings first (for times, "
                "ISO text such as series.dt.strftime('%Y-%m-%dT%H:%M:%S%z'))."
            )
        if dtype in STRING_DTYPES:
            where = _missing_strings(name, column, series)
            if where is not None:
                missing[column] = where
        dtypes[column] = dtype
    return {"dtypes": dtypes, "rows": len(frame), "missing": missing}


def _check_frame_shape(name: str, frame: Any) -> None:
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


def _missing_strings(name: str, column: str, series: pd.Series) -> str | list[int] | None:
    """Which cells of a string column are missing (see :func:`table_schema`), ``None`` for none."""
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
    if not isna.any():
        return None
    has_empty = any(v == "" for v in series[~isna])
    return [int(i) for i in isna.nonzero()[0]] if has_empty else "empty"


def schema_ok(schema: Any) -> bool:
    """Whether ``schema`` (from a ``run.json``) is one :func:`table_schema` could have written."""
    if not isinstance(schema, dict) or not isinstance(schema.get("dtypes"), dict):
        return False
    rows, missing = schema.get("rows"), schema.get("missing", {})
    return (
        all(d in TABLE_DTYPES for d in schema["dtypes"].values())
        and isinstance(rows, int)
        and rows >= 0
        and isinstance(missing, dict)
        and all(
            schema["dtypes"].get(c) in STRING_DTYPES and (v == "empty" or isinstance(v, list))
            for c, v in missing.items()
        )
    )


def csv_text(frame: pd.DataFrame) -> str:
    """The CSV text a table is saved as (write it with ``newline=""``)."""
    return frame.to_csv(index=False, lineterminator=CSV_LINE_END)


#: Tables read before, by file, its size and modification time, and the schema: a panel that
#: decides again after a slider move reads its runs from memory, while a file that changed (a
#: run being recorded, a run replaced) is read again.
_READ_CACHE: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
_READ_CACHE_SIZE = 256
_READ_LOCK = threading.Lock()


def read_table(folder: Path, name: str, schema: dict[str, Any]) -> pd.DataFrame:
    """The table ``name`` of the run folder ``folder``, exactly as saved (a copy: callers may
    change it).

    Raises
    ------
    CorruptRunError
        When the file is missing or does not match ``schema``.
    """
    file = folder / f"{name}.csv"
    try:
        stat = file.stat()
        key: tuple[Any, ...] | None = (
            str(file),
            stat.st_size,
            stat.st_mtime_ns,
            json.dumps(schema, sort_keys=True, default=str),
        )
    except OSError:
        key = None
    if key is not None:
        with _READ_LOCK:
            cached = _READ_CACHE.get(key)
            if cached is not None:
                _READ_CACHE.move_to_end(key)
                return cached.copy()
    frame = _read_table(folder, file, schema)
    if key is not None:
        with _READ_LOCK:
            _READ_CACHE[key] = frame.copy()
            while len(_READ_CACHE) > _READ_CACHE_SIZE:
                _READ_CACHE.popitem(last=False)
    return frame


def _read_table(folder: Path, file: Path, schema: dict[str, Any]) -> pd.DataFrame:
    dtypes: dict[str, str] = schema["dtypes"]
    if not dtypes and file.is_file():  # a table without columns, e.g. pd.DataFrame([])
        return pd.DataFrame(index=pd.RangeIndex(schema["rows"]))
    frame, problem = _read_csv(file, dtypes)
    if not problem and list(frame.columns) != list(dtypes):
        problem = f"has the columns {list(frame.columns)}, not {list(dtypes)}"
    elif not problem and len(frame) != schema["rows"]:
        problem = f"has {len(frame)} rows, not {schema['rows']}"
    if problem:
        raise corrupt_run_error(folder, file, problem)
    for column, where in schema.get("missing", {}).items():
        values = frame[column].tolist()
        rows = [i for i, v in enumerate(values) if v == ""] if where == "empty" else where
        for row in rows:
            values[row] = None
        frame[column] = column_of(values, dtypes[column])
    for column, dtype in dtypes.items():
        if dtype in ("str", "string"):
            frame[column] = frame[column].astype(dtype)
    return frame


def _read_csv(file: Path, dtypes: dict[str, str]) -> tuple[pd.DataFrame, str]:
    """The CSV file read with the saved dtypes, or an empty frame and what went wrong."""
    read_as = {c: (object if d in STRING_DTYPES else d) for c, d in dtypes.items()}
    # Only the empty cell means "missing", and only where the dtype can hold a missing value:
    # strings like "NA" or "nan" stay strings.
    na_values = {c: [""] for c, d in dtypes.items() if d not in STRING_DTYPES}
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
        return pd.DataFrame(), "is missing"
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        text = " ".join(str(exc).split())
        return pd.DataFrame(), f"cannot be read as the table run.json describes ({text})"
    return frame, ""


def corrupt_run_error(folder: Path, file: Path, problem: str) -> CorruptRunError:
    """The error for a run folder whose ``file`` has ``problem`` (``"is missing"``)."""
    return CorruptRunError(
        f"Run {folder.name} is damaged: {file} {problem}. The other runs are not affected; "
        f"restore the file from a backup, or move the folder {folder} out of the runs directory "
        "to stop seeing this run.",
        reason=f"{file.name} {problem}",
    )


def column_of(values: list[Any], dtype: str) -> pd.Series:
    """A column of ``dtype`` holding ``values`` (any missing value in a string column is None)."""
    if dtype in STRING_DTYPES:
        values = [None if _missing(v) else v for v in values]
    return pd.Series(values, dtype=dtype)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a table as plain dicts (pandas' NA as None)."""
    return [
        {k: (None if v is pd.NA else v) for k, v in row.items()} for row in frame.to_dict("records")
    ]


def frame_of(records: list[dict[str, Any]], dtypes: dict[str, str] | None) -> pd.DataFrame:
    """The inverse of :func:`records_of`, with the saved column dtypes when known."""
    if dtypes is None:
        return pd.DataFrame.from_records(records)
    return pd.DataFrame(
        {c: column_of([r.get(c) for r in records], d) for c, d in dtypes.items()},
        index=pd.RangeIndex(len(records)),
    )


__all__ = [
    "TABLE_DTYPES",
    "column_of",
    "corrupt_run_error",
    "csv_text",
    "frame_of",
    "read_table",
    "records_of",
    "schema_ok",
    "table_schema",
]
