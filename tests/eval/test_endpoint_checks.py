"""An endpoint eval asks the endpoint once before it starts a run: an unreachable URL, a wrong
model name or an endpoint without the set's task fails with the client's clear error, and no run
is left behind."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from workbench import runs
from workbench.cli import main
from workbench.cloud.client import EndpointError, EndpointUnreachableError
from workbench.cloud.server import LoopbackCloud
from workbench.eval import EvalConfig, run_eval
from workbench.eval.targets import EndpointTarget

CARD = """name = "tiny-tickets"
task = "chat"
scoring = "label"
labels = ["billing", "technical"]
max_new_tokens = 3
"""
EMBEDDING_CARD = """name = "tiny-topics"
task = "embeddings"
scoring = "nearest-neighbour"
labels = ["billing", "technical"]
k = 1
"""
ROWS = [
    {"id": "t1", "input": "I was charged twice.", "reference": "billing"},
    {"id": "t2", "input": "The app crashes on start.", "reference": "technical"},
]


def write_set(folder: Path, name: str, card: str, splits: tuple[str, ...] = ()) -> Path:
    """A 2-item set with its card in ``folder`` (items in ``splits``, if given); returns the
    data file."""
    (folder / f"{name}.toml").write_text(card, encoding="utf-8")
    rows = (
        [row | {"split": split} for row, split in zip(ROWS, splits, strict=True)]
        if splits
        else ROWS
    )
    data = folder / f"{name}.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return data


@pytest.fixture
def chat_set(tmp_path) -> Path:
    return write_set(tmp_path, "tiny-tickets", CARD)


@pytest.fixture
def closed_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (the port is bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def no_runs_in(runs_dir: Path) -> bool:
    """Whether ``runs_dir`` holds no run at all."""
    return not runs_dir.exists() or runs.list_runs(runs_dir) == []


def test_unreachable_endpoint_is_refused_before_a_run(chat_set, closed_url, tmp_path):
    """An eval of a closed port raises EndpointUnreachableError naming the URL; no run is saved."""
    runs_dir = tmp_path / "runs"
    config = EvalConfig(eval_set=str(chat_set), base_url=closed_url, model="m")

    with pytest.raises(
        EndpointUnreachableError, match="Check that the server is running"
    ) as raised:
        run_eval(config, runs_dir=runs_dir, progress=False)

    assert f"{closed_url}/chat/completions" in str(raised.value)
    assert no_runs_in(runs_dir)


def test_unreachable_endpoint_on_the_command_line_is_one_clean_error(closed_url, tmp_path, capsys):
    """`workbench eval --base-url CLOSED --model x --set ticket-routing` exits 2 naming the URL,
    and leaves no run."""
    runs_dir = tmp_path / "runs"

    code = main(
        [
            "eval", "--base-url", closed_url, "--model", "x", "--set", "ticket-routing",
            "--runs-dir", str(runs_dir),
        ]
    )  # fmt: skip

    text = capsys.readouterr().err.strip()
    assert code == 2
    assert text.startswith(f"error: Cannot connect to {closed_url}/chat/completions")
    assert text.count("error:") == 1 and "Traceback" not in text
    assert no_runs_in(runs_dir)


def test_a_model_the_endpoint_does_not_serve_is_refused_before_a_run(
    tiny_llama, chat_set, tmp_path
):
    """A wrong --model at a live endpoint fails with the server's 404 and the fix; no run."""
    runs_dir = tmp_path / "runs"

    with LoopbackCloud(tiny_llama, None) as base_url:
        config = EvalConfig(eval_set=str(chat_set), base_url=base_url, model="not-served")
        with pytest.raises(EndpointError, match="answered 404") as raised:
            run_eval(config, runs_dir=runs_dir, progress=False)

    message = str(raised.value)
    assert f"{base_url}/chat/completions" in message and "Check the model name" in message
    assert no_runs_in(runs_dir)


def test_an_embeddings_set_checks_the_embeddings_route(tiny_llama, tmp_path):
    """An embeddings set against a chat-only endpoint fails on /embeddings before a run."""
    runs_dir = tmp_path / "runs"
    data = write_set(tmp_path, "tiny-topics", EMBEDDING_CARD, ("train", "test"))

    with LoopbackCloud(tiny_llama, None) as base_url:
        config = EvalConfig(eval_set=str(data), base_url=base_url, model=tiny_llama.info.name)
        with pytest.raises(EndpointError, match="no embedding model") as raised:
            run_eval(config, runs_dir=runs_dir, progress=False)

    assert f"{base_url}/embeddings" in str(raised.value)
    assert no_runs_in(runs_dir)


def test_a_target_made_without_the_check_sends_nothing(chat_set, closed_url):
    """check=False makes an endpoint target without a request; check() then raises."""
    config = EvalConfig(eval_set=str(chat_set), base_url=closed_url, model="m")

    target = EndpointTarget(config, "text-generation", check=False)
    try:
        with pytest.raises(EndpointUnreachableError, match=closed_url):
            target.check()
    finally:
        target.close()


def test_a_password_in_the_base_url_is_not_recorded():
    """An eval's recorded config keeps the endpoint's URL without its user:password@ part."""
    from workbench.eval import EvalConfig

    config = EvalConfig("https://me:hunter2hunter2@api.example.com/v1", "ticket-routing", model="m")

    recorded = json.dumps(config.to_dict())
    assert "hunter2" not in recorded and "me:" not in recorded
    assert config.to_dict()["base_url"] == "https://api.example.com/v1"
    assert config.base_url.startswith("https://me:")  # still sent with the requests
