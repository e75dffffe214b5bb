"""`workbench eval` on the command line: local models, endpoints, JSON output, clean errors.

Every command that could save a run gets ``--runs-dir`` under a temporary folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from workbench import runs
from workbench.cli import main
from workbench.cloud.server import LoopbackCloud

CARD = """name = "tiny-tickets"
task = "chat"
scoring = "label"
labels = ["billing", "technical"]
max_new_tokens = 3
"""
ROWS = [
    {"id": "t1", "input": "I was charged twice.", "reference": "billing"},
    {"id": "t2", "input": "The app crashes on start.", "reference": "technical"},
    {"id": "t3", "input": "Refund my invoice, please.", "reference": "billing"},
]


@pytest.fixture
def chat_set(tmp_path) -> Path:
    """A 3-item label set with its card."""
    (tmp_path / "tiny-tickets.toml").write_text(CARD, encoding="utf-8")
    data = tmp_path / "tiny-tickets.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    return data


def assert_clean_error(code: int, stderr: str, *fragments: str) -> None:
    """Exit status 2 and one paragraph on stderr that starts with 'error:', no traceback."""
    assert code == 2, stderr
    text = stderr.strip()
    assert text.startswith("error:") and text.count("error:") == 1, text
    assert "Traceback" not in text and "\n\n" not in text
    flat = " ".join(text.split())
    for fragment in fragments:
        assert fragment in flat, flat


def test_json_to_stdout_holds_summary_and_items(chat_set, tmp_path):
    """`eval tiny-llama --json -` prints only JSON on stdout; the readable summary goes to stderr."""
    runs_dir = tmp_path / "runs"

    result = run_cli(
        "eval", "tiny-llama", "--set", str(chat_set), "--json", "-", "--runs-dir", str(runs_dir)
    )

    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    summary = record["summary"]
    assert (summary["model"], summary["variant"], summary["eval_set"]) == (
        "tiny-llama",
        "fp32",
        "tiny-tickets",
    )
    assert summary["items"] == 3 and 0 <= summary["score_low"] <= summary["score_high"] <= 1
    assert [item["id"] for item in record["items"]] == ["t1", "t2", "t3"]
    assert (
        "Wilson interval" in result.stderr and f"saved as run {record['run_id']}" in result.stderr
    )
    assert runs.load_run(record["run_id"], runs_dir).kind == "eval"


def test_summary_shows_accuracy_and_wrong_answers(chat_set, tmp_path, capsys):
    """The printed summary gives accuracy with its interval and what the model said when wrong."""
    out = tmp_path / "eval.json"

    code = main(["eval", "tiny-llama", "--set", str(chat_set), "--no-save", "--json", str(out)])

    printed = capsys.readouterr().out
    assert code == 0
    assert "accuracy" in printed and "0.0% (0 of 3 correct)" in printed
    assert "wrong answers (3 of 3 shown)" in printed and "expected 'billing'" in printed
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["correct"] == 0


def test_endpoint_eval_from_the_command_line(tiny_llama, chat_set, capsys):
    """--base-url and --model evaluate the loopback cloud and say so."""
    with LoopbackCloud(tiny_llama, None) as base_url:
        code = main(
            [
                "eval",
                "--base-url",
                base_url,
                "--model",
                tiny_llama.info.name,
                "--set",
                str(chat_set),
                "--no-save",
                "--json",
                "-",
            ]
        )

    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)["summary"]
    assert summary["target"] == "endpoint" and summary["base_url"] == base_url
    assert base_url in captured.err


def test_list_sets_names_the_shipped_sets(capsys):
    """--list-sets prints each shipped set with its task and scoring."""
    code = main(["eval", "--list-sets"])

    printed = capsys.readouterr().out
    assert code == 0
    for name in ("ticket-routing", "ticket-topics", "short-answer"):
        assert name in printed


def test_eval_is_listed_by_workbench_help(capsys):
    """`workbench --help` mounts the eval command."""
    with pytest.raises(SystemExit):
        main(["--help"])

    assert "eval" in capsys.readouterr().out


def test_unknown_set_is_one_clean_error(capsys):
    """An unknown --set exits 2 with one paragraph naming the shipped sets."""
    code = main(["eval", "tiny-llama", "--set", "ticket-routin", "--no-save"])

    assert_clean_error(
        code, capsys.readouterr().err, "No eval set named 'ticket-routin'", "ticket-routing"
    )


def test_limit_zero_is_one_clean_error(capsys):
    """--limit 0 exits 2 naming the flag and the accepted range."""
    code = main(["eval", "tiny-llama", "--set", "ticket-routing", "--limit", "0", "--no-save"])

    assert_clean_error(code, capsys.readouterr().err, "`limit` (--limit)")


def test_endpoint_without_model_is_one_clean_error(capsys):
    """--base-url without --model exits 2 saying to name the served model."""
    code = main(["eval", "--base-url", "http://127.0.0.1:9/v1", "--set", "ticket-routing"])

    assert_clean_error(code, capsys.readouterr().err, "`model` (--model) is missing")


def test_missing_set_flag_is_one_clean_error(capsys):
    """No --set exits 2 saying how to find the sets."""
    code = main(["eval", "tiny-llama"])

    assert_clean_error(code, capsys.readouterr().err, "--set", "--list-sets")


def test_json_into_a_missing_folder_is_refused_before_work(tmp_path, capsys):
    """--json into a folder that does not exist exits 2 before any model is loaded."""
    target = tmp_path / "nowhere" / "eval.json"

    code = main(["eval", "tiny-llama", "--set", "ticket-routing", "--json", str(target)])

    assert_clean_error(code, capsys.readouterr().err, "does not exist")
