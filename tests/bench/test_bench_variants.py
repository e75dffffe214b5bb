"""Benchmark variants, quality drift and the sweep runner, on the tiny random models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from workbench import runs
from workbench.bench import quality, runner
from workbench.bench.config import BenchConfig, MeasurePolicy
from workbench.bench.quality import cosine_rows
from workbench.bench.result import BenchResult
from workbench.bench.runner import run_benchmark
from workbench.bench.variants import VARIANTS, VariantError, get_variant
from workbench.kit.errors import InvalidInputError, RunsDirError
from workbench.runs import load_run

QUICK = MeasurePolicy(warmup=0, min_iters=2, min_seconds=0, max_seconds=5)
APPLICABLE = [
    ("tiny_bert", "fp32"),
    ("tiny_bert", "bf16"),
    ("tiny_bert", "int8"),
    ("tiny_bert", "int8-mlp"),
    ("tiny_llama", "fp32"),
    ("tiny_llama", "bf16"),
    ("tiny_llama", "int8"),
    ("tiny_llama", "int8-mlp"),
    ("tiny_llama", "static-cache"),
]


def prepared(request, fixture: str, variant: str):
    """(reference runner, variant runner) for a model fixture name and a variant name."""
    reference = request.getfixturevalue(fixture)
    return reference, get_variant(variant).apply(reference)


def applied(reference, variant: str):
    """The runner that ``variant`` makes of ``reference``."""
    return get_variant(variant).apply(reference)


# Variants on the tiny models


@pytest.mark.parametrize(("fixture", "variant"), APPLICABLE)
def test_applicable_variant_gives_a_working_runner(request, fixture, variant):
    """Every variant that applies yields a runner that embeds (one finite row) or generates."""
    reference, runner_ = prepared(request, fixture, variant)

    get_variant(variant).check(reference)
    if reference.task == "embeddings":
        vectors = runner_.embed(["The cat sat on the mat.", "Rain is wet."])
        assert vectors.shape == (2, reference.info.embedding_dim)
        assert np.isfinite(vectors).all()
    else:
        result = runner_.generate(runner_.chat_or_prompt("Hello"), max_new_tokens=3)
        assert 1 <= result.tokens <= 3
        assert len(result.token_ids) == result.tokens


@pytest.mark.parametrize(("fixture", "variant"), APPLICABLE)
def test_variant_leaves_the_reference_model_unchanged(request, fixture, variant):
    """Applying a variant keeps the reference's weights, float32 dtype and model info as they were."""
    # Prepare
    reference = request.getfixturevalue(fixture)
    model_before = reference.model
    weights_before = {k: v.clone() for k, v in reference.model.state_dict().items()}
    info_before = reference.info.to_dict()

    # Execute
    applied(reference, variant)

    # Assert
    assert reference.model is model_before
    weights_after = reference.model.state_dict()
    assert list(weights_after) == list(weights_before)
    assert all(torch.equal(weights_after[k], weights_before[k]) for k in weights_before)
    assert {p.dtype for p in reference.model.parameters()} == {torch.float32}
    assert reference.info.to_dict() == info_before


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_llama"])
def test_int8_reduces_weight_bytes(request, fixture):
    """int8 stores fewer weight bytes than fp32 and reports its dtype as int8."""
    reference, int8 = prepared(request, fixture, "int8")

    assert int8.info.weight_bytes < reference.info.weight_bytes
    assert int8.info.dtype == "int8"


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_llama"])
def test_bf16_runner_holds_bfloat16_weights_in_half_the_bytes(request, fixture):
    """bf16's model is bfloat16 throughout and its weight bytes are half of fp32's (within 1%)."""
    reference, bf16 = prepared(request, fixture, "bf16")

    assert {p.dtype for p in bf16.model.parameters()} == {torch.bfloat16}
    assert bf16.info.dtype == "bfloat16"
    assert bf16.info.weight_bytes == pytest.approx(reference.info.weight_bytes / 2, rel=0.01)


def test_int8_mlp_quantizes_feed_forward_layers_only(tiny_llama):
    """int8-mlp turns the MLP projections into int8 layers and leaves attention as float Linear."""
    layer = applied(tiny_llama, "int8-mlp").model.model.layers[0]

    assert type(layer.self_attn.q_proj) is torch.nn.Linear
    assert type(layer.mlp.up_proj) is not torch.nn.Linear
    assert "quantized" in type(layer.mlp.up_proj).__module__


def test_static_cache_generates_the_same_tokens_as_the_dynamic_cache(tiny_llama):
    """Greedy decoding with static-cache's generate arguments gives fp32's tokens exactly."""
    # Prepare
    ids = tiny_llama.encode_prompt(tiny_llama.chat_or_prompt("Hello there"))
    config = tiny_llama.generation_config(5)
    extra = get_variant("static-cache").generate_kwargs()

    # Execute
    with torch.inference_mode():
        dynamic = tiny_llama.model.generate(**ids, generation_config=config)
        static = tiny_llama.model.generate(**ids, generation_config=config, **extra)

    # Assert
    assert extra == {"cache_implementation": "static"}
    assert torch.equal(dynamic, static)


def test_static_cache_on_an_embeddings_model_names_variant_and_reason(tiny_bert):
    """static-cache on tiny-bert raises VariantError naming the variant, the model and why."""
    with pytest.raises(VariantError) as error:
        get_variant("static-cache").check(tiny_bert)

    message = str(error.value)
    assert "'static-cache'" in message
    assert "tiny-bert" in message
    assert "text-generation" in message
    assert "--variants" in message


def test_unknown_variant_suggests_the_closest_name():
    """'fp33' is refused with 'Did you mean 'fp32'?' and the list of known variants."""
    with pytest.raises(VariantError) as error:
        get_variant("fp33")

    message = str(error.value)
    assert "Did you mean 'fp32'?" in message
    assert all(name in message for name in VARIANTS)


# Quality drift


def test_cosine_rows_of_orthogonal_parallel_and_identical_rows():
    """Orthogonal rows give 0, parallel rows give 1, identical rows give exactly 1.0."""
    reference = np.array([[1.0, 0.0, 0.0], [1.0, 2.0, 0.0], [1.1, 2.3, 0.7], [0.0, 0.0, 0.0]])
    other = np.array([[0.0, 1.0, 0.0], [2.0, 4.0, 0.0], [1.1, 2.3, 0.7], [0.0, 0.0, 0.0]])

    cos = cosine_rows(reference, other)

    assert cos[:2] == pytest.approx([0.0, 1.0])
    # [1.1, 2.3, 0.7] against itself computes to 1.0000000000000002 in floating point.
    assert cos[2] == 1.0
    assert cos[3] == 1.0


def test_embedding_drift_of_fp32_against_itself_is_exactly_one(tiny_bert):
    """fp32 compared with itself has cosine_mean and cosine_min of exactly 1.0."""
    texts = ["The cat sat on the mat.", "Rain is wet.", "Benchmarks need care."]

    drift = quality.embedding_drift(tiny_bert, tiny_bert, texts)

    assert drift == {"cosine_mean": 1.0, "cosine_min": 1.0}


def test_generation_drift_of_fp32_against_itself_is_full_agreement(tiny_llama):
    """fp32 against its own continuations agrees on every token and never diverges."""
    # Prepare
    prompts = [tiny_llama.chat_or_prompt(t) for t in ("Hello", "Tell me a story")]
    references = quality.reference_continuations(tiny_llama, prompts, 4)

    # Execute
    drift = quality.generation_drift(tiny_llama, references, prompts, 4)

    # Assert
    assert drift["agreement"] == 1.0
    assert drift["first_divergence_min"] == 4
    assert drift["first_divergence_mean"] == 4.0


# The sweep runner


@pytest.fixture(scope="module")
def bert_sweep(tmp_path_factory):
    """A saved tiny-bert sweep of fp32 and int8 at batch 1 and 2: (result, runs dir, hook rows)."""
    runs_dir = tmp_path_factory.mktemp("bert-runs")
    config = BenchConfig(
        "tiny-bert",
        variants=("fp32", "int8"),
        batch_sizes=(1, 2),
        seq_lens=(8,),
        threads=(1,),
        policy=QUICK,
        quality_items=2,
    )
    hooked: list[dict] = []
    result = run_benchmark(config, runs_dir=runs_dir, progress=False, on_point=hooked.append)
    return result, runs_dir, hooked


@pytest.fixture(scope="module")
def llama_sweep(tmp_path_factory):
    """A saved tiny-llama sweep of fp32, int8 and static-cache, 4 new tokens: (result, runs dir)."""
    runs_dir = tmp_path_factory.mktemp("llama-runs")
    config = BenchConfig(
        "tiny-llama",
        variants=("fp32", "int8", "static-cache"),
        batch_sizes=(1,),
        seq_lens=(8,),
        threads=(1,),
        max_new_tokens=4,
        policy=QUICK,
        quality_items=2,
    )
    return run_benchmark(config, runs_dir=runs_dir, progress=False), runs_dir


def test_embedding_sweep_has_one_row_per_point_in_grid_order(bert_sweep):
    """The tiny-bert points table has 4 rows: fp32 then int8, each at batch 1 then 2."""
    result, _, _ = bert_sweep

    points = result.points[["variant", "batch", "seq_len"]].to_dict("records")

    assert points == [
        {"variant": "fp32", "batch": 1, "seq_len": 8},
        {"variant": "fp32", "batch": 2, "seq_len": 8},
        {"variant": "int8", "batch": 1, "seq_len": 8},
        {"variant": "int8", "batch": 2, "seq_len": 8},
    ]


def test_embedding_sweep_columns_carry_units_and_drift(bert_sweep):
    """The points table has unit-named figures, weight bytes and the cosine drift columns."""
    result, _, _ = bert_sweep
    points = result.points

    for column in (
        "p50_ms",
        "p95_ms",
        "throughput_items_per_s",
        "peak_rss_mb",
        "weight_bytes",
        "cosine_mean",
        "cosine_min",
    ):
        assert column in points.columns, column
    assert (points["count"] >= 2).all()
    assert (points.loc[points["variant"] == "fp32", "cosine_min"] == 1.0).all()
    assert points.loc[points["variant"] == "int8", "dtype"].eq("int8").all()


def test_embedding_sweep_loads_back_equal_from_the_run_store(bert_sweep):
    """The saved run's points table equals the result's, and its environment has host_peak."""
    result, runs_dir, _ = bert_sweep

    run = load_run(result.run_id, runs_dir=runs_dir)

    assert run.status == "complete"
    pd.testing.assert_frame_equal(run.table("points"), result.points, check_exact=True)
    assert run.environment["host_peak"] == result.environment["host_peak"]
    assert run.environment["host_peak"]["fp32_gflops"] > 0


def test_embedding_sweep_rebuilt_from_its_run_equals_the_result(bert_sweep):
    """BenchResult.from_run of the saved sweep gives back the same config, tables and host peak."""
    result, runs_dir, _ = bert_sweep

    loaded = BenchResult.from_run(load_run(result.run_id, runs_dir=runs_dir))

    assert loaded.config == result.config
    assert loaded.run_id == result.run_id
    assert loaded.environment == result.environment
    pd.testing.assert_frame_equal(loaded.points, result.points, check_exact=True)
    pd.testing.assert_frame_equal(loaded.samples, result.samples, check_exact=True)


def test_a_sweep_stopped_midway_keeps_the_points_it_finished(tmp_path):
    """A sweep that stops at its second point leaves a failed run holding the two points measured."""
    runs_dir = tmp_path / "runs"
    config = BenchConfig(
        "tiny-bert", batch_sizes=(1, 2, 4), seq_lens=(8,), threads=(1,), policy=QUICK
    )
    seen: list[dict] = []

    def stop_at_the_second(row: dict) -> None:
        seen.append(row)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_benchmark(config, runs_dir=runs_dir, progress=False, on_point=stop_at_the_second)

    (listed,) = runs.list_runs(runs_dir)
    run = load_run(listed.id, runs_dir=runs_dir)
    assert run.status == "failed"
    assert run.table("points")["batch"].tolist() == [1, 2]
    assert sorted(run.table("samples")["point"].unique()) == [0, 1]


def test_on_point_is_called_once_per_point_with_its_row(bert_sweep):
    """on_point receives each of the 4 rows, in order, as it finishes."""
    result, _, hooked = bert_sweep

    assert [(r["variant"], r["batch"]) for r in hooked] == [
        (v, b) for v, b in zip(result.points["variant"], result.points["batch"], strict=True)
    ]
    assert [r["p50_ms"] for r in hooked] == result.points["p50_ms"].tolist()


def test_generation_sweep_reports_token_timings_and_agreement(llama_sweep):
    """The tiny-llama table has ttft, tpot, tokens/s, inter-token p50 and agreement per variant."""
    result, _ = llama_sweep
    points = result.points

    assert points["variant"].tolist() == ["fp32", "int8", "static-cache"]
    for column in ("ttft_ms", "tpot_ms", "tokens_per_s", "itl_p50_ms", "agreement"):
        assert column in points.columns, column
        assert points[column].notna().all(), column
    assert (points["output_tokens"] == 4).all()
    assert points.loc[points["variant"] == "fp32", "agreement"].item() == 1.0


def test_generation_sweep_loads_back_equal_from_the_run_store(llama_sweep):
    """The saved tiny-llama run's points table equals the result's; host_peak is recorded."""
    result, runs_dir = llama_sweep

    run = load_run(result.run_id, runs_dir=runs_dir)

    pd.testing.assert_frame_equal(run.table("points"), result.points, check_exact=True)
    assert run.environment["host_peak"] == result.environment["host_peak"]


# Checks before measuring


@pytest.fixture
def measured(monkeypatch):
    """Counts the runner's calls of the measurement loop (it still runs)."""
    calls = []
    real = runner.measure

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "measure", counting)
    return calls


def test_seq_len_above_the_embedding_limit_fails_before_measuring(tmp_path, measured):
    """seq_len 10000 on tiny-bert (limit 256) raises naming the limit; no run folder is made."""
    runs_dir = tmp_path / "runs"
    config = BenchConfig("tiny-bert", seq_lens=(10_000,), threads=(1,), policy=QUICK)

    with pytest.raises(InvalidInputError, match="limit of 256 tokens"):
        run_benchmark(config, runs_dir=runs_dir, progress=False)

    assert measured == []
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []


def test_prompt_plus_new_tokens_above_context_fails_before_measuring(tmp_path, measured):
    """250 prompt tokens + 10 new on tiny-llama (context 256) raise; no run folder is made."""
    runs_dir = tmp_path / "runs"
    config = BenchConfig(
        "tiny-llama", seq_lens=(250,), max_new_tokens=10, threads=(1,), policy=QUICK
    )

    with pytest.raises(InvalidInputError, match="context of 256 tokens"):
        run_benchmark(config, runs_dir=runs_dir, progress=False)

    assert measured == []
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []


def test_variant_that_cannot_run_fails_before_measuring(tmp_path, measured):
    """static-cache in a tiny-bert sweep raises VariantError; nothing is measured or saved."""
    runs_dir = tmp_path / "runs"
    config = BenchConfig("tiny-bert", variants=("fp32", "static-cache"), threads=(1,), policy=QUICK)

    with pytest.raises(VariantError, match="static-cache"):
        run_benchmark(config, runs_dir=runs_dir, progress=False)

    assert measured == []
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []


def test_runs_dir_under_a_file_fails_before_measuring(tmp_path, measured):
    """A runs dir inside a regular file raises RunsDirError naming the file; nothing is measured."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    config = BenchConfig("tiny-bert", seq_lens=(8,), threads=(1,), policy=QUICK)

    with pytest.raises(RunsDirError, match=r"notes\.txt is a file"):
        run_benchmark(config, runs_dir=blocker / "runs", progress=False)

    assert measured == []
