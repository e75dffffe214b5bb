"""The engine axis of a benchmark sweep: configs, old runs, and a missing extra."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from workbench.bench.config import BenchConfig
from workbench.bench.result import BenchResult
from workbench.kit.errors import InvalidInputError
from workbench.models.engines import MissingExtraError

INSTALL = "pip install 'ai-deployment-workbench[llama-cpp]'"


@pytest.fixture
def no_llama_cpp(monkeypatch):
    """llama_cpp cannot be imported, as on a machine without the extra."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)


def test_the_default_sweep_runs_on_transformers():
    """Without --engines every point runs on transformers."""
    config = BenchConfig(model="tiny-llama")
    assert config.engines == ("transformers",)
    assert {p["engine"] for p in config.points()} == {"transformers"}


def test_each_point_carries_its_variants_engine():
    """fp32 runs on transformers and q4_1 on llama.cpp, in one grid."""
    config = BenchConfig(
        model="smollm2-135m", engines=("transformers", "llama.cpp"), variants=("fp32", "q4_1")
    )
    assert [(p["engine"], p["variant"]) for p in config.points()] == [
        ("transformers", "fp32"),
        ("llama.cpp", "q4_1"),
    ]


def test_an_engine_without_a_variant_of_its_own_gets_its_default():
    """--engines transformers,llama.cpp alone measures fp32 and llama.cpp's shipped q4_1."""
    config = BenchConfig(model="smollm2-135m", engines=("transformers", "llama.cpp"))
    assert config.variants == ("fp32", "q4_1")
    assert BenchConfig(model="smollm2-135m", engines=("llama.cpp",)).variants == ("q4_1",)


def test_an_unknown_engine_is_named_with_the_fix():
    """A misspelt engine is refused naming the flag, the close name and the known ones."""
    with pytest.raises(InvalidInputError) as caught:
        BenchConfig(model="smollm2-135m", engines=("transformers", "llama"))
    message = str(caught.value)
    for fragment in ("Unknown engine 'llama'", "--engines", "'llama.cpp'", "transformers"):
        assert fragment in message


def test_a_variant_of_an_engine_not_listed_is_refused():
    """q8_0 without llama.cpp in --engines says which engine to add."""
    with pytest.raises(InvalidInputError, match=r"add it \(--engines transformers,llama.cpp\)"):
        BenchConfig(model="smollm2-135m", variants=("fp32", "q8_0"))


def test_llama_cpp_is_measured_at_batch_1_only():
    """A batch above 1 with llama.cpp is refused before anything runs."""
    with pytest.raises(InvalidInputError, match="batch 1 only"):
        BenchConfig(model="smollm2-135m", engines=("llama.cpp",), batch_sizes=(1, 4))


def test_engines_round_trip_through_a_dict():
    """A config with engines loads back equal from its dict."""
    config = BenchConfig(model="smollm2-135m", engines=("transformers", "llama.cpp"))
    assert BenchConfig.from_dict(config.to_dict()) == config


def test_a_config_saved_before_engines_loads_on_transformers():
    """An old run's config (no `engines` key) loads with the default engine."""
    old = BenchConfig(model="tiny-llama").to_dict()
    del old["engines"]
    assert BenchConfig.from_dict(old).engines == ("transformers",)


def test_points_saved_before_engines_load_with_engine_transformers():
    """An old run's points table gains engine = transformers, among the leading columns."""
    config = BenchConfig(model="tiny-llama")
    old_points = [
        {"model": "tiny-llama", "task": "text-generation", "variant": "fp32", "p50_ms": 1.0}
    ]
    data = {"config": config.to_dict(), "points": old_points, "samples": []}
    points = BenchResult.from_dict(data).points
    assert list(points.columns[:4]) == ["model", "task", "engine", "variant"]
    assert points["engine"].tolist() == ["transformers"]


def test_the_summary_names_the_fastest_engine():
    """The headline says which engine and variant were fastest."""
    points = pd.DataFrame(
        [
            {"model": "m", "engine": "transformers", "variant": "fp32",
             "throughput_items_per_s": 1.0, "p50_ms": 9.0},
            {"model": "m", "engine": "llama.cpp", "variant": "q4_1",
             "throughput_items_per_s": 3.0, "p50_ms": 3.0},
        ]
    )  # fmt: skip
    summary = BenchResult(BenchConfig(model="m"), points, pd.DataFrame()).summary()
    assert summary["engines"] == ["transformers", "llama.cpp"]
    assert (summary["fastest_engine"], summary["fastest_variant"]) == ("llama.cpp", "q4_1")


def test_a_sweep_with_a_missing_engine_fails_before_loading(no_llama_cpp, monkeypatch, tmp_path):
    """run_benchmark checks every engine's extra before it loads the model."""
    import workbench.bench.runner as runner

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the extra was checked")

    monkeypatch.setattr(runner, "load_model", refuse)
    config = BenchConfig(model="smollm2-135m", engines=("transformers", "llama.cpp"))
    with pytest.raises(MissingExtraError, match=r"\[llama-cpp\]"):
        runner.run_benchmark(config, runs_dir=tmp_path, progress=False)


def test_bench_cli_without_the_extra_exits_2_with_the_install_command(no_llama_cpp, capsys):
    """`workbench bench ... --engines transformers,llama.cpp` exits 2 with one paragraph."""
    from workbench.cli import main

    code = main(["bench", "smollm2-135m", "--engines", "transformers,llama.cpp", "--no-save"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error:") and err.count("\n") == 0
    assert INSTALL in err
