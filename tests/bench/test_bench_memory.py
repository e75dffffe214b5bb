"""A sweep whose largest point cannot fit in memory is refused before any model loads."""

from __future__ import annotations

import pytest

from workbench.bench.config import BenchConfig
from workbench.bench.memory import ModelShape, check_sweep_memory, model_shape, point_bytes
from workbench.kit.errors import InvalidInputError

# tiny-bert's sizes (tests/model_folders.py TINY_BERT)
TINY = ModelShape(
    hidden_size=32,
    num_layers=2,
    num_heads=2,
    intermediate_size=64,
    vocab_size=30522,
    num_kv_heads=2,
)
GB = 1_000_000_000


def test_a_million_item_batch_is_refused_naming_the_flag_and_what_fits():
    """--batch 1000000 on 8 GB: refused, naming --batch and the largest batch that fits."""
    config = BenchConfig(model="tiny-bert", batch_sizes=(1, 1_000_000), seq_lens=(32,))

    with pytest.raises(
        InvalidInputError, match=r"--batch.*largest batch that fits is about [\d,]+"
    ):
        check_sweep_memory(config, TINY, "embeddings", params=1_011_360, available=8 * GB)


def test_the_default_sweep_fits_on_a_small_machine():
    """Batches 1 and 8 of 32 tokens fit in 1 GB."""
    config = BenchConfig(model="tiny-bert", batch_sizes=(1, 8), seq_lens=(32,))

    check_sweep_memory(config, TINY, "embeddings", params=1_011_360, available=1 * GB)


def test_the_largest_batch_offered_does_fit():
    """The batch the message suggests passes the same check."""
    config = BenchConfig(model="tiny-bert", batch_sizes=(1_000_000,), seq_lens=(32,))
    with pytest.raises(InvalidInputError) as caught:
        check_sweep_memory(config, TINY, "embeddings", params=0, available=4 * GB)
    fits = int(str(caught.value).split("about ")[-1].split(".")[0].replace(",", ""))

    check_sweep_memory(
        BenchConfig(model="tiny-bert", batch_sizes=(fits,), seq_lens=(32,)),
        TINY,
        "embeddings",
        params=0,
        available=4 * GB,
    )


def test_generation_memory_grows_with_new_tokens():
    """More generated tokens need more memory (the KV cache and logits grow)."""
    short = point_bytes(TINY, "text-generation", batch=8, seq_len=32, new_tokens=8)
    long = point_bytes(TINY, "text-generation", batch=8, seq_len=32, new_tokens=800)

    assert long > short > 0


def test_catalog_models_give_their_shape_without_loading():
    """tiny-bert's shape comes from its catalog row: hidden size 32, 2 layers."""
    shape, task = model_shape("tiny-bert")

    assert (shape.hidden_size, shape.num_layers, task) == (32, 2, "embeddings")
