"""Quality drift of a variant against the fp32 reference, on the same inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from workbench.models.runners import EmbeddingRunner, GenerationRunner

# How a generation variant's drift was measured (the points table's ``drift_method``).
REFERENCE_METHOD = "reference (transformers fp32 itself)"
TEACHER_FORCED = "teacher-forced agreement + greedy first divergence"
GREEDY_ONLY = "greedy first divergence + exact match (engine gives no logits)"


def cosine_rows(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity; exactly 1.0 for rows that are bit-for-bit equal."""
    ref = reference.astype(np.float64)
    oth = other.astype(np.float64)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(oth, axis=1)
    cos = (ref * oth).sum(axis=1) / np.clip(norms, 1e-300, None)
    cos[(reference == other).all(axis=1)] = 1.0
    return cos


def embedding_drift(
    reference: EmbeddingRunner, variant: EmbeddingRunner, texts: list[str]
) -> dict[str, float]:
    """Cosine similarity of the variant's embeddings to fp32's: mean and worst text."""
    cos = cosine_rows(reference.embed(texts), variant.embed(texts))
    return {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min())}


def reference_continuations(
    reference: GenerationRunner, prompts: list[Any], max_new_tokens: int
) -> list[tuple[torch.Tensor, list[int]]]:
    """For each prompt: its input ids and fp32's greedy continuation."""
    out = []
    for prompt in prompts:
        ids = reference.encode_prompt(prompt)["input_ids"]
        generated = reference.generate(prompt, max_new_tokens)
        out.append((ids, generated.token_ids))
    return out


def generation_drift(
    variant: GenerationRunner,
    references: list[tuple[torch.Tensor, list[int]]],
    prompts: list[Any],
    max_new_tokens: int,
) -> dict[str, Any]:
    """Teacher-forced agreement with fp32, where free greedy decoding first diverges, and the
    share of prompts whose greedy continuation is fp32's exactly.

    Agreement is the share of continuation positions where the variant's most likely next token,
    given the prompt and fp32's continuation so far, is fp32's token; it needs the variant's
    logits at every position (transformers gives them, and llama.cpp does through
    :meth:`~workbench.models.engines.llama_cpp.LlamaCppRunner.teacher_forced_predictions`). For a
    runner that gives none, agreement is ``nan`` and ``drift_method`` says that only the greedy
    figures were measured. The divergence position is the index of the first generated token
    that differs from fp32's (``max_new_tokens`` when none does), averaged and minimised over
    prompts. Every runner gets fp32's prompt token ids, so all engines see the same input.
    """
    engine = getattr(variant, "engine", "transformers")
    has_logits = engine == "transformers" or hasattr(variant, "teacher_forced_predictions")
    matches = total = exact = 0
    divergences = []
    for (ids, continuation), prompt in zip(references, prompts, strict=True):
        if continuation and has_logits:
            predicted = _teacher_forced(variant, ids, continuation)
            matches += sum(p == r for p, r in zip(predicted, continuation, strict=True))
            total += len(continuation)
        if engine == "transformers":
            free = variant.generate(prompt, max_new_tokens).token_ids
        else:
            free = variant.greedy_ids(ids[0].tolist(), max_new_tokens)
        divergences.append(_first_difference(free, continuation, max_new_tokens))
        exact += free == continuation
    agreement = (matches / total if total else 1.0) if has_logits else float("nan")
    return {
        "agreement": agreement,
        "first_divergence_mean": float(np.mean(divergences)),
        "first_divergence_min": int(min(divergences)),
        "exact_match": exact / len(divergences),
        "drift_method": TEACHER_FORCED if has_logits else GREEDY_ONLY,
    }


def _teacher_forced(variant: Any, ids: torch.Tensor, continuation: list[int]) -> list[int]:
    """The variant's most likely token at each continuation position, given fp32's tokens."""
    if getattr(variant, "engine", "transformers") != "transformers":
        return variant.teacher_forced_predictions(ids[0].tolist(), continuation)
    full = torch.cat([ids, torch.tensor([continuation], dtype=ids.dtype)], dim=1)
    with torch.inference_mode():
        logits = variant.model(input_ids=full).logits[0]
    start = ids.shape[1] - 1
    return logits[start : start + len(continuation)].argmax(dim=-1).tolist()


def _first_difference(a: list[int], b: list[int], limit: int) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return limit if len(a) == len(b) else min(len(a), len(b))
