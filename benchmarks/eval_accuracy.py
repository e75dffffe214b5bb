"""Accuracy of every installed catalog model and variant on every shipped evaluation set.

Each model is loaded once; fp32 runs first on a set, so each variant's agreement with fp32 reads
fp32's answers from that run instead of computing them again. Embedding sets are scored twice:
by nearest neighbour and by a logistic-regression head trained on the set's train items. Every
run covers the whole set (no ``--limit``), so the decision can use it, and is saved as a run of
kind ``eval`` in ``--runs-dir``. The table gives the accuracy with its Wilson 95% interval, the
agreement with fp32 for a variant, the p50 time per item and the run's wall time (the model load
not included).

An eval already complete in ``--runs-dir`` (same model, variant, set and classifier, whole set)
is printed from its run instead of run again, so a second start continues where a stopped one
ended.

Run with ``python benchmarks/eval_accuracy.py`` (``--help`` for the options); about 40 minutes on
2 idle cores, most of it smollm2-135m's variants on the chat sets.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

from _report import print_machine

from workbench.bench.variants import VARIANTS
from workbench.eval import EvalConfig, list_eval_sets, load_eval_set, run_eval
from workbench.eval.config import CLASSIFIERS
from workbench.eval.harness import MODEL_TASK
from workbench.kit import formats
from workbench.models import load_catalog, load_model


def plan(models: list[str], variants: list[str] | None, sets: list[str]) -> list[EvalConfig]:
    """Every (model, variant, set, classifier) to run, fp32 first within each model and set."""
    catalog = load_catalog()
    configs = []
    for alias in models:
        entry = catalog[alias]
        for name in sets:
            eval_set = load_eval_set(name)
            if MODEL_TASK[eval_set.task] != entry.task:
                continue
            names = [v for v, spec in VARIANTS.items() if entry.task in spec.tasks]
            names = [v for v in names if variants is None or v in variants or v == "fp32"]
            # A compiled variant answers as the one it compiles, and compiles again for each new
            # prompt length: only when asked for by name.
            names = [v for v in names if not v.endswith("compiled") or v in (variants or ())]
            classifiers = CLASSIFIERS if eval_set.task == "embeddings" else CLASSIFIERS[:1]
            for classifier in classifiers:
                configs += [
                    EvalConfig(alias, name, variant=v, classifier=classifier) for v in names
                ]
    return configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    catalog = load_catalog()
    installed = [alias for alias, entry in catalog.items() if entry.installed()]
    parser.add_argument("--models", default=",".join(installed), help="catalog aliases")
    parser.add_argument("--variants", default="", help="variants (default: every one that fits)")
    parser.add_argument("--sets", default=",".join(list_eval_sets()), help="eval sets")
    parser.add_argument("--runs-dir", default="", help="where runs go (default: a temp folder)")
    args = parser.parse_args()
    runs_dir = args.runs_dir or tempfile.mkdtemp(prefix="eval-accuracy-")
    variants = [v for v in args.variants.split(",") if v] or None
    configs = plan(args.models.split(","), variants, args.sets.split(","))

    print_machine()
    print(f"runs saved in {runs_dir}; {len(configs)} evals\n")
    header = (
        f"{'model':<13} {'variant':<17} {'set':<15} {'classifier':<17} {'accuracy':>8} "
        f"{'95% interval':>14} {'items':>5} {'agree fp32':>10} {'p50/item':>9} {'run':>8}"
    )
    print(header)
    print("-" * len(header))
    runners: dict[str, object] = {}
    done = _done(runs_dir)
    for config in configs:
        key = (config.target, config.variant_name, config.eval_set, config.classifier)
        if key in done:
            summary, wall = done[key]
            _print_row(summary, wall, "(earlier run)")
            continue
        if config.target not in runners:
            runners = {config.target: load_model(config.target, progress=False)}
        started = time.perf_counter()
        result = run_eval(config, runner=runners[config.target], runs_dir=runs_dir, progress=False)
        _print_row(result.summary(), time.perf_counter() - started)


def _done(runs_dir: str) -> dict[tuple, tuple[dict, float]]:
    """Complete whole-set eval runs in ``runs_dir`` by (model, variant, set, classifier)."""
    from workbench import runs

    found = {}
    for summary in runs.list_runs(runs_dir):
        s = summary.summary
        if summary.kind == "eval" and summary.status == "complete" and not s.get("limit"):
            key = (s["model"], s["variant"], s["eval_set"], s.get("classifier") or CLASSIFIERS[0])
            found[key] = (s, float(s.get("seconds") or float("nan")))
    return found


def _print_row(s: dict, wall: float, note: str = "") -> None:
    """One row of the table: the eval's summary and its wall time."""
    agree = formats.percent(s["agreement_with_fp32"]) if "agreement_with_fp32" in s else ""
    classifier = s.get("classifier") or ""
    interval = f"{formats.percent(s['score_low'])}–{formats.percent(s['score_high'])}"
    print(
        f"{s['model']:<13} {s['variant']:<17} {s['eval_set']:<15} {classifier:<17} "
        f"{formats.percent(s['score']):>8} {interval:>14} {s['items']:>5} {agree:>10} "
        f"{formats.duration_ms(s['p50_latency_ms']):>9} {wall:>7.1f}s {note}",
        flush=True,
    )


if __name__ == "__main__":
    main()
