"""Helpers every room's ``cli.py`` shares: flags built from config fields, an output-path check,
JSON printing."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import default_of, flag_of, specs
from workbench.kit.files import atomic_write_text
from workbench.kit.jsonvalues import json_ready

# `--json` alone, or `--json -`, prints JSON on stdout; `--json FILE` writes it to FILE.
STDOUT = "-"
# Where print_json writes while a command's other output is sent to stderr (see json_only_stdout).
_json_stream: TextIO | None = None


def add_config_flags(
    parser: argparse.ArgumentParser,
    config: type,
    names: Iterable[str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Add one flag per field of ``config`` declared with ``spec`` (or per field of ``names``).

    The flag, its help and the default shown in the help come from the field, so the CLI and the
    config cannot disagree. A flag left out is not set on the namespace at all
    (:func:`config_values` then leaves the field to its default). Tuple fields take
    comma-separated values (``--batch 1,8,32``); bool fields are switches.

    Parameters
    ----------
    defaults
        Defaults to show instead of the field's own, where the command fills them in itself
        (e.g. ``--seq-len``, which depends on the model's task).
    """
    chosen = specs(config)
    for name in names if names is not None else chosen:
        field_spec = chosen[name]
        if field_spec.flag == "":
            continue  # a field no command sets
        kind = _kind(config, name)
        default = (defaults or {}).get(name, default_of(config, name))
        shown = _shown(default, field_spec.unit)
        help_text = field_spec.help + (f" (default {shown})" if shown else "")
        options: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": help_text}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif field_spec.choices:
            options["choices"] = field_spec.choices
        elif kind in (int, float):
            options["type"] = _none_or(kind) if field_spec.optional else kind
            if field_spec.none_means:
                options["help"] += f"; none: {field_spec.none_means}"
        parser.add_argument(flag_of(config, name), *field_spec.aliases, **options)


def config_values(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The values of ``config``'s fields that were given as flags, converted to the field's type.

    Raises
    ------
    InvalidInputError
        For a tuple field whose text is not comma-separated values of its type, naming the flag.
    """
    given = vars(args)
    chosen = specs(config)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        if field.name not in given:
            continue
        value = given[field.name]
        if _is_tuple(field) and isinstance(value, str):
            value = parse_list(value, flag_of(config, field.name), _item_kind(field))
        elif field.name in chosen and value is not None:
            # Checked here, before a command can turn a flag's value into another (0 into
            # None, say): what the user typed is what the error names.
            chosen[field.name].check(field.name, value)
        values[field.name] = value
    return values


def parse_list(text: str, flag: str, kind: type = int) -> tuple[Any, ...]:
    """``"1,8,32"`` as a tuple, with an error naming the flag on bad input."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        return tuple(kind(part) for part in parts)
    except ValueError:
        example = "1,8,32" if kind is int else "a,b"
        raise InvalidInputError(
            f"`{flag}` must be comma-separated {'whole numbers' if kind is int else 'values'} "
            f"like {example}, got {text!r}."
        ) from None


def check_writable(path: str | Path | None) -> None:
    """Refuse a ``--json`` file whose folder does not exist, before any work is done (``None``
    and ``-``, stdout, pass)."""
    if path is None or path == STDOUT:
        return
    target = Path(path).expanduser()
    if target.is_dir():
        raise InvalidInputError(
            f"--json {path} is a folder; give the path of a file in it, e.g. {target / 'out.json'}."
        )
    folder = target.resolve().parent
    if not folder.is_dir():
        raise InvalidInputError(
            f"--json {path}: the folder {folder} does not exist; create it or choose another file."
        )


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout, keeping non-ASCII text readable."""
    print(json_text(value), file=_json_stream or sys.stdout, flush=True)


def json_text(value: Any) -> str:
    """``value`` as indented JSON text, non-ASCII kept readable."""
    return json.dumps(json_ready(value), indent=2, ensure_ascii=False)


def add_json_option(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    """The one ``--json [FILE|-]`` every command takes: machine-readable output, on stdout when
    given alone or as ``-``, else written (atomically) to FILE. With it an error is also printed
    as a JSON object on stderr (see ``workbench.cli``)."""
    parser.add_argument(
        "--json",
        nargs="?",
        const=STDOUT,
        default=None,
        metavar="FILE",
        help=f"{what} as JSON: on stdout (alone or '-'), or written to FILE",
    )


def json_to_stdout(args: argparse.Namespace) -> bool:
    """Whether ``--json`` sends JSON to stdout, so nothing else may be printed there."""
    return getattr(args, "json", None) == STDOUT


@contextlib.contextmanager
def json_only_stdout(args: argparse.Namespace) -> Iterator[None]:
    """While a command runs with ``--json`` on stdout, send everything else it prints (its
    tables, progress, a library's chatter) to stderr, so that stdout carries the JSON alone;
    :func:`print_json` and :func:`write_json` still reach stdout. Without it, nothing changes."""
    global _json_stream
    if not json_to_stdout(args):
        yield
        return
    kept, _json_stream = _json_stream, sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _json_stream = kept


def write_json(target: str | None, value: Any) -> None:
    """Print ``value`` as JSON (``target`` ``-``), write it to the file ``target`` atomically, or
    do nothing (``None``: no ``--json`` given)."""
    if target is None:
        return
    if target == STDOUT:
        print_json(value)
    else:
        atomic_write_text(Path(target).expanduser(), json_text(value) + "\n")


def _none_or(kind: type) -> Any:
    """A flag type that reads ``none`` as ``None`` and anything else as ``kind``."""

    def convert(text: str) -> Any:
        return None if text.strip().lower() == "none" else kind(text)

    convert.__name__ = kind.__name__  # argparse names the type in its error: "invalid float value"
    return convert


def _kind(config: type, name: str) -> type:
    field = next(f for f in dataclasses.fields(config) if f.name == name)
    if _is_tuple(field):
        return tuple
    annotation = str(field.type).replace(" ", "")
    for kind in (bool, int, float):
        if annotation in (kind.__name__, f"{kind.__name__}|None"):
            return kind
    return str


def _is_tuple(field: dataclasses.Field) -> bool:
    return str(field.type).startswith("tuple")


def _item_kind(field: dataclasses.Field) -> type:
    inner = str(field.type).removeprefix("tuple[").split(",")[0].strip()
    return {"int": int, "float": float}.get(inner, str)


def _shown(default: Any, unit: str) -> str:
    if default is dataclasses.MISSING or default is None or default == "" or default is False:
        return ""  # nothing worth saying: a switch that is off unless given
    if isinstance(default, tuple):
        default = ",".join(str(v) for v in default)
    return f"{default}{' ' + unit if unit else ''}"


__all__ = [
    "STDOUT",
    "add_config_flags",
    "add_json_option",
    "check_writable",
    "config_values",
    "json_only_stdout",
    "json_ready",
    "json_text",
    "json_to_stdout",
    "parse_list",
    "print_json",
    "write_json",
]
