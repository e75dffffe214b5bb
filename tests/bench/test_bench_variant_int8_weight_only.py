"""The int8-weight-only variant on the tiny random models: it runs, and its drift is computed."""

from __future__ import annotations

import pytest
import torch

from workbench.bench import quality
from workbench.bench.variants import VariantError, get_variant
from workbench.bench.variants.int8_weight_only import Int8WeightOnlyLinear

VARIANT = "int8-weight-only"


def test_int8_weight_only_generates_and_its_drift_against_fp32_is_computed(tiny_llama):
    """On tiny-llama it generates 4 tokens and reports agreement and first divergence in range."""
    # Prepare
    variant = get_variant(VARIANT)
    variant.check(tiny_llama)
    prompts = [tiny_llama.chat_or_prompt(t) for t in ("Hello", "Tell me a story")]
    references = quality.reference_continuations(tiny_llama, prompts, 4)

    # Execute
    runner = variant.apply(tiny_llama)
    result = runner.generate(prompts[0], max_new_tokens=4)
    drift = quality.generation_drift(runner, references, prompts, 4)

    # Assert
    assert 1 <= result.tokens <= 4
    assert 0.0 <= drift["agreement"] <= 1.0
    assert 0 <= drift["first_divergence_min"] <= drift["first_divergence_mean"] <= 4


def test_int8_weight_only_stores_int8_linears_and_leaves_the_reference_alone(tiny_llama):
    """Every Linear becomes int8 weight-only, weight bytes shrink, and fp32's model is untouched."""
    # Prepare
    weights_before = {k: v.clone() for k, v in tiny_llama.model.state_dict().items()}

    # Execute
    runner = get_variant(VARIANT).apply(tiny_llama)

    # Assert
    modules = list(runner.model.modules())
    assert not any(type(m) is torch.nn.Linear for m in modules)
    assert any(isinstance(m, Int8WeightOnlyLinear) for m in modules)
    assert runner.info.dtype == "int8"
    assert runner.info.weight_bytes < tiny_llama.info.weight_bytes
    after = tiny_llama.model.state_dict()
    assert all(torch.equal(after[k], weights_before[k]) for k in weights_before)
    assert {p.dtype for p in tiny_llama.model.parameters()} == {torch.float32}


def test_int8_weight_only_linear_is_close_to_the_float_layer():
    """A 32-in, 20-out layer's int8 weight-only output is within 2% of the float32 layer's."""
    # Prepare
    torch.manual_seed(0)
    linear = torch.nn.Linear(32, 20)
    x = torch.randn(3, 32)

    # Execute
    out = Int8WeightOnlyLinear(linear)(x.bfloat16()).float()

    # Assert
    expected = linear(x).detach()
    assert out.shape == (3, 20)
    assert (out - expected).abs().max() <= 0.02 * expected.abs().max()


def test_int8_weight_only_linear_refuses_an_input_size_the_kernel_cannot_read():
    """An input size of 8 (not a multiple of 16) raises ValueError naming in_features."""
    with pytest.raises(ValueError, match=r"`in_features` must be a multiple of 16 .*got 8"):
        Int8WeightOnlyLinear(torch.nn.Linear(8, 16))


def test_int8_weight_only_on_an_embeddings_model_names_variant_and_reason(tiny_bert):
    """On tiny-bert it raises VariantError naming the variant and the task it applies to."""
    with pytest.raises(VariantError, match=r"'int8-weight-only'.*text-generation"):
        get_variant(VARIANT).check(tiny_bert)
