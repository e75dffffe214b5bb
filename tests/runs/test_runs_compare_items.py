"""`runs compare` for eval runs: the table they share, each item's answers side by side, and a
clear refusal for a table the runs lack.

The eval runs are real: the harness runs tiny-llama twice on a 3-item set, once answering in one
token and once in two. The set's references are what tiny-llama itself says, so run A (one token)
gets item ``x`` right, run B (two tokens) gets item ``y`` right, and neither gets ``z``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from workbench.cli import main
from workbench.eval import EvalConfig, run_eval
from workbench.kit.errors import InvalidInputError, TableNotFoundError
from workbench.runs import compare_items, compare_runs, load_run, start_run

CARD = """name = "tiny-echo"
task = "chat"
scoring = "exact"
prompt = "{input}"
max_new_tokens = 2
"""
INPUTS = {"x": "Hello", "y": "Say yes.", "z": "billing"}


@dataclass(frozen=True)
class EvalPair:
    runs_dir: Path
    one_token: str  # run A: answers in 1 token
    two_tokens: str  # run B: answers in 2 tokens


def said(runner, text: str, tokens: int) -> str:
    """What ``runner`` answers to ``text`` in at most ``tokens`` tokens, as the harness asks."""
    return runner.generate(runner.chat_or_prompt(text), tokens).text.strip()


@pytest.fixture(scope="module")
def pair(tiny_llama, tmp_path_factory) -> EvalPair:
    """Two saved eval runs of tiny-llama on one set: 1 and 2 tokens per answer."""
    folder = tmp_path_factory.mktemp("compare-evals")
    one, two = said(tiny_llama, INPUTS["x"], 1), said(tiny_llama, INPUTS["y"], 2)
    assert one.split() != said(tiny_llama, INPUTS["x"], 2).split()  # else A and B cannot differ
    assert two.split() != said(tiny_llama, INPUTS["y"], 1).split()
    references = {"x": one, "y": two, "z": "no model says this"}
    (folder / "tiny-echo.toml").write_text(CARD, encoding="utf-8")
    data = folder / "tiny-echo.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": i, "input": INPUTS[i], "reference": references[i]}) + "\n"
            for i in INPUTS
        ),
        encoding="utf-8",
    )
    runs_dir = folder / "runs"
    ids = [
        run_eval(
            EvalConfig("tiny-llama", str(data), max_new_tokens=tokens),
            runner=tiny_llama,
            runs_dir=runs_dir,
            progress=False,
        ).run_id
        for tokens in (1, 2)
    ]
    return EvalPair(runs_dir, *ids)


def compare_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``workbench runs compare ARGS`` in this process: (exit status, stdout, stderr)."""
    code = main(["runs", "compare", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# Side by side


def test_items_side_by_side_say_which_run_got_each_item_right(pair):
    """x is right only in A, y only in B, z in neither; the split items come first."""
    comparison = compare_items([pair.one_token, pair.two_tokens], runs_dir=pair.runs_dir)

    items = comparison.items
    assert list(items["id"]) == ["x", "y", "z"]
    assert list(items["right_in"]) == ["A", "B", "none"]
    assert list(items["correct_A"]) == [True, False, False]
    assert list(items["correct_B"]) == [False, True, False]
    assert comparison.right_in_counts() == {"all": 0, "A": 1, "B": 1, "none": 1}


def test_side_by_side_answers_are_each_runs_own(pair):
    """answer_A and answer_B are what each saved run answered, matched by item id."""
    a = load_run(pair.one_token, pair.runs_dir).table("items").set_index("id")
    b = load_run(pair.two_tokens, pair.runs_dir).table("items").set_index("id")

    items = compare_items([pair.one_token, pair.two_tokens], runs_dir=pair.runs_dir).items

    for row in items.itertuples(index=False):
        assert (row.answer_A, row.answer_B) == (a.at[row.id, "answer"], b.at[row.id, "answer"])
        assert row.reference == a.at[row.id, "reference"]


def test_side_by_side_runs_name_their_setting_and_accuracy(pair):
    """Each run's row gives its full id, the setting that differs, and 1 of 3 correct."""
    runs = compare_items([pair.one_token, pair.two_tokens], runs_dir=pair.runs_dir).runs

    assert list(runs["run"]) == ["A", "B"]
    assert list(runs["run_id"]) == [pair.one_token, pair.two_tokens]
    assert list(runs["max_new_tokens"]) == [1, 2]
    assert list(runs["correct"]) == [1, 1] and list(runs["items"]) == [3, 3]
    assert runs["accuracy"].tolist() == pytest.approx([1 / 3, 1 / 3])


def test_an_item_only_one_run_has_is_missing_for_the_other(tmp_path):
    """With z scored only in A, B's answer for z is missing and z counts as not right in B."""
    a = save_items(tmp_path, [("x", "b", True), ("z", "t", True)], limit=2)
    b = save_items(tmp_path, [("x", "b", False)], limit=1)

    items = compare_items([a, b], runs_dir=tmp_path).items.set_index("id")

    assert items.at["z", "right_in"] == "A" and pd.isna(items.at["z", "answer_B"])
    assert pd.isna(items.at["z", "correct_B"])


def test_runs_giving_an_item_different_references_are_refused(tmp_path):
    """Item x with reference 'b' in one run and 't' in the other: different sets, refused."""
    a = save_items(tmp_path, [("x", "b", True)], eval_set="one")
    b = save_items(tmp_path, [("x", "t", True)], eval_set="two")

    with pytest.raises(InvalidInputError, match=r"Item 'x' has reference 'b' in run .* and 't'"):
        compare_items([a, b], runs_dir=tmp_path)


# Which table


def test_eval_runs_are_compared_on_items_by_default(pair):
    """compare_runs without a table stacks the eval runs' items: 3 rows each."""
    table = compare_runs([pair.one_token, pair.two_tokens], runs_dir=pair.runs_dir)

    assert list(table["run_id"]) == [pair.one_token] * 3 + [pair.two_tokens] * 3
    assert list(table["max_new_tokens"]) == [1] * 3 + [2] * 3
    assert {"answer", "correct", "latency_ms"} <= set(table.columns)


def test_a_table_the_runs_lack_is_refused_naming_the_tables_they_have(pair):
    """table='points' on eval runs names 'points', both runs and their table 'items'."""
    with pytest.raises(TableNotFoundError) as raised:
        compare_runs([pair.one_token, pair.two_tokens], table="points", runs_dir=pair.runs_dir)

    message = str(raised.value)
    assert "No table 'points'" in message and "The tables every run has: items" in message
    assert pair.one_token in message and pair.two_tokens in message


def test_runs_sharing_no_table_are_refused_with_each_runs_tables(pair):
    """An eval run and a bench run share no table: the error lists what each one has."""
    with start_run("bench", {"model": "m"}, runs_dir=pair.runs_dir) as run:
        run.add_table("points", pd.DataFrame({"p95_ms": [1.5]}))

    with pytest.raises(TableNotFoundError) as raised:
        compare_runs([pair.one_token, run.id], runs_dir=pair.runs_dir)

    message = str(raised.value)
    assert "share no table" in message
    assert f"run {pair.one_token} has items" in message and f"run {run.id} has points" in message


# The command line


def test_cli_shows_eval_items_side_by_side_by_default(pair, capsys):
    """`runs compare A B` on eval runs prints both runs, the tally and a row per item."""
    code, out, err = compare_cli(
        capsys, pair.one_token, pair.two_tokens, "--runs-dir", str(pair.runs_dir)
    )

    assert code == 0, err
    assert out.startswith("table 'items' of 2 runs, side by side per item id:")
    assert "right in A only: 1 item; in B only: 1 item; in both: 0 items; in neither: 1 item" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["id", "reference"])
    end = header.index("right_in") + len("right_in")  # pandas right-aligns each cell
    rows = lines[lines.index(header) + 1 :]
    assert [row.split()[0] for row in rows] == ["x", "y", "z"]
    assert [row[:end].split()[-1] for row in rows] == ["A", "B", "none"]


def test_cli_json_holds_the_runs_and_the_items(pair, capsys):
    """--json prints the table name, each run with its accuracy, and each item's answers."""
    code, out, err = compare_cli(
        capsys, pair.one_token, pair.two_tokens, "--table", "items", "--json",
        "--runs-dir", str(pair.runs_dir),
    )  # fmt: skip

    assert code == 0, err
    record = json.loads(out)
    assert record["table"] == "items"
    assert [run["run_id"] for run in record["runs"]] == [pair.one_token, pair.two_tokens]
    assert {item["id"]: item["right_in"] for item in record["items"]} == {
        "x": "A",
        "y": "B",
        "z": "none",
    }


def test_cli_stacked_prints_every_runs_rows(pair, capsys):
    """--stacked prints the items of both runs one under the other, run_id first."""
    code, out, err = compare_cli(
        capsys, pair.one_token, pair.two_tokens, "--stacked", "--runs-dir", str(pair.runs_dir)
    )

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[0] == "run_id"
    assert [line.split()[0] for line in lines[1:]] == [pair.one_token] * 3 + [pair.two_tokens] * 3


def test_cli_missing_table_is_one_clean_error(pair, capsys):
    """--table points exits 2 with one paragraph naming the table and the shared 'items'."""
    code, out, err = compare_cli(
        capsys, pair.one_token, pair.two_tokens, "--table", "points",
        "--runs-dir", str(pair.runs_dir),
    )  # fmt: skip

    assert code == 2 and out == ""
    text = err.strip()
    assert text.startswith("error: No table 'points'") and "\n" not in text
    assert re.search(r"The tables every run has: items; pick one with `--table NAME`", text)


def save_items(
    runs_dir: Path, rows: list[tuple[str, str, bool]], eval_set: str = "s", limit: int = 0
) -> str:
    """A saved eval-shaped run whose items are ``(id, reference, correct)``; returns its id."""
    items = pd.DataFrame(rows, columns=["id", "reference", "correct"])
    items["answer"] = items["reference"].where(items["correct"], "other")
    with start_run("eval", {"eval_set": eval_set, "limit": limit}, runs_dir=runs_dir) as run:
        run.add_table("items", items)
    return run.id
