"""``workbench eval``: what a model or an endpoint gets right on an evaluation set.

::

    workbench eval smollm2-135m --set ticket-routing --limit 40
    workbench eval smollm2-135m --set ticket-routing --variant int8 --json -
    workbench eval minilm --set ticket-topics
    workbench eval --base-url http://127.0.0.1:8000/v1 --model smollm2-135m --set ticket-routing
    workbench eval --set my-tickets.jsonl smollm2-135m

The flags are built from :class:`~workbench.eval.config.EvalConfig`, so their help and defaults
are the fields' own. ``--json`` (or ``--json -``) prints the summary and the items as JSON on
stdout (the readable summary then goes to stderr).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.eval.config import EvalConfig
from workbench.kit import formats
from workbench.kit.cli import (
    add_config_flags,
    add_json_option,
    check_writable,
    config_values,
    json_to_stdout,
    write_json,
)
from workbench.kit.fields import help_of

#: How many wrong answers the summary shows by default.
SHOW_WRONG = 5
_RUN_FLAGS = (
    "eval_set", "variant", "limit", "max_new_tokens", "k", "classifier", "seed", "label",
)  # fmt: skip
_ENDPOINT_FLAGS = ("base_url", "model", "api_key_env", "timeout_s", "retries")
_CARD_FLAGS = ("task", "scoring", "labels", "prompt")


def add_parser(commands: Any) -> None:
    """Add ``eval`` to the ``workbench`` subparsers."""
    parser = commands.add_parser(
        "eval",
        help="score a local model or an endpoint on an evaluation set (accuracy with interval)",
        description="Score a local model or an OpenAI-compatible endpoint on an evaluation set: "
        "accuracy with a Wilson 95% interval, per-item answers, latency and tokens, and for a "
        "variant the agreement with fp32. Same prompts, greedy decoding and scoring for every "
        "target.",
    )
    parser.add_argument("target", nargs="?", default="", help=help_of(EvalConfig, "target"))
    add_config_flags(parser, EvalConfig, _RUN_FLAGS)
    endpoint = parser.add_argument_group("endpoints (instead of a local TARGET)")
    add_config_flags(endpoint, EvalConfig, _ENDPOINT_FLAGS)
    card = parser.add_argument_group("your own set (a .jsonl/.csv file): card fields as flags")
    add_config_flags(card, EvalConfig, _CARD_FLAGS)
    parser.add_argument(
        "--list-sets", action="store_true", help="list the shipped eval sets and exit"
    )
    add_json_option(parser, "the summary and the items (with --list-sets: the sets)")
    parser.add_argument(
        "--show-wrong",
        type=int,
        default=SHOW_WRONG,
        metavar="N",
        help=f"wrong answers to print (default {SHOW_WRONG}; 0: none)",
    )
    parser.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    parser.add_argument("--no-save", action="store_true", help="do not record a run")
    parser.set_defaults(handler=_eval)


def config_from(args: argparse.Namespace) -> EvalConfig:
    """The eval the flags describe (checked: a bad flag fails here, before any work)."""
    return EvalConfig(**config_values(args, EvalConfig))


def _eval(args: argparse.Namespace) -> None:
    from workbench.eval.harness import run_eval

    check_writable(args.json)
    if args.list_sets:
        write_json(args.json, sets_records())
        if not json_to_stdout(args):
            print(sets_text())
        return
    config = config_from(args)
    out = sys.stderr if json_to_stdout(args) else sys.stdout
    interactive = sys.stderr.isatty()
    result = run_eval(config, runs_dir=args.runs_dir, save=not args.no_save, progress=interactive)
    print(summary_text(result.summary()), file=out)
    wrong = result.wrong()
    if args.show_wrong > 0 and len(wrong):
        print("\n" + wrong_text(wrong, args.show_wrong), file=out)
    if result.run_id:
        print(f"\nsaved as run {result.run_id}", file=out)
    if args.json:
        record = {
            "summary": result.summary(),
            "run_id": result.run_id,
            "items": result.items.to_dict(orient="records"),
        }
        write_json(args.json, record)


def summary_text(summary: dict[str, Any]) -> str:
    """The summary as aligned ``label  value`` lines a reader can check."""
    n, correct = summary["items"], summary["correct"]
    total = summary.get("set_items")
    limited = (
        f" of {formats.count(total)} items (drawn with seed {summary.get('seed')})"
        if summary.get("limit") and total
        else ""
    )
    where = summary.get("base_url") or "local"
    variant = f", {summary['variant']}" if summary.get("variant") else ""
    dtype = f" ({summary['dtype']})" if summary.get("dtype") else ""
    lines = [
        (
            "eval set",
            f"{summary['eval_set']}: {summary['task']}, {_scoring(summary)}, "
            f"{formats.count(n)}{limited or ' items'}",
        ),
        ("target", f"{summary['model']}{variant}{dtype}, {where}"),
        (
            "accuracy",
            f"{formats.percent(summary['score'])} ({correct} of {n} correct); "
            f"{summary['confidence']:.0%} Wilson interval "
            f"{_range(summary['score_low'], summary['score_high'])}",
        ),
    ]
    if "recall_at_k" in summary:
        lines.append((f"recall@{summary['k']}", formats.percent(summary["recall_at_k"])))
    if "agreement_with_fp32" in summary:
        lines.append(
            (
                "agreement with fp32",
                f"{formats.percent(summary['agreement_with_fp32'])} of items answered as fp32 did; "
                f"95% interval {_range(summary['agreement_low'], summary['agreement_high'])} "
                f"(from {summary['agreement_source']})",
            )
        )
    tokens = summary.get("mean_output_tokens")
    per_item = f"; {tokens:.1f} output tokens per item" if tokens is not None else ""
    lines.append(
        (
            "latency per item",
            f"p50 {formats.duration_ms(summary['p50_latency_ms'])}, mean "
            f"{formats.duration_ms(summary['mean_latency_ms'])}{per_item}",
        )
    )
    load = summary.get("load_seconds")
    loaded = f" (model load {load:.1f} s before)" if load is not None else ""
    lines.append(
        ("run time", f"{formats.duration_ms((summary.get('seconds') or 0) * 1000)}{loaded}")
    )
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {text}" for label, text in lines)


def sets_records() -> list[dict[str, Any]]:
    """The shipped sets, one record each: name, task, scoring, scored items, license."""
    from workbench.eval.sets import list_eval_sets, load_eval_set

    records = []
    for name in list_eval_sets():
        card = load_eval_set(name)
        records.append(
            {
                "name": name,
                "task": card.task,
                "scoring": card.scoring,
                "scored_items": len(card.scored_items),
                "license": card.license,
            }
        )
    return records


def sets_text() -> str:
    """The shipped sets, one line each: name, task, scoring, items, license."""
    lines = [
        f"{s['name']:<18} {s['task']:<10} {s['scoring']:<17} {s['scored_items']:>4} scored items  "
        f"{s['license'].split(',')[0]}"
        for s in sets_records()
    ]
    return "\n".join(lines) or "no shipped eval sets"


def wrong_text(wrong: Any, limit: int) -> str:
    """The first ``limit`` wrong answers: id, what the target said, what was expected."""
    shown = wrong.head(limit)
    lines = [f"wrong answers ({len(shown)} of {len(wrong)} shown):"]
    for row in shown.itertuples(index=False):
        said = " ".join(str(row.answer).split())
        said = said if len(said) <= 60 else said[:59] + "…"
        lines.append(f"  {row.id}  said {said!r}, expected {row.reference!r}")
    return "\n".join(lines)


def _scoring(summary: dict[str, Any]) -> str:
    """``label scoring``, or for an embedding set the classifier that labelled the items."""
    if summary.get("classifier") == "logreg-head":
        return "labelled by a logistic-regression head trained on the train items"
    return f"{summary['scoring']} scoring"


def _range(low: Any, high: Any) -> str:
    return f"{formats.percent(low)}–{formats.percent(high)}"


__all__ = ["add_parser", "config_from", "sets_records", "sets_text", "summary_text", "wrong_text"]
