"""Samples: the bundled sample texts and prompts, and the sample runs a first start makes."""

from __future__ import annotations

from workbench.samples.text import sample_prompts, sample_sentences

__all__ = ["sample_prompts", "sample_sentences"]
