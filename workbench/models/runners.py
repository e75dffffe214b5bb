"""One runner interface across tasks: ``embed`` for embedding models, ``generate`` for chat models."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np
import torch
from transformers import (
    GenerationConfig,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
    TextStreamer,
)

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

Messages = list[dict[str, str]]


@dataclass
class ModelInfo:
    """What a loaded model is, where it came from and what loading it cost."""

    name: str
    model_id: str
    task: str
    architecture: str
    model_type: str
    params: int
    weight_bytes: int
    disk_bytes: int
    dtype: str
    license: str
    source: str
    path: str
    context_length: int  # 0 when the config states no limit
    load_seconds: float
    weight_sha256: dict[str, str] = field(default_factory=dict)
    embedding_dim: int | None = None
    gguf_first_load_seconds: float | None = None
    gguf_cache_hit: bool | None = None
    gguf_cache_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def summary_rows(self) -> list[tuple[str, str]]:
        """The model card as (label, text) pairs, shown by the CLI and the explorer panel."""
        rows = [
            ("model", f"{self.name} ({self.model_id})"),
            ("task", self.task),
            ("architecture", f"{self.architecture} ({self.model_type})"),
            ("parameters", f"{self.params:,} ({self.params / 1e6:.1f} M)"),
            ("weights in memory", f"{_megabytes(self.weight_bytes)} as {self.dtype}"),
            (
                "on disk",
                _megabytes(self.disk_bytes) if self.disk_bytes else "nothing (built in memory)",
            ),
            ("context", f"{self.context_length:,} tokens"),
            ("license", self.license),
            ("source", self.source),
            ("load time", f"{self.load_seconds:.2f} s"),
        ]
        if self.embedding_dim:
            rows.insert(3, ("embedding size", f"{self.embedding_dim} dimensions"))
        if self.gguf_first_load_seconds is not None:
            how = "from the conversion cache" if self.gguf_cache_hit else "converted now"
            rows.append(("GGUF first load", f"{self.gguf_first_load_seconds:.2f} s ({how})"))
        for file, digest in self.weight_sha256.items():
            rows.append(("sha256", f"{digest} {file}"))
        return rows


def model_weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of every distinct weight tensor, quantized packed weights included."""
    seen: dict[tuple[int, int], int] = {}
    for tensor in model.state_dict().values():
        if isinstance(tensor, torch.Tensor):
            seen[(tensor.untyped_storage().data_ptr(), tensor.storage_offset())] = (
                tensor.numel() * tensor.element_size()
            )
        elif isinstance(tensor, tuple):  # packed (weight, bias) of quantized linear layers
            for part in tensor:
                if isinstance(part, torch.Tensor):
                    seen[(id(part), 0)] = part.numel() * part.element_size()
    return int(sum(seen.values()))


def model_dtype(model: torch.nn.Module) -> str:
    """The dtype most of the model's weight bytes are stored in."""
    sizes: dict[str, int] = {}
    for tensor in model.state_dict().values():
        if isinstance(tensor, torch.Tensor) and (tensor.is_floating_point() or tensor.is_quantized):
            name = str(tensor.dtype).removeprefix("torch.")
            sizes[name] = sizes.get(name, 0) + tensor.numel() * tensor.element_size()
    return max(sizes, key=sizes.get) if sizes else "unknown"


def _megabytes(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


@dataclass(frozen=True)
class Pooling:
    """How token vectors become one sentence vector (sentence-transformers' modules)."""

    mode: str = "mean"
    normalize: bool = True
    max_seq_length: int = 256


@dataclass
class Generation:
    """The result of one ``generate`` call; ``tokens`` is counted by the tokenizer."""

    text: str
    tokens: int
    token_ids: list[int]
    prompt_tokens: int
    finish_reason: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return asdict(self)


class ModelRunner:
    """A loaded model with its tokenizer. Use :func:`workbench.models.load_model` to get one.

    ``engine`` names what runs it (see :mod:`workbench.models.engines`).
    """

    task = ""
    engine: ClassVar[str] = "transformers"

    def __init__(self, model: Any, tokenizer: Any, info: ModelInfo) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.info = info

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.name} ({self.info.params:,} params)>"

    def with_model(self, model: Any, **info_changes: Any) -> ModelRunner:
        """A runner of the same kind around another model (a variant), sharing the tokenizer."""
        clone = copy.copy(self)
        clone.model = model.eval()
        changes = {"weight_bytes": model_weight_bytes(model), "dtype": model_dtype(model)}
        clone.info = replace(self.info, **(changes | info_changes))
        return clone

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Sentence embeddings; only embedding models have them."""
        raise InvalidInputError(
            f"{self.info.name} is a {self.info.task} model; embed() needs an embeddings model "
            "such as 'minilm'. Use generate() with this one."
        )

    def generate(
        self, prompt: str | Messages, max_new_tokens: int = 64, **kwargs: Any
    ) -> Generation:
        """Generated text; only text-generation models have it."""
        raise InvalidInputError(
            f"{self.info.name} is an {self.info.task} model; generate() needs a text-generation "
            "model such as 'smollm2-135m'. Use embed() with this one."
        )

    def stream(
        self, prompt: str | Messages, max_new_tokens: int = 64, **kwargs: Any
    ) -> Iterator[str]:
        """Generated text piece by piece; only text-generation models have it."""
        return iter([self.generate(prompt, max_new_tokens, **kwargs).text])


class EmbeddingRunner(ModelRunner):
    """Sentence embeddings computed the way sentence-transformers computes them."""

    task = "embeddings"

    def __init__(self, model: Any, tokenizer: Any, info: ModelInfo, pooling: Pooling) -> None:
        super().__init__(model, tokenizer, info)
        self.pooling = pooling

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts into one row each.

        Parameters
        ----------
        texts
            The sentences (a single string counts as one).
        batch_size
            How many texts go through the model at once.

        Returns
        -------
        numpy.ndarray
            ``(len(texts), dim)`` float32; rows have unit length when the model normalises.

        Raises
        ------
        InvalidInputError
            If ``texts`` is empty or holds something other than strings.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise InvalidInputError(
                "`texts` is empty: pass at least one string to embed, e.g. embed(['hello'])."
            )
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInputError(
                    f"`texts[{index}]` is a {type(text).__name__}, not a string; pass strings."
                )
        batch_size = checks.whole("batch_size", batch_size, 1)
        # Batches of similar length waste less work on padding (sentence-transformers does this).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        rows = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                [texts[i] for i in order[start : start + batch_size]],
                padding=True,
                truncation=True,
                max_length=self.pooling.max_seq_length,
                return_tensors="pt",
            )
            rows.append(self.embed_tokens(batch))
        out = torch.empty(len(texts), rows[0].shape[1])
        out[order] = torch.cat(rows)
        return out.numpy()

    def embed_tokens(self, batch: Any) -> torch.Tensor:
        """Embeddings of already tokenized texts (the tokenizer's output): float32 rows."""
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            out = _pool(hidden, batch["attention_mask"], self.pooling).float()
            if self.pooling.normalize:
                out = torch.nn.functional.normalize(out, p=2, dim=1)
        return out

    def most_similar(self, query: str, candidates: Sequence[str]) -> list[tuple[str, float]]:
        """Candidates ranked by cosine similarity to ``query``, most similar first."""
        vectors = self.embed([query, *candidates])
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        scores = vectors[1:] @ vectors[0]
        order = np.argsort(-scores, kind="stable")
        return [(candidates[i], float(scores[i])) for i in order]


def _pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    if pooling.mode == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling.mode == "max":
        return hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).max(dim=1).values
    if pooling.mode == "lasttoken":
        last = mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.shape[0]), last]
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def check_sampling(do_sample: bool, temperature: float, top_p: float) -> None:
    """Refuse sampling settings no engine can use (greedy decoding ignores them)."""
    if do_sample and not (temperature > 0 and 0 < top_p <= 1):
        raise InvalidInputError(
            f"Sampling needs `temperature` > 0 and 0 < `top_p` <= 1, got {temperature}, {top_p}."
        )


class _CallbackStreamer(TextStreamer):
    """Hands each finished piece of text to a callback instead of printing it."""

    def __init__(self, tokenizer: Any, callback: Callable[[str], None]) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self._callback = callback

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self._callback(text)


class _StopWhenSet(StoppingCriteria):
    """Ends generation once the event is set (a stream whose reader went away)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> bool:
        return self.event.is_set()


class GenerationRunner(ModelRunner):
    """Text generation, greedy unless asked to sample, with token streaming.

    ``generate_options`` are extra arguments to ``model.generate`` that a variant may set
    (a static KV cache, say); they apply to every call.
    """

    task = "text-generation"
    generate_options: ClassVar[dict[str, Any]] = {}

    def encode_prompt(self, prompt: str | Messages) -> dict[str, torch.Tensor]:
        """Token ids for a plain prompt, or for chat messages through the chat template.

        Raises
        ------
        InvalidInputError
            If the prompt is empty or the messages are malformed.
        """
        if isinstance(prompt, str):
            if not prompt.strip():
                raise InvalidInputError("`prompt` is empty: type some text to continue.")
            encoded = self.tokenizer(prompt, return_tensors="pt")
        else:
            encoded = self._encode_chat(prompt)
        return {k: encoded[k] for k in ("input_ids", "attention_mask") if k in encoded}

    def _encode_chat(self, prompt: Messages) -> Any:
        messages = list(prompt)
        if not messages or not all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise InvalidInputError(
                "`prompt` must be a string or a non-empty list of chat messages like "
                "[{'role': 'user', 'content': 'Hello'}]."
            )
        if not self.tokenizer.chat_template:
            raise InvalidInputError(
                f"{self.info.name} has no chat template; pass a plain string prompt instead of "
                "chat messages."
            )
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )

    def chat_or_prompt(self, text: str) -> str | Messages:
        """What a user's typed text should become: a user message when the model chats."""
        if self.tokenizer.chat_template:
            return [{"role": "user", "content": text}]
        return text

    def check_max_new_tokens(self, max_new_tokens: int, prompt_tokens: int) -> int:
        """``max_new_tokens`` as an int, refused when not a whole number >= 1 or when it would
        overrun the context.

        Raises
        ------
        InvalidInputError
            Naming ``max_new_tokens`` and the largest value that fits.
        """
        max_new_tokens = checks.whole("max_new_tokens", max_new_tokens, 1)
        room = self.info.context_length - prompt_tokens
        if self.info.context_length and max_new_tokens > room:
            raise InvalidInputError(
                f"`max_new_tokens`={max_new_tokens:,} plus the prompt's {prompt_tokens:,} tokens "
                f"exceeds {self.info.name}'s context of {self.info.context_length:,} tokens; "
                f"use at most {max(room, 0):,}."
            )
        return max_new_tokens

    def _prepare(
        self,
        prompt: str | Messages,
        max_new_tokens: int,
        do_sample: bool,
        temperature: float,
        top_p: float,
    ) -> tuple[dict[str, torch.Tensor], GenerationConfig]:
        inputs = self.encode_prompt(prompt)
        max_new_tokens = self.check_max_new_tokens(
            max_new_tokens, int(inputs["input_ids"].shape[1])
        )
        return inputs, self.generation_config(max_new_tokens, do_sample, temperature, top_p)

    def generation_config(
        self,
        max_new_tokens: int,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> GenerationConfig:
        """Decoding settings: greedy unless ``do_sample``, stopping at the model's end token."""
        check_sampling(do_sample, temperature, top_p)
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            temperature=temperature if do_sample else None,
            top_p=top_p if do_sample else None,
            top_k=None,
            eos_token_id=eos,
            pad_token_id=pad if pad is not None else eos,
        )

    def generate(
        self,
        prompt: str | Messages,
        max_new_tokens: int = 64,
        *,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> Generation:
        """Continue a prompt or answer chat messages.

        Parameters
        ----------
        prompt
            A plain string, or chat messages ``[{"role": "user", "content": ...}]`` that go
            through the model's chat template.
        max_new_tokens
            The most tokens to add; at least 1 and within the model's context.
        do_sample, temperature, top_p, seed
            Greedy decoding (deterministic) unless ``do_sample``; ``seed`` makes sampling repeatable.
        on_text
            Called with each new piece of text as it is produced (streaming).

        Returns
        -------
        Generation
            The text, the number of new tokens and why generation stopped.
        """
        inputs, config = self._prepare(prompt, max_new_tokens, do_sample, temperature, top_p)
        streamer = _CallbackStreamer(self.tokenizer, on_text) if on_text else None
        start = time.perf_counter()
        output = self._generate(inputs, config, seed, streamer)
        seconds = time.perf_counter() - start
        return self._result(inputs, output[0], config, seconds)

    def stream(
        self,
        prompt: str | Messages,
        max_new_tokens: int = 64,
        *,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the generated text piece by piece; arguments as in :meth:`generate`.

        Stopping the iteration early (``break``) stops the generation too.
        """
        inputs, config = self._prepare(prompt, max_new_tokens, do_sample, temperature, top_p)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        stop = threading.Event()
        failure: list[BaseException] = []

        def work() -> None:
            try:
                self._generate(inputs, config, seed, streamer, stop)
            except BaseException as exc:  # re-raised in the caller's thread below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            yield from (piece for piece in streamer if piece)
        finally:
            stop.set()
            thread.join()
        if failure:
            raise failure[0]

    def _generate(
        self,
        inputs: dict[str, torch.Tensor],
        config: GenerationConfig,
        seed: int | None,
        streamer: Any = None,
        stop: threading.Event | None = None,
    ) -> torch.Tensor:
        criteria = StoppingCriteriaList([_StopWhenSet(stop)]) if stop else None
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            if self.generate_options:  # settings a variant adds belong in the config itself
                config = copy.deepcopy(config)
                config.update(**self.generate_options)
            return self.model.generate(
                **inputs, generation_config=config, streamer=streamer, stopping_criteria=criteria
            )

    def _result(
        self,
        inputs: dict[str, torch.Tensor],
        sequence: torch.Tensor,
        config: GenerationConfig,
        seconds: float,
    ) -> Generation:
        prompt_tokens = int(inputs["input_ids"].shape[1])
        new_ids = sequence[prompt_tokens:].tolist()
        eos = config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        finish = "stop" if new_ids and new_ids[-1] in eos_ids else "length"
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        return Generation(
            text=text.strip(),
            tokens=len(new_ids),
            token_ids=new_ids,
            prompt_tokens=prompt_tokens,
            finish_reason=finish,
            seconds=seconds,
        )
