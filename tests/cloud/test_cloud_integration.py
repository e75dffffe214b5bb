"""The loopback cloud with the bundled real models, through the official openai client."""

from __future__ import annotations

import numpy as np
import openai
import pytest

from workbench.cloud.server import LoopbackCloud


@pytest.mark.integration
def test_openai_client_streams_smollm2_chat_and_gets_minilm_embeddings(smollm2, minilm):
    """Streamed chat from smollm2-135m and embeddings from minilm arrive intact via openai."""
    # Prepare
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    expected = smollm2.generate(messages, 16)
    texts = ["A cat sits on the mat.", "Stock markets fell sharply today."]
    # Execute
    with LoopbackCloud(smollm2, minilm) as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
        chunks = list(
            client.chat.completions.create(
                model=smollm2.info.name,
                messages=messages,
                max_tokens=16,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        vectors = client.embeddings.create(model=minilm.info.name, input=texts)
    # Assert
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == expected.text and "Paris" in text
    assert chunks[-1].usage.completion_tokens == expected.tokens
    got = np.array([d.embedding for d in vectors.data], dtype=np.float32)
    assert got.shape == (2, 384)
    np.testing.assert_allclose(got, minilm.embed(texts), atol=1e-5)
