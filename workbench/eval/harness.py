"""One evaluation loop for every target: local chat models, local embedding models and
OpenAI-compatible endpoints.

:func:`run_eval` checks everything it can before any work (the set, the variant, the task of the
model, the runs folder), then asks the target item by item, scores each answer with the set's
rule and saves the items table after every item, so a run killed part-way keeps the items
already scored (its status says ``incomplete`` or ``failed``).

* **Chat sets**: each item's prompt is the set's template filled with the item; the target
  answers greedily with at most ``max_new_tokens`` (the card's, or ``--max-new-tokens``); the
  answer is scored as the set says (label, exact or number). A model that answers outside the
  label set scores wrong, and the table shows what it said.
* **Embedding sets**: the ``train`` items are the neighbours (embedded once, in batches); each
  ``test`` item is embedded on its own (its latency) and takes the label of its nearest
  neighbour by cosine similarity (nearest-neighbour accuracy); ``hit_at_k`` says whether its
  label is among the labels of its ``k`` nearest neighbours (recall@k is the share of hits).
  With ``classifier="logreg-head"`` a logistic-regression head is trained instead on the
  ``train`` items' embeddings (the federated text task's model and SGD, seeded, so the same
  embeddings give the same head) and each ``test`` item takes the head's most likely label;
  the item's ``confidence`` is that label's probability.
* **Variants**: a variant other than fp32 is compared with fp32 on the same items
  (``agreement_with_fp32``: the share of items whose answers are identical). fp32's answers are
  read from the newest complete fp32 eval run of the same model and set (same set content,
  same ``max_new_tokens``) when one exists, and computed in this run for the items it lacks;
  the summary's ``agreement_source`` says which.

An item's ``latency_ms`` is the time from asking the target to having its answer, measured here
around the call the same way for every target: for an endpoint it includes the network and any
retries (``--retries``); for an embedding set it is one text's embedding and the neighbour search.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.eval.config import CLASSIFIERS, REFERENCE_VARIANT, EvalConfig
from workbench.eval.result import EvalResult
from workbench.eval.sets import (
    EvalItem,
    EvalSet,
    check_same_items,
    load_eval_set,
    score_answer,
)
from workbench.eval.targets import EndpointTarget, LocalTarget, Target
from workbench.kit.errors import InvalidInputError
from workbench.kit.urls import without_userinfo

#: What a set's ``task`` needs of a model.
MODEL_TASK = {"chat": "text-generation", "embeddings": "embeddings"}
DEFAULT_CLASSIFIER = CLASSIFIERS[0]
ItemHook = Callable[[dict[str, Any], int, int], None]


def run_eval(
    config: EvalConfig,
    *,
    runs_dir: str | Path | None = None,
    save: bool = True,
    progress: bool = True,
    on_item: ItemHook | None = None,
    runner: Any = None,
) -> EvalResult:
    """Evaluate ``config.target`` on ``config.eval_set``; with ``save``, record a run of kind
    ``eval``.

    Parameters
    ----------
    config
        The target, the set and the limits.
    runs_dir
        Where runs go (default ``./runs`` or ``$WORKBENCH_RUNS_DIR``); also where an earlier fp32
        eval is looked for.
    save
        Record the eval in the run store.
    progress
        Show a progress bar (``tqdm.auto``: a widget in a notebook).
    on_item
        Called after each item with its row, the items done and the items in all.
    runner
        An already loaded model for a local target (the panel and the tests pass one; it must be
        the fp32 model ``config.target`` names).

    Returns
    -------
    EvalResult
        The items table and the summary; ``run_id`` is set when saved.

    Raises
    ------
    InvalidInputError
        Before any work, for an unknown set or variant, a model of the wrong task, or a limit
        larger than the set.
    EndpointError
        When an endpoint fails for good (the items scored so far are kept in the run).
    """
    from tqdm.auto import tqdm

    from workbench import runs

    eval_set = load_eval_set(config.eval_set, card=config.card_overrides())
    check_flags_fit(config, eval_set)
    check_same_items(eval_set)
    scored, neighbours = split_items(eval_set, config)
    plan = _Plan.prepare(config, eval_set, runner, runs_dir, save, progress)
    facts = plan.facts(eval_set)
    rows: list[dict[str, Any]] = []
    bar = tqdm(
        total=len(scored),
        desc=f"{config.model_name} on {eval_set.name}",
        unit="item",
        disable=not progress,
    )
    try:
        with runs.record(
            EvalResult,
            config,
            save=save,
            seed=config.seed,
            label=config.label or _label(config),
            runs_dir=runs_dir,
        ) as recording:
            started = time.perf_counter()
            answer = plan.answerer(plan.target, eval_set, neighbours, config)
            reference = plan.reference_answerer(eval_set, neighbours, config)
            for item in scored:
                row = answer(item)
                if reference is not None:
                    fp32 = plan.fp32_answers.get(item.id)
                    if fp32 is None:
                        fp32 = reference(item)["answer"]
                    row |= {"fp32_answer": fp32, "agrees_with_fp32": row["answer"] == fp32}
                rows.append(row)
                recording.save_tables({"items": items_frame(rows)})  # a killed run keeps these
                bar.update(1)
                if on_item:
                    on_item(row, len(rows), len(scored))
            facts["seconds"] = round(time.perf_counter() - started, 3)
            facts["agreement_source"] = plan.agreement_source(rows)
            result = EvalResult(config, items_frame(rows), facts)
            recording.save(result)
    finally:
        bar.close()
        plan.close()
    return result


def split_items(eval_set: EvalSet, config: EvalConfig) -> tuple[list[EvalItem], list[EvalItem]]:
    """The items to score (``--limit`` of them, drawn with ``--seed``, in the set's order) and,
    for an embedding set, the neighbours (every ``train`` item).

    Raises
    ------
    InvalidInputError
        For a limit above the items there are to score.
    """
    scored, neighbours = list(eval_set.scored_items), list(eval_set.neighbour_items)
    if config.limit is not None:
        if config.limit > len(scored):
            raise InvalidInputError(
                f"`limit` (--limit) is {config.limit}, but the set {eval_set.name!r} has only "
                f"{len(scored)} items to score: use at most {len(scored)}, or leave --limit out."
            )
        chosen = sorted(random.Random(config.seed).sample(range(len(scored)), config.limit))
        scored = [scored[i] for i in chosen]
    return scored, neighbours


def check_flags_fit(config: EvalConfig, eval_set: EvalSet) -> None:
    """Refuse a flag that does not apply to this set's task (before any work).

    Raises
    ------
    InvalidInputError
        For ``--max-new-tokens`` on an embedding set, or ``--k`` on a chat set.
    """
    embeddings = eval_set.task == "embeddings"
    if embeddings and config.max_new_tokens is not None:
        raise InvalidInputError(
            f"`max_new_tokens` (--max-new-tokens) applies to chat sets, and {eval_set.name!r} is "
            "an embeddings set (nothing is generated): drop --max-new-tokens."
        )
    if not embeddings and config.k is not None:
        raise InvalidInputError(
            f"`k` (--k) applies to embeddings sets (recall@k), and {eval_set.name!r} is a "
            f"{eval_set.task} set: drop --k."
        )
    if not embeddings and config.classifier != DEFAULT_CLASSIFIER:
        raise InvalidInputError(
            f"`classifier` (--classifier) applies to embeddings sets, and {eval_set.name!r} is "
            f"a {eval_set.task} set whose answers are generated: drop --classifier."
        )
    if config.classifier == "logreg-head" and config.k is not None:
        raise InvalidInputError(
            "`k` (--k) is the k of recall@k over nearest neighbours, and --classifier "
            "logreg-head labels items with a trained head: drop --k, or use the "
            "nearest-neighbour classifier."
        )


def items_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The items table from its rows (token counts as nullable integers)."""
    frame = pd.DataFrame(rows)
    if "output_tokens" in frame.columns:
        frame["output_tokens"] = frame["output_tokens"].astype("Int64")
    return frame


def fingerprint(eval_set: EvalSet) -> str:
    """16 hex digits of a SHA-256 of what decides the answers and their scores: the items (the
    set's own ``sha256``), the scoring, and for a chat set the prompt and labels.

    Two eval runs with the same fingerprint asked the same questions the same way.
    """
    asked = [eval_set.sha256, eval_set.scoring]
    if eval_set.task != "embeddings":
        asked += [eval_set.prompt, list(eval_set.labels)]
    content = json.dumps(asked, ensure_ascii=False)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]


def chat_answerer(
    target: Target, eval_set: EvalSet, max_new_tokens: int
) -> Callable[[EvalItem], dict[str, Any]]:
    """A function that asks ``target`` one item of a chat set and scores the answer."""

    def answer(item: EvalItem) -> dict[str, Any]:
        prompt = eval_set.format_prompt(item)
        started = time.perf_counter()
        reply = target.generate(prompt, max_new_tokens)
        latency_ms = (time.perf_counter() - started) * 1000
        return {
            "id": item.id,
            "input": item.input,
            "answer": reply.text,
            "reference": item.reference,
            "correct": bool(score_answer(reply.text, item, eval_set)),
            "latency_ms": latency_ms,
            "output_tokens": reply.output_tokens,
            "finish_reason": reply.finish_reason,
        }

    return answer


def neighbour_answerer(
    target: Target, eval_set: EvalSet, neighbours: list[EvalItem], k: int
) -> Callable[[EvalItem], dict[str, Any]]:
    """A function that embeds one item and answers with its nearest neighbour's label.

    The neighbours are embedded here, once (not counted in any item's latency).
    """
    train = _unit_rows(target.embed([item.input for item in neighbours]))
    labels = [item.reference for item in neighbours]
    top = min(k, len(neighbours))

    def answer(item: EvalItem) -> dict[str, Any]:
        started = time.perf_counter()
        vector = _unit_rows(target.embed([item.input]))[0]
        similarity = train @ vector
        order = np.argsort(-similarity, kind="stable")[:top]
        latency_ms = (time.perf_counter() - started) * 1000
        nearest = int(order[0])
        return _labelled_row(
            item,
            labels[nearest],
            eval_set,
            latency_ms,
            neighbour_id=neighbours[nearest].id,
            similarity=float(similarity[nearest]),
            hit_at_k=item.reference in {labels[int(i)] for i in order},
        )

    return answer


#: The head's training: plain SGD over the train items' unit-length embeddings, as the
#: federated text task trains its clients (``workbench.federated.learning``), long enough to
#: converge on a few hundred items.
HEAD_EPOCHS = 100
HEAD_BATCH_SIZE = 32
HEAD_LR = 0.5


def head_answerer(
    target: Target, eval_set: EvalSet, neighbours: list[EvalItem], seed: int
) -> Callable[[EvalItem], dict[str, Any]]:
    """A function that embeds one item and answers with the label a logistic-regression head,
    trained here on the ``train`` items' embeddings, finds most likely.

    The head is trained once, before any item (not counted in any item's latency).
    """
    import torch

    from workbench.federated.learning import build_model, train_local

    labels = list(eval_set.labels) or sorted({item.reference for item in neighbours})
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({item.reference for item in neighbours} - set(index))
    if unknown:
        raise InvalidInputError(
            f"The set {eval_set.name!r} has train items labelled {', '.join(unknown)}, which its "
            f"card's labels ({', '.join(labels)}) lack: add them to the card's labels."
        )
    x = _unit_rows(target.embed([item.input for item in neighbours])).astype(np.float32)
    y = np.array([index[item.reference] for item in neighbours], dtype=np.int64)
    head = build_model("logreg", x.shape[1], len(labels), seed=seed)
    train_local(head, x, y, epochs=HEAD_EPOCHS, batch_size=HEAD_BATCH_SIZE, lr=HEAD_LR, seed=seed)
    head.eval()

    def answer(item: EvalItem) -> dict[str, Any]:
        started = time.perf_counter()
        vector = _unit_rows(target.embed([item.input])).astype(np.float32)
        with torch.inference_mode():
            probabilities = torch.softmax(head(torch.from_numpy(vector)), dim=1)[0].numpy()
        latency_ms = (time.perf_counter() - started) * 1000
        best = int(np.argmax(probabilities))
        return _labelled_row(
            item, labels[best], eval_set, latency_ms, confidence=float(probabilities[best])
        )

    return answer


def _labelled_row(
    item: EvalItem, predicted: str, eval_set: EvalSet, latency_ms: float, **extra: Any
) -> dict[str, Any]:
    """An embedding item's row: the label it was given, scored, then what the classifier adds."""
    return {
        "id": item.id,
        "input": item.input,
        "answer": predicted,
        "reference": item.reference,
        "correct": bool(score_answer(predicted, item, eval_set)),
        "latency_ms": latency_ms,
        "output_tokens": None,
        **extra,
    }


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


def _label(config: EvalConfig) -> str:
    variant = config.variant_name
    suffix = f" {variant}" if variant and variant != REFERENCE_VARIANT else ""
    if config.classifier != DEFAULT_CLASSIFIER:
        suffix += f" {config.classifier}"
    return f"{config.model_name}{suffix} {Path(config.eval_set).stem}"


@dataclass
class _Plan:
    """What an eval runs with: the target, fp32's runner for a variant, and fp32's earlier
    answers."""

    config: EvalConfig
    target: Target
    reference_runner: Any
    fp32_answers: dict[str, str]
    fp32_run: str | None
    dtype: str | None
    load_seconds: float | None

    @classmethod
    def prepare(
        cls,
        config: EvalConfig,
        eval_set: EvalSet,
        runner: Any,
        runs_dir: str | Path | None,
        save: bool,
        progress: bool,
    ) -> _Plan:
        """Check the variant, the runs folder and the model's task, then load the model."""
        from workbench import runs

        needed = MODEL_TASK.get(eval_set.task)
        if needed is None:
            raise InvalidInputError(
                f"The set {eval_set.name!r} has task {eval_set.task!r}; `workbench eval` runs "
                f"{' and '.join(MODEL_TASK)} sets."
            )
        variant = _variant(config)
        runs.check_can_record(save, runs_dir)
        if config.is_endpoint:
            target = EndpointTarget(config, needed)
            return cls(config, target, None, {}, None, None, None)
        _check_catalog_task(config.target, needed, eval_set)
        if runner is None:
            from workbench.models import load_model

            runner = load_model(config.target, progress=progress)
        if runner.task != needed:
            raise _task_error(config.target, runner.task, needed, eval_set)
        load_seconds = runner.info.load_seconds
        reference_runner = None
        fp32_answers: dict[str, str] = {}
        fp32_run = None
        if variant is not None:
            variant.check(runner)
            reference_runner = runner
            started = time.perf_counter()
            runner = variant.apply(runner)
            load_seconds += time.perf_counter() - started
            fp32_run, fp32_answers = _earlier_fp32(config, eval_set, runs_dir)
        return cls(
            config,
            LocalTarget(runner),
            reference_runner,
            fp32_answers,
            fp32_run,
            runner.info.dtype,
            round(load_seconds, 3),
        )

    def answerer(
        self, target: Target, eval_set: EvalSet, neighbours: list[EvalItem], config: EvalConfig
    ) -> Callable[[EvalItem], dict[str, Any]]:
        """How ``target`` answers one item of this set."""
        if eval_set.task == "embeddings" and config.classifier == "logreg-head":
            return head_answerer(target, eval_set, neighbours, config.seed)
        if eval_set.task == "embeddings":
            return neighbour_answerer(target, eval_set, neighbours, recall_k(config, eval_set))
        return chat_answerer(target, eval_set, max_new_tokens(config, eval_set))

    def reference_answerer(
        self, eval_set: EvalSet, neighbours: list[EvalItem], config: EvalConfig
    ) -> Callable[[EvalItem], dict[str, Any]] | None:
        """How fp32 answers one item, for a variant (``None`` for fp32 and endpoints).

        Built lazily: when an earlier run holds every answer, fp32 never runs here.
        """
        if self.reference_runner is None:
            return None
        built: list[Callable[[EvalItem], dict[str, Any]]] = []

        def answer(item: EvalItem) -> dict[str, Any]:
            if not built:
                built.append(
                    self.answerer(LocalTarget(self.reference_runner), eval_set, neighbours, config)
                )
            return built[0](item)

        return answer

    def facts(self, eval_set: EvalSet) -> dict[str, Any]:
        """What the summary states beyond the items."""
        config = self.config
        chat = eval_set.task != "embeddings"
        return {
            "model": config.model_name,
            "variant": config.variant_name,
            "eval_set": eval_set.name,
            "target": self.target.kind,
            "base_url": without_userinfo(config.base_url) if config.base_url else None,
            "task": eval_set.task,
            "scoring": eval_set.scoring,
            "set_items": len(eval_set.scored_items),
            "limit": config.limit,
            "seed": config.seed,
            "max_new_tokens": max_new_tokens(config, eval_set) if chat else None,
            "k": None
            if chat or config.classifier != DEFAULT_CLASSIFIER
            else recall_k(config, eval_set),
            "classifier": None if chat else config.classifier,
            "same_items_as": eval_set.same_items_as or None,
            "eval_fingerprint": fingerprint(eval_set),
            "eval_set_as_of": eval_set.as_of or None,
            "dtype": self.dtype,
            "load_seconds": self.load_seconds,
        }

    def agreement_source(self, rows: list[dict[str, Any]]) -> str | None:
        """Where fp32's answers came from: an earlier run, this run, or both."""
        if self.reference_runner is None:
            return None
        reused = sum(1 for row in rows if row["id"] in self.fp32_answers)
        parts = []
        if reused:
            parts.append(f"fp32 eval run {self.fp32_run} ({_items(reused)})")
        if reused < len(rows):
            parts.append(f"fp32 answers computed in this run ({_items(len(rows) - reused)})")
        return "; ".join(parts)

    def close(self) -> None:
        """Let go of the target's connections."""
        self.target.close()


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def max_new_tokens(config: EvalConfig, eval_set: EvalSet) -> int:
    """The tokens each answer may have: ``--max-new-tokens``, else the set's card."""
    return int(config.max_new_tokens or eval_set.max_new_tokens)


def recall_k(config: EvalConfig, eval_set: EvalSet) -> int:
    """The ``k`` of recall@k: ``--k``, else the set's card."""
    return int(config.k or eval_set.k)


def _variant(config: EvalConfig) -> Any:
    """The variant to apply (``None`` for fp32 and endpoints); unknown names fail here."""
    if config.is_endpoint or config.variant_name == REFERENCE_VARIANT:
        return None
    from workbench.bench.variants import get_variant

    return get_variant(config.variant_name)


def _check_catalog_task(target: str, needed: str, eval_set: EvalSet) -> None:
    """Refuse a catalog model of the wrong task before loading it."""
    from workbench.models import load_catalog

    entry = load_catalog().get(target)
    if entry is not None and entry.task != needed:
        raise _task_error(target, entry.task, needed, eval_set)


def _task_error(target: str, task: str, needed: str, eval_set: EvalSet) -> InvalidInputError:
    example = "minilm" if needed == "embeddings" else "smollm2-135m"
    return InvalidInputError(
        f"{target!r} is a {task} model, and the set {eval_set.name!r} is a {eval_set.task} set "
        f"that needs a {needed} model such as {example!r}. Pick a set of its task, or another "
        "model."
    )


def _earlier_fp32(
    config: EvalConfig, eval_set: EvalSet, runs_dir: str | Path | None
) -> tuple[str | None, dict[str, str]]:
    """The newest complete fp32 eval of the same model, set content and limits: its run id and
    answers by item id (``(None, {})`` when there is none)."""
    from workbench import runs

    chat = eval_set.task != "embeddings"
    wanted = {
        "model": config.model_name,
        "variant": REFERENCE_VARIANT,
        "target": "local",
        "eval_set": eval_set.name,
        "eval_fingerprint": fingerprint(eval_set),
        "max_new_tokens": max_new_tokens(config, eval_set) if chat else None,
        "classifier": None if chat else config.classifier,
    }
    try:
        summaries = runs.list_runs(runs_dir)
    except (OSError, ValueError):
        return None, {}
    for summary in reversed(summaries):  # newest first
        if summary.kind != EvalResult.KIND or summary.status != "complete":
            continue
        if any(summary.summary.get(key) != value for key, value in wanted.items()):
            continue
        try:
            items = runs.load_run(summary.id, runs_dir).table("items")
        except Exception:  # a damaged earlier run: compute fp32 here instead
            continue
        return summary.id, dict(
            zip(items["id"].astype(str), items["answer"].fillna("").astype(str), strict=True)
        )
    return None, {}


__all__ = [
    "MODEL_TASK",
    "chat_answerer",
    "check_flags_fit",
    "fingerprint",
    "head_answerer",
    "items_frame",
    "max_new_tokens",
    "neighbour_answerer",
    "recall_k",
    "run_eval",
    "split_items",
]
