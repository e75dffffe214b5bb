"""Evaluation sets: the shipped sets, a user's own set, the checks on malformed rows, scoring."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from workbench.eval.sets import (
    MAX_ITEMS,
    EvalItem,
    check_same_items,
    eval_set_from_rows,
    evals_dir,
    list_eval_sets,
    load_eval_set,
    normalise_answer,
    score_answer,
)
from workbench.kit.errors import InvalidInputError
from workbench.kit.paths import data_dir

SIZES = {"short-answer": 128, "ticket-routing": 240, "ticket-topics": 560}
TICKET_LABELS = ("billing", "technical", "shipping", "account")
CARD = 'task = "chat"\nscoring = "label"\nlabels = ["billing", "shipping"]\n'


def _federated_rows() -> list[dict[str, str]]:
    path = data_dir() / "federated" / "support_tickets.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _user_set(folder: Path, lines: list[str], card: str = CARD, name: str = "mine") -> Path:
    """A user's JSONL set with its card beside it; returns the data file."""
    (folder / f"{name}.toml").write_text(card, encoding="utf-8")
    data = folder / f"{name}.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data


GOOD = '{"id": "a", "input": "Refund please", "reference": "billing"}'


# Shipped sets ----------------------------------------------------------------------------------


def test_shipped_sets_are_listed():
    """list_eval_sets names the three shipped sets."""
    assert list_eval_sets() == sorted(SIZES)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_shipped_set_has_its_promised_size(name):
    """Each shipped set loads with the number of items its card promises."""
    eval_set = load_eval_set(name)
    assert (eval_set.name, eval_set.size, len(eval_set.items)) == (name, SIZES[name], SIZES[name])


@pytest.mark.parametrize("name", sorted(SIZES))
def test_shipped_card_says_where_items_came_from(name):
    """Each shipped card has a license, source, date, how it was made and its limits."""
    eval_set = load_eval_set(name)
    card = eval_set.card()
    assert all(card[key] for key in ("license", "source", "as_of", "how_made", "limits"))


def test_ticket_routing_is_balanced_across_labels():
    """ticket-routing has 60 items for each of the four labels."""
    eval_set = load_eval_set("ticket-routing")
    assert Counter(i.reference for i in eval_set.items) == dict.fromkeys(TICKET_LABELS, 60)


def test_ticket_routing_does_not_overlap_federated_training_texts():
    """No held-out ticket is a federated training text, even after normalisation."""
    trained = {normalise_answer(r["text"]) for r in _federated_rows()}
    held_out = [i.input for i in load_eval_set("ticket-routing").items]
    assert [text for text in held_out if normalise_answer(text) in trained] == []


def test_ticket_routing_inputs_are_distinct():
    """Every ticket-routing input is a different message."""
    inputs = [normalise_answer(i.input) for i in load_eval_set("ticket-routing").items]
    assert len(set(inputs)) == len(inputs)


def test_ticket_routing_prompt_lists_the_labels():
    """The ticket-routing prompt names all four labels and the ticket, and asks for few tokens."""
    eval_set = load_eval_set("ticket-routing")
    prompt = eval_set.format_prompt(eval_set.items[0])
    assert all(label in prompt for label in TICKET_LABELS)
    assert eval_set.items[0].input in prompt and eval_set.max_new_tokens <= 8


def test_ticket_topics_train_split_is_the_federated_file():
    """ticket-topics' train split is the federated ticket file, row for row."""
    eval_set = load_eval_set("ticket-topics")
    train = [(i.input, i.reference) for i in eval_set.neighbour_items]
    assert train == [(r["text"], r["label"]) for r in _federated_rows()]


def test_ticket_topics_test_split_is_ticket_routing():
    """ticket-topics' test split is the ticket-routing set, item for item."""
    scored = [(i.input, i.reference) for i in load_eval_set("ticket-topics").scored_items]
    routing = [(i.input, i.reference) for i in load_eval_set("ticket-routing").items]
    assert scored == routing


def test_ticket_topics_says_it_scores_the_ticket_routing_items_and_that_holds():
    """The card's same_items_as names ticket-routing, and the check of that claim passes."""
    eval_set = load_eval_set("ticket-topics")
    assert eval_set.same_items_as == "ticket-routing"
    check_same_items(eval_set)  # raises when the items differ


def test_same_items_as_with_other_items_is_refused_naming_the_field(tmp_path):
    """A user's set claiming to score ticket-routing's items while scoring others is refused:
    a decision on ticket-routing would read its score as a score on those tickets."""
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\ntask = "embeddings"\nscoring = "nearest-neighbour"\n'
        'k = 1\nsame_items_as = "ticket-routing"\n',
        encoding="utf-8",
    )
    rows = [
        {"id": "n1", "input": "Refund please.", "reference": "billing", "split": "train"},
        {"id": "t1", "input": "My card was charged twice.", "reference": "billing"},
    ]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    with pytest.raises(InvalidInputError, match=r"field `same_items_as`.*not the same ones"):
        check_same_items(load_eval_set(data))


def test_ticket_topics_card_gives_k():
    """ticket-topics is an embeddings set scored by nearest neighbour with recall@5."""
    eval_set = load_eval_set("ticket-topics")
    assert (eval_set.task, eval_set.scoring, eval_set.k) == ("embeddings", "nearest-neighbour", 5)


def test_short_answer_mixes_exact_and_number_items():
    """short-answer has both exact and number items, each with a usable reference."""
    items = load_eval_set("short-answer").items
    assert Counter(i.scoring for i in items) == {"number": 82, "exact": 46}


def test_short_answer_references_score_as_correct():
    """Every short-answer reference, given as the answer, scores correct."""
    eval_set = load_eval_set("short-answer")
    assert [i.id for i in eval_set.items if not score_answer(i.reference, i, eval_set)] == []


def test_short_answer_arithmetic_is_right():
    """The plain arithmetic questions' references equal the arithmetic, recomputed here."""
    ops = {"+": "+", "-": "-", "times": "*", "divided by": "/"}
    pattern = re.compile(r"What is ([\d,.]+) (\+|-|times|divided by) ([\d,.]+)\?")
    checked = 0
    for item in load_eval_set("short-answer").items:
        match = pattern.fullmatch(item.input)
        if match:
            left, op, right = (g.replace(",", "") for g in match.groups())
            assert float(item.reference) == pytest.approx(eval(f"{left}{ops[op]}{right}"))
            checked += 1
    assert checked >= 15


def test_unknown_set_name_suggests_a_close_one():
    """A misspelt set name is refused with the close shipped name."""
    with pytest.raises(InvalidInputError, match="Did you mean 'ticket-routing'"):
        load_eval_set("ticket-routng")


# Scoring ---------------------------------------------------------------------------------------

LABEL = EvalItem(id="x", input="...", reference="billing", scoring="label")


@pytest.mark.parametrize(
    "answer", ["billing", "billing.", "Billing - refund", '"Billing"', " **Billing**\nbecause"]
)
def test_label_answer_with_decoration_is_correct(answer):
    """A label answer with case, punctuation, quotes or a trailing remark counts."""
    assert score_answer(answer, LABEL)


@pytest.mark.parametrize("answer", ["not billing", "billings", "", "shipping", "Topic: billing"])
def test_label_answer_that_is_not_the_label_is_wrong(answer):
    """An answer that negates, extends or wraps the label, or names another, is wrong."""
    assert not score_answer(answer, LABEL)


def test_exact_answer_compares_the_whole_normalised_first_line():
    """Exact scoring ignores case and surrounding punctuation but not extra words."""
    item = EvalItem(id="x", input="...", reference="Buenos Aires", scoring="exact")
    assert score_answer("buenos aires.\nIt is large", item)
    assert not score_answer("Buenos Aires, Argentina", item)


@pytest.mark.parametrize(
    ("answer", "reference", "tolerance", "correct"),
    [
        ("1,250", "1250", None, True),
        ("It is 1,000,000 exactly", "1000000", None, True),
        ("1251", "1250", None, False),
        ("3.14159", "3.14", 0.01, True),
        ("3.2", "3.14", 0.01, False),
        ("2.55 cm", "2.54", None, True),
        ("6.0", "6", None, True),
        ("no idea", "6", None, False),
        ("-4 degrees", "-4", None, True),
    ],
)
def test_number_scoring(answer, reference, tolerance, correct):
    """Number scoring reads the first number (commas removed) and applies the tolerance."""
    item = EvalItem(id="x", input="...", reference=reference, tolerance=tolerance, scoring="number")
    assert score_answer(answer, item) is correct


def test_normalise_answer_keeps_the_first_line_only():
    """Normalising lowercases, strips quotes and punctuation and drops later lines."""
    assert normalise_answer("\n  'Paris.'  \nThe capital") == "paris"


# A user's own set ------------------------------------------------------------------------------


def test_user_csv_set_loads_with_its_card(tmp_path):
    """A user's CSV set with a card beside it loads, with per-item scoring and tolerance."""
    (tmp_path / "mine.toml").write_text('task = "chat"\nscoring = "exact"\n', encoding="utf-8")
    data = tmp_path / "mine.csv"
    data.write_text(
        "id,input,reference,scoring,tolerance\n"
        'q1,"Capital of France, in one word?",Paris,,\n'
        "q2,Half of 5?,2.5,number,0.01\n",
        encoding="utf-8",
    )
    eval_set = load_eval_set(data)
    assert [(i.id, i.scoring, i.tolerance) for i in eval_set.items] == [
        ("q1", "exact", None),
        ("q2", "number", 0.01),
    ]
    assert eval_set.name == "mine" and "{input}" in eval_set.prompt


def test_user_set_loads_from_its_card_path(tmp_path):
    """Giving the card's path finds the data file of the same name beside it."""
    data = _user_set(tmp_path, [GOOD])
    assert load_eval_set(data.with_suffix(".toml")).path == data


def test_user_set_without_card_takes_card_fields(tmp_path):
    """A data file with no card loads when the card fields are given directly."""
    data = tmp_path / "bare.jsonl"
    data.write_text(GOOD + "\n", encoding="utf-8")
    eval_set = load_eval_set(data, card={"task": "chat", "scoring": "label"})
    assert eval_set.labels == ("billing",)


def test_user_set_without_card_or_fields_is_refused(tmp_path):
    """A data file with neither a card nor card fields names the card it expected."""
    data = tmp_path / "bare.jsonl"
    data.write_text(GOOD + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"bare\.toml"):
        load_eval_set(data)


def test_same_items_in_jsonl_and_csv_have_one_fingerprint(tmp_path):
    """The items' fingerprint does not depend on the file format."""
    jsonl = _user_set(tmp_path, [GOOD], name="one")
    (tmp_path / "two.toml").write_text(CARD, encoding="utf-8")
    (tmp_path / "two.csv").write_text("id,input,reference\na,Refund please,billing\n", "utf-8")
    assert load_eval_set(jsonl).sha256 == load_eval_set(tmp_path / "two.csv").sha256


def test_eval_set_from_rows_builds_a_set_in_memory():
    """A set built from in-memory rows is checked and scored like a file."""
    eval_set = eval_set_from_rows(
        {"name": "tiny", "task": "chat", "scoring": "number"},
        [{"id": "1", "input": "2+2?", "reference": 4}],
    )
    assert score_answer("4", eval_set.items[0], eval_set)


# Malformed rows and cards ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_line", "field"),
    [
        ('{"input": "x", "reference": "billing"}', "id"),
        ('{"id": "b", "reference": "billing"}', "input"),
        ('{"id": "b", "input": "x", "reference": ""}', "reference"),
        ('{"id": "a", "input": "x", "reference": "billing"}', "id"),
        ('{"id": "b", "input": "x", "reference": "billing", "scoring": "fuzzy"}', "scoring"),
        ('{"id": "b", "input": "x", "reference": "refunds"}', "reference"),
        ('{"id": "b", "input": "x", "reference": "billing", "refrence": "x"}', "refrence"),
        ('{"id": "b", "input": "x", "reference": "billing", "split": "train"}', "split"),
        ('{"id": "b", "input": "x", "reference": "3 apples", "scoring": "number"}', "reference"),
        (
            '{"id": "b", "input": "x", "reference": "3", "scoring": "number", "tolerance": "lots"}',
            "tolerance",
        ),
    ],
)
def test_malformed_row_names_file_line_and_field(tmp_path, bad_line, field):
    """A malformed third row is refused naming the file, line 3 and the field at fault."""
    data = _user_set(tmp_path, [GOOD, "", bad_line])
    with pytest.raises(InvalidInputError) as caught:
        load_eval_set(data)
    assert f"{data}, line 3, field `{field}`" in str(caught.value)


def test_bad_json_names_file_and_line(tmp_path):
    """A line that is not JSON is refused naming the file and its line."""
    data = _user_set(tmp_path, [GOOD, "{'id': 'b'}"])
    with pytest.raises(InvalidInputError, match=rf"{re.escape(str(data))}, line 2: not valid JSON"):
        load_eval_set(data)


def test_duplicate_id_names_both_lines(tmp_path):
    """A repeated id is refused naming the line it repeats."""
    data = _user_set(tmp_path, [GOOD, GOOD])
    with pytest.raises(InvalidInputError, match=r"line 2, field `id`.*already the id of line 1"):
        load_eval_set(data)


def test_unknown_scoring_in_card_names_the_field(tmp_path):
    """An unknown scoring rule in the card is refused naming the card and the field."""
    data = _user_set(tmp_path, [GOOD], card='task = "chat"\nscoring = "labels"\n')
    with pytest.raises(InvalidInputError, match=r"mine\.toml, field `scoring`.*'label'"):
        load_eval_set(data)


def test_card_size_that_does_not_match_rows_is_refused(tmp_path):
    """A card whose size is not the number of rows says the right size."""
    data = _user_set(tmp_path, [GOOD], card=CARD + "size = 2\n")
    with pytest.raises(InvalidInputError, match=r"field `size`.*Set size = 1"):
        load_eval_set(data)


def test_csv_row_with_missing_reference_names_its_line(tmp_path):
    """A CSV row with an empty reference is refused naming its line and field."""
    (tmp_path / "mine.toml").write_text(CARD, encoding="utf-8")
    data = tmp_path / "mine.csv"
    data.write_text("id,input,reference\na,Refund please,billing\nb,Where is it,\n", "utf-8")
    with pytest.raises(InvalidInputError, match=r"mine\.csv, line 3, field `reference`"):
        load_eval_set(data)


def test_csv_without_reference_column_names_the_header(tmp_path):
    """A CSV whose header lacks a required column is refused at line 1."""
    (tmp_path / "mine.toml").write_text(CARD, encoding="utf-8")
    data = tmp_path / "mine.csv"
    data.write_text("id,input,answer\na,Refund please,billing\n", "utf-8")
    with pytest.raises(InvalidInputError, match=r"mine\.csv, line 1: unknown column 'answer'"):
        load_eval_set(data)


def test_embeddings_set_needs_both_splits(tmp_path):
    """An embeddings set with no train items says that it needs neighbours."""
    card = 'task = "embeddings"\nscoring = "nearest-neighbour"\nk = 1\n'
    data = _user_set(tmp_path, [GOOD], card=card)
    with pytest.raises(InvalidInputError, match="split train"):
        load_eval_set(data)


def test_set_over_the_item_limit_is_refused():
    """A set of more than 100,000 items is refused before it is all read."""
    rows = ({"id": str(n), "input": "x", "reference": "1"} for n in range(MAX_ITEMS + 1))
    with pytest.raises(InvalidInputError, match="more than 100,000 items"):
        eval_set_from_rows({"name": "huge", "task": "chat", "scoring": "number"}, rows)


def test_shipped_files_are_one_json_object_per_line():
    """Every line of the shipped JSONL files is one JSON object (no blank or trailing lines)."""
    for path in sorted(evals_dir().glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert all(isinstance(json.loads(line), dict) for line in lines), path.name
