"""The onnxruntime engine: its missing extra, the cached ONNX export, and embeddings that match
the transformers runner's (the real tests are skipped without the onnx extra)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from workbench.models.engines import MissingExtraError, engine_of_variant, require_engine

INSTALL = "pip install 'ai-deployment-workbench[onnx]'"
needs_onnx = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason=f"onnxruntime is not installed: {INSTALL}",
)
TEXTS = [
    "Where should this model run?",
    "The invoice was charged twice this month.",
    "A short one.",
    "Latency on the edge device is higher than in the cloud, but the data never leaves the site.",
]


@pytest.fixture
def no_onnxruntime(monkeypatch):
    """onnxruntime cannot be imported, as on a machine without the extra."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)


def test_onnx_variants_belong_to_onnxruntime():
    """onnx-fp32 and onnx-int8 are onnxruntime's variants."""
    assert engine_of_variant("onnx-fp32") == engine_of_variant("onnx-int8") == "onnxruntime"


def test_a_missing_onnx_extra_is_one_paragraph_with_the_install_command(no_onnxruntime):
    """Choosing onnxruntime without it says exactly how to install the extra."""
    with pytest.raises(MissingExtraError) as caught:
        require_engine("onnxruntime")
    message = str(caught.value)
    assert INSTALL in message
    assert "\n" not in message


@needs_onnx
def test_the_export_is_cached_and_reused(tiny_bert, monkeypatch, tmp_path):
    """The first load exports to the cache; the second finds it there and exports nothing."""
    import torch

    from workbench.models.engines.onnx_runtime import load_onnxruntime

    # Prepare
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    first = load_onnxruntime("tiny-bert", "onnx-fp32", threads=1, reference=tiny_bert)

    def refuse(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    # Execute
    second = load_onnxruntime("tiny-bert", "onnx-fp32", threads=1, reference=tiny_bert)
    # Assert
    assert first.export_meta["cache_hit"] is False
    assert second.export_meta["cache_hit"] is True
    assert second.onnx_path == first.onnx_path
    assert first.onnx_path.parent == tmp_path / "onnx"
    assert not list(tmp_path.glob("onnx/.*.tmp"))
    assert np.allclose(first.embed(TEXTS[:2]), second.embed(TEXTS[:2]))


@pytest.fixture(scope="module")
def minilm_onnx(minilm):
    """minilm on onnxruntime, fp32 and int8, 2 threads."""
    from workbench.models.engines.onnx_runtime import load_onnxruntime

    return {
        variant: load_onnxruntime("minilm", variant, threads=2, reference=minilm)
        for variant in ("onnx-fp32", "onnx-int8")
    }


@needs_onnx
@pytest.mark.integration
def test_onnx_fp32_embeds_like_transformers(minilm, minilm_onnx):
    """onnx-fp32 gives the transformers runner's pooled, normalised vectors (cosine >= 0.999)."""
    from workbench.bench.quality import cosine_rows

    reference = minilm.embed(TEXTS, batch_size=2)
    vectors = minilm_onnx["onnx-fp32"].embed(TEXTS, batch_size=2)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert cosine_rows(reference, vectors).min() >= 0.999


@needs_onnx
@pytest.mark.integration
def test_onnx_int8_stays_within_its_tolerance(minilm, minilm_onnx):
    """Dynamic int8 keeps every text's cosine to fp32 above INT8_MIN_COSINE and weighs a
    quarter of fp32 or less."""
    from workbench.bench.quality import cosine_rows
    from workbench.models.engines.onnx_runtime import INT8_MIN_COSINE

    int8, fp32 = minilm_onnx["onnx-int8"], minilm_onnx["onnx-fp32"]
    cosines = cosine_rows(minilm.embed(TEXTS), int8.embed(TEXTS))
    assert cosines.min() >= INT8_MIN_COSINE
    assert int8.info.weight_bytes <= fp32.info.weight_bytes / 3.5
    assert (int8.info.dtype, int8.engine) == ("int8", "onnxruntime")
