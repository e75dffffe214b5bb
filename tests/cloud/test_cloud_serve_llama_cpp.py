"""`cloud serve --engine llama.cpp`: the same OpenAI-compatible API, run by llama.cpp."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from conftest import REPO_ROOT

from workbench.cloud.cli import main

needs_llama_cpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed: pip install 'ai-deployment-workbench[llama-cpp]'",
)


def test_serve_on_a_missing_engine_exits_2_with_the_install_command(monkeypatch, capsys):
    """Without llama-cpp-python, `serve --engine llama.cpp` says how to install it, loading nothing."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    code = main(["serve", "--engine", "llama.cpp", "--embedding-model", "none"])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'ai-deployment-workbench[llama-cpp]'" in err
    assert "Traceback" not in err


def test_serve_on_an_unknown_engine_names_the_known_ones(capsys):
    """A misspelt --engine is refused with the engine it was close to."""
    code = main(["serve", "--engine", "llamacpp", "--embedding-model", "none"])
    assert code == 2
    assert "Did you mean 'llama.cpp'?" in capsys.readouterr().err


@pytest.mark.integration
@needs_llama_cpp
def test_serve_with_llama_cpp_answers_a_chat_completion():
    """`cloud serve --engine llama.cpp` answers one chat completion with text and usage."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cloud.cli", "serve", "--engine", "llama.cpp",
         "--chat-model", "smollm2-135m", "--embedding-model", "none", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        env=os.environ.copy(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:"), process.stderr.read()
        body = {
            "model": "smollm2-135m",
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "max_tokens": 12,
        }
        request = urllib.request.Request(
            f"{base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            reply = json.load(answer)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    choice = reply["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    assert 1 <= reply["usage"]["completion_tokens"] <= 12
    assert (
        reply["usage"]["prompt_tokens"] == 37
    )  # the chat template's prompt, as transformers makes it
    assert reply["model"] == "smollm2-135m"
    assert code == 0
