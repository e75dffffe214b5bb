"""The model explorer: pick an open model, read its card, try it on your own text."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from widgets.common import STYLE, error_html, status_html, table_html
from workbench.kit.errors import InvalidInputError
from workbench.models import load_catalog, load_model
from workbench.models.inputs import sample_sentences
from workbench.models.runners import ModelRunner


class ModelExplorer(w.VBox):
    """A panel to load a catalog model (or a folder, GGUF file or cached hub id) and try it.

    Embedding models show the vector's size and norm and rank the sample sentences by similarity;
    chat models stream their answer. Loading shows a progress bar; errors appear in the panel.

    Parameters
    ----------
    default_model
        The catalog alias selected at start.
    load_now
        Load the default model straight away, so the panel is ready to try.
    """

    def __init__(self, default_model: str = "minilm", load_now: bool = False, **kwargs: Any):
        catalog = load_catalog()
        options = [
            (f"{e.alias}: {e.task}, {e.params / 1e6:.1f} M params", e.alias)
            for e in catalog.values()
            if e.installed()
        ]
        self.model = w.Dropdown(
            options=options,
            value=default_model if default_model in dict(map(reversed, options)) else None,
            description="Model",
            layout=w.Layout(width="440px"),
        )
        self.other = w.Text(
            placeholder="or a folder, .gguf file or hub id",
            layout=w.Layout(width="280px"),
        )
        self.load_button = w.Button(description="Load", button_style="primary", icon="download")
        self.progress = w.Output()
        self.status = w.HTML(status_html("Choose a model and press Load."))
        self.card = w.HTML()
        self.text = w.Textarea(
            placeholder="Type a sentence to embed, or a question for a chat model",
            layout=w.Layout(width="100%", height="70px"),
        )
        self.max_new_tokens = w.IntSlider(
            value=48,
            min=1,
            max=256,
            description="New tokens",
            continuous_update=False,
            tooltip="The most tokens the chat model may generate",
        )
        self.run_button = w.Button(description="Run", icon="play", disabled=True)
        self.result = w.HTML()
        self.runner: ModelRunner | None = None
        self._loaded: dict[str, ModelRunner] = {}

        self.load_button.on_click(lambda _: self.load())
        self.run_button.on_click(lambda _: self.run())
        super().__init__(
            [
                w.HTML(STYLE + "<h3>Open models</h3>"),
                w.HBox([self.model, self.other, self.load_button]),
                self.progress,
                self.status,
                self.card,
                self.text,
                w.HBox([self.max_new_tokens, self.run_button]),
                self.result,
            ],
            **kwargs,
        )
        if load_now and self.model.value:
            self.load()

    def load(self, name: str | None = None) -> ModelRunner | None:
        """Load ``name`` (default: the text box, else the dropdown) and show its card."""
        name = (name or self.other.value.strip() or self.model.value or "").strip()
        self.run_button.disabled = True
        self.result.value = ""
        self.status.value = status_html(f"Loading {name} …")
        try:
            if name not in self._loaded:
                with self.progress:
                    self._loaded[name] = load_model(name, progress=True)
                self.progress.clear_output()
            self.runner = self._loaded[name]
        except Exception as exc:  # shown in the panel, never as a traceback
            self.progress.clear_output()
            self.runner = None
            self.card.value = ""
            self.status.value = error_html(exc)
            return None
        info = self.runner.info
        self.card.value = table_html(info.summary_rows())
        verb = "embed a sentence" if info.task == "embeddings" else "ask a question"
        self.status.value = status_html(f"Loaded {name} in {info.load_seconds:.2f} s: {verb}.")
        self.max_new_tokens.layout.display = None if info.task == "text-generation" else "none"
        self.run_button.disabled = False
        return self.runner

    def run(self) -> None:
        """Embed or answer the text box's text with the loaded model."""
        if self.runner is None:
            self.status.value = error_html(
                InvalidInputError("No model is loaded yet: press Load first.")
            )
            return
        self.run_button.disabled = True
        try:
            if self.runner.task == "embeddings":
                self.result.value = self._embedding_result(self.text.value)
            else:
                self._stream_answer(self.text.value)
        except Exception as exc:  # shown in the panel, never as a traceback
            self.result.value = error_html(exc)
        finally:
            self.run_button.disabled = False

    def _embedding_result(self, text: str) -> str:
        if not text.strip():
            raise InvalidInputError("The text box is empty: type a sentence to embed.")
        vector = self.runner.embed([text])[0]
        ranked = self.runner.most_similar(text, sample_sentences())
        rows = [(f"{score:+.3f}", sentence) for sentence, score in ranked[:5]]
        return (
            f"<div class='wb-result'>{len(vector)} dimensions, norm "
            f"{float((vector**2).sum() ** 0.5):.4f}</div>"
            f"<p>Nearest sample sentences (cosine similarity):</p>{table_html(rows)}"
        )

    def _stream_answer(self, text: str) -> None:
        pieces: list[str] = []

        def show(piece: str) -> None:
            pieces.append(piece)
            self.result.value = f"<div class='wb-result'>{html.escape(''.join(pieces))}</div>"

        prompt = self.runner.chat_or_prompt(text)
        result = self.runner.generate(prompt, self.max_new_tokens.value, on_text=show)
        self.result.value = (
            f"<div class='wb-result'>{html.escape(result.text)}</div>"
            + status_html(
                f"{result.tokens} tokens in {result.seconds:.2f} s "
                f"({result.tokens / max(result.seconds, 1e-9):.1f} tokens/s), finish: "
                f"{result.finish_reason}"
            )
        )
