"""A model folder without a tokenizer is refused: it would give every text the same embedding."""

from __future__ import annotations

import pytest
from model_folders import save_tiny_bert, tiny_bert_model

from workbench.kit.errors import InvalidModelError
from workbench.models import load_model


def test_a_folder_without_tokenizer_files_is_refused(tmp_path):
    """config.json and weights but no tokenizer: refused, saying which files are missing."""
    tiny_bert_model().save_pretrained(tmp_path / "model")

    with pytest.raises(InvalidModelError, match=r"no tokenizer files .*tokenizer\.json"):
        load_model(str(tmp_path / "model"), progress=False)


def test_a_tokenizer_of_a_handful_of_tokens_is_refused(tmp_path):
    """A vocabulary of only special tokens is refused, with its size named."""
    folder = tmp_path / "model"
    tiny_bert_model().save_pretrained(folder)
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", encoding="utf-8")

    with pytest.raises(InvalidModelError, match="knows only 5 tokens"):
        load_model(str(folder), progress=False)


def test_a_complete_folder_still_loads_and_tells_texts_apart(tmp_path):
    """With its tokenizer, the folder loads and two different texts get different embeddings."""
    runner = load_model(str(save_tiny_bert(tmp_path / "model")), progress=False)

    first, second = runner.embed(["a cat sat on the mat", "quarterly revenue grew"])

    assert (first != second).any()
