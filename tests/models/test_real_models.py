"""The bundled real models: minilm matches sentence-transformers, smollm2-135m answers and caches."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from workbench.kit.errors import InvalidInputError
from workbench.models import get_entry

pytestmark = pytest.mark.integration

LONG_TEXT = " ".join(
    f"Sentence number {i} describes how a small model runs on a laptop, at the edge or in the cloud."
    for i in range(40)
)

PARITY_TEXTS = [
    "hello",
    "Hello, world!",
    "The cat sits on the mat.",
    "A man is playing a guitar on stage.",
    "How do I reset my password?",
    "What's the weather like in Paris today?!?",
    "e-mail: someone@example.com; phone: +1 (555) 010-9999",
    "ALL CAPS SENTENCE WITH NUMBERS 12345",
    "   leading and trailing spaces   ",
    "tabs\tand\nnew lines",
    "Émile a mangé une crème brûlée à Paris.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "東京は日本の首都です。",
    "Москва — столица России.",
    "مرحبا بالعالم",
    "🙂 emoji 🚀 and symbols ™ © ∑",
    "a",
    "...",
    LONG_TEXT,
    LONG_TEXT + " And one more sentence past the limit.",
]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# minilm


def test_minilm_params(minilm):
    """minilm has 22,713,216 parameters, as the catalog says."""
    assert minilm.info.params == 22_713_216 == get_entry("minilm").params


def test_minilm_embeds_into_384_unit_dimensions(minilm):
    """minilm gives 384-number vectors of length 1."""
    vectors = minilm.embed(["hello", "world"])

    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_long_parity_text_is_longer_than_the_limit(minilm):
    """The long test text really exceeds minilm's 256-token limit, so truncation is exercised."""
    assert len(minilm.tokenizer(LONG_TEXT)["input_ids"]) > 256


def test_minilm_matches_sentence_transformers(minilm):
    """For every test text, minilm's vector has cosine >= 0.999 to sentence-transformers' own."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(get_entry("minilm").weights_path()), device="cpu")
    expected = reference.encode(PARITY_TEXTS, convert_to_numpy=True, normalize_embeddings=False)

    actual = minilm.embed(PARITY_TEXTS)

    similarities = {
        text[:30]: cosine(a, b) for text, a, b in zip(PARITY_TEXTS, actual, expected, strict=True)
    }
    assert all(value >= 0.999 for value in similarities.values()), similarities


def test_minilm_truncates_past_256_tokens(minilm):
    """Two texts that differ only after token 256 get the same vector."""
    vectors = minilm.embed([LONG_TEXT, LONG_TEXT + " A completely different ending about cooking."])

    assert cosine(vectors[0], vectors[1]) == pytest.approx(1.0, abs=1e-6)


def test_minilm_puts_a_paraphrase_nearer_than_an_unrelated_sentence(minilm):
    """'A man is playing guitar' is nearer to its paraphrase than to a sentence about stocks."""
    query, paraphrase, unrelated = minilm.embed(
        [
            "A man is playing a guitar.",
            "Someone is strumming an acoustic guitar.",
            "The stock market fell sharply on Monday.",
        ]
    )

    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.2


# smollm2-135m


def test_smollm2_params(smollm2):
    """smollm2-135m has 134,515,008 parameters, as the catalog says."""
    assert smollm2.info.params == 134_515_008 == get_entry("smollm2-135m").params


def test_smollm2_context_is_8192(smollm2):
    """smollm2-135m reports its 8,192-token context."""
    assert smollm2.info.context_length == 8192


def test_first_smollm2_load_converts_the_gguf(smollm2_loads):
    """The first load in a fresh cache converts the GGUF file (no cache hit)."""
    first, _ = smollm2_loads

    assert first.info.gguf_cache_hit is False


def test_second_smollm2_load_hits_the_cache(smollm2_loads):
    """The second load reuses the converted folder (cache hit)."""
    _, second = smollm2_loads

    assert second.info.gguf_cache_hit is True


def test_both_smollm2_loads_report_the_conversion_time(smollm2_loads):
    """Both loads report the same, positive, first-load (conversion) time."""
    first, second = smollm2_loads

    assert first.info.gguf_first_load_seconds > 0
    assert second.info.gguf_first_load_seconds == first.info.gguf_first_load_seconds


def test_both_smollm2_loads_report_their_load_time(smollm2_loads):
    """Each load reports its own positive load_seconds."""
    first, second = smollm2_loads

    assert first.info.load_seconds > 0
    assert second.info.load_seconds > 0


def test_gguf_cache_folder_is_named_by_the_file_sha256(smollm2_loads):
    """The converted folder is WORKBENCH_CACHE_DIR/gguf/<sha256 of the .gguf file>-<task>."""
    first, second = smollm2_loads
    gguf_file = get_entry("smollm2-135m").weights_path()
    digest = hashlib.sha256(gguf_file.read_bytes()).hexdigest()
    expected = Path(os.environ["WORKBENCH_CACHE_DIR"]) / "gguf" / f"{digest}-text-generation"

    assert expected.is_dir()
    assert first.info.gguf_cache_path == second.info.gguf_cache_path == str(expected)
    assert second.info.weight_sha256 == {gguf_file.name: digest}


def test_smollm2_says_paris_is_the_capital_of_france(smollm2):
    """A greedy chat answer to 'What is the capital of France?' mentions Paris."""
    result = smollm2.generate([{"role": "user", "content": "What is the capital of France?"}], 32)

    assert result.text
    assert "Paris" in result.text


def test_smollm2_greedy_chat_is_deterministic(smollm2):
    """Two greedy chat answers to the same question are the same tokens."""
    messages = [{"role": "user", "content": "What is the capital of France?"}]

    first = smollm2.generate(messages, 24)
    second = smollm2.generate(messages, 24)

    assert first.token_ids == second.token_ids
    assert first.text == second.text


def test_smollm2_token_count_matches_the_ids(smollm2):
    """tokens equals len(token_ids), and the ids decode to the returned text."""
    result = smollm2.generate([{"role": "user", "content": "Name three colours."}], 20)

    assert 1 <= result.tokens <= 20
    assert result.tokens == len(result.token_ids)
    decoded = smollm2.tokenizer.decode(result.token_ids, skip_special_tokens=True)
    assert decoded.strip() == result.text


def test_smollm2_stops_at_its_end_token(smollm2):
    """When smollm2 finishes early, finish_reason is 'stop' and the last id is its end token."""
    result = smollm2.generate([{"role": "user", "content": "Say just the word: yes"}], 64)

    assert result.finish_reason == "stop"
    eos = smollm2.model.generation_config.eos_token_id
    assert result.token_ids[-1] in (eos if isinstance(eos, list) else [eos])
    assert result.tokens < 64


def test_smollm2_budget_past_the_context_is_refused(smollm2):
    """max_new_tokens above the 8,192-token context raises InvalidInputError naming it."""
    with pytest.raises(InvalidInputError, match="`max_new_tokens`=8,193"):
        smollm2.generate([{"role": "user", "content": "hi"}], 8193)
