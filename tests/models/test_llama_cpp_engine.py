"""The llama.cpp engine on the bundled smollm2-135m GGUF file (skipped without the extra)."""

from __future__ import annotations

import importlib.util

import pytest

from workbench.kit.errors import InvalidModelError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed: pip install 'ai-deployment-workbench[llama-cpp]'",
    ),
]

PARIS = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def q4_1():
    """smollm2-135m's shipped Q4_1 file in llama.cpp, on 1 thread (robust on a busy machine)."""
    from workbench.models.engines import load_engine_model

    return load_engine_model("smollm2-135m", "llama.cpp", threads=1)


def test_the_shipped_file_is_the_q4_1_variant(q4_1):
    """q4_1 runs the package's own GGUF file, with no copy made."""
    from workbench.models import get_entry

    assert q4_1.engine == "llama.cpp"
    assert q4_1.info.dtype == "q4_1"
    assert q4_1.info.path == str(get_entry("smollm2-135m").weights_path())
    assert q4_1.info.params == 134_515_008


def test_q4_1_answers_a_chat_prompt_within_the_token_limit(q4_1):
    """A chat prompt through the GGUF file's chat template gets text, at most 16 tokens."""
    result = q4_1.generate(PARIS, 16)
    assert result.text
    assert result.tokens == len(result.token_ids) <= 16
    assert result.prompt_tokens == len(q4_1.encode_prompt(PARIS)["input_ids"][0])


def test_f16_weights_say_paris_as_transformers_does(smollm2, tmp_path, monkeypatch):
    """With float16 weights llama.cpp gives transformers' greedy answer: the drift of q4_1 and
    q8_0 (whose first token differs here) comes from their 8-bit quantized activations."""
    from workbench.models.engines import load_engine_model

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    f16 = load_engine_model("smollm2-135m", "llama.cpp", variant="f16", threads=1)
    answer = f16.generate(PARIS, 12)
    assert "Paris" in answer.text
    assert answer.token_ids == smollm2.generate(PARIS, 12).token_ids


def test_streamed_pieces_make_the_generated_text(q4_1):
    """stream() yields pieces that join to what generate() returns."""
    pieces = list(q4_1.stream(PARIS, 8))
    assert len(pieces) > 1
    assert "".join(pieces).strip() == q4_1.generate(PARIS, 8).text


def test_chat_prompts_become_the_same_tokens_as_in_transformers(q4_1, smollm2):
    """llama.cpp's tokenizer and template give transformers' prompt ids, so engines compare."""
    expected = smollm2.encode_prompt(PARIS)["input_ids"][0].tolist()
    assert q4_1.encode_prompt(PARIS)["input_ids"][0] == expected


def test_teacher_forced_predictions_follow_greedy_decoding(q4_1):
    """Given its own greedy continuation, llama.cpp's logits predict that continuation."""
    ids = q4_1.encode_prompt(PARIS)["input_ids"][0]
    continuation = q4_1.greedy_ids(ids, 6)
    predicted = q4_1.teacher_forced_predictions(ids, continuation)
    agree = sum(p == c for p, c in zip(predicted, continuation, strict=True))
    assert agree >= len(continuation) - 1  # one batched pass may round a near-tie differently


def test_q8_0_is_made_once_and_then_taken_from_the_cache(tmp_path, monkeypatch):
    """The Q8_0 file is quantized by llama.cpp on first use and reused after."""
    from workbench.models import get_entry
    from workbench.models.engines.llama_cpp import gguf_file_type, variant_file

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    source = get_entry("smollm2-135m").weights_path()
    first, made = variant_file(source, "q8_0", threads=2)
    again, cached = variant_file(source, "q8_0")
    assert (made["cache_hit"], cached["cache_hit"]) == (False, True)
    assert first == again and first.parent == tmp_path / "gguf"
    assert gguf_file_type(first) == "q8_0"
    assert not list(first.parent.glob(".*.tmp"))


def test_a_model_without_a_gguf_file_is_refused():
    """tiny-llama is built from a config: llama.cpp says it needs a GGUF file."""
    from workbench.models.engines import load_engine_model

    with pytest.raises(InvalidModelError, match="runs GGUF files"):
        load_engine_model("tiny-llama", "llama.cpp")
