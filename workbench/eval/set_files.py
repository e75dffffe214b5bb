"""Reading eval-set files: the card (TOML) and the items (JSONL or CSV), with line numbers.

The readers only parse: each yields ``(line number, row dict)`` and raises on text that is not
JSON, CSV or TOML at all; what the fields mean is checked in :mod:`workbench.eval.sets`.
"""

from __future__ import annotations

import csv
import difflib
import json
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from workbench.kit.errors import InvalidInputError

MAX_ITEMS = 100_000
ITEM_FIELDS = ("id", "input", "reference", "tolerance", "split", "scoring")
REQUIRED_ITEM_FIELDS = ("id", "input", "reference")


def read_card(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read the eval card {path}: {exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(
            f"The eval card {path} is not valid TOML: {exc}. Fix that line (text in double "
            'quotes, lists like labels = ["a", "b"]).'
        ) from exc
    return data


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return bounded(_jsonl_rows(path), str(path))


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open(path) as handle:
        for number, line in enumerate(_lines(handle, path), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(
                    f"{path}, line {number}: not valid JSON ({exc.msg} at column {exc.colno}). "
                    'Each line must be one JSON object, like {"id": "q-1", "input": "...", '
                    '"reference": "..."}, with text in double quotes.'
                ) from None
            if not isinstance(row, dict):
                raise InvalidInputError(
                    f"{path}, line {number}: a JSON {type(row).__name__}, not an object. Each "
                    'line must be one object like {"id": "q-1", "input": "...", "reference": '
                    '"..."}.'
                )
            yield number, row


def read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return bounded(_csv_rows(path), str(path))


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open(path) as handle:
        reader = csv.reader(_lines(handle, path))
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            return
        except csv.Error as exc:
            raise _csv_error(path, reader.line_num, exc) from None
        for name in header:
            if name not in ITEM_FIELDS:
                raise InvalidInputError(
                    f"{path}, line 1: unknown column {name!r}.{did_you_mean(name, ITEM_FIELDS)}"
                    f" An eval set's columns are {', '.join(ITEM_FIELDS)} (the first three "
                    "required); rename or remove that column."
                )
        missing = [name for name in REQUIRED_ITEM_FIELDS if name not in header]
        if missing:
            raise InvalidInputError(
                f"{path}, line 1, field `{missing[0]}`: the header has no {missing[0]!r} column "
                f"(it has {', '.join(header) or 'none'}). The first line must name the columns, "
                "at least id,input,reference."
            )
        last_line = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _csv_error(path, reader.line_num, exc) from None
            number, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise InvalidInputError(
                    f"{path}, line {number}: {len(cells)} cells but the header has "
                    f"{len(header)} ({', '.join(header)}). Quote a cell that contains a comma "
                    '("Hello, world"), and give every row the same columns.'
                )
            yield number, {k: v for k, v in zip(header, cells, strict=True) if v.strip() != ""}


def _csv_error(path: Path, line: int, exc: csv.Error) -> InvalidInputError:
    return InvalidInputError(
        f"{path}, line {line}: not valid CSV ({exc}). Quote cells that contain commas or quotes, "
        'doubling a quote inside a quoted cell ("She said ""hi""").'
    )


def _open(path: Path):
    try:
        # utf-8-sig: spreadsheet programs often start a CSV with a byte-order mark
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvalidInputError(f"Cannot read the eval set {path}: {exc}.") from exc


def _lines(handle, path: Path) -> Iterator[str]:
    try:
        yield from handle
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}). Save it as UTF-8."
        ) from None


def bounded(
    rows: Iterable[tuple[int, dict[str, Any]]], where: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    for count, row in enumerate(rows, start=1):
        if count > MAX_ITEMS:
            raise InvalidInputError(
                f"{where} has more than {MAX_ITEMS:,} items; the workbench refuses sets that "
                "large (a run would take days on a laptop). Split it, or sample it to a few "
                "thousand items."
            )
        yield row


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" Did you mean 'a' or 'b'?"`` for the names of ``known`` close to ``name``, else ``""``."""
    close = difflib.get_close_matches(str(name), list(known), n=2, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


__all__ = [
    "ITEM_FIELDS",
    "MAX_ITEMS",
    "REQUIRED_ITEM_FIELDS",
    "bounded",
    "did_you_mean",
    "read_card",
    "read_csv",
    "read_jsonl",
]
