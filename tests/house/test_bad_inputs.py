"""Bad inputs, as a careless or hostile user types them: every one is refused before any work.

Each case runs the ``workbench`` command line and expects exit status 2, one paragraph on stderr
naming the flag or field at fault, no traceback, no "this is a bug", and no run folder left
behind. The cases run in one fresh Python process (a subprocess, as a user runs the CLI) that
calls the CLI's ``main`` once per case: starting Python and importing torch and Flower 80 times
would take minutes, while the process only shares imports between cases, not state.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO_ROOT

# (group, argv with {placeholders}, fragments the message must hold). Placeholders: {tmp} is a
# folder of prepared files (see _prepare_files), {bench} and {fed} the ids of a bench and a
# federated run made before the cases run.
FAST_BENCH = "--min-iters 1 --min-seconds 0 --max-seconds 1 --warmup 0 --quality-items 1"
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    # bench: bounds checked before the model loads, and what fits in memory
    ("bench", "bench tiny-bert --batch 1000000", ("--batch", "available", "largest batch")),
    ("bench", "bench tiny-llama --batch 100000 --seq-len 200", ("--batch", "--seq-len")),
    ("bench", "bench tiny-bert --batch 0", ("--batch",)),
    ("bench", "bench tiny-bert --batch 2000000", ("--batch",)),
    ("bench", "bench tiny-bert --batch x", ("--batch",)),
    ("bench", "bench tiny-bert --seq-len -1", ("--seq-len",)),
    ("bench", "bench tiny-bert --threads 100000", ("--threads",)),
    ("bench", "bench tiny-bert --threads 0", ("--threads",)),
    ("bench", "bench tiny-bert --warmup 1000000000", ("--warmup",)),
    ("bench", "bench tiny-bert --min-iters 0", ("--min-iters",)),
    ("bench", "bench tiny-bert --min-iters 100000000000", ("--min-iters",)),
    ("bench", "bench tiny-bert --min-seconds inf", ("--min-seconds",)),
    ("bench", "bench tiny-bert --min-seconds nan", ("--min-seconds",)),
    ("bench", "bench tiny-bert --max-seconds inf", ("--max-seconds",)),
    ("bench", "bench tiny-bert --max-seconds 0", ("--max-seconds",)),
    ("bench", "bench tiny-bert --min-seconds 5 --max-seconds 1", ("--max-seconds",)),
    ("bench", "bench tiny-bert --quality-items 1000000000", ("--quality-items",)),
    ("bench", "bench tiny-bert --max-new-tokens 1000000", ("--max-new-tokens",)),
    ("bench", "bench tiny-bert --variants nope", ("nope",)),
    ("bench", "bench tiny-bert --variants fp32,fp32", ("variants",)),
    ("bench", "bench tiny-bert --json {tmp}/empty", ("--json", "folder")),
    ("bench", "bench tiny-bert --json {tmp}/missing/out.json", ("--json", "does not exist")),
    ("bench", "bench tiny-bert --runs-dir {tmp}/file.bin", ("runs directory", "--runs-dir")),
    ("bench", "bench {tmp}/loop", ("symbolic link",)),
    ("bench", "bench {tmp}/empty", ("config.json",)),
    ("bench", "bench {tmp}/file.bin", ("single .bin file",)),
    ("bench", "bench {tmp}/no-tokenizer " + FAST_BENCH, ("no tokenizer files",)),
    ("bench", "bench nope-model", ("nope-model",)),
    # models: tokenizers, pickles and paths
    ("models", "models try {tmp}/no-tokenizer hi", ("no tokenizer files",)),
    ("models", "models info {tmp}/no-tokenizer", ("no tokenizer files",)),
    ("models", "models try {tmp}/objects-pickle hi", ("--allow-pickle",)),
    (
        "models",
        "models try {tmp}/objects-pickle hi --allow-pickle",
        ("--allow-pickle", "safetensors"),
    ),
    ("models", "models info {tmp}/loop", ("symbolic link",)),
    ("models", "models try {tmp}/loop hi", ("symbolic link",)),
    ("models", "models info {tmp}/dangling", ("symbolic link",)),
    ("models", "models try tiny-llama hi --max-new-tokens 100000000", ("max_new_tokens",)),
    ("models", "models info ./nowhere", ("does not exist",)),
    # eval
    ("eval", "eval tiny-bert --set nope", ("nope",)),
    ("eval", "eval tiny-bert --set {tmp}/loop", ("loop",)),
    ("eval", "eval --set short-answer", ("--base-url",)),
    ("eval", "eval {tmp}/no-tokenizer --set ticket-topics --limit 2", ("no tokenizer files",)),
    ("eval", "eval tiny-bert --set ticket-topics --json {tmp}/empty", ("--json",)),
    # fed run: bounds, TOML files and their types
    ("fed", "fed run --rounds 1000000000", ("--rounds",)),
    ("fed", "fed run --rounds 0", ("--rounds",)),
    ("fed", "fed run --num-clients 1000000000", ("--num-clients",)),
    ("fed", "fed run --local-epochs 1000000000", ("--local-epochs",)),
    ("fed", "fed run --batch-size 1000000000", ("--batch-size",)),
    ("fed", "fed run --dp-noise 1e308", ("--dp-noise",)),
    ("fed", "fed run --dp-noise -1", ("--dp-noise",)),
    ("fed", "fed run --dp-clip 1e308", ("--dp-clip",)),
    ("fed", "fed run --lr 1e308", ("--lr",)),
    ("fed", "fed run --server-lr 1e308", ("--server-lr",)),
    ("fed", "fed run --round-timeout-s 1e308", ("--round-timeout-s",)),
    ("fed", "fed run --deadline 0", ("--deadline", "none")),
    ("fed", "fed run --deadline -5", ("--deadline",)),
    ("fed", "fed run --deadline inf", ("--deadline",)),
    ("fed", "fed run --fraction 0", ("--fraction",)),
    ("fed", "fed run --fraction 2", ("--fraction",)),
    ("fed", "fed run --alpha 0", ("--alpha",)),
    ("fed", "fed run --faulty x", ("--faulty",)),
    ("fed", "fed run --device-mix a=b", ("--device-mix",)),
    ("fed", "fed run --device-mix nope=1", ("nope",)),
    ("fed", "fed run --strategy krum --krum-malicious 50", ("krum_malicious",)),
    ("fed", "fed run --config {tmp}/rounds-text.toml", ("rounds", "'ten'")),
    ("fed", "fed run --config {tmp}/clients-list.toml", ("num_clients",)),
    ("fed", "fed run --config {tmp}/faulty-int.toml", ("faulty_clients", "list")),
    ("fed", "fed run --config {tmp}/faulty-text.toml", ("faulty_clients",)),
    ("fed", "fed run --config {tmp}/strategy-int.toml", ("strategy",)),
    ("fed", "fed run --config {tmp}/seed-bool.toml", ("seed",)),
    ("fed", "fed run --config {tmp}/federated-scalar.toml", ("federated", "table")),
    ("fed", "fed run --config {tmp}/unknown-key.toml", ("unknown setting",)),
    ("fed", "fed run --config {tmp}/latin1.toml", ("--config", "UTF-8")),
    ("fed", "fed run --config {tmp}/broken.toml", ("--config", "TOML")),
    ("fed", "fed run --config {tmp}/empty", ("--config", "folder")),
    ("fed", "fed run --config {tmp}/loop", ("--config", "symlink loop")),
    ("fed", "fed run --config {tmp}/missing.toml", ("--config", "does not exist")),
    ("fed", "fed run --json {tmp}/empty", ("--json",)),
    # cloud serve and bench: checked before any model loads
    ("cloud", "cloud serve --port 70000", ("--port", "65535")),
    ("cloud", "cloud serve --port -1", ("--port",)),
    ("cloud", "cloud serve --port 65536", ("--port",)),
    ("cloud", "cloud serve --slots 0", ("--slots",)),
    ("cloud", "cloud serve --region mars", ("mars",)),
    ("cloud", "cloud serve --fault-kinds boom", ("--fault-kinds",)),
    ("cloud", "cloud serve --fault-rate 2", ("--fault-rate",)),
    ("cloud", "cloud serve --host 0.0.0.0", ("--allow-remote",)),
    ("cloud", "cloud serve --chat-model none --embedding-model none", ("--chat-model",)),
    ("cloud", "cloud serve --chat-model {tmp}/loop --embedding-model none --port 0", ("symbolic",)),
    ("cloud", "cloud bench --base-url notaurl --model x", ("--base-url",)),
    (
        "cloud",
        "cloud bench --base-url http://127.0.0.1:9/v1 --model x --requests 0",
        ("--requests",),
    ),
    ("cloud", "cloud bench --base-url http://127.0.0.1:9/v1 --model x --users 0", ("--users",)),
    # decide, hybrid and cost: scenario files, --set, --today, prices
    ("decide", "decide nope", ("nope",)),
    ("decide", "decide {tmp}/latin1.toml", ("scenario file",)),
    ("decide", "decide {tmp}/rounds-text.toml", ("unknown top-level key",)),
    ("decide", "decide support_chatbot --set nope=1", ("--set nope",)),
    ("decide", "decide support_chatbot --today nope", ("--today",)),
    ("decide", "decide support_chatbot --requests 0", ("--requests",)),
    ("decide", "decide support_chatbot --requests 1000000000000", ("--requests",)),
    ("decide", "decide support_chatbot --json {tmp}/empty", ("--json",)),
    ("hybrid", "hybrid simulate nope", ("nope",)),
    ("hybrid", "hybrid simulate support_chatbot --requests 0", ("--requests",)),
    ("hybrid", "hybrid simulate support_chatbot --workers 0", ("--workers",)),
    (
        "hybrid",
        "hybrid simulate support_chatbot --cloud-ms-per-token -1",
        ("--cloud-ms-per-token",),
    ),
    ("hybrid", "hybrid simulate {tmp}/latin1.toml", ("scenario file",)),
    ("cost", "cost compare nope", ("nope",)),
    ("cost", "cost compare support_chatbot --max-age-days -1", ("--max-age-days",)),
    (
        "cost",
        "cost compare support_chatbot --overrides {tmp}/latin1.toml",
        ("--overrides", "UTF-8"),
    ),
    ("cost", "cost compare support_chatbot --overrides {tmp}/missing.toml", ("does not exist",)),
    ("cost", "cost compare support_chatbot --overrides {tmp}/rounds-text.toml", ("unknown table",)),
    (
        "cost",
        "cost compare support_chatbot --overrides {tmp}/future-price.toml",
        ("as_of", "future"),
    ),
    # runs, devices, publish
    ("runs", "runs show nope", ("nope",)),
    ("runs", "runs list --runs-dir {tmp}/file.bin", ("--runs-dir",)),
    ("devices", "devices project {fed}", ("federated run", "bench")),
    ("devices", "devices project {bench} --device nope", ("nope",)),
    ("devices", "devices project nope", ("nope",)),
    ("publish", "publish nope --out {tmp}/published", ("nope",)),
    ("publish", "export nope --out {tmp}/export.html", ("nope",)),
]

DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, os, shlex, sys
    from pathlib import Path
    from workbench.cli import main

    cases, out, fixtures = json.loads(Path(sys.argv[1]).read_text()), sys.argv[2], {}
    runs = Path(os.environ["WORKBENCH_RUNS_DIR"])

    def call(argv):
        err, std = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            try:
                status = main(argv)
            except SystemExit as exc:  # argparse's own errors
                status = exc.code
        return status, err.getvalue(), std.getvalue()

    for name, argv in (
        ("bench", "bench tiny-bert --batch 1 " + os.environ["FAST_BENCH"]),
        ("fed", "fed run --rounds 1 --num-clients 5 --no-baseline"),
    ):
        status, err, std = call(shlex.split(argv))
        assert status == 0, err
        fixtures[name] = std.strip().split()[-1]
    results = []
    for argv in cases:
        before = set(os.listdir(runs))
        status, err, _ = call(shlex.split(argv.format(**fixtures, tmp=os.environ["CASE_DIR"])))
        results.append({"status": status, "stderr": err, "new_runs": sorted(set(os.listdir(runs)) - before)})
    Path(out).write_text(json.dumps(results))
    """
)


def _prepare_files(folder: Path) -> None:
    """The files the cases point at: model folders, TOML files of wrong types, a symlink loop."""
    from model_folders import save_tiny_bert, tiny_bert_model

    (folder / "empty").mkdir()
    (folder / "file.bin").write_bytes(b"x")
    (folder / "loop").symlink_to(folder / "loop2")
    (folder / "loop2").symlink_to(folder / "loop")
    (folder / "dangling").symlink_to(folder / "gone")
    tiny_bert_model().save_pretrained(folder / "no-tokenizer")  # weights and config only
    _save_pickle_with_objects(save_tiny_bert(folder / "objects-pickle", weights="pickle"))
    tomls = {
        "rounds-text": '[federated]\nrounds = "ten"\n',
        "clients-list": "[federated]\nnum_clients = [1, 2]\n",
        "faulty-int": "[federated]\nfaulty_clients = 3\n",
        "faulty-text": '[federated]\nfaulty_clients = "x"\n',
        "strategy-int": "[federated]\nstrategy = 5\n",
        "seed-bool": "[federated]\nseed = true\n",
        "federated-scalar": "federated = 3\n",
        "unknown-key": "[federated]\nrouns = 3\n",
        "broken": "[federated\nrounds = 3\n",
        "future-price": textwrap.dedent(
            """
            [[api]]
            provider = "openai"
            model = "gpt-4o-mini"
            input_usd_per_mtok = 0.12
            output_usd_per_mtok = 0.50
            source = "a quote"
            as_of = "2999-01-01"
            """
        ),
    }
    for name, text in tomls.items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    (folder / "latin1.toml").write_bytes("[federated]\nrounds = 1 # café\n".encode("latin-1"))


def _save_pickle_with_objects(folder: Path) -> None:
    """Weights whose pickle holds a Python object besides tensors: torch's weights-only loader
    refuses them even when pickles are allowed."""
    import pathlib

    import torch

    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    state["origin"] = pathlib.PurePosixPath("/somewhere")
    torch.save(state, folder / "pytorch_model.bin")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Every case's exit status, stderr and new run folders, from one CLI process."""
    import os

    folder = tmp_path_factory.mktemp("bad-inputs")
    files, runs = folder / "files", folder / "runs"
    files.mkdir()
    runs.mkdir()
    _prepare_files(files)
    (folder / "cases.json").write_text(json.dumps([argv for _, argv, _ in CASES]))
    (folder / "driver.py").write_text(DRIVER)
    env = {
        **os.environ,
        "WORKBENCH_RUNS_DIR": str(runs),
        "CASE_DIR": str(files),
        "FAST_BENCH": FAST_BENCH,
    }
    done = subprocess.run(
        [
            sys.executable,
            str(folder / "driver.py"),
            str(folder / "cases.json"),
            str(folder / "out.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((folder / "out.json").read_text())


@pytest.mark.parametrize(
    ("index", "argv", "fragments"),
    [
        pytest.param(i, argv, fragments, id=f"{group}: {argv}")
        for i, (group, argv, fragments) in enumerate(CASES)
    ],
)
def test_bad_input_is_refused_clearly(outcomes, index, argv, fragments):
    """Exit status 2, a message naming the flag or field, no traceback, no run folder left."""
    outcome = outcomes[index]
    stderr = " ".join(outcome["stderr"].split())

    assert outcome["status"] == 2, stderr
    assert "Traceback" not in outcome["stderr"]
    assert "this is a bug" not in stderr.lower(), stderr
    for fragment in fragments:
        assert fragment in stderr, stderr
    assert outcome["new_runs"] == [], stderr
