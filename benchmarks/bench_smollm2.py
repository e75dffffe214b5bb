"""smollm2-135m greedy decoding: plain fp32 eager ``model.generate`` against each variant.

Every contender generates exactly 64 new tokens (``min_new_tokens=64``) greedily from the same
chat prompt with 2 torch threads; output tokens/s counts the new tokens over the whole call,
prompt included. Contenders run in alternating rounds (the first one rotating each round; each
round uses the next sample prompt) so that other work on the machine hits every contender alike;
each figure is a median over rounds and each speed-up the median of the per-round ratios to
fp32 eager. Quality is teacher-forced agreement with fp32's greedy continuations and where free
greedy decoding first diverges from them (``workbench.bench.quality``). Where llama-cpp-python
is installed (the ``llama-cpp`` extra), the workbench's llama.cpp engine on the same GGUF file
(Q4_1, fed the same prompt tokens) runs in the same rounds as a reference, with its drift
measured the same way.

Run with ``python bench/bench_smollm2.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import torch
from _report import print_machine, report_speedup
from transformers import GenerationConfig

from workbench.bench import quality
from workbench.bench.variants import VARIANTS
from workbench.models import load_model
from workbench.models.engines import ENGINES, LLAMA_CPP
from workbench.models.inputs import sample_prompts

MODEL = "smollm2-135m"
BASELINE = "fp32 eager"
LLAMA_CPP_NAME = "llama.cpp q4_1"
MIN_AGREEMENT = 0.95
TARGET_SPEEDUP = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens generated (default 64)")
    parser.add_argument(
        "--prompts", type=int, default=3, help="sample chat prompts used (default 3)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    if args.rounds < 1 or args.new_tokens < 1 or args.prompts < 1:
        parser.error("--rounds, --new-tokens and --prompts must be >= 1")
    torch.set_num_threads(args.threads)
    new = args.new_tokens

    print_machine()
    start = time.perf_counter()
    reference = load_model(MODEL, progress=False)
    load_s = time.perf_counter() - start
    prompts = [reference.chat_or_prompt(p) for p in sample_prompts()[: args.prompts]]
    inputs = [reference.encode_prompt(p) for p in prompts]
    prompt_tokens = [int(i["input_ids"].shape[1]) for i in inputs]
    print(
        f"settings: {MODEL}, greedy, exactly {new} new tokens, {args.threads} torch threads, "
        f"{args.rounds} rounds, {len(prompts)} chat prompts of {prompt_tokens} tokens; quality "
        f"bar agreement >= {MIN_AGREEMENT}; target {TARGET_SPEEDUP}x over {BASELINE}"
    )
    print(
        f"load: {load_s:.2f} s ({reference.info.dtype}, {reference.info.weight_bytes / 1e6:.0f} MB)"
    )

    base_config = reference.generation_config(new)
    base_config.min_new_tokens = new  # every call produces the same number of tokens
    contenders: dict[str, Callable[[int], int]] = {
        BASELINE: _generate(reference.model, inputs, base_config, {})
    }
    runners = {BASELINE: reference}
    prepare_s: dict[str, float] = {}
    skipped = []
    for name, variant in VARIANTS.items():
        reason = variant.unsupported(reference)
        if name == "fp32" or reason:
            skipped.append(f"{name} ({reason or 'it is the fp32 eager baseline itself'})")
            continue
        start = time.perf_counter()
        runner = variant.apply(reference)
        prepare_s[name] = time.perf_counter() - start
        config, extra = _with_options(base_config, variant.generate_kwargs())
        contenders[name] = _generate(runner.model, inputs, config, extra)
        runners[name] = runner
    print(f"not run as variants: {'; '.join(skipped)}")
    llama = _llama_cpp(reference, inputs, new, args.threads)
    if llama is not None:
        contenders[LLAMA_CPP_NAME], runners[LLAMA_CPP_NAME] = llama

    start = time.perf_counter()
    references = quality.reference_continuations(reference, prompts, new)
    reference_s = time.perf_counter() - start
    drift: dict[str, dict[str, float]] = {}
    for name, runner in runners.items():
        drift[name] = quality.generation_drift(runner, references, prompts, new)
    lengths = [len(continuation) for _, continuation in references]
    print(
        f"fp32 reference continuations: {reference_s:.1f} s, {lengths} tokens (greedy, up to "
        f"{new}, ending at the end token): agreement is over these {sum(lengths)} positions"
    )
    for call in contenders.values():  # warm-up, untimed
        call(0)

    speeds: dict[str, list[float]] = {name: [] for name in contenders}
    ratios: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for index in range(args.rounds):
        prompt = index % len(prompts)
        order = names[index % len(names) :] + names[: index % len(names)]
        this_round = {}
        for name in order:
            start = time.perf_counter()
            tokens = contenders[name](prompt)
            this_round[name] = tokens / (time.perf_counter() - start)
            if tokens != new:
                raise RuntimeError(f"{name} generated {tokens} tokens instead of {new}")
        for name in names:
            speeds[name].append(this_round[name])
            ratios[name].append(this_round[name] / this_round[BASELINE])
        print(
            f"round {index + 1}/{args.rounds} (prompt {prompt + 1}): "
            + ", ".join(f"{n} {this_round[n]:.1f}" for n in names)
            + " tokens/s",
            flush=True,
        )

    print()
    header = (
        f"{'contender':<22} {'tokens/s':>8} {'(min-max)':>11} {'vs fp32':>7} {'agreement':>9} "
        f"{'1st div mean/min':>16} {'weights MB':>10} {'prepare s':>9}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        low, high = min(speeds[name]), max(speeds[name])
        runner = runners.get(name)
        if name in drift:
            d = drift[name]
            agreement = f"{d['agreement']:.2%}"
            divergence = f"{d['first_divergence_mean']:.1f}/{d['first_divergence_min']}"
        else:
            agreement, divergence = "-", "-"
        weights = f"{runner.info.weight_bytes / 1e6:.0f}" if runner else "-"
        prepare = f"{prepare_s[name]:.2f}" if name in prepare_s else "-"
        print(
            f"{name:<22} {statistics.median(speeds[name]):>8.1f} {f'({low:.0f}-{high:.0f})':>11} "
            f"{statistics.median(ratios[name]):>6.2f}x {agreement:>9} {divergence:>16} "
            f"{weights:>10} {prepare:>9}"
        )
    if llama is None:
        print(f"{LLAMA_CPP_NAME}: not measured, {ENGINES[LLAMA_CPP].missing_message()}")

    eligible = [
        n
        for n in runners
        if n not in (BASELINE, LLAMA_CPP_NAME) and drift[n]["agreement"] >= MIN_AGREEMENT
    ]
    print()
    if not eligible:
        print(f"no variant kept agreement >= {MIN_AGREEMENT}: target missed")
        return
    best = max(eligible, key=lambda n: statistics.median(ratios[n]))
    report_speedup(
        best=best,
        baseline=BASELINE,
        baseline_label="fp32 eager",
        speeds=speeds,
        ratios=ratios,
        unit="tokens/s",
        target=TARGET_SPEEDUP,
        quality=f"agreement >= {MIN_AGREEMENT} (agreement {drift[best]['agreement']:.2%})",
    )


def _with_options(
    config: GenerationConfig, options: dict[str, Any]
) -> tuple[GenerationConfig, dict[str, Any]]:
    """A copy of ``config`` carrying the options it knows; the others stay keyword arguments."""
    config = copy.deepcopy(config)
    rest = {}
    for key, value in options.items():
        if hasattr(config, key):
            setattr(config, key, value)
        else:
            rest[key] = value
    return config, rest


def _generate(
    model: Any, inputs: list[dict[str, torch.Tensor]], config: GenerationConfig, extra: dict
) -> Callable[[int], int]:
    """A call that generates from prompt ``i`` and returns the number of new tokens."""

    def call(i: int) -> int:
        with torch.inference_mode():
            out = model.generate(**inputs[i], generation_config=config, **extra)
        return int(out.shape[1] - inputs[i]["input_ids"].shape[1])

    return call


def _llama_cpp(
    reference: Any, inputs: list[dict[str, torch.Tensor]], new: int, threads: int
) -> tuple[Callable[[int], int], Any] | None:
    """The llama.cpp engine on the catalog's GGUF file, fed the same prompt tokens, and its
    runner; None where the extra is absent."""
    if not ENGINES[LLAMA_CPP].available():
        return None
    from workbench.models.engines.llama_cpp import load_llama_cpp

    runner = load_llama_cpp(reference.info.path, "q4_1", threads=threads, info=reference.info)

    def call(i: int) -> int:
        # Exactly `new` tokens (the end token does not stop it), from a fresh state each call.
        return int(runner.timed_generation(inputs[i]["input_ids"][0].tolist(), new)["tokens"])

    return call, runner


if __name__ == "__main__":
    main()
