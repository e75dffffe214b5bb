"""Small sample data shipped in ``data/samples``."""

from __future__ import annotations

from workbench.paths import data_dir


def sample_sentences() -> list[str]:
    """The sample sentences for trying embedding models (``data/samples/sentences.txt``)."""
    lines = (data_dir() / "samples" / "sentences.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
