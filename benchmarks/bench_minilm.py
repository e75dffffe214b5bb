"""minilm throughput: sentence-transformers' own ``encode`` against every engine+variant of the
workbench (transformers' variants, and ONNX Runtime's onnx-fp32 and onnx-int8 where the ``onnx``
extra is installed).

All contenders embed the same 512 texts of 8-40 words (drawn with a seeded RNG from the words of
``data/samples/sentences.txt`` and ``prompts.txt``) at batch 32 with 2 torch threads. They run in
alternating rounds, the first one rotating each round, so that other work on the machine hits
every contender alike; each figure is a median over rounds and each speed-up the median of the
per-round ratios to sentence-transformers. Quality is each variant's cosine similarity to
sentence-transformers' fp32 embeddings on all 512 texts. The issue's target: the fastest
engine+variant with cosine >= 0.99 at least 2x sentence-transformers, also on a CPU without bf16
instructions; the last line says which path won on this CPU and whether it has them.

Run with ``python bench/bench_minilm.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import torch
from _report import _cpu_flags, print_machine, report_speedup

from workbench.bench.quality import cosine_rows
from workbench.bench.variants import VARIANTS
from workbench.models import get_entry, load_model
from workbench.models.engines import ENGINES, ONNXRUNTIME, MissingExtraError
from workbench.models.inputs import sample_prompts, sample_sentences

BASELINE = "sentence-transformers"
MIN_COSINE = 0.99
TARGET_SPEEDUP = 2.0


def make_texts(count: int, seed: int, min_words: int = 8, max_words: int = 40) -> list[str]:
    """``count`` texts of ``min_words``-``max_words`` words drawn from the sample files' words."""
    words = " ".join(sample_sentences() + sample_prompts()).split()
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_words, max_words + 1, size=count)
    return [" ".join(rng.choice(words, size=n)) for n in lengths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    parser.add_argument("--texts", type=int, default=512, help="texts embedded (default 512)")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per batch (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the texts (default 0)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    torch.set_num_threads(args.threads)

    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bars between figures

    texts = make_texts(args.texts, args.seed)
    words = [len(t.split()) for t in texts]
    print_machine()
    print(
        f"settings: {len(texts)} texts of {min(words)}-{max(words)} words (seed {args.seed}), "
        f"batch {args.batch_size}, {args.threads} torch threads, {args.rounds} rounds; "
        f"quality bar cosine min >= {MIN_COSINE}; target {TARGET_SPEEDUP}x over {BASELINE}"
    )

    folder = str(get_entry("minilm").weights_path())
    start = time.perf_counter()
    st_model = SentenceTransformer(folder, device="cpu")
    st_load_s = time.perf_counter() - start
    start = time.perf_counter()
    reference = load_model("minilm", progress=False)
    load_s = time.perf_counter() - start
    print(f"load: sentence-transformers {st_load_s:.2f} s, workbench runner {load_s:.2f} s")

    contenders: dict[str, Callable[[], np.ndarray]] = {
        BASELINE: lambda: st_model.encode(
            texts, batch_size=args.batch_size, show_progress_bar=False
        )
    }
    prepare_s: dict[str, float] = {}
    skipped: list[str] = []
    for name, variant in VARIANTS.items():
        reason = variant.unsupported(reference)
        if reason:
            skipped.append(f"{name} ({reason})")
            continue
        start = time.perf_counter()
        runner = variant.apply(reference)
        prepare_s[name] = time.perf_counter() - start
        contenders[f"workbench {name}"] = _embed(runner, texts, args.batch_size)
    onnx = ENGINES[ONNXRUNTIME]
    try:
        onnx.require()
    except MissingExtraError:
        skipped.append(f"{', '.join(onnx.variants)} (the onnx extra: {onnx.install_command})")
    else:
        from workbench.models.engines.onnx_runtime import load_onnxruntime

        for name in onnx.variants:
            start = time.perf_counter()
            runner = load_onnxruntime("minilm", name, threads=args.threads, reference=reference)
            prepare_s[name] = time.perf_counter() - start
            how = "from the cache" if runner.export_meta["cache_hit"] else "made now"
            print(f"{name}: {runner.onnx_path.name} ({how}), {prepare_s[name]:.2f} s")
            contenders[f"workbench {name}"] = _embed(runner, texts, args.batch_size)
    if skipped:
        print(f"not measured: {'; '.join(skipped)}")

    # Quality first, on every text: this call also warms each contender up.
    baseline_vectors = contenders[BASELINE]()
    cosines = {}
    for name, call in contenders.items():
        cos = cosine_rows(baseline_vectors, call())
        cosines[name] = (float(cos.mean()), float(cos.min()))

    speeds: dict[str, list[float]] = {name: [] for name in contenders}
    ratios: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for index in range(args.rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        this_round = {}
        for name in order:
            start = time.perf_counter()
            contenders[name]()
            this_round[name] = len(texts) / (time.perf_counter() - start)
        for name in names:
            speeds[name].append(this_round[name])
            ratios[name].append(this_round[name] / this_round[BASELINE])
        print(
            f"round {index + 1}/{args.rounds}: "
            + ", ".join(f"{n} {this_round[n]:.0f}" for n in names)
            + " sentences/s",
            flush=True,
        )

    print()
    header = (
        f"{'contender':<24} {'sentences/s':>11} {'(min-max)':>13} {'vs ST':>7} "
        f"{'cos mean':>9} {'cos min':>8} {'prepare s':>9}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        low, high = min(speeds[name]), max(speeds[name])
        variant_name = name.removeprefix("workbench ")
        prepare = f"{prepare_s[variant_name]:.2f}" if variant_name in prepare_s else "-"
        mean, worst = cosines[name]
        print(
            f"{name:<24} {statistics.median(speeds[name]):>11.1f} {f'({low:.0f}-{high:.0f})':>13} "
            f"{statistics.median(ratios[name]):>6.2f}x {mean:>9.6f} {worst:>8.6f} {prepare:>9}"
        )

    eligible = [n for n in names if n != BASELINE and cosines[n][1] >= MIN_COSINE]
    print()
    if not eligible:
        print(f"no workbench variant kept cosine min >= {MIN_COSINE}: target missed")
        return
    best = max(eligible, key=lambda n: statistics.median(ratios[n]))
    report_speedup(
        best=best,
        baseline=BASELINE,
        baseline_label="sentence-transformers fp32",
        speeds=speeds,
        ratios=ratios,
        unit="sentences/s",
        target=TARGET_SPEEDUP,
        quality=f"cosine min >= {MIN_COSINE} (cosine min {cosines[best][1]:.6f})",
    )
    bf16 = "has" if "avx512_bf16" in _cpu_flags() else "lacks"
    print(f"this CPU {bf16} avx512_bf16; the fastest path that keeps quality here: {best}")


def _embed(runner, texts: list[str], batch_size: int) -> Callable[[], np.ndarray]:
    return lambda: runner.embed(texts, batch_size=batch_size)


if __name__ == "__main__":
    main()
