"""Evaluation sets: the items a model is scored on and their card, loaded and checked.

A set is two files side by side (the shipped ones in ``data/evals/``):

* ``<name>.jsonl`` (or ``<name>.csv``): one item per line, ``{"id": "tr-001", "input": "...",
  "reference": "billing"}`` plus optional ``"tolerance"`` (number scoring, relative),
  ``"split"`` (``"train"`` items are the neighbours of an embeddings set, ``"test"`` items are
  scored; the default) and ``"scoring"`` (one item's own rule in a chat set that mixes, say,
  exact answers and numbers). A CSV has the same columns; an empty cell is an absent field.
* ``<name>.toml``: the card: ``name``, ``task`` (chat | embeddings), ``scoring`` (label |
  exact | number | nearest-neighbour), ``labels``, ``prompt`` (with ``{input}`` and
  ``{labels}``), ``max_new_tokens`` (chat), ``k`` (recall@k, embeddings), ``same_items_as``
  (another set whose items this set scores, checked by :func:`check_same_items`: an embeddings
  set scoring a chat set's items, so a decision on that set can use both), ``size``, and where
  the items came from: ``license``, ``source``, ``as_of``, ``how_made``, ``limits``.

Everything is checked before any model is loaded: a malformed row is one paragraph naming the
file, the line, the field and the fix. The files are parsed in :mod:`workbench.eval.set_files`;
the scoring rules live in :mod:`workbench.eval.scoring` (re-exported here).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.eval.scoring import (
    first_number,
    is_number_text,
    normalise_answer,
    score_answer,
)
from workbench.eval.set_files import (
    ITEM_FIELDS,
    MAX_ITEMS,
    REQUIRED_ITEM_FIELDS,
    bounded,
    did_you_mean,
    read_card,
    read_csv,
    read_jsonl,
)
from workbench.kit.errors import InvalidInputError
from workbench.kit.paths import data_dir

TASKS = ("chat", "embeddings")
SCORINGS = ("label", "exact", "number", "nearest-neighbour")
# The rules one item of a chat set may choose for itself.
CHAT_SCORINGS = ("label", "exact", "number")
SPLITS = ("train", "test")
DEFAULT_K = 5
DEFAULT_MAX_NEW_TOKENS = 16
MAX_NEW_TOKENS_LIMIT = 4096

DEFAULT_LABEL_PROMPT = (
    "Classify the text into exactly one of these labels: {labels}.\n"
    "Answer with the label only.\n\nText: {input}"
)
DEFAULT_ANSWER_PROMPT = (
    "Answer the question with the answer only: a number or a few words, no explanation.\n\n"
    "Question: {input}"
)

CARD_FIELDS = (
    "name",
    "task",
    "scoring",
    "labels",
    "prompt",
    "max_new_tokens",
    "k",
    "same_items_as",
    "size",
    "license",
    "source",
    "as_of",
    "how_made",
    "limits",
)
DATA_SUFFIXES = (".jsonl", ".csv")


@dataclass(frozen=True)
class EvalItem:
    """One item of a set: what the model is given and the answer it is scored against.

    ``scoring`` is always filled in: the item's own rule, else the card's. ``split`` is
    ``"test"`` (scored) unless the file says ``"train"`` (a neighbour of an embeddings set).
    ``tolerance`` is relative, for number scoring; ``None`` means the default (exact for an
    integer reference, else 1%).
    """

    id: str
    input: str
    reference: str
    tolerance: float | None = None
    split: str = "test"
    scoring: str = "exact"


@dataclass(frozen=True)
class EvalSet:
    """A loaded, checked evaluation set: its card and its items.

    ``sha256`` fingerprints the items (not the file's bytes), so two runs can tell that they
    scored the same items whichever format they were read from. ``path`` and ``card_path`` are
    the files it came from (``None`` for a set built in memory).
    """

    name: str
    task: str
    scoring: str
    labels: tuple[str, ...] = ()
    prompt: str = ""
    max_new_tokens: int | None = None
    k: int | None = None
    same_items_as: str = ""
    size: int = 0
    license: str = ""
    source: str = ""
    as_of: str = ""
    how_made: str = ""
    limits: str = ""
    items: tuple[EvalItem, ...] = ()
    path: Path | None = None
    card_path: Path | None = None
    sha256: str = field(default="", compare=False)

    @property
    def scored_items(self) -> tuple[EvalItem, ...]:
        """The items a run scores: every item of a chat set, the ``test`` split of an
        embeddings set."""
        return tuple(item for item in self.items if item.split == "test")

    @property
    def neighbour_items(self) -> tuple[EvalItem, ...]:
        """The ``train`` split of an embeddings set: the labelled neighbours test items are
        matched against (empty for a chat set)."""
        return tuple(item for item in self.items if item.split == "train")

    def format_prompt(self, item: EvalItem) -> str:
        """The user message for ``item``: the card's prompt with ``{labels}`` (comma-separated)
        and ``{input}`` filled in; other braces are left as they are."""
        text = self.prompt.replace("{labels}", ", ".join(self.labels))
        return text.replace("{input}", item.input)

    def card(self) -> dict[str, Any]:
        """The card as plain values (what a run records beside its results), with the size and
        the fingerprint of the items."""
        return {
            "name": self.name,
            "task": self.task,
            "scoring": self.scoring,
            "labels": list(self.labels),
            "prompt": self.prompt,
            "max_new_tokens": self.max_new_tokens,
            "k": self.k,
            "same_items_as": self.same_items_as,
            "size": self.size,
            "license": self.license,
            "source": self.source,
            "as_of": self.as_of,
            "how_made": self.how_made,
            "limits": self.limits,
            "path": str(self.path) if self.path else None,
            "sha256": self.sha256,
        }


# --------------------------------------------------------------------------------------------
# Finding sets


def evals_dir() -> Path:
    """The folder of shipped sets: ``data/evals/`` of the workbench's data folder."""
    return data_dir() / "evals"


def list_eval_sets() -> list[str]:
    """The names of the shipped sets (a card ``<name>.toml`` with its data file beside it)."""
    folder = evals_dir()
    if not folder.is_dir():
        return []
    return sorted(
        card.stem
        for card in folder.glob("*.toml")
        if any(card.with_suffix(suffix).is_file() for suffix in DATA_SUFFIXES)
    )


def load_eval_set(name_or_path: str | Path, *, card: Mapping[str, Any] | None = None) -> EvalSet:
    """Load and check an evaluation set: a shipped name, or a user's file.

    Parameters
    ----------
    name_or_path
        A shipped set's name (``"ticket-routing"``, see :func:`list_eval_sets`), a data file
        (``.jsonl`` or ``.csv``) with its card ``<same stem>.toml`` beside it, or the card.
    card
        Card fields given directly (the CLI's flags), over those of the card file; with them a
        data file needs no card file (``task`` and ``scoring`` at least).

    Returns
    -------
    EvalSet

    Raises
    ------
    InvalidInputError
        For an unknown name, a missing file, or any malformed card field or row, naming the
        file, line and field and saying how to fix it; nothing is scored before this passes.
    """
    data_path, card_path = _locate(name_or_path)
    fields: dict[str, Any] = {}
    if card_path is not None:
        fields.update(read_card(card_path))
    if card:
        fields.update({key: value for key, value in card.items() if value is not None})
    if card_path is None and not fields:
        raise InvalidInputError(
            f"The eval set {data_path} has no card beside it ({data_path.with_suffix('.toml')}). "
            'Write one with at least `task = "chat"` (or "embeddings") and `scoring = "label"` '
            "(or exact, number, nearest-neighbour), plus `labels` for label scoring; or give "
            "those card fields on the command line (see `workbench eval --help`)."
        )
    where = str(card_path or data_path)
    fields.setdefault("name", data_path.stem)
    rows = read_jsonl(data_path) if data_path.suffix == ".jsonl" else read_csv(data_path)
    return _build(fields, rows, data_path=data_path, card_path=card_path, card_where=where)


def check_same_items(eval_set: EvalSet) -> None:
    """Check a set's claim that it scores another set's items (``same_items_as``): the scored
    items' inputs and references must be that set's, item for item, in any order.

    Raises
    ------
    InvalidInputError
        When the named set cannot be loaded or its items differ (naming the first difference).
    """
    other_name = eval_set.same_items_as
    if not other_name:
        return
    where = eval_set.card_path or eval_set.name
    try:
        other = load_eval_set(other_name)
    except InvalidInputError as error:
        raise InvalidInputError(
            f"{where}, field `same_items_as`: {other_name!r} cannot be loaded ({error}). Name a "
            "set `workbench eval --list-sets` lists, or remove the field."
        ) from None
    mine = sorted((i.input, i.reference) for i in eval_set.scored_items)
    theirs = sorted((i.input, i.reference) for i in other.scored_items)
    if mine != theirs:
        extra = sorted(set(mine) - set(theirs)) or sorted(set(theirs) - set(mine)) or [("", "")]
        raise InvalidInputError(
            f"{where}, field `same_items_as`: the set scores {len(mine)} items and "
            f"{other_name!r} has {len(theirs)}, not the same ones (e.g. {extra[0][0]!r} labelled "
            f"{extra[0][1]!r} is in one only). Make the scored items the same, or remove the "
            "field: a decision would read this set's scores as scores on the other."
        )


def eval_set_from_rows(
    card: Mapping[str, Any], rows: Iterable[Mapping[str, Any]], *, where: str = "<rows>"
) -> EvalSet:
    """Build and check a set from a card and item rows held in memory (a test, a notebook).

    ``rows`` are dicts with the fields of a JSONL line; errors name ``where`` and the row's
    number (from 1) as its line.
    """
    numbered = ((number, dict(row)) for number, row in enumerate(rows, start=1))
    return _build(
        dict(card),
        bounded(numbered, where),
        data_path=None,
        card_path=None,
        card_where=where,
        data_where=where,
    )


def _locate(name_or_path: str | Path) -> tuple[Path, Path | None]:
    """(data file, card file or None) for a name or a path; raises when neither exists."""
    path = Path(name_or_path).expanduser()
    looks_like_name = path.suffix == "" and len(path.parts) == 1 and not path.exists()
    if looks_like_name:
        card_path = evals_dir() / f"{path.name}.toml"
        data = _data_beside(card_path)
        if card_path.is_file() and data is not None:
            return data, card_path
        shipped = list_eval_sets()
        close = difflib.get_close_matches(path.name, shipped, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise InvalidInputError(
            f"No eval set named {path.name!r}.{hint} Shipped sets: "
            f"{', '.join(shipped) or 'none'} (in {evals_dir()}); or give the path of your own "
            "set, a .jsonl or .csv file with a card .toml of the same name beside it."
        )
    if path.suffix == ".toml":
        data = _data_beside(path)
        if not path.is_file() or data is None:
            raise InvalidInputError(
                f"The eval card {path} needs its data file beside it: {path.with_suffix('.jsonl')}"
                f" or {path.with_suffix('.csv')} (it has "
                f"{'neither' if path.is_file() else 'no card either'}). Put the items there, "
                "one per line with id, input and reference."
            )
        return data, path
    if path.suffix not in DATA_SUFFIXES:
        raise InvalidInputError(
            f"The eval set {path} is not a .jsonl or .csv file. Give a shipped set's name "
            f"({', '.join(list_eval_sets()) or 'none shipped'}) or a .jsonl/.csv file of items "
            "with id, input and reference."
        )
    if not path.is_file():
        raise InvalidInputError(
            f"The eval set file {path} does not exist. Check the path, or give a shipped set's "
            f"name ({', '.join(list_eval_sets()) or 'none shipped'})."
        )
    card_path = path.with_suffix(".toml")
    return path, card_path if card_path.is_file() else None


def _data_beside(card_path: Path) -> Path | None:
    found = [card_path.with_suffix(s) for s in DATA_SUFFIXES if card_path.with_suffix(s).is_file()]
    if len(found) > 1:
        raise InvalidInputError(
            f"The eval card {card_path} has two data files beside it ({found[0].name} and "
            f"{found[1].name}); keep one so it is clear which items it describes."
        )
    return found[0] if found else None


# --------------------------------------------------------------------------------------------
# Checking


def _build(
    fields: dict[str, Any],
    rows: Iterable[tuple[int, dict[str, Any]]],
    *,
    data_path: Path | None,
    card_path: Path | None,
    card_where: str,
    data_where: str | None = None,
) -> EvalSet:
    card = _check_card(fields, card_where)
    where = data_where or str(data_path)
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        item = _check_row(row, number, where, card)
        if item.id in seen:
            raise InvalidInputError(
                f"{where}, line {number}, field `id`: {item.id!r} is already the id of line "
                f"{seen[item.id]}. Give every item its own id."
            )
        seen[item.id] = number
        items.append(item)
    if not items:
        raise InvalidInputError(
            f"{where} has no items. Add one per line with id, input and reference."
        )
    _check_whole_set(card, items, where, card_where)
    # With no labels on the card, the labels are the references of the label-scored items.
    labelled = {i.reference for i in items if i.scoring in ("label", "nearest-neighbour")}
    labels = card["labels"] or tuple(sorted(labelled))
    return EvalSet(
        name=card["name"],
        task=card["task"],
        scoring=card["scoring"],
        labels=labels,
        prompt=card["prompt"],
        max_new_tokens=card["max_new_tokens"],
        k=card["k"],
        same_items_as=card["same_items_as"],
        size=len(items),
        license=card["license"],
        source=card["source"],
        as_of=card["as_of"],
        how_made=card["how_made"],
        limits=card["limits"],
        items=tuple(items),
        path=data_path,
        card_path=card_path,
        sha256=_fingerprint(items),
    )


def _check_card(fields: dict[str, Any], where: str) -> dict[str, Any]:
    for key in fields:
        if key not in CARD_FIELDS:
            raise InvalidInputError(
                f"{where}: unknown card field `{key}`.{did_you_mean(key, CARD_FIELDS)} A card "
                f"has {', '.join(CARD_FIELDS)}; rename or remove it."
            )
    card: dict[str, Any] = {}
    for key in (
        "name",
        "prompt",
        "same_items_as",
        "license",
        "source",
        "as_of",
        "how_made",
        "limits",
    ):
        value = fields.get(key, "")
        if not isinstance(value, str):
            raise _card_error(where, key, value, "text", 'put it in double quotes: key = "..."')
        card[key] = value.strip() if key != "prompt" else value
    if not card["name"]:
        raise _card_error(where, "name", fields.get("name"), "a name", 'add name = "my-set"')
    card["task"] = _card_choice(fields, "task", TASKS, where)
    card["scoring"] = _card_choice(fields, "scoring", SCORINGS, where)
    task, scoring = card["task"], card["scoring"]
    if (task == "embeddings") != (scoring == "nearest-neighbour"):
        raise InvalidInputError(
            f"{where}, field `scoring`: {scoring!r} does not fit task {task!r}. An embeddings "
            "set is scored nearest-neighbour; a chat set by label, exact or number."
        )
    card["labels"] = _card_labels(fields.get("labels"), where)
    if card["as_of"]:
        try:
            dt.date.fromisoformat(card["as_of"])
        except ValueError:
            raise _card_error(
                where, "as_of", card["as_of"], "a date", 'write it as YYYY-MM-DD, e.g. "2026-12-03"'
            ) from None
    if task == "chat":
        card["max_new_tokens"] = _card_whole(
            fields, "max_new_tokens", DEFAULT_MAX_NEW_TOKENS, 1, MAX_NEW_TOKENS_LIMIT, where
        )
        card["k"] = None
        if not card["prompt"]:
            card["prompt"] = DEFAULT_LABEL_PROMPT if scoring == "label" else DEFAULT_ANSWER_PROMPT
        if "{input}" not in card["prompt"]:
            raise _card_error(
                where,
                "prompt",
                card["prompt"],
                "a text with {input} where the item goes",
                "add {input} (and {labels} for the list of labels)",
            )
    else:
        for key in ("max_new_tokens", "prompt"):
            if fields.get(key):
                raise _card_error(
                    where, key, fields[key], "absent for an embeddings set", "remove it"
                )
        card["max_new_tokens"] = None
        card["k"] = _card_whole(fields, "k", DEFAULT_K, 1, MAX_ITEMS, where)
    card["size"] = None
    if "size" in fields:
        card["size"] = _card_whole(fields, "size", 0, 1, MAX_ITEMS, where)
    return card


def _card_choice(fields: dict[str, Any], key: str, choices: tuple[str, ...], where: str) -> str:
    value = fields.get(key)
    if value not in choices:
        got = "nothing" if value is None else repr(value)
        raise InvalidInputError(
            f"{where}, field `{key}`: must be one of {', '.join(choices)}, got {got}."
            f'{did_you_mean(str(value), choices)} Set {key} = "{choices[0]}" (or another).'
        )
    return value


def _card_labels(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise _card_error(
            where, "labels", value, "a list of non-empty texts", 'write labels = ["a", "b"]'
        )
    labels = tuple(v.strip() for v in value)
    normalised = [normalise_answer(v) for v in labels]
    if len(set(normalised)) != len(labels):
        raise _card_error(where, "labels", value, "distinct labels", "list each label once")
    return labels


def _card_whole(
    fields: dict[str, Any], key: str, default: int, low: int, high: int, where: str
) -> int:
    value = fields.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _card_error(where, key, value, f"a whole number from {low:,} to {high:,}", "")
    if not low <= value <= high:
        raise _card_error(where, key, value, f"a whole number from {low:,} to {high:,}", "")
    return int(value)


def _card_error(where: str, key: str, value: Any, rule: str, fix: str) -> InvalidInputError:
    message = f"{where}, field `{key}`: must be {rule}, got {value!r}."
    return InvalidInputError(f"{message} {fix[:1].upper() + fix[1:]}." if fix else message)


def _check_row(row: dict[str, Any], number: int, where: str, card: dict[str, Any]) -> EvalItem:
    def fail(name: str, problem: str, fix: str) -> InvalidInputError:
        return InvalidInputError(f"{where}, line {number}, field `{name}`: {problem}. {fix}")

    for key in row:
        if key not in ITEM_FIELDS:
            raise fail(
                key,
                "not a field of an eval item",
                f"{did_you_mean(key, ITEM_FIELDS).strip()} An item has "
                f"{', '.join(ITEM_FIELDS)}; rename or remove it.".strip(),
            )
    values: dict[str, str] = {}
    for key in REQUIRED_ITEM_FIELDS:
        value = row.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise fail(
                key,
                "missing or empty",
                f"Give every item its {key}, like the first line of a shipped set "
                '({"id": "q-1", "input": "...", "reference": "..."}).',
            )
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise fail(key, f"must be text, got {value!r}", "Write it in double quotes.")
        values[key] = str(value).strip() if key != "input" else str(value)

    scoring = row.get("scoring") or card["scoring"]
    allowed = CHAT_SCORINGS if card["task"] == "chat" else ("nearest-neighbour",)
    if scoring not in allowed:
        raise fail(
            "scoring",
            f"{scoring!r} is not a scoring rule for a {card['task']} set",
            f"Use one of {', '.join(allowed)}.{did_you_mean(str(scoring), allowed)}",
        )
    reference = values["reference"]
    if scoring in ("label", "nearest-neighbour") and card["labels"]:
        # "Billing" in a row stands for the card's "billing": store the card's spelling
        by_key = {normalise_answer(label): label for label in card["labels"]}
        reference = by_key.get(normalise_answer(reference), reference)
        if reference not in card["labels"]:
            raise fail(
                "reference",
                f"{reference!r} is not one of the card's labels ({', '.join(card['labels'])})",
                f"Use one of them{did_you_mean(reference, card['labels'])}, or add it to the "
                "card's labels.",
            )
    if scoring == "number" and not is_number_text(reference):
        raise fail(
            "reference",
            f"{reference!r} is not a number",
            "A number-scored item needs a plain number like 42, 3.5 or 1,250 (no units); "
            'or give this item "scoring": "exact".',
        )

    tolerance = _row_tolerance(row.get("tolerance"), scoring, fail)
    split = row.get("split", "test")
    if split not in SPLITS:
        raise fail("split", f"must be train or test, got {split!r}", "Fix the value or drop it.")
    if split == "train" and card["task"] == "chat":
        raise fail(
            "split",
            "a chat set scores every item, so it has no train split",
            "Remove the split (train items are the neighbours of an embeddings set).",
        )
    return EvalItem(
        id=values["id"],
        input=values["input"],
        reference=reference,
        tolerance=tolerance,
        split=split,
        scoring=scoring,
    )


def _row_tolerance(value: Any, scoring: str, fail) -> float | None:
    if value is None:
        return None
    if scoring != "number":
        raise fail(
            "tolerance",
            f"given for a {scoring}-scored item",
            "A tolerance applies to number scoring only; remove it.",
        )
    try:
        tolerance = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        tolerance = math.nan
    if not math.isfinite(tolerance) or not 0 <= tolerance < 1:
        raise fail(
            "tolerance",
            f"must be a relative tolerance from 0 to below 1, got {value!r}",
            "Write 0.01 for within 1% (or leave it out for the default).",
        )
    return tolerance


def _check_whole_set(
    card: dict[str, Any], items: list[EvalItem], where: str, card_where: str
) -> None:
    if card["size"] is not None and card["size"] != len(items):
        raise InvalidInputError(
            f"{card_where}, field `size`: the card says {card['size']:,} items but {where} has "
            f"{len(items):,}. Set size = {len(items)} (or restore the missing rows)."
        )
    if card["task"] != "embeddings":
        return
    neighbours = sum(item.split == "train" for item in items)
    scored = len(items) - neighbours
    if not neighbours or not scored:
        raise InvalidInputError(
            f"{where}: an embeddings set needs items with split train (the labelled neighbours) "
            f"and items with split test (scored); it has {neighbours} train and {scored} test. "
            'Add "split": "train" to the neighbours.'
        )
    if card["k"] > neighbours:
        raise InvalidInputError(
            f"{card_where}, field `k`: recall@{card['k']} needs at least {card['k']} train "
            f"items, and {where} has {neighbours}. Lower k or add neighbours."
        )


def _fingerprint(items: list[EvalItem]) -> str:
    digest = hashlib.sha256()
    for item in items:
        row = [item.id, item.input, item.reference, item.tolerance, item.split, item.scoring]
        digest.update(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


__all__ = [
    "CARD_FIELDS",
    "ITEM_FIELDS",
    "MAX_ITEMS",
    "SCORINGS",
    "TASKS",
    "EvalItem",
    "EvalSet",
    "check_same_items",
    "eval_set_from_rows",
    "evals_dir",
    "first_number",
    "list_eval_sets",
    "load_eval_set",
    "normalise_answer",
    "score_answer",
]
