"""The runner interface on the tiny config-built models: embed, generate, stream, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from model_folders import save_tiny_mamba

from workbench.kit.errors import InvalidInputError
from workbench.models import ModelInfo, load_model

# tiny-llama's random weights write only [SEP] (a special token, so no text) after a plain
# prompt; after a chat prompt they write words, which the streaming tests need.
CHAT = [{"role": "user", "content": "Once upon a time there was"}]


def normalized(text: str) -> str:
    return " ".join(text.split())


# Embeddings


def test_embed_returns_one_unit_row_per_text(tiny_bert):
    """embed gives a (texts, hidden size) array of float32 rows of length 1."""
    vectors = tiny_bert.embed(["hello", "a slightly longer sentence", "!"])

    assert vectors.shape == (3, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embed_of_one_string_is_one_row(tiny_bert):
    """A single string counts as one text, not as a list of characters."""
    assert tiny_bert.embed("hello").shape == (1, 32)


def test_embed_does_not_depend_on_the_batch(tiny_bert):
    """A text's vector is the same whether embedded alone or padded in a batch with longer ones."""
    alone = tiny_bert.embed(["short"])
    batched = tiny_bert.embed(["short", "a much longer sentence that needs padding"], batch_size=2)

    np.testing.assert_allclose(alone[0], batched[0], atol=1e-5)


def test_embed_of_nothing_names_texts(tiny_bert):
    """embed([]) raises InvalidInputError naming `texts`."""
    with pytest.raises(InvalidInputError, match="`texts` is empty"):
        tiny_bert.embed([])


def test_embed_of_a_non_string_names_its_index(tiny_bert):
    """A number among the texts raises InvalidInputError naming texts[1] and its type."""
    with pytest.raises(InvalidInputError, match=r"`texts\[1\]` is a int"):
        tiny_bert.embed(["fine", 3])


def test_embed_with_a_zero_batch_size_names_it(tiny_bert):
    """batch_size=0 raises InvalidInputError naming `batch_size`."""
    with pytest.raises(InvalidInputError, match="`batch_size`"):
        tiny_bert.embed(["fine"], batch_size=0)


def test_generate_on_an_embedding_model_is_refused(tiny_bert):
    """generate() on an embeddings model raises InvalidInputError pointing to embed()."""
    with pytest.raises(InvalidInputError, match=r"Use embed\(\)"):
        tiny_bert.generate("hello")


def test_embed_on_a_generation_model_is_refused(tiny_llama):
    """embed() on a text-generation model raises InvalidInputError pointing to generate()."""
    with pytest.raises(InvalidInputError, match=r"Use generate\(\)"):
        tiny_llama.embed(["hello"])


# The token budget


@pytest.mark.parametrize("budget", [0, -3])
def test_max_new_tokens_below_one_is_refused(tiny_llama, budget):
    """max_new_tokens of 0 or below raises InvalidInputError naming max_new_tokens."""
    with pytest.raises(InvalidInputError, match="`max_new_tokens` must be a whole number >= 1"):
        tiny_llama.generate("hello world", budget)


def test_max_new_tokens_past_the_context_says_the_largest_allowed(tiny_llama):
    """A budget past the 256-token context names max_new_tokens and the largest that fits."""
    prompt_tokens = len(tiny_llama.tokenizer("hello world")["input_ids"])

    with pytest.raises(InvalidInputError) as error:
        tiny_llama.generate("hello world", 300)

    message = str(error.value)
    assert "`max_new_tokens`=300" in message
    assert f"use at most {256 - prompt_tokens}." in message


def test_the_largest_allowed_budget_is_accepted(tiny_llama):
    """max_new_tokens equal to the room left in the context generates exactly that many tokens."""
    room = 256 - len(tiny_llama.tokenizer("hello world")["input_ids"])

    result = tiny_llama.generate("hello world", room)

    assert result.tokens == room


def test_max_new_tokens_must_be_a_whole_number(tiny_llama):
    """A fractional max_new_tokens raises InvalidInputError naming max_new_tokens."""
    with pytest.raises(InvalidInputError, match="`max_new_tokens` must be a whole number"):
        tiny_llama.generate("hello world", 2.5)


def test_model_without_a_context_limit_can_generate(tmp_path):
    """A model whose config sets no max_position_embeddings (Mamba) still generates tokens."""
    runner = load_model(str(save_tiny_mamba(tmp_path / "mamba")), progress=False)

    result = runner.generate("hello", 3)

    assert result.tokens == 3


def test_stream_checks_max_new_tokens_too(tiny_llama):
    """stream() refuses max_new_tokens=0 like generate() does."""
    with pytest.raises(InvalidInputError, match="`max_new_tokens`"):
        list(tiny_llama.stream("hello world", 0))


# Generation


def test_greedy_generation_is_deterministic(tiny_llama):
    """Two greedy generations of the same prompt give the same token ids."""
    first = tiny_llama.generate(CHAT, 12)
    second = tiny_llama.generate(CHAT, 12)

    assert first.token_ids == second.token_ids


def test_tiny_llama_writes_exactly_max_new_tokens(tiny_llama):
    """tiny-llama has no end-of-text token, so it writes exactly max_new_tokens tokens."""
    result = tiny_llama.generate(CHAT, 7)

    assert result.tokens == 7
    assert len(result.token_ids) == 7
    assert result.finish_reason == "length"


def test_generation_text_is_the_decoded_tokens(tiny_llama):
    """The result's text is its token ids decoded without special tokens."""
    result = tiny_llama.generate(CHAT, 10)

    decoded = tiny_llama.tokenizer.decode(result.token_ids, skip_special_tokens=True)
    assert result.text == decoded.strip()
    assert result.text


def test_on_text_pieces_join_to_the_result(tiny_llama):
    """The pieces handed to on_text join to the same text as the returned result."""
    pieces: list[str] = []

    result = tiny_llama.generate(CHAT, 16, on_text=pieces.append)

    assert len(pieces) > 1
    assert normalized("".join(pieces)) == normalized(result.text)


def test_stream_pieces_join_to_the_generated_text(tiny_llama):
    """stream() yields pieces that join to the text generate() returns for the same prompt."""
    pieces = list(tiny_llama.stream(CHAT, 16))

    assert len(pieces) > 1
    assert normalized("".join(pieces)) == normalized(tiny_llama.generate(CHAT, 16).text)


def test_stream_with_a_seed_matches_generate_with_that_seed(tiny_llama):
    """Sampling through stream() with a seed gives what generate() gives with the same seed."""
    options = {"do_sample": True, "seed": 7}

    streamed = "".join(tiny_llama.stream(CHAT, 16, **options))

    assert normalized(streamed) == normalized(tiny_llama.generate(CHAT, 16, **options).text)


def test_chat_messages_go_through_the_chat_template(tiny_llama):
    """Chat messages are encoded as the rendered template ('user: ...\\nassistant:')."""
    messages = [{"role": "user", "content": "hi there"}]
    expected = tiny_llama.tokenizer("user: hi there\nassistant:", add_special_tokens=False)

    encoded = tiny_llama.encode_prompt(messages)

    assert encoded["input_ids"][0].tolist() == expected["input_ids"]


def test_chat_prompt_tokens_count_the_template(tiny_llama):
    """generate() on chat messages reports the templated prompt's token count."""
    messages = [{"role": "user", "content": "hi there"}]
    expected = tiny_llama.tokenizer("user: hi there\nassistant:", add_special_tokens=False)

    result = tiny_llama.generate(messages, 2)

    assert result.prompt_tokens == len(expected["input_ids"])


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "user"}],
        [{"role": "user", "content": 5}],
        ["hello"],
        [{"content": "hello"}],
    ],
    ids=["empty", "no-content", "non-string-content", "bare-string", "no-role"],
)
def test_malformed_chat_messages_are_refused(tiny_llama, messages):
    """Malformed chat messages raise InvalidInputError showing the expected shape."""
    with pytest.raises(InvalidInputError, match=r"\[\{'role': 'user', 'content': 'Hello'\}\]"):
        tiny_llama.generate(messages, 2)


def test_empty_prompt_is_refused(tiny_llama):
    """A blank string prompt raises InvalidInputError naming `prompt`."""
    with pytest.raises(InvalidInputError, match="`prompt` is empty"):
        tiny_llama.generate("   ", 2)


def test_chat_or_prompt_wraps_text_for_a_chat_model(tiny_llama):
    """Typed text becomes one user message for a model with a chat template."""
    assert tiny_llama.chat_or_prompt("hi") == [{"role": "user", "content": "hi"}]


def test_sampling_with_the_same_seed_repeats(tiny_llama):
    """Two sampled generations with the same seed give the same token ids."""
    first = tiny_llama.generate("hello", 10, do_sample=True, seed=3)
    second = tiny_llama.generate("hello", 10, do_sample=True, seed=3)

    assert first.token_ids == second.token_ids


def test_sampling_with_another_seed_differs(tiny_llama):
    """Sampling with a different seed gives different token ids (the seed is really used)."""
    first = tiny_llama.generate("hello", 10, do_sample=True, seed=3)
    second = tiny_llama.generate("hello", 10, do_sample=True, seed=4)

    assert first.token_ids != second.token_ids


def test_sampling_needs_a_positive_temperature(tiny_llama):
    """do_sample with temperature 0 raises InvalidInputError naming `temperature`."""
    with pytest.raises(InvalidInputError, match="`temperature`"):
        tiny_llama.generate("hello", 4, do_sample=True, temperature=0)


# ModelInfo


def test_model_info_round_trips_through_a_dict(tiny_llama):
    """ModelInfo.from_dict(info.to_dict()) equals the original."""
    info = tiny_llama.info

    assert ModelInfo.from_dict(info.to_dict()) == info


def test_model_info_round_trips_through_json(tiny_bert):
    """A ModelInfo written to JSON and read back equals the original."""
    info = tiny_bert.info

    assert ModelInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info


def test_model_info_from_dict_ignores_unknown_keys(tiny_bert):
    """from_dict ignores keys it does not know, so older code reads newer records."""
    data = {**tiny_bert.info.to_dict(), "added_later": 1}

    assert ModelInfo.from_dict(data) == tiny_bert.info


def test_leaving_a_stream_early_stops_the_generation(tiny_llama):
    """Breaking out of stream() ends the background generation instead of running to the budget."""
    import threading

    before = threading.active_count()
    steps: list[int] = []
    hook = tiny_llama.model.register_forward_hook(lambda *_: steps.append(1))
    try:
        pieces = tiny_llama.stream([{"role": "user", "content": "hello"}], max_new_tokens=200)
        first = next(pieces)
        pieces.close()
    finally:
        hook.remove()

    assert first
    assert threading.active_count() == before  # the worker thread has finished
    assert len(steps) < 100  # far fewer decoding steps than the 200-token budget
