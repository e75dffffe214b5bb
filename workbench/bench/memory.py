"""Will a sweep's largest point fit in memory? An estimate made before anything is loaded.

A batch far beyond what the machine holds (``--batch 1000000``) does not fail fast: it fills the
memory for minutes and takes the machine down with it. This module estimates, from the model's
shape (hidden size, layers, heads, vocabulary) and a point's batch and length, the bytes one
call needs, and refuses the sweep when its largest point would not fit in the memory available.

The estimate is deliberately generous (float32 activations of two layers at once, every
attention score, the tokenizer's copy of the input texts): it is there to stop what can never
fit, not to forecast the peak a benchmark measures.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.bench.config import BenchConfig
from workbench.kit.errors import InvalidInputError

FLOAT_BYTES = 4  # the reference runs in float32
# Bytes the tokenizer keeps per token of a text before it truncates it (ids, offsets, masks,
# word ids in its encoding objects) and the characters of one sample sentence: measured on
# minilm's tokenizer and data/samples/sentences.txt, rounded up.
TOKENIZER_BYTES_PER_TOKEN = 64
TOKENS_PER_SENTENCE = 16
CHARS_PER_SENTENCE = 80
AS_WRITTEN_PROMPT_TOKENS = 128  # a generation prompt "as written" (seq_len 0) is shorter
# Share of the available memory a sweep may plan to use: the rest is the process, the
# libraries and the variant's copy of the weights' working space.
USABLE_SHARE = 0.8


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a transformer that decide how much memory a call takes."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    num_kv_heads: int
    context_length: int = 0  # 0: unknown

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelShape | None:
        """The shape from a Hugging Face ``config.json`` mapping; ``None`` when it lacks one.

        Parameters
        ----------
        config
            ``config.json``'s values (BERT, Llama, GPT-2 and T5 names are read).
        """
        hidden = _first(config, "hidden_size", "n_embd", "d_model", "dim")
        layers = _first(config, "num_hidden_layers", "n_layer", "num_layers", "n_layers")
        heads = _first(config, "num_attention_heads", "n_head", "num_heads", "n_heads")
        if not (hidden and layers and heads):
            return None
        return cls(
            hidden_size=hidden,
            num_layers=layers,
            num_heads=heads,
            intermediate_size=_first(config, "intermediate_size", "n_inner", "d_ff") or 4 * hidden,
            vocab_size=_first(config, "vocab_size") or 32_000,
            num_kv_heads=_first(config, "num_key_value_heads") or heads,
            context_length=_first(config, "max_position_embeddings", "n_positions"),
        )


def point_bytes(shape: ModelShape, task: str, batch: int, seq_len: int, new_tokens: int) -> int:
    """Bytes one call of a point needs beyond the weights (an upper estimate).

    Parameters
    ----------
    shape
        The model's sizes.
    task
        ``"embeddings"`` or ``"text-generation"``.
    batch
        Items per call.
    seq_len
        Tokens per text, or prompt tokens (0: a sample prompt as written).
    new_tokens
        Tokens generated per call (generation only).
    """
    h, heads = shape.hidden_size, shape.num_heads
    if task == "embeddings":
        tokens = seq_len or AS_WRITTEN_PROMPT_TOKENS
        # The texts are built longer than seq_len (and each one sentence longer than the last,
        # so they differ), then tokenized whole before truncation.
        sentences = batch * (tokens // 4 + 8) + batch * (batch - 1) / 2
        texts = sentences * (CHARS_PER_SENTENCE + TOKENS_PER_SENTENCE * TOKENIZER_BYTES_PER_TOKEN)
        activations = _layer_floats(shape, batch, tokens) * 2
        inputs = batch * tokens * 8 * 3  # ids, attention mask, token types as int64
        return int(texts + activations * FLOAT_BYTES + inputs)
    length = (seq_len or AS_WRITTEN_PROMPT_TOKENS) + new_tokens
    kv_cache = 2 * shape.num_layers * batch * length * shape.num_kv_heads * (h // heads)
    logits = batch * length * shape.vocab_size
    activations = _layer_floats(shape, batch, length) * 2
    return int((kv_cache + logits + activations) * FLOAT_BYTES)


def available_bytes() -> int | None:
    """Memory this process can still take: the smaller of the machine's available memory and
    what its control group (container) still allows; ``None`` where neither can be read."""
    found = [b for b in (_meminfo_available(), _cgroup_room()) if b is not None]
    return min(found) if found else None


def check_sweep_memory(
    config: BenchConfig,
    shape: ModelShape,
    task: str,
    params: int,
    *,
    available: int | None = None,
) -> None:
    """Refuse a sweep whose largest point would not fit in memory, naming the flags to lower.

    Parameters
    ----------
    config
        The sweep.
    shape
        The model's sizes.
    task
        The model's task.
    params
        The model's parameter count (its weights are held twice while a variant is measured).
    available
        Bytes free; default :func:`available_bytes` (no check where that is unknown).

    Raises
    ------
    InvalidInputError
        Naming ``--batch`` and ``--seq-len`` (and ``--max-new-tokens`` for generation), the
        estimate, the memory available and the largest batch that fits.
    """
    available = available_bytes() if available is None else available
    if not available:
        return
    usable = available * USABLE_SHARE - 2 * params * FLOAT_BYTES
    batch, seq_len = max(config.batch_sizes), max(config.seq_lens)
    if shape.context_length:
        # A longer length is refused by the model's own length check, which names its limit.
        seq_len = min(seq_len, shape.context_length)
    new = config.max_new_tokens if task == "text-generation" else 0
    need = point_bytes(shape, task, batch, seq_len, new)
    if need <= usable:
        return
    fits = _largest_batch(shape, task, seq_len, new, usable)
    flags = "--batch or --seq-len" + (" or --max-new-tokens" if new else "")
    advice = (
        f"at --seq-len {seq_len} the largest batch that fits is about {fits:,}"
        if fits
        else "no batch fits at this length"
    )
    raise InvalidInputError(
        f"`batch_sizes` (--batch) {batch:,} at `seq_lens` (--seq-len) {seq_len} needs about "
        f"{_gb(need)} for one call of {config.model}, but this machine has {_gb(available)} "
        f"available (the sweep may plan on {USABLE_SHARE:.0%} of it, less the weights): "
        f"{advice}. Lower {flags}."
    )


def model_shape(model: str) -> tuple[ModelShape, str | None] | None:
    """The shape and task of a model read from its catalog row or ``config.json``, without
    loading any weights; ``None`` where only loading would tell (a GGUF file, a hub id)."""
    from workbench.models import load_catalog

    entry = load_catalog().get(model)
    if entry is not None and entry.config:
        return _with_task(entry.config, entry.task)
    folder = entry.weights_path() if entry is not None else Path(model).expanduser()
    try:
        text = (folder / "config.json").read_text(encoding="utf-8")
        config = json.loads(text)
    except (OSError, ValueError, RuntimeError):
        return None  # not a readable folder: loading the model says why
    if not isinstance(config, dict):
        return None
    return _with_task(config, entry.task if entry else None)


def _with_task(config: Mapping[str, Any], task: str | None) -> tuple[ModelShape, str | None] | None:
    shape = ModelShape.from_config(config)
    return (shape, task) if shape else None


def _layer_floats(shape: ModelShape, batch: int, tokens: int) -> int:
    """Floats one layer holds at once: q, k, v, output, MLP and residual, and every score."""
    per_token = 5 * shape.hidden_size + shape.intermediate_size
    scores = 2 * shape.num_heads * tokens * tokens  # scores and their softmax
    return batch * (tokens * per_token + scores)


def _largest_batch(shape: ModelShape, task: str, seq_len: int, new: int, usable: float) -> int:
    """The largest batch whose point fits in ``usable`` bytes (0 when not even one)."""
    low, high = 0, 1
    while high < 1 << 40 and point_bytes(shape, task, high, seq_len, new) <= usable:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if point_bytes(shape, task, middle, seq_len, new) <= usable:
            low = middle
        else:
            high = middle
    return low


def _first(config: Mapping[str, Any], *names: str) -> int:
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def _gb(size: float) -> str:
    return f"{size / 1e9:,.1f} GB" if size >= 1e8 else f"{math.ceil(size / 1e6):,} MB"


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _cgroup_room() -> int | None:
    """What the cgroup v2 limit still allows (``None`` without a limit)."""
    folder = Path("/sys/fs/cgroup")
    try:
        limit = (folder / "memory.max").read_text(encoding="ascii").strip()
        if limit == "max":
            return None
        used = int((folder / "memory.current").read_text(encoding="ascii").strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


__all__ = ["ModelShape", "available_bytes", "check_sweep_memory", "model_shape", "point_bytes"]
