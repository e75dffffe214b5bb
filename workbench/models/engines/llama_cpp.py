"""The llama.cpp engine: a chat model's GGUF file run by llama-cpp-python, behind the same
``generate``/``stream`` interface as the transformers runner.

Variants are llama.cpp quantisation types. The file as shipped is used as it is when its type is
the one asked for; another type is made once from it with llama.cpp's own quantizer
(``llama_model_quantize``) and cached under ``<cache>/gguf/<sha256 of the file>-<type>.gguf``,
written to a temporary file first and then renamed, like the GGUF conversion cache.

Prompts are tokenized by llama.cpp and chat messages formatted with the chat template stored in
the GGUF file, as a llama.cpp deployment does; the benchmark feeds token ids directly, so every
engine sees the same prompt tokens.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import itertools
import json
import os
import queue
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError, InvalidModelError
from workbench.kit.files import atomic_write_text
from workbench.kit.paths import cache_dir
from workbench.models.engines import ENGINES, LLAMA_CPP
from workbench.models.hashing import sha256_file
from workbench.models.runners import (
    Generation,
    GenerationRunner,
    Messages,
    ModelInfo,
    check_sampling,
)

ENGINE = ENGINES[LLAMA_CPP]
# llama.cpp's file types (enum llama_ftype) of the variants, and the other way round for naming
# the type of a file as shipped.
FILE_TYPES = {"f16": 1, "q4_1": 3, "q8_0": 7}
FILE_TYPE_NAMES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1"}
DEFAULT_CONTEXT = 2048  # tokens of KV cache per runner; the model's own limit can be larger
META_SUFFIX = ".json"


def llama_module() -> Any:
    """llama_cpp, imported, or the one-paragraph install error."""
    return ENGINE.require()


def gguf_metadata(path: Path) -> dict[str, Any]:
    """The scalar key/value pairs of a GGUF file's header (arrays such as the vocabulary are
    skipped), read directly: the header is small, and no tensor is touched.

    Raises
    ------
    InvalidModelError
        If the file is not a readable GGUF file.
    """
    stat = Path(path).stat()
    return dict(_gguf_metadata(str(path), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=16)
def _gguf_metadata(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            if file.read(4) != b"GGUF":
                raise ValueError("it does not start with the GGUF magic bytes")
            version, _tensors, count = struct.unpack("<IQQ", file.read(20))
            if version < 2:
                raise ValueError(f"GGUF version {version} is too old")
            values: dict[str, Any] = {}
            for _ in range(count):
                key = _read_string(file)
                kind = struct.unpack("<I", file.read(4))[0]
                value = _read_value(file, kind)
                if kind != _ARRAY:
                    values[key] = value
            return values
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise InvalidModelError(
            f"{path} is not a readable GGUF file ({exc}). Check that it is complete and really "
            "a .gguf model (llama.cpp's format)."
        ) from exc


# GGUF value types: the struct format of each scalar, and the two kinds that have a length.
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9


def _read_string(file: Any) -> str:
    (length,) = struct.unpack("<Q", file.read(8))
    return file.read(length).decode("utf-8")


def _read_value(file: Any, kind: int) -> Any:
    if kind in _SCALARS:
        fmt = "<" + _SCALARS[kind]
        return struct.unpack(fmt, file.read(struct.calcsize(fmt)))[0]
    if kind == _STRING:
        return _read_string(file)
    if kind == _ARRAY:
        item, length = struct.unpack("<IQ", file.read(12))
        if item in _SCALARS:  # skipped in one seek
            file.seek(length * struct.calcsize("<" + _SCALARS[item]), os.SEEK_CUR)
        else:
            for _ in range(length):
                _read_value(file, item)
        return None
    raise ValueError(f"unknown GGUF value type {kind}")


def gguf_file_type(path: Path) -> str:
    """The quantisation type a GGUF file declares (``general.file_type``), e.g. ``"q4_1"``."""
    code = gguf_metadata(path).get("general.file_type")
    if code is None:
        return "unknown"
    return FILE_TYPE_NAMES.get(int(code), f"type {code}")


def gguf_context_length(path: Path) -> int:
    """The context the model was trained for (``<architecture>.context_length``); 0 if unstated."""
    metadata = gguf_metadata(path)
    return int(metadata.get(f"{metadata.get('general.architecture')}.context_length") or 0)


def variant_file(path: Path, variant: str, *, threads: int | None = None) -> tuple[Path, dict]:
    """The GGUF file of ``variant``: ``path`` itself when it has that type, else a cached copy
    made once from it with llama.cpp's quantizer.

    Returns
    -------
    (file, meta)
        ``meta`` holds ``variant``, ``made_from``, ``quantize_seconds`` (0 for the file itself)
        and ``cache_hit``.

    Raises
    ------
    InvalidInputError
        For a variant llama.cpp does not offer here.
    InvalidModelError
        When llama.cpp's quantizer fails.
    """
    if variant not in FILE_TYPES:
        raise InvalidInputError(
            f"Unknown llama.cpp variant {variant!r}; the llama.cpp engine offers "
            f"{', '.join(ENGINE.variants)}."
        )
    if gguf_file_type(path) == variant:
        return path, {"variant": variant, "made_from": str(path), "quantize_seconds": 0.0,
                      "cache_hit": True}  # fmt: skip
    digest = sha256_file(path)
    target = cache_dir() / "gguf" / f"{digest}-{variant}.gguf"
    meta_path = target.with_name(target.name + META_SUFFIX)
    if target.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if target.stat().st_size == meta.get("bytes"):
                return target, {**meta, "cache_hit": True}
        except (ValueError, OSError):
            pass  # damaged: make it again
    llama_cpp = llama_module()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FILE_TYPES[variant]
    params.allow_requantize = True  # the source is already quantized
    params.nthread = threads or os.cpu_count() or 1
    started = time.perf_counter()
    status = llama_cpp.llama_model_quantize(
        str(path).encode(), str(tmp).encode(), ctypes.byref(params)
    )
    seconds = time.perf_counter() - started
    if status != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        raise InvalidModelError(
            f"llama.cpp could not make the {variant} variant of {path.name} (its quantizer "
            f"returned {status}). Check the disk space under {target.parent}, or leave "
            f"{variant} out of --variants."
        )
    meta = {
        "variant": variant,
        "made_from": str(path),
        "sha256_of_source": digest,
        "quantize_seconds": round(seconds, 3),
        "bytes": tmp.stat().st_size,
        "made_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    os.replace(tmp, target)
    atomic_write_text(meta_path, json.dumps(meta, indent=2))
    return target, {**meta, "cache_hit": False}


# Contexts still open at exit are closed while llama_cpp can still free them (left to the
# garbage collector at interpreter shutdown, each prints an ignored TypeError).
_OPEN: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_open_contexts() -> None:
    for llm in list(_OPEN):
        with contextlib.suppress(Exception):
            llm.close()


def _opened(llm: Any) -> Any:
    _OPEN.add(llm)
    return llm


class LlamaCppRunner(GenerationRunner):
    """Text generation by llama.cpp on one GGUF file: ``generate``/``stream`` as the transformers
    runner has them, plus token-level calls the benchmark times and compares.

    One llama.cpp context is not safe to use from two threads at once: calls take a lock.
    """

    engine = LLAMA_CPP

    def __init__(self, llm: Any, info: ModelInfo, *, variant: str, gguf_path: Path) -> None:
        self.model = llm
        self.tokenizer = None  # llama.cpp tokenizes; see encode_prompt
        self.info = info
        self.variant = variant
        self.gguf_path = gguf_path
        self._lock = threading.Lock()
        self._scorer: Any = None  # a second context that keeps every position's logits
        self.threads = int(llm.n_threads)
        metadata = getattr(llm, "metadata", {}) or {}
        self._template = metadata.get("tokenizer.chat_template")
        self._add_bos = metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
        self.eos_ids = {int(llm.token_eos())}

    # -- prompts -------------------------------------------------------------------------------

    def chat_or_prompt(self, text: str) -> str | Messages:
        """A user message when the GGUF file has a chat template, else the text itself."""
        return [{"role": "user", "content": text}] if self._template else text

    def encode_prompt(self, prompt: str | Messages) -> dict[str, Any]:
        """Token ids (``{"input_ids": [[...]]}``) for a prompt, or for chat messages through the
        GGUF file's chat template.

        Raises
        ------
        InvalidInputError
            If the prompt is empty, the messages are malformed or the file has no template.
        """
        if isinstance(prompt, str):
            if not prompt.strip():
                raise InvalidInputError("`prompt` is empty: type some text to continue.")
            text = prompt
        else:
            text = self._render_chat(prompt)
        ids = self.model.tokenize(text.encode("utf-8"), add_bos=self._add_bos, special=True)
        return {"input_ids": [ids]}

    def _render_chat(self, prompt: Messages) -> str:
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
        if not self._template:
            raise InvalidInputError(
                f"{self.info.name} has no chat template in its GGUF file; pass a plain string "
                "prompt instead of chat messages."
            )
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        template = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        return template.from_string(self._template).render(
            messages=messages,
            add_generation_prompt=True,
            bos_token=self._token_text(self.model.token_bos()),
            eos_token=self._token_text(self.model.token_eos()),
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.model.detokenize([token], special=True).decode("utf-8", errors="replace")

    # -- generation ----------------------------------------------------------------------------

    def generation_config(self, max_new_tokens: int, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInputError(
            "The llama.cpp engine has no transformers GenerationConfig; call generate() instead."
        )

    def set_threads(self, threads: int) -> None:
        """Decode (and read prompts) with ``threads`` CPU threads from now on."""
        threads = checks.whole("threads", threads, 1)
        llama_cpp = llama_module()
        with self._lock:
            for llm in (self.model, self._scorer):
                if llm is not None:
                    llama_cpp.llama_set_n_threads(llm.ctx, threads, threads)
            self.threads = threads

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
        """Continue a prompt or answer chat messages; arguments as for the transformers runner.

        Returns
        -------
        Generation
            The text, the new token ids and why generation stopped (``stop`` at the end token).
        """
        check_sampling(do_sample, temperature, top_p)
        ids = self.encode_prompt(prompt)["input_ids"][0]
        max_new_tokens = self.check_max_new_tokens(max_new_tokens, len(ids))
        sampling = {"temp": temperature, "top_p": top_p} if do_sample else {"temp": 0.0}
        started = time.perf_counter()
        new_ids: list[int] = []
        shown = b""
        finish = "length"
        with contextlib.closing(self._tokens(ids, max_new_tokens, seed=seed, **sampling)) as run:
            for token in run:
                new_ids.append(token)
                if token in self.eos_ids:
                    finish = "stop"
                    break
                if on_text:
                    shown = self._show(new_ids, shown, on_text)
        text = self.model.detokenize([t for t in new_ids if t not in self.eos_ids])
        decoded = text.decode("utf-8", errors="replace")
        if on_text and len(text) > len(shown):
            on_text(text[len(shown) :].decode("utf-8", errors="replace"))
        return Generation(
            text=decoded.strip(),
            tokens=len(new_ids),
            token_ids=new_ids,
            prompt_tokens=len(ids),
            finish_reason=finish,
            seconds=time.perf_counter() - started,
        )

    def _show(self, ids: list[int], shown: bytes, on_text: Callable[[str], None]) -> bytes:
        """Hand ``on_text`` the text added since ``shown``, once it is whole UTF-8."""
        text = self.model.detokenize(ids)
        if not _whole_utf8(text) or len(text) <= len(shown):
            return shown
        on_text(text[len(shown) :].decode("utf-8"))
        return text

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
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()
        done = object()
        failure: list[BaseException] = []

        def on_text(piece: str) -> None:
            if stop.is_set():
                raise _Stopped
            pieces.put(piece)

        def work() -> None:
            try:
                self.generate(
                    prompt, max_new_tokens, do_sample=do_sample, temperature=temperature,
                    top_p=top_p, seed=seed, on_text=on_text,
                )  # fmt: skip
            except _Stopped:
                pass
            except BaseException as exc:  # re-raised in the caller's thread below
                failure.append(exc)
            finally:
                pieces.put(done)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while (piece := pieces.get()) is not done:
                yield piece
        finally:
            stop.set()
            thread.join()
        if failure:
            raise failure[0]

    def _tokens(
        self, ids: list[int], max_new_tokens: int, *, seed: int | None = None, **sampling: Any
    ) -> Iterator[int]:
        """New token ids, one at a time, from a fresh state (no reuse of the last prompt)."""
        with self._lock:
            if seed is not None:
                self.model.set_seed(seed)
            self.model.reset()
            options = {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0, **sampling}
            for count, token in enumerate(self.model.generate(list(ids), **options), start=1):
                yield int(token)
                if count >= max_new_tokens:
                    break

    def greedy_ids(self, ids: list[int], max_new_tokens: int) -> list[int]:
        """Greedy continuation of prompt ``ids``, ending at the end token (which is kept)."""
        out: list[int] = []
        with contextlib.closing(self._tokens(ids, max_new_tokens, temp=0.0)) as tokens:
            for token in tokens:
                out.append(token)
                if token in self.eos_ids:
                    break
        return out

    def timed_generation(self, ids: list[int], new_tokens: int) -> dict[str, Any]:
        """Generate exactly ``new_tokens`` greedily from ``ids``, timing every token.

        Returns
        -------
        dict
            ``e2e`` and ``ttft`` in seconds, ``tokens`` and the ``gaps`` between tokens.
        """
        times = []
        began = time.perf_counter()
        # The end token does not stop this loop, so every call makes the same number of tokens.
        for _ in self._tokens(ids, new_tokens, temp=0.0):
            times.append(time.perf_counter())
        ended = time.perf_counter()
        return {
            "e2e": ended - began,
            "ttft": times[0] - began if times else float("nan"),
            "tokens": len(times),
            "gaps": [b - a for a, b in itertools.pairwise(times)],
        }

    def teacher_forced_predictions(self, ids: list[int], continuation: list[int]) -> list[int]:
        """The most likely next token at each position of ``continuation`` given the prompt and
        the continuation so far (llama.cpp's logits of every position)."""
        full = [*ids, *continuation]
        with self._lock:
            scorer = self._scoring_context(len(full))
            scorer.reset()
            scorer.eval(full)
            logits = np.asarray(scorer.scores[len(ids) - 1 : len(full) - 1])
        return [int(i) for i in logits.argmax(axis=-1)]

    def _scoring_context(self, tokens: int) -> Any:
        if self._scorer is None or self._scorer.n_ctx() < tokens:
            llama_cpp = llama_module()
            size = max(512, 1 << (tokens - 1).bit_length())
            self._scorer = _opened(
                llama_cpp.Llama(
                    model_path=str(self.gguf_path),
                    n_ctx=size,
                    n_batch=size,
                    n_ubatch=size,
                    logits_all=True,
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    verbose=False,
                )
            )
        return self._scorer


class _Stopped(Exception):
    """Raised inside a stream's generation thread once its reader has gone."""


def _whole_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def load_llama_cpp(
    name: str,
    variant: str | None = None,
    *,
    threads: int | None = None,
    context_tokens: int = DEFAULT_CONTEXT,
    info: ModelInfo | None = None,
    progress: bool = False,
) -> LlamaCppRunner:
    """Load a GGUF chat model into llama.cpp.

    Parameters
    ----------
    name
        A catalog alias whose weights are a GGUF file (``smollm2-135m``) or a ``.gguf`` path.
    variant
        ``q4_1`` (default), ``q8_0`` or ``f16``: see :data:`ENGINES`.
    threads
        CPU threads (default: every core).
    context_tokens
        Tokens of KV cache (prompt plus answer), capped at the model's own context.
    info
        The model card to start from (the benchmark passes the transformers reference's).

    Raises
    ------
    MissingExtraError
        When llama-cpp-python is not installed (before anything loads).
    InvalidModelError
        When the model is not a GGUF file.
    """
    llama_cpp = llama_module()
    variant = variant or ENGINE.default_variant
    from workbench.models.sources import resolve

    source = resolve(name)
    if source.kind != "gguf" or source.location is None:
        raise InvalidModelError(
            f"The llama.cpp engine runs GGUF files, and {name!r} is a "
            f"{'tiny model built from a config' if source.kind == 'config' else 'Hugging Face folder'}. "
            "Give a .gguf file, or a catalog model that ships one (smollm2-135m), or use the "
            "transformers engine."
        )
    if source.entry is not None and source.entry.task != "text-generation":
        raise InvalidModelError(
            f"The llama.cpp engine runs text-generation models here; {name!r} is "
            f"{source.entry.task}. Use the transformers engine for it."
        )
    started = time.perf_counter()
    path, meta = variant_file(source.location, variant, threads=threads)
    threads = threads or os.cpu_count() or 1
    trained = gguf_context_length(path)
    context = min(context_tokens, trained) if trained else context_tokens
    llm = _opened(
        llama_cpp.Llama(
            model_path=str(path),
            n_ctx=context,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
    )
    size = path.stat().st_size
    card = info or _card(source, llm)
    card = replace(
        card,
        dtype=variant,
        weight_bytes=size,
        disk_bytes=size,
        path=str(path),
        context_length=context,
        load_seconds=round(time.perf_counter() - started, 3),
        gguf_first_load_seconds=meta["quantize_seconds"] or None,
        gguf_cache_hit=meta["cache_hit"],
        gguf_cache_path=str(path) if path != source.location else None,
    )
    return LlamaCppRunner(llm, card, variant=variant, gguf_path=path)


def _param_count(llm: Any) -> int:
    try:
        return int(llama_module().llama_model_n_params(llm.model))
    except (AttributeError, TypeError):
        return 0


def _card(source: Any, llm: Any) -> ModelInfo:
    entry = source.entry
    metadata = getattr(llm, "metadata", {}) or {}
    return ModelInfo(
        name=source.name,
        model_id=source.model_id,
        task="text-generation",
        architecture=metadata.get("general.architecture", "unknown"),
        model_type=metadata.get("general.architecture", "unknown"),
        params=entry.params if entry else _param_count(llm),
        weight_bytes=0,
        disk_bytes=0,
        dtype="",
        license=entry.license if entry else metadata.get("general.license", "unknown"),
        source=entry.source if entry else "path",
        path=str(source.location),
        context_length=0,
        load_seconds=0.0,
    )


__all__ = ["FILE_TYPES", "LlamaCppRunner", "gguf_file_type", "load_llama_cpp", "variant_file"]
