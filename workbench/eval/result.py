"""A finished evaluation: one row per item, the score with its interval, and how it is saved.

No torch here: a saved eval can be read back on a machine that only reads runs.

The score is the share of items answered correctly, with a Wilson score interval at 95%
(:func:`wilson_interval`). The Wilson interval is computed in closed form (no scipy call); it is
the same interval as ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``, and unlike
the normal-approximation interval ``p ± 1.96 sqrt(p(1-p)/n)`` it never leaves [0, 1] and keeps
close to its coverage at the small ``n`` and extreme scores a workshop-sized eval has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from workbench.eval.config import REFERENCE_VARIANT, EvalConfig
from workbench.kit.intervals import CONFIDENCE

if TYPE_CHECKING:
    from workbench.runs import Run

#: The columns of the ``items`` table every eval has, in order; embeddings and variants add more.
ITEM_COLUMNS = ("id", "input", "answer", "reference", "correct", "latency_ms", "output_tokens")
#: Summary keys the harness states (the rest are computed from the items table).
FACT_KEYS = (
    "model",
    "variant",
    "eval_set",
    "same_items_as",
    "target",
    "base_url",
    "task",
    "scoring",
    "set_items",
    "limit",
    "seed",
    "max_new_tokens",
    "k",
    "classifier",
    "eval_fingerprint",
    "eval_set_as_of",
    "dtype",
    "load_seconds",
    "seconds",
    "agreement_source",
)


def wilson_interval(
    successes: int, trials: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The Wilson score interval of a proportion (no continuity correction).

    Parameters
    ----------
    successes
        Items answered correctly, ``0 <= successes <= trials``.
    trials
        Items scored.
    confidence
        Two-sided coverage, e.g. 0.95.

    Returns
    -------
    tuple of float
        ``(low, high)``, within [0, 1]; ``(nan, nan)`` when ``trials`` is 0.

    Raises
    ------
    ValueError
        For counts that are negative or inconsistent, or a confidence outside (0, 1).

    Examples
    --------
    8 of 10 correct: 80%, 95% interval 49.0%-94.3%.

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be in (0, 1), got {confidence!r}.")
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}.")
    if trials == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


@dataclass
class EvalResult:
    """A finished (or interrupted) evaluation of one target on one set.

    ``items`` has one row per scored item (:data:`ITEM_COLUMNS`, then ``finish_reason`` for
    chat answers, ``neighbour_id``, ``similarity`` and ``hit_at_k`` for embedding sets labelled by nearest
    neighbour, ``confidence`` for those labelled by a trained head, and
    ``fp32_answer`` and ``agrees_with_fp32`` for a variant other than fp32). ``facts`` holds what
    the harness knew beyond the items (model, set card, timings; see :data:`FACT_KEYS`).
    """

    KIND: ClassVar[str] = "eval"

    config: EvalConfig
    items: pd.DataFrame
    facts: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """The items table: one row per item, units in the column names."""
        return self.items

    def tables(self) -> dict[str, pd.DataFrame]:
        """What a run saves: ``items``."""
        return {"items": self.items}

    def wrong(self) -> pd.DataFrame:
        """The items answered wrongly, with what the target said and what was expected."""
        if self.items.empty:
            return self.items
        return self.items[~self.items["correct"].astype(bool)]

    def summary(self) -> dict[str, Any]:
        """Headline values: the target, the set, the score with its Wilson 95% interval and the
        per-item latency; for a variant, the agreement with fp32; for an embedding set, recall@k.

        ``model``, ``variant`` (``None`` for an endpoint), ``eval_set`` and ``score`` are what the
        decision reads.
        """
        items = self.items
        n = len(items)
        correct = int(items["correct"].astype(bool).sum()) if n else 0
        low, high = wilson_interval(correct, n)
        out: dict[str, Any] = {key: self.facts.get(key) for key in FACT_KEYS[:3]}
        out |= {
            "score": correct / n if n else math.nan,
            "score_low": low,
            "score_high": high,
            "confidence": CONFIDENCE,
            "items": n,
            "correct": correct,
        }
        # Facts that do not apply (a local model's base_url, a chat set's k) are left out.
        out |= {
            key: self.facts[key]
            for key in FACT_KEYS[3:]
            if key != "agreement_source" and self.facts.get(key) is not None
        }
        if "hit_at_k" in items.columns:
            out["recall_at_k"] = float(items["hit_at_k"].astype(bool).mean()) if n else math.nan
        if "agrees_with_fp32" in items.columns:
            agree = int(items["agrees_with_fp32"].astype(bool).sum())
            a_low, a_high = wilson_interval(agree, n)
            out |= {
                "agreement_with_fp32": agree / n if n else math.nan,
                "agreement_low": a_low,
                "agreement_high": a_high,
                "agreement_source": self.facts.get("agreement_source"),
            }
        latency = items["latency_ms"].astype(float) if n else pd.Series(dtype=float)
        out["p50_latency_ms"] = float(latency.median()) if n else math.nan
        out["mean_latency_ms"] = float(latency.mean()) if n else math.nan
        tokens = items["output_tokens"].dropna().astype(float) if n else pd.Series(dtype=float)
        out["mean_output_tokens"] = float(tokens.mean()) if len(tokens) else None
        return out

    @property
    def score(self) -> float:
        """The share of items answered correctly (NaN with no items)."""
        return self.summary()["score"]

    @property
    def is_reference(self) -> bool:
        """Whether this is fp32 (or an endpoint): nothing to compare with."""
        return self.facts.get("variant") in (None, REFERENCE_VARIANT)

    @classmethod
    def from_run(cls, run: Run) -> EvalResult:
        """The evaluation saved as ``run`` (a run of kind ``"eval"``), complete or not.

        A run that was interrupted has its items but no summary: its facts are then the config's.
        """
        config = EvalConfig.from_dict(run.config)
        items = run.table("items") if "items" in run.tables else empty_items()
        facts = {key: run.summary[key] for key in FACT_KEYS if key in run.summary}
        if not facts:
            facts = {
                "model": config.model_name,
                "variant": config.variant_name,
                "eval_set": config.eval_set,
            }
        return cls(config=config, items=items, facts=facts, run_id=run.id)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready: the config, the facts, the items as records."""
        return {
            "config": self.config.to_dict(),
            "facts": dict(self.facts),
            "items": self.items.to_dict(orient="records"),
            "run_id": self.run_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResult:
        """The inverse of :meth:`to_dict`."""
        items = pd.DataFrame.from_records(data["items"]) if data["items"] else empty_items()
        return cls(
            config=EvalConfig.from_dict(data["config"]),
            items=items,
            facts=dict(data.get("facts", {})),
            run_id=data.get("run_id"),
        )


def empty_items() -> pd.DataFrame:
    """An items table with no rows (an eval stopped before its first item)."""
    return pd.DataFrame({column: pd.Series(dtype=_DTYPES[column]) for column in ITEM_COLUMNS})


_DTYPES = {
    "id": "str",
    "input": "str",
    "answer": "str",
    "reference": "str",
    "correct": "bool",
    "latency_ms": "float64",
    "output_tokens": "Int64",
}


__all__ = ["FACT_KEYS", "ITEM_COLUMNS", "EvalResult", "empty_items", "wilson_interval"]
