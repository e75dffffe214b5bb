"""The evaluation panel: pick a model, a set, a variant and a limit, run ``workbench eval``, and
read the accuracy with its interval and the items the model got wrong."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from widgets import forms
from widgets.common import STYLE, error_html, frame_html, status_html, table_html
from workbench.bench.variants import VARIANTS
from workbench.eval import EvalConfig, EvalResult, list_eval_sets, load_eval_set
from workbench.eval.config import CLASSIFIERS, REFERENCE_VARIANT
from workbench.eval.harness import MODEL_TASK
from workbench.kit import formats
from workbench.kit.fields import help_of
from workbench.models import load_catalog

#: The columns of the wrong-items table, in order.
WRONG_COLUMNS = ["id", "input", "answer", "reference"]
#: The most wrong items the table lists (the saved run keeps them all).
SHOW_WRONG = 50


class EvalPanel(w.VBox):
    """Score a local model on an evaluation set: accuracy with its Wilson 95% interval, live
    progress, and the items it got wrong with what it said.

    The target list offers the installed catalog models whose task suits the chosen set (chat
    models for chat sets, embedding models for embedding sets), and the variant list the variants
    of that model's task, as ``workbench eval`` accepts them. Errors (a limit larger than the set,
    a variant that does not apply) appear in the panel as one paragraph.

    Parameters
    ----------
    default_target
        The catalog alias selected at start (when it suits the set).
    default_set
        The shipped set selected at start.
    limit
        The limit box's starting value (0: every item of the set).
    runs_dir
        Where runs are saved (default ``$WORKBENCH_RUNS_DIR`` or ``./runs``).
    save
        Record each eval as a run of kind ``eval``.
    runners
        Models already loaded, by catalog alias; the panel adds those it loads, so a second run
        of the same model does not load it again.
    """

    def __init__(
        self,
        default_target: str = "smollm2-135m",
        default_set: str = "ticket-routing",
        limit: int = 40,
        runs_dir: str | None = None,
        save: bool = True,
        runners: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        self.catalog = {a: e for a, e in load_catalog().items() if e.installed()}
        self.runs_dir = runs_dir
        self.save = save
        self.runners: dict[str, Any] = dict(runners or {})
        self.set_tasks = {name: load_eval_set(name).task for name in list_eval_sets()}
        self.default_target = default_target
        sets = list(self.set_tasks)
        self.eval_set = w.Dropdown(
            options=sets,
            value=default_set if default_set in sets else (sets[0] if sets else None),
            description="Set",
            tooltip=help_of(EvalConfig, "eval_set"),
            style={"description_width": forms.LABEL_WIDTH},
        )
        self.target = w.Dropdown(
            description="Model",
            tooltip="an installed catalog model whose task suits the set",
            style={"description_width": forms.LABEL_WIDTH},
        )
        self.variant = w.Dropdown(
            description="Variant",
            tooltip=help_of(EvalConfig, "variant"),
            style={"description_width": forms.LABEL_WIDTH},
        )
        self.classifier = w.Dropdown(
            options=list(CLASSIFIERS),
            value=CLASSIFIERS[0],
            description="Classifier",
            tooltip=help_of(EvalConfig, "classifier"),
            style={"description_width": forms.LABEL_WIDTH},
        )
        self.limit = forms.control(
            EvalConfig,
            "limit",
            value=limit,
            tooltip="evaluate only this many items, drawn with seed 0 (0: every item)",
        )
        self.run_button = w.Button(description="Evaluate", button_style="primary", icon="check")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Items")
        self.progress.layout.visibility = "hidden"
        self.status = w.HTML(status_html("Choose a model, a set and a limit, then press Evaluate."))
        self.accuracy = w.HTML()
        self.details = w.HTML()
        self.wrong = w.HTML()
        self.result: EvalResult | None = None

        self.eval_set.observe(lambda _: self._sync_targets(), names="value")
        self.target.observe(lambda _: self._sync_variants(), names="value")
        self.run_button.on_click(lambda _: self.run())
        self._sync_targets()
        super().__init__(self._layout(), **kwargs)

    def _layout(self) -> list[w.Widget]:
        return [
            w.HTML(STYLE + "<h3>Quality on a task</h3>"),
            w.HBox(
                [
                    w.VBox([self.eval_set, self.target]),
                    w.VBox([self.variant, self.limit, self.classifier]),
                    w.VBox([self.run_button]),
                ]
            ),
            self.progress,
            self.status,
            self.accuracy,
            self.details,
            w.HTML("<h4>Items answered wrongly</h4>"),
            self.wrong,
        ]

    def _sync_targets(self) -> None:
        """Offer the installed models whose task suits the chosen set."""
        task = self.set_tasks.get(self.eval_set.value, "")
        needed = MODEL_TASK.get(task)
        # Only embedding sets have a classifier to choose; a chat model's answer is its label.
        self.classifier.layout.display = None if task == "embeddings" else "none"
        names = [alias for alias, entry in self.catalog.items() if entry.task == needed]
        current = self.target.value
        self.target.options = names
        for choice in (current, self.default_target):
            if choice in names:
                self.target.value = choice
                break
        self._sync_variants()

    def _sync_variants(self) -> None:
        """Offer the variants of the chosen model's task, fp32 first."""
        entry = self.catalog.get(self.target.value)
        names = [n for n, v in VARIANTS.items() if entry is not None and entry.task in v.tasks]
        current = self.variant.value
        self.variant.options = names
        if names:
            self.variant.value = current if current in names else REFERENCE_VARIANT

    def config(self) -> EvalConfig:
        """The eval the controls describe (raises with a clear message on bad values)."""
        limit = self.limit.value
        return EvalConfig(
            target=self.target.value or "",
            eval_set=self.eval_set.value or "",
            variant=self.variant.value,
            limit=None if limit == 0 else limit,
            classifier=self.classifier.value
            if self.set_tasks.get(self.eval_set.value) == "embeddings"
            else CLASSIFIERS[0],
        )

    def run(self) -> EvalResult | None:
        """Evaluate, moving the progress bar item by item; errors appear in the panel."""
        from workbench.eval import run_eval
        from workbench.models import load_model

        self.run_button.disabled = True
        self.accuracy.value = self.details.value = self.wrong.value = ""
        try:
            config = self.config()
            runner = self.runners.get(config.target)
            if runner is None:
                self.status.value = status_html(f"Loading {config.target} …")
                runner = self.runners[config.target] = load_model(config.target, progress=False)
            self.status.value = status_html(f"Evaluating {config.target} on {config.eval_set} …")
            self.progress.value = 0
            self.progress.layout.visibility = "visible"
            self.result = run_eval(
                config,
                runs_dir=self.runs_dir,
                save=self.save,
                progress=False,
                on_item=self._item_done,
                runner=runner,
            )
            self._show(self.result)
        except Exception as exc:  # shown in the panel, never as a traceback
            self.status.value = error_html(exc)
            self.result = None
        finally:
            self.run_button.disabled = False
        return self.result

    def _item_done(self, row: dict[str, Any], done: int, total: int) -> None:
        self.progress.max = total
        self.progress.value = done
        mark = "right" if row.get("correct") else "wrong"
        self.status.value = status_html(f"{done} of {total} items: {row.get('id')} {mark}")

    def _show(self, result: EvalResult) -> None:
        summary = result.summary()
        self.accuracy.value = (
            f'<div class="wb-answer"><p>Accuracy {html.escape(accuracy_text(summary))}</p></div>'
        )
        self.details.value = table_html(detail_rows(summary))
        wrong = result.wrong()
        shown = wrong.head(SHOW_WRONG)
        note = f"<p>The first {len(shown)} of {len(wrong)}.</p>" if len(wrong) > len(shown) else ""
        self.wrong.value = (
            note + frame_html(shown, WRONG_COLUMNS)
            if len(wrong)
            else status_html("None: every item was answered correctly.")
        )
        saved = f" Saved as run {result.run_id}." if result.run_id else ""
        self.status.value = status_html(
            f"Done: {summary['correct']} of {summary['items']} correct.{saved}"
        )


def accuracy_text(summary: dict[str, Any]) -> str:
    """The score with its interval: ``"42.5% (95% interval 35.1–50.2%, 40 items)"``."""
    low, high = formats.percent(summary["score_low"]), formats.percent(summary["score_high"])
    return (
        f"{formats.percent(summary['score'])} ({summary['confidence']:.0%} interval "
        f"{low.rstrip('%')}–{high}, {formats.count(summary['items'])} items)"
    )


def detail_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """What else the summary says, as label-value rows: set, target, recall, agreement, time."""
    variant = f", {summary['variant']}" if summary.get("variant") else ""
    how = (
        "labelled by a logistic-regression head"
        if summary.get("classifier") == "logreg-head"
        else f"{summary.get('scoring')} scoring"
    )
    rows = [
        ("set", f"{summary['eval_set']} ({summary.get('task')}, {how})"),
        ("target", f"{summary['model']}{variant}"),
        ("correct", f"{summary['correct']} of {summary['items']}"),
    ]
    if "recall_at_k" in summary:
        rows.append((f"recall@{summary.get('k')}", formats.percent(summary["recall_at_k"])))
    if "agreement_with_fp32" in summary:
        rows.append(("agreement with fp32", formats.percent(summary["agreement_with_fp32"])))
    rows.append(("latency per item (p50)", formats.duration_ms(summary["p50_latency_ms"])))
    return rows


__all__ = ["SHOW_WRONG", "WRONG_COLUMNS", "EvalPanel", "accuracy_text", "detail_rows"]
