"""The eval harness: the Wilson interval, one loop for local models and endpoints, the run it
records (items saved one by one), variants against fp32, and bad input refused before any work."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from workbench import runs
from workbench.cloud.client import MissingApiKeyError
from workbench.cloud.server import LoopbackCloud, ServiceProfile
from workbench.eval import EvalConfig, EvalResult, load_eval_set, run_eval, wilson_interval
from workbench.eval.harness import head_answerer, split_items
from workbench.kit.errors import InvalidInputError

CHAT_CARD = """name = "tiny-tickets"
task = "chat"
scoring = "label"
labels = ["billing", "technical"]
prompt = "Topic of this ticket, one of {labels}: {input}"
max_new_tokens = 4
"""
CHAT_ITEMS = [
    ("t1", "I was charged twice this month.", "billing"),
    ("t2", "The app crashes when I open settings.", "technical"),
    ("t3", "Please refund my last invoice.", "billing"),
    ("t4", "Login page shows a blank screen.", "technical"),
    ("t5", "Why did my plan price go up?", "billing"),
    ("t6", "Sync fails with error 500.", "technical"),
]
EMBEDDING_CARD = """name = "tiny-topics"
task = "embeddings"
scoring = "nearest-neighbour"
labels = ["billing", "technical"]
k = 2
"""


def _write_set(folder: Path, name: str, card: str, rows: list[dict]) -> Path:
    """A user's set (JSONL plus its card) in ``folder``; returns the data file."""
    (folder / f"{name}.toml").write_text(card, encoding="utf-8")
    data = folder / f"{name}.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return data


@pytest.fixture
def chat_set(tmp_path) -> Path:
    """A 6-item label set (billing / technical) with its card."""
    rows = [{"id": i, "input": text, "reference": ref} for i, text, ref in CHAT_ITEMS]
    return _write_set(tmp_path, "tiny-tickets", CHAT_CARD, rows)


@pytest.fixture
def embedding_set(tmp_path) -> Path:
    """A 6-item embeddings set: 4 labelled neighbours (train) and 2 scored items (test)."""
    rows = [
        {"id": f"n{i}", "input": text, "reference": ref, "split": "train"}
        for i, (_, text, ref) in enumerate(CHAT_ITEMS[:4])
    ] + [
        {"id": i, "input": text, "reference": ref, "split": "test"}
        for i, text, ref in CHAT_ITEMS[4:]
    ]
    return _write_set(tmp_path, "tiny-topics", EMBEDDING_CARD, rows)


# The Wilson interval ------------------------------------------------------------------------


def test_wilson_interval_of_8_of_10_is_the_textbook_value():
    """8 of 10 correct: 95% Wilson interval 0.4902-0.9433 (computed by hand from the formula)."""
    low, high = wilson_interval(8, 10)

    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


@pytest.mark.parametrize(("k", "n"), [(0, 6), (1, 6), (25, 40), (40, 40), (123, 240)])
def test_wilson_interval_matches_scipy(k, n):
    """The closed form equals scipy's binomtest(...).proportion_ci(method='wilson')."""
    expected = binomtest(k, n).proportion_ci(method="wilson")

    low, high = wilson_interval(k, n)

    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_interval_of_no_items_is_nan():
    """With no items there is no interval (NaN), not a made-up one."""
    assert all(math.isnan(bound) for bound in wilson_interval(0, 0))


# Local chat models ----------------------------------------------------------------------------


def test_tiny_llama_answers_are_shown_and_scored_wrong(tiny_llama, chat_set, tmp_path):
    """A random-weight model's answers appear as it said them, and none counts as correct."""
    # Prepare
    config = EvalConfig("tiny-llama", str(chat_set))
    eval_set = load_eval_set(chat_set)
    said = [
        tiny_llama.generate(tiny_llama.chat_or_prompt(eval_set.format_prompt(item)), 4).text
        for item in eval_set.items
    ]
    # Execute
    result = run_eval(config, runner=tiny_llama, save=False, progress=False)
    # Assert
    items = result.items
    assert list(items["id"]) == [i for i, _, _ in CHAT_ITEMS]
    assert list(items["answer"]) == said
    assert not items["correct"].any()
    assert result.summary()["score"] == 0.0 and result.summary()["items"] == 6


def test_summary_names_what_the_decision_reads(tiny_llama, chat_set):
    """The summary has model, variant, eval_set and score with its Wilson bounds."""
    result = run_eval(
        EvalConfig("tiny-llama", str(chat_set)), runner=tiny_llama, save=False, progress=False
    )

    summary = result.summary()

    assert (summary["model"], summary["variant"], summary["eval_set"]) == (
        "tiny-llama",
        "fp32",
        "tiny-tickets",
    )
    assert (summary["score_low"], summary["score_high"]) == wilson_interval(0, 6)
    assert summary["target"] == "local" and summary["max_new_tokens"] == 4


def test_limit_draws_the_same_items_for_every_target(chat_set):
    """--limit 3 with one seed picks the same items whatever the target (in the set's order)."""
    eval_set = load_eval_set(chat_set)
    local = EvalConfig("tiny-llama", str(chat_set), limit=3, seed=7)
    endpoint = EvalConfig(
        eval_set=str(chat_set), limit=3, seed=7, base_url="http://127.0.0.1:9/v1", model="m"
    )

    chosen = [item.id for item in split_items(eval_set, local)[0]]

    assert chosen == [item.id for item in split_items(eval_set, endpoint)[0]]
    assert len(chosen) == 3 and chosen == sorted(chosen)


# Endpoints --------------------------------------------------------------------------------------


def test_endpoint_eval_matches_the_local_eval_of_the_same_model(tiny_llama, chat_set):
    """The loopback cloud serving tiny-llama gives the local model's answers and score."""
    # Prepare
    local = run_eval(
        EvalConfig("tiny-llama", str(chat_set), limit=4),
        runner=tiny_llama,
        save=False,
        progress=False,
    )
    # Execute
    with LoopbackCloud(tiny_llama, None) as base_url:
        config = EvalConfig(
            eval_set=str(chat_set), limit=4, base_url=base_url, model=tiny_llama.info.name
        )
        remote = run_eval(config, save=False, progress=False)
    # Assert
    columns = ["id", "answer", "correct", "output_tokens"]
    pd.testing.assert_frame_equal(remote.items[columns], local.items[columns])
    assert remote.summary()["score"] == local.summary()["score"]
    assert remote.summary()["target"] == "endpoint" and remote.summary()["variant"] is None


@pytest.mark.integration
def test_smollm2_endpoint_and_local_agree_on_ticket_routing(smollm2):
    """smollm2-135m locally and behind the loopback cloud: same answers on 3 shipped items."""
    config = EvalConfig("smollm2-135m", "ticket-routing", limit=3)
    local = run_eval(config, runner=smollm2, save=False, progress=False)

    with LoopbackCloud(smollm2, None) as base_url:
        remote = run_eval(
            EvalConfig(
                eval_set="ticket-routing", limit=3, base_url=base_url, model=smollm2.info.name
            ),
            save=False,
            progress=False,
        )

    assert list(remote.items["answer"]) == list(local.items["answer"])
    assert remote.summary()["correct"] == local.summary()["correct"]


def test_endpoint_embeddings_give_the_local_neighbours(tiny_bert, embedding_set):
    """An embeddings set through the loopback cloud finds the same neighbours as locally."""
    local = run_eval(
        EvalConfig("tiny-bert", str(embedding_set)), runner=tiny_bert, save=False, progress=False
    )

    with LoopbackCloud(None, tiny_bert) as base_url:
        remote = run_eval(
            EvalConfig(eval_set=str(embedding_set), base_url=base_url, model=tiny_bert.info.name),
            save=False,
            progress=False,
        )

    columns = ["id", "answer", "neighbour_id", "correct", "hit_at_k"]
    pd.testing.assert_frame_equal(remote.items[columns], local.items[columns])


def test_endpoint_key_is_read_from_the_named_variable_and_never_saved(
    tiny_llama, chat_set, tmp_path, monkeypatch
):
    """A keyed endpoint answers with the key from --api-key-env; the run holds only its name."""
    monkeypatch.setenv("WB_EVAL_TEST_KEY", "sk-test-secret-123")
    profile = ServiceProfile(api_key_env="WB_EVAL_TEST_KEY")
    runs_dir = tmp_path / "runs"

    with LoopbackCloud(tiny_llama, None, profile) as base_url:
        result = run_eval(
            EvalConfig(
                eval_set=str(chat_set),
                limit=2,
                base_url=base_url,
                model=tiny_llama.info.name,
                api_key_env="WB_EVAL_TEST_KEY",
            ),
            runs_dir=runs_dir,
            progress=False,
        )

    assert result.summary()["items"] == 2
    saved = "".join(p.read_text(encoding="utf-8") for p in runs_dir.rglob("*") if p.is_file())
    assert "WB_EVAL_TEST_KEY" in saved and "sk-test-secret-123" not in saved


def test_endpoint_key_variable_unset_is_refused_before_any_run(chat_set, tmp_path):
    """--api-key-env naming an unset variable fails before a run is started."""
    runs_dir = tmp_path / "runs"
    config = EvalConfig(
        eval_set=str(chat_set),
        base_url="http://127.0.0.1:9/v1",
        model="m",
        api_key_env="WB_EVAL_UNSET_KEY",
    )

    with pytest.raises(MissingApiKeyError, match="WB_EVAL_UNSET_KEY"):
        run_eval(config, runs_dir=runs_dir, progress=False)

    assert not runs_dir.exists() or runs.list_runs(runs_dir) == []


# Embedding sets -----------------------------------------------------------------------------------


def test_embedding_set_scores_the_nearest_neighbours_label(tiny_bert, embedding_set):
    """Each test item answers with its nearest train item's label; recall@k is in the summary."""
    result = run_eval(
        EvalConfig("tiny-bert", str(embedding_set)), runner=tiny_bert, save=False, progress=False
    )

    items = result.items.set_index("id")
    labels = {f"n{i}": ref for i, (_, _, ref) in enumerate(CHAT_ITEMS[:4])}
    assert list(items.index) == ["t5", "t6"]
    assert all(items.loc[i, "answer"] == labels[items.loc[i, "neighbour_id"]] for i in items.index)
    summary = result.summary()
    assert summary["k"] == 2 and summary["recall_at_k"] == items["hit_at_k"].mean()
    assert summary["mean_output_tokens"] is None


class _SeparableTarget:
    """Embeds a text as its topic's direction plus a little text-specific noise."""

    kind = "local"
    task = "embeddings"

    def embed(self, texts):
        rows = []
        for text in texts:
            rng = np.random.default_rng(sum(map(ord, text)))
            row = rng.normal(0.0, 0.2, 8)
            row[0 if ("charged" in text or "refund" in text or "price" in text) else 1] += 1.0
            rows.append(row)
        return np.asarray(rows, dtype=np.float32)


def test_logreg_head_learns_the_train_labels_and_says_how_sure_it_is(embedding_set):
    """A head trained on separable embeddings labels every scored item right, with its
    probability as the confidence, and the same seed trains the same head."""
    eval_set = load_eval_set(str(embedding_set))
    scored, neighbours = split_items(eval_set, EvalConfig("tiny-bert", str(embedding_set)))

    answers = [head_answerer(_SeparableTarget(), eval_set, neighbours, 0)(i) for i in scored]
    again = [head_answerer(_SeparableTarget(), eval_set, neighbours, 0)(i) for i in scored]

    assert (
        [a["answer"] for a in answers] == [i.reference for i in scored] == ["billing", "technical"]
    )
    assert all(a["correct"] and 0.5 < a["confidence"] <= 1.0 for a in answers)
    assert [a["confidence"] for a in answers] == [a["confidence"] for a in again]


def test_logreg_head_run_says_which_classifier_labelled_the_items(tiny_bert, embedding_set):
    """--classifier logreg-head: the summary names it, items carry a confidence, and recall@k
    (a nearest-neighbour figure) is not claimed."""
    config = EvalConfig("tiny-bert", str(embedding_set), classifier="logreg-head")
    result = run_eval(config, runner=tiny_bert, save=False, progress=False)

    summary = result.summary()
    assert summary["classifier"] == "logreg-head"
    assert "recall_at_k" not in summary and "k" not in summary
    assert result.items["confidence"].between(0.5, 1.0).all()  # 2 labels: the top one is >= 1/2


def test_classifier_on_a_chat_set_is_refused_before_loading(no_loading, chat_set):
    """--classifier applies to embedding sets; on a chat set it is refused, naming the flag."""
    with pytest.raises(InvalidInputError, match=r"`classifier` \(--classifier\)"):
        run_eval(
            EvalConfig("tiny-llama", str(chat_set), classifier="logreg-head"),
            save=False,
            progress=False,
        )


# Runs ---------------------------------------------------------------------------------------------


def test_saved_eval_reads_back_equal(tiny_llama, chat_set, tmp_path):
    """An eval saved as a run of kind eval rebuilds to the same items and summary."""
    runs_dir = tmp_path / "runs"
    result = run_eval(
        EvalConfig("tiny-llama", str(chat_set)),
        runner=tiny_llama,
        runs_dir=runs_dir,
        progress=False,
    )

    run = runs.load_run(result.run_id, runs_dir)
    again = EvalResult.from_run(run)

    assert run.kind == "eval" and run.status == "complete"
    pd.testing.assert_frame_equal(again.items, result.items)
    assert json.dumps(again.summary(), sort_keys=True) == json.dumps(
        result.summary(), sort_keys=True
    )
    assert again.config == result.config


def test_interrupted_eval_keeps_the_items_scored(tiny_llama, chat_set, tmp_path):
    """An eval that stops after 2 items leaves a failed run whose table holds those 2 items."""
    runs_dir = tmp_path / "runs"

    def stop_after_two(row, done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_eval(
            EvalConfig("tiny-llama", str(chat_set)),
            runner=tiny_llama,
            runs_dir=runs_dir,
            progress=False,
            on_item=stop_after_two,
        )

    (summary,) = runs.list_runs(runs_dir)
    run = runs.load_run(summary.id, runs_dir)
    assert run.status == "failed"
    assert list(run.table("items")["id"]) == ["t1", "t2"]
    assert EvalResult.from_run(run).summary()["items"] == 2


# Variants -----------------------------------------------------------------------------------------


def test_variant_is_compared_with_fp32_on_the_same_items(tiny_llama, chat_set, tmp_path):
    """int8 gets fp32's answer beside its own for every item, and the share that agree."""
    result = run_eval(
        EvalConfig("tiny-llama", str(chat_set), variant="int8"),
        runner=tiny_llama,
        runs_dir=tmp_path / "runs",
        progress=False,
    )

    items = result.items
    summary = result.summary()
    assert (items["agrees_with_fp32"] == (items["answer"] == items["fp32_answer"])).all()
    assert summary["agreement_with_fp32"] == items["agrees_with_fp32"].mean()
    assert summary["variant"] == "int8" and summary["dtype"] == "int8"
    assert "computed in this run (6 items)" in summary["agreement_source"]


def test_variant_reuses_an_earlier_fp32_run(tiny_llama, chat_set, tmp_path):
    """With an fp32 eval of the same model and set saved, a variant reads fp32's answers from it."""
    runs_dir = tmp_path / "runs"
    fp32 = run_eval(
        EvalConfig("tiny-llama", str(chat_set)),
        runner=tiny_llama,
        runs_dir=runs_dir,
        progress=False,
    )

    bf16 = run_eval(
        EvalConfig("tiny-llama", str(chat_set), variant="bf16"),
        runner=tiny_llama,
        runs_dir=runs_dir,
        progress=False,
    )

    assert list(bf16.items["fp32_answer"]) == list(fp32.items["answer"])
    assert bf16.summary()["agreement_source"] == f"fp32 eval run {fp32.run_id} (6 items)"


# Bad input, refused before any work -------------------------------------------------------------


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if a model is loaded."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr("workbench.models.load_model", refuse)


def test_unknown_set_is_refused_before_loading(no_loading, tmp_path):
    """An unknown set name fails with the shipped names, and no model is loaded."""
    with pytest.raises(InvalidInputError, match="No eval set named 'ticket-routin'"):
        run_eval(EvalConfig("tiny-llama", "ticket-routin"), runs_dir=tmp_path, progress=False)


def test_limit_of_zero_is_refused():
    """--limit 0 names the field and its flag."""
    with pytest.raises(InvalidInputError, match=r"`limit` \(--limit\)"):
        EvalConfig("tiny-llama", "ticket-routing", limit=0)


def test_limit_above_the_set_is_refused_before_loading(no_loading, chat_set):
    """--limit 7 on a 6-item set says how many there are, before loading a model."""
    with pytest.raises(InvalidInputError, match="has only 6 items"):
        run_eval(EvalConfig("tiny-llama", str(chat_set), limit=7), save=False, progress=False)


def test_endpoint_without_model_is_refused():
    """An endpoint eval without --model says to name the served model."""
    with pytest.raises(InvalidInputError, match=r"`model` \(--model\) is missing"):
        EvalConfig(eval_set="ticket-routing", base_url="http://127.0.0.1:8000/v1")


def test_variant_on_an_endpoint_is_refused():
    """--variant int8 against an endpoint is refused: the endpoint serves what it serves."""
    with pytest.raises(InvalidInputError, match="applies to local models only"):
        EvalConfig("http://127.0.0.1:8000/v1", "ticket-routing", model="m", variant="int8")


def test_unknown_variant_is_refused_before_loading(no_loading, chat_set):
    """An unknown variant lists the known ones, before loading a model."""
    with pytest.raises(InvalidInputError, match="Unknown variant 'int9'"):
        run_eval(
            EvalConfig("tiny-llama", str(chat_set), variant="int9"), save=False, progress=False
        )


def test_chat_set_on_an_embedding_model_is_refused_before_loading(no_loading):
    """minilm on ticket-routing says it needs a text-generation model, before loading."""
    with pytest.raises(InvalidInputError, match="needs a text-generation model"):
        run_eval(EvalConfig("minilm", "ticket-routing"), save=False, progress=False)
