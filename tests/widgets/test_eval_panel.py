"""The evaluation panel, driven headless: its choices follow the set, a run shows the accuracy with
its interval and the wrong items, and bad input shows an error in the panel."""

from __future__ import annotations

import re

import pytest

from widgets.common import ERROR_CLASS
from widgets.eval_panel import EvalPanel
from workbench.kit import formats


@pytest.fixture(scope="module")
def ran(minilm):
    """A panel after one Evaluate of minilm on 12 items of ticket-topics, with every progress
    value the user saw while it ran."""
    panel = EvalPanel(default_target="minilm", save=False, runners={"minilm": minilm})
    panel.eval_set.value = "ticket-topics"
    panel.target.value = "minilm"
    panel.variant.value = "fp32"
    panel.limit.value = 12
    seen: list[int] = []
    panel.progress.observe(lambda change: seen.append(change["new"]), names="value")
    result = panel.run()
    return panel, result, seen


def test_models_and_variants_follow_the_set_and_the_model():
    """A chat set offers the chat models, an embeddings set the embedding models; int8-weight-only
    (a chat-model variant) is offered for smollm2 only."""
    panel = EvalPanel(save=False)

    panel.eval_set.value = "ticket-routing"
    chat_models, chat_variants = panel.target.options, panel.variant.options
    panel.eval_set.value = "ticket-topics"

    assert "smollm2-135m" in chat_models and "minilm" not in chat_models
    assert "minilm" in panel.target.options and "smollm2-135m" not in panel.target.options
    assert "int8-weight-only" in chat_variants
    assert "int8-weight-only" not in panel.variant.options
    assert panel.variant.value == "fp32"


def test_run_shows_accuracy_with_its_wilson_interval(ran):
    """The accuracy line is the summary's score, interval and item count, written as percents."""
    panel, result, _ = ran
    summary = result.summary()

    low = formats.percent(summary["score_low"]).rstrip("%")
    expected = (
        f"{formats.percent(summary['score'])} (95% interval {low}–"
        f"{formats.percent(summary['score_high'])}, 12 items)"
    )
    assert expected in panel.accuracy.value
    assert ERROR_CLASS not in panel.status.value
    assert "recall@5" in panel.details.value


def test_wrong_items_table_lists_exactly_the_items_answered_wrongly(ran):
    """Each wrong item appears with what the model answered and the reference; no right item."""
    panel, result, _ = ran
    items = result.items

    wrong = set(items.loc[~items["correct"], "id"])
    right = set(items.loc[items["correct"], "id"])
    listed = set(re.findall(r"<td>(tt-test-\d+)</td>", panel.wrong.value))
    assert listed == wrong
    assert not listed & right
    for row in items[~items["correct"]].itertuples():
        assert f"<td>{row.answer}</td><td>{row.reference}</td>" in panel.wrong.value


def test_progress_moves_one_item_at_a_time(ran):
    """The progress bar went 1, 2, ... 12 as the items were scored."""
    panel, _, seen = ran

    assert [v for v in seen if v > 0] == list(range(1, 13))
    assert panel.progress.value == panel.progress.max == 12


@pytest.mark.parametrize(("limit", "says"), [(-3, "whole number"), (10_000, "only 240")])
def test_bad_limit_shows_an_error_in_the_panel(minilm, limit, says):
    """A negative limit, or one above the set's items, is one error paragraph, no result."""
    panel = EvalPanel(default_target="minilm", save=False, runners={"minilm": minilm})
    panel.eval_set.value = "ticket-topics"
    panel.limit.value = limit

    assert panel.run() is None
    assert ERROR_CLASS in panel.status.value and says in panel.status.value
    assert "Traceback" not in panel.status.value
    assert not panel.run_button.disabled
