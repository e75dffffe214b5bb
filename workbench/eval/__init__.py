"""Quality on the user's own task: evaluation sets and the harness that scores a target on them.

* :mod:`workbench.eval.sets`: the shipped sets (``data/evals/``) and a user's own JSONL or CSV
  set with its card, checked before any work, and the scoring rules.
* :mod:`workbench.eval.config`: :class:`EvalConfig`, what to evaluate (a local model or an
  OpenAI-compatible endpoint), on which set, with which limits.
* :mod:`workbench.eval.targets`: the two kinds of target behind one ``generate``/``embed`` pair.
* :mod:`workbench.eval.harness`: :func:`run_eval`, one loop for every target, recorded as a run
  of kind ``eval`` item by item.
* :mod:`workbench.eval.result`: :class:`EvalResult` (the items table, the score with its Wilson
  95% interval) and :func:`wilson_interval`.
* :mod:`workbench.eval.cli`: ``workbench eval``.
"""

from __future__ import annotations

from workbench.eval.config import EvalConfig
from workbench.eval.harness import run_eval
from workbench.eval.result import EvalResult, wilson_interval
from workbench.eval.sets import (
    EvalItem,
    EvalSet,
    eval_set_from_rows,
    first_number,
    list_eval_sets,
    load_eval_set,
    normalise_answer,
    score_answer,
)

__all__ = [
    "EvalConfig",
    "EvalItem",
    "EvalResult",
    "EvalSet",
    "eval_set_from_rows",
    "first_number",
    "list_eval_sets",
    "load_eval_set",
    "normalise_answer",
    "run_eval",
    "score_answer",
    "wilson_interval",
]
