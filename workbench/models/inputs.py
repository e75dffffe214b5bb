"""The sample texts and prompts for trying a model, shipped in ``data/samples``: the embedding
and chat inputs that `models try`, the benchmark's quality probes and the panels start from."""

from __future__ import annotations

from workbench.kit.paths import data_dir


def sample_sentences() -> list[str]:
    """The sample sentences for trying embedding models (``data/samples/sentences.txt``)."""
    return _lines("sentences.txt")


def sample_prompts() -> list[str]:
    """The sample chat prompts for generation models (``data/samples/prompts.txt``)."""
    return _lines("prompts.txt")


def _lines(name: str) -> list[str]:
    lines = (data_dir() / "samples" / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


__all__ = ["sample_prompts", "sample_sentences"]
