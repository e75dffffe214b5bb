"""The litellm cross-check script (data/prices/crosscheck_litellm.py) on tiny hand-written price maps."""

from __future__ import annotations

import importlib.util
import json
import zipfile

import pytest

from workbench.kit.paths import REPO_ROOT


def _load_script():
    path = REPO_ROOT / "data" / "prices" / "crosscheck_litellm.py"
    spec = importlib.util.spec_from_file_location("crosscheck_litellm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


crosscheck_litellm = _load_script()

LITELLM = {
    "gpt-4o-mini": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 1.5e-07,
        "output_cost_per_token": 6e-07,
        "deprecation_date": "2027-01-14",
    },
    "gemini-2.5-flash": {
        "litellm_provider": "vertex_ai-language-models",
        "input_cost_per_token": 9e-07,
        "output_cost_per_token": 9e-06,
    },
    "gemini/gemini-2.5-flash": {
        "litellm_provider": "gemini",
        "input_cost_per_token": 3e-07,
        "output_cost_per_token": 2.5e-06,
    },
    "mistral/mistral-embed": {
        "litellm_provider": "mistral",
        "mode": "embedding",
        "input_cost_per_token": 1e-07,
    },
    "groq/llama-3.1-8b-instant": {
        "litellm_provider": "groq",
        "input_cost_per_token": 5e-08,
        "output_cost_per_token": 1e-07,
    },
}


def _row(provider, model, input_usd_per_mtok, output_usd_per_mtok):
    return {
        "provider": provider,
        "model": model,
        "input_usd_per_mtok": input_usd_per_mtok,
        "output_usd_per_mtok": output_usd_per_mtok,
    }


def _status(provider, model, input_usd_per_mtok, output_usd_per_mtok):
    row = _row(provider, model, input_usd_per_mtok, output_usd_per_mtok)
    return crosscheck_litellm.crosscheck([row], LITELLM)[0]


def test_per_token_prices_equal_to_rounding_match():
    """1.5e-07 USD per token is 0.15 USD per million tokens: a match."""
    record = _status("openai", "gpt-4o-mini", 0.15, 0.60)

    assert record["status"] == "match"
    assert record["litellm_key"] == "gpt-4o-mini"
    assert record["litellm_in_usd_per_mtok"] == pytest.approx(0.15)
    assert record["deprecation_date"] == "2027-01-14"


def test_a_different_output_price_differs():
    """0.05/0.08 against litellm's 0.05/0.10 is reported as differs."""
    assert _status("groq", "llama-3.1-8b-instant", 0.05, 0.08)["status"] == "differs"


def test_the_key_of_another_litellm_provider_is_not_used():
    """google/gemini-2.5-flash matches the gemini/ entry, not the bare Vertex AI one."""
    record = _status("google", "gemini-2.5-flash", 0.30, 2.50)

    assert record["litellm_key"] == "gemini/gemini-2.5-flash"
    assert record["status"] == "match"


def test_an_embedding_without_an_output_price_counts_output_as_zero():
    """mistral-embed with no output price in litellm matches our 0.10/0."""
    assert _status("mistral", "mistral-embed", 0.10, 0)["status"] == "match"


def test_a_model_or_provider_litellm_lacks_is_missing():
    """No key for the model, or a provider litellm does not map, gives missing."""
    assert _status("openai", "gpt-0", 1.0, 1.0)["status"] == "missing"
    assert _status("acme", "gpt-4o-mini", 0.15, 0.60)["status"] == "missing"


def test_the_price_map_is_read_from_a_wheel_or_from_the_json(tmp_path):
    """A .whl with the litellm member and the bare JSON file give the same map."""
    json_path = tmp_path / "prices.json"
    json_path.write_text(json.dumps(LITELLM), encoding="utf-8")
    wheel_path = tmp_path / "litellm-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel_path, "w") as wheel:
        wheel.writestr(crosscheck_litellm.LITELLM_JSON_MEMBER, json.dumps(LITELLM))

    assert crosscheck_litellm.read_litellm_prices(json_path) == LITELLM
    assert crosscheck_litellm.read_litellm_prices(wheel_path) == LITELLM


def test_main_prints_one_line_per_shipped_api_row(tmp_path, capsys):
    """The script's table has a header and one line for each row of api_tokens.csv."""
    from workbench.cost import load_prices

    json_path = tmp_path / "prices.json"
    json_path.write_text(json.dumps(LITELLM), encoding="utf-8")

    assert crosscheck_litellm.main([str(json_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()

    assert lines[0].split()[0] == "provider"
    assert len(lines) == 1 + len(load_prices().api)
    assert any(line.startswith("openai") and line.rstrip().endswith("match") for line in lines)
