"""Sample runs: made offline when missing, once, and from the command line."""

from __future__ import annotations

import threading

import pytest
from conftest import run_cli

from workbench import runs
from workbench.federated.config import FedConfig
from workbench.kit.errors import InvalidInputError
from workbench.models.engines.base import Engine
from workbench.samples.runs import SampleSettings, ensure_sample_runs, usable_runs

TINY = SampleSettings.for_model("tiny-llama")  # the sample bench, on a model built in ms


def _record(runs_dir, kind, summary, fail=False) -> str:
    """A hand-made run record of ``kind`` with ``summary``; ``fail`` leaves it failed."""
    try:
        with runs.start_run(kind, {}, runs_dir=runs_dir) as run:
            run.set_summary(**summary)
            if fail:
                raise RuntimeError("killed")
    except RuntimeError:
        pass
    return run.id


def test_each_missing_kind_is_made_once(tmp_path):
    """First call: a complete bench run of the sample model and the sample federated run; second
    call: nothing, and the same runs are found."""
    runs_dir = tmp_path / "runs"

    made = ensure_sample_runs(runs_dir, settings=TINY)
    again = ensure_sample_runs(runs_dir, settings=TINY)

    bench, federated = (runs.load_run(run_id, runs_dir) for run_id in made)
    assert (bench.kind, bench.status, bench.summary["model"]) == ("bench", "complete", "tiny-llama")
    assert bench.config["max_new_tokens"] == TINY.bench.max_new_tokens
    assert (federated.kind, federated.status) == ("federated", "complete")
    assert FedConfig.from_mapping(federated.config) == TINY.federated
    assert again == []
    assert usable_runs(runs_dir, TINY) == {"bench": made[0], "federated": made[1]}
    assert [s.id for s in runs.list_runs(runs_dir)] == made


def test_failed_runs_and_other_models_do_not_count(tmp_path):
    """A failed federated run and a benchmark of another model leave both kinds missing."""
    runs_dir = tmp_path / "runs"
    _record(runs_dir, "federated", {"final_accuracy": 0.5}, fail=True)
    _record(runs_dir, "bench", {"model": "minilm"})

    assert usable_runs(runs_dir, TINY) == {"bench": None, "federated": None}
    (made,) = ensure_sample_runs(runs_dir, kinds=("federated",), settings=TINY)
    assert usable_runs(runs_dir, TINY) == {"bench": None, "federated": made}


def test_the_sample_benchmark_measures_fp32_and_int8_weight_only_with_their_agreement(tmp_path):
    """The bench sample has one point per variant, fp32 and int8-weight-only, each with its
    agreement with fp32 (1 for fp32 itself)."""
    (made,) = ensure_sample_runs(tmp_path / "runs", kinds=("bench",), settings=TINY)

    points = runs.load_run(made, tmp_path / "runs").table("points")
    assert list(points["variant"]) == ["fp32", "int8-weight-only"]
    agreement = points.set_index("variant")["agreement"]
    assert agreement["fp32"] == 1.0
    assert 0.0 <= agreement["int8-weight-only"] <= 1.0


def test_a_bench_run_without_the_faster_variant_does_not_count(tmp_path):
    """A benchmark of the sample model with fp32 only (as earlier samples made) is not usable;
    one that lists both variants is."""
    runs_dir = tmp_path / "runs"
    _record(runs_dir, "bench", {"model": "tiny-llama", "variants": ["fp32"]})
    _record(runs_dir, "bench", {"model": "tiny-llama", "fastest_variant": "fp32"})

    assert usable_runs(runs_dir, TINY)["bench"] is None
    both = _record(
        runs_dir, "bench", {"model": "tiny-llama", "variants": ["fp32", "int8-weight-only"]}
    )
    assert usable_runs(runs_dir, TINY)["bench"] == both


@pytest.mark.parametrize(
    ("model", "variants"),
    [
        ("smollm2-135m", ("fp32", "int8-weight-only")),
        ("minilm", ("fp32", "int8")),
        ("./my-own-model", ("fp32",)),
    ],
)
def test_the_sample_variants_follow_the_models_task(model, variants, monkeypatch):
    """Without llama.cpp: a chat model gets int8-weight-only, an embedding model int8, an
    unknown model fp32 alone."""
    monkeypatch.setattr(Engine, "available", lambda self: False)

    assert SampleSettings.for_model(model).bench.variants == variants


def test_with_llama_cpp_the_chat_sample_adds_its_default_variant(monkeypatch):
    """llama.cpp installed: smollm2-135m (a GGUF file) adds llama.cpp q4_1 beside transformers;
    tiny-llama (built from a config, no GGUF file) does not."""
    monkeypatch.setattr(Engine, "available", lambda self: True)

    bench = SampleSettings().bench
    tiny = SampleSettings.for_model("tiny-llama").bench

    assert (bench.engines, bench.variants) == (
        ("transformers", "llama.cpp"),
        ("fp32", "int8-weight-only", "q4_1"),
    )
    assert "transformers fp32, int8-weight-only; llama.cpp q4_1" in SampleSettings().describe()
    assert (tiny.engines, tiny.variants) == (("transformers",), ("fp32", "int8-weight-only"))


def test_without_llama_cpp_the_sample_says_it_is_not_measured(monkeypatch):
    """llama.cpp not installed: transformers variants only, and the description says why."""
    monkeypatch.setattr(Engine, "available", lambda self: False)

    settings = SampleSettings()

    assert settings.bench.variants == ("fp32", "int8-weight-only")
    assert "llama.cpp is not installed, so it is not measured" in settings.describe()


def test_two_callers_at_once_make_the_sample_once(tmp_path):
    """Two dashboards opening together (two threads here) take turns: one run is made."""
    runs_dir = tmp_path / "runs"
    made: list[list[str]] = []

    def open_dashboard() -> None:
        made.append(ensure_sample_runs(runs_dir, kinds=("federated",)))

    callers = [threading.Thread(target=open_dashboard) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=120)

    assert sorted(len(ids) for ids in made) == [0, 1]
    assert len(runs.list_runs(runs_dir)) == 1


def test_an_unknown_kind_is_refused_naming_the_kinds(tmp_path):
    """kinds=("cloud",) is refused with the kinds there are; nothing is made."""
    with pytest.raises(InvalidInputError, match="bench, federated"):
        ensure_sample_runs(tmp_path / "runs", kinds=("cloud",))

    assert runs.list_runs(tmp_path / "runs") == []


def test_the_default_samples_say_what_they_measure_and_how_long_they_take():
    """smollm2-135m and 30 clients over 10 rounds; about 40 s, more on a first start."""
    text = SampleSettings().describe()

    assert "a short benchmark of smollm2-135m" in text
    assert "a federated simulation of 30 clients over 10 rounds" in text
    assert "about 41 s (about 86 s the first time, while the model is unpacked)" in text
    assert SampleSettings().describe(["federated"]).endswith("about a second")


def test_workbench_samples_makes_what_is_missing_then_nothing(tmp_path):
    """`workbench samples --kind federated` makes the run, and says so; run again, it makes none."""
    runs_dir = str(tmp_path / "runs")

    first = run_cli("samples", "--kind", "federated", "--runs-dir", runs_dir)
    second = run_cli("samples", "--kind", "federated", "--runs-dir", runs_dir)

    (run_id,) = [s.id for s in runs.list_runs(runs_dir)]
    assert first.returncode == 0, first.stderr
    assert f"federated: {run_id} (made)" in first.stdout
    assert second.returncode == 0, second.stderr
    assert f"federated: {run_id} (already there)" in second.stdout
    assert "Nothing to make" in second.stdout
