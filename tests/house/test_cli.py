"""The `workbench models` command line, run in a subprocess as a user would run it."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from model_folders import save_tiny_bert

ALIASES = ["minilm", "smollm2-135m", "tiny-bert", "tiny-llama"]


def assert_clean_error(result, *fragments: str) -> None:
    """Exit status 2 and one paragraph on stderr that starts with 'error:', with no traceback."""
    assert result.returncode == 2, result.stderr
    stderr = result.stderr.strip()
    assert stderr.startswith("error:"), stderr
    assert "\n\n" not in stderr
    assert "Traceback" not in result.stderr
    flat = " ".join(stderr.split())
    for fragment in fragments:
        assert fragment in flat, flat


# Listing and inspecting


def test_models_list_prints_a_table_of_every_alias():
    """`models list` exits 0 and prints a table with a header and all four aliases."""
    result = run_cli("models", "list")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["alias", "task", "params"]
    assert [line.split()[0] for line in lines[1:]] == ALIASES


def test_models_list_json_has_every_alias():
    """`models list --json` prints JSON rows with all four aliases and their params."""
    result = run_cli("models", "list", "--json")

    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["alias"] for row in rows] == ALIASES
    assert all(isinstance(row["params"], int) for row in rows)


def test_models_info_tiny_bert_json_has_params():
    """`models info tiny-bert --json` reports tiny-bert's 1,011,360 parameters."""
    result = run_cli("models", "info", "tiny-bert", "--json")

    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["params"] == 1_011_360
    assert info["task"] == "embeddings"


def test_models_info_text_shows_params_readably():
    """`models info tiny-llama` prints text (not JSON) naming the model and 995,296 parameters."""
    result = run_cli("models", "info", "tiny-llama")

    assert result.returncode == 0, result.stderr
    assert not result.stdout.lstrip().startswith("{")
    assert "tiny-llama" in result.stdout
    assert "995,296" in result.stdout


def test_models_info_minilm_json_has_params():
    """`models info minilm --json` reports 22,713,216 parameters and its weight's SHA-256."""
    result = run_cli("models", "info", "minilm", "--json")

    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["params"] == 22713216
    assert list(info["weight_sha256"]) == ["model.safetensors"]


def test_models_info_smollm2_json_has_params(smollm2):
    """`models info smollm2-135m --json` reports 134,515,008 parameters from the GGUF cache."""
    result = run_cli("models", "info", "smollm2-135m", "--json")

    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["params"] == 134515008
    assert info["gguf_cache_hit"] is True


# Trying a model


def test_models_try_minilm_json_gives_a_384_float_embedding():
    """`models try minilm "hello" --json` prints an embedding of 384 floats."""
    result = run_cli("models", "try", "minilm", "hello", "--json")

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["dim"] == 384
    assert len(output["embedding"]) == 384
    assert all(isinstance(value, float) for value in output["embedding"])


def test_models_try_smollm2_json_gives_text_and_tokens(smollm2):
    """`models try smollm2-135m ... --max-new-tokens 8 --json` gives text and 1..8 tokens."""
    result = run_cli(
        "models", "try", "smollm2-135m", "What is 2+2?", "--max-new-tokens", "8", "--json"
    )

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert isinstance(output["text"], str) and output["text"]
    assert isinstance(output["tokens"], int)
    assert 1 <= output["tokens"] <= 8


def test_models_try_streams_text_then_a_summary():
    """`models try tiny-llama ...` without --json ends with a '[N tokens, finish: ...]' line."""
    result = run_cli("models", "try", "tiny-llama", "hello", "--max-new-tokens", "5")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("[5 tokens, finish: length,")


# Errors


def test_unknown_alias_is_a_clean_error():
    """An unknown alias exits 2 with one 'error:' paragraph suggesting the closest alias."""
    result = run_cli("models", "info", "minlm")

    assert_clean_error(result, "Unknown model 'minlm'", "Did you mean 'minilm'")


def test_missing_path_is_a_clean_error():
    """A path that does not exist exits 2 with one 'error:' paragraph naming it."""
    result = run_cli("models", "info", "./no/such/model")

    assert_clean_error(result, "'./no/such/model' does not exist")


def test_zero_max_new_tokens_is_a_clean_error():
    """`--max-new-tokens 0` on tiny-llama exits 2 with one 'error:' paragraph naming the flag's field."""
    result = run_cli("models", "try", "tiny-llama", "hello", "--max-new-tokens", "0")

    assert_clean_error(result, "`max_new_tokens` must be a whole number >= 1")


def test_pickle_folder_is_a_clean_error(tmp_path):
    """A folder with only pickle weights exits 2 with one 'error:' paragraph naming --allow-pickle."""
    folder = save_tiny_bert(tmp_path / "pickled", weights="pickle")

    result = run_cli("models", "info", str(folder))

    assert_clean_error(result, "pytorch_model.bin", "--allow-pickle")


def test_pickle_folder_loads_with_allow_pickle(tmp_path):
    """The same pickle folder loads with --allow-pickle."""
    folder = save_tiny_bert(tmp_path / "pickled", weights="pickle")

    result = run_cli("models", "info", str(folder), "--allow-pickle", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["params"] == 1_011_360


@pytest.mark.parametrize(
    "args", [["models", "info", "minlm"], ["models", "info", "./no/such/model"]]
)
def test_debug_shows_the_traceback(args):
    """With --debug, an error shows the full Python traceback."""
    result = run_cli("--debug", *args)

    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "ModelNotFoundError" in result.stderr
