"""Bench runs and a scenario written by hand for the decision's tests: figures small enough to
check by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.runs import start_run

HOST_PEAK = {"fp32_gflops": 100.0, "bandwidth_gbs": 10.0, "threads": 2}

#: A scenario over :func:`record_generation_run`'s model: an API option and a local one.
#: ``{extra}`` adds lines to the workload, ``{api_extra}`` to the API option, and ``{local}`` is
#: the local option (default :data:`LOCAL_OPTION`; empty for none).
SCENARIO = """
name = "Chat"
[workload]
requests_per_month = 100000
peak_requests_per_s = 0.1
input_tokens = 100
output_tokens = 8
latency_objective_ms = 20000
{extra}

[runs]
local = "latest:bench:tiny-chat"

[[options]]
name = "API"
kind = "api"
provider = "openai"
model = "gpt-4o-mini"
{api_extra}
{local}
"""
#: The local option of :data:`SCENARIO`: a 5 W device at $0.15 a kWh, up to 4 units.
LOCAL_OPTION = """
[[options]]
name = "Here"
kind = "local"
power_w = 5
usd_per_kwh = 0.15
max_units = 4
"""

#: One generation point per variant: (variant, speed-up over fp32, agreement with fp32).
VARIANTS = (("fp32", 1.0, 1.0), ("int8-weight-only", 2.4, 0.985), ("int8", 3.0, 0.90))
#: Points of two engines: (variant, speed-up, agreement, engine, weight bytes). llama.cpp's
#: 4-bit file holds a quarter of fp32's bytes and decodes 6 times as fast.
ENGINE_VARIANTS = (
    ("fp32", 1.0, 1.0, "transformers", 400_000_000),
    ("int8-weight-only", 2.4, 0.985, "transformers", 130_000_000),
    ("q4_1", 6.0, 0.97, "llama.cpp", 100_000_000),
)


def record_generation_run(
    runs_dir: Path, model: str = "tiny-chat", variants: tuple = VARIANTS
) -> str:
    """A bench run of some variants of one model (default :data:`VARIANTS`): 8-token calls of
    ttft 300 ms + 100 ms a token at fp32 (1 s a call), 5 calls each. Variants given with an
    engine and weight bytes (:data:`ENGINE_VARIANTS`) add an ``engine`` column; without, the
    run is one from before the engine axis (no such column, 400 MB of fp32 weights each)."""
    points, samples = [], []
    for index, (variant, speedup, agreement, *path) in enumerate(variants):
        engine, weight_bytes = path or ("", 400_000_000)
        ttft, tpot = 300.0 / speedup, 100.0 / speedup
        call = ttft + 7 * tpot
        points.append(
            {
                "model": model,
                "task": "text-generation",
                **({"engine": engine} if engine else {}),
                "variant": variant,
                "dtype": variant if engine == "llama.cpp" else "float32",
                "threads": 2,
                "batch": 1,
                "seq_len": 32,
                "max_new_tokens": 8,
                "prompt_tokens": 32,
                "output_tokens": 8.0,
                "p50_ms": call,
                "p95_ms": call * 1.2,
                "ttft_ms": ttft,
                "tpot_ms": tpot,
                "tokens_per_s": 8 * 1000.0 / call,
                "throughput_items_per_s": 1000.0 / call,
                "params": 100_000_000,
                "weight_bytes": weight_bytes,
                "agreement": agreement,
                "count": 5,
            }
        )
        samples += [
            {"point": index, "iteration": i, "latency_ms": call * f, "ttft_ms": ttft * f}
            for i, f in enumerate((0.9, 1.0, 1.0, 1.1, 1.2))
        ]
    with start_run(
        "bench",
        {"model": model},
        label=model,
        runs_dir=runs_dir,
        environment_extra={"host_peak": HOST_PEAK},
    ) as run:
        run.add_table("points", pd.DataFrame(points))
        run.add_table("samples", pd.DataFrame(samples))
        run.set_summary(model=model)
    return run.id


def write_scenario(
    folder: Path, extra: str = "", api_extra: str = "", local: str = LOCAL_OPTION
) -> Path:
    """:data:`SCENARIO` written as ``folder/chat.toml`` with those lines filled in."""
    path = folder / "chat.toml"
    path.write_text(
        SCENARIO.format(extra=extra, api_extra=api_extra, local=local), encoding="utf-8"
    )
    return path
