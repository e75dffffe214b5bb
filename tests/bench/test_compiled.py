"""The compiled decode (static KV cache + torch.compile) on the tiny random chat model: it must
give the same greedy tokens as the path it speeds up, and say why when it cannot run."""

from __future__ import annotations

import shutil

import pytest

from workbench.bench.variants import get_variant
from workbench.bench.variants.compiled import compiler_missing

PROMPT = "The quick brown fox"
needs_compiler = pytest.mark.skipif(
    compiler_missing() is not None, reason="no C++ compiler for torch.compile"
)


def _tokens(runner) -> list[int]:
    return runner.generate(PROMPT, max_new_tokens=6).token_ids


@needs_compiler
def test_compiled_decode_gives_fp32s_greedy_tokens(tiny_llama):
    """`compiled` decodes exactly the tokens eager fp32 decodes, twice (the second call reuses
    the compiled graph)."""
    runner = get_variant("compiled").apply(tiny_llama)

    assert _tokens(runner) == _tokens(tiny_llama)
    assert _tokens(runner) == _tokens(tiny_llama)


def test_without_a_compiler_the_variant_says_what_to_install(tiny_llama, monkeypatch):
    """With no C++ compiler on the PATH, both variants refuse with the install command."""
    monkeypatch.setattr(shutil, "which", lambda name: None)

    for name in ("compiled", "int8-compiled"):
        reason = get_variant(name).unsupported(tiny_llama)
        assert reason is not None and "apt-get install g++" in reason


def test_compiled_variants_do_not_apply_to_embedding_models(tiny_bert):
    """Embedding models have no decode to compile."""
    assert "text-generation" in get_variant("compiled").unsupported(tiny_bert)
