"""``load_model``: from a name to a ready runner, safely and with nothing fetched from the network."""

from __future__ import annotations

import contextlib
import json
import pickle
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from workbench.kit.errors import InvalidModelError
from workbench.models import gguf
from workbench.models.catalog import get_entry
from workbench.models.config import LoadOptions
from workbench.models.hashing import folder_bytes, sha256_file
from workbench.models.runners import (
    EmbeddingRunner,
    GenerationRunner,
    ModelInfo,
    ModelRunner,
    Pooling,
)
from workbench.models.safety import check_remote_code, check_safetensors, choose_weights, read_json
from workbench.models.sources import Source, resolve

# Files that hold a tokenizer's vocabulary; a folder with none of them has no tokenizer.
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
)
MIN_VOCABULARY = 100  # a real vocabulary has thousands; a fallback of special tokens has ~5
_ENCODER_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert", "mpnet", "electra", "deberta-v2"}


def load_model(name: str, **options: Any) -> ModelRunner:
    """Load a model by catalog alias, local folder, GGUF file or cached hub id.

    Parameters
    ----------
    name
        ``"minilm"``, ``"./my-model"``, ``"model.Q4_0.gguf"`` or ``"owner/name"``.
    **options
        Fields of :class:`LoadOptions`: ``allow_pickle``, ``trust_remote_code``,
        ``allow_download``, ``task``, ``progress``.

    Returns
    -------
    ModelRunner
        An :class:`EmbeddingRunner` or a :class:`GenerationRunner` with ``.info``.

    Raises
    ------
    WorkbenchError
        With one paragraph that names what is wrong and how to fix it.
    """
    opts = LoadOptions(**options)
    start = time.perf_counter()
    with _progress(name, opts.progress) as step:
        source = resolve(name, allow_download=opts.allow_download)
        task = opts.task or (source.entry.task if source.entry else None)
        extra: dict[str, Any] = {}
        if source.kind == "config":
            step("building from config")
            model, tokenizer, pooling = _build_from_config(source, task)
            files: list[Path] = []
            folder = None
        else:
            folder = source.location
            if source.kind == "gguf":
                step("converting GGUF (first time only)")
                task = task or "text-generation"
                folder, meta = gguf.cached_conversion(source.location, task=task)
                extra = {
                    "gguf_first_load_seconds": meta["first_load_seconds"],
                    "gguf_cache_hit": meta["cache_hit"],
                    "gguf_cache_path": str(folder),
                }
            step("checking files")
            task, files, safe = _check_folder(folder, task, opts)
            step("loading weights")
            model, tokenizer = _load_folder(folder, task, safe, opts)
            pooling = _pooling(folder, model, tokenizer)
        step("hashing weight files")
        hashed = [source.location] if source.kind == "gguf" else files
        info = _info(source, task, model, hashed, folder)
    info.load_seconds = round(time.perf_counter() - start, 3)
    for key, value in extra.items():
        setattr(info, key, value)
    if task == "embeddings":
        info.embedding_dim = int(model.config.hidden_size)
        return EmbeddingRunner(model, tokenizer, info, pooling)
    return GenerationRunner(model, tokenizer, info)


@contextlib.contextmanager
def _progress(name: str, enabled: bool) -> Iterator[Any]:
    """A step-by-step progress bar; transformers' own bars follow the same switch."""
    from tqdm.auto import tqdm
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
    bar = tqdm(total=None, desc=f"Loading {name}", unit="step", disable=not enabled, leave=False)

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    try:
        yield step
    finally:
        bar.close()
        (hf_logging.enable_progress_bar if was_enabled else hf_logging.disable_progress_bar)()


def _check_folder(
    folder: Path, task: str | None, opts: LoadOptions
) -> tuple[str, list[Path], bool]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    config_path = folder / "config.json"
    if not config_path.exists():
        ggufs = sorted(folder.glob("*.gguf"))
        hint = f" It holds {ggufs[0].name}: pass that file's path instead." if ggufs else ""
        raise InvalidModelError(
            f"The folder {folder} has no config.json, so it is not a Hugging Face model folder."
            f"{hint} A model folder holds config.json, the weights (*.safetensors) and the "
            "tokenizer files; model.save_pretrained(folder) writes one."
        )
    check_remote_code(config_path, opts.trust_remote_code, set(CONFIG_MAPPING.keys()))
    files, safe = choose_weights(folder, opts.allow_pickle)
    if safe:
        for path in files:
            check_safetensors(path)
    return task or _infer_task(folder, read_json(config_path)), files, safe


def _infer_task(folder: Path, config: dict) -> str:
    architectures = " ".join(config.get("architectures") or [])
    if (folder / "modules.json").exists() or (folder / "sentence_bert_config.json").exists():
        return "embeddings"
    if "CausalLM" in architectures or "LMHead" in architectures:
        return "text-generation"
    if config.get("model_type") in _ENCODER_TYPES:
        return "embeddings"
    raise InvalidModelError(
        f"Cannot tell what the model in {folder} is for (architectures: "
        f"{architectures or 'none listed'}). Pass task='embeddings' or task='text-generation' "
        "(CLI: --task)."
    )


def _load_folder(folder: Path, task: str, safe: bool, opts: LoadOptions) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    model_class = AutoModelForCausalLM if task == "text-generation" else AutoModel
    _check_tokenizer_files(folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=opts.trust_remote_code)
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidModelError(
            f"The folder {folder} has no usable tokenizer ({exc}). Copy the model's tokenizer "
            "files (tokenizer.json, tokenizer_config.json) into it."
        ) from exc
    if len(tokenizer) < MIN_VOCABULARY:
        raise InvalidModelError(
            f"The tokenizer in {folder} knows only {len(tokenizer)} tokens, so every text would "
            "become the same few tokens and get the same result. Copy the model's own tokenizer "
            "files (tokenizer.json, or vocab.txt / vocab.json and merges.txt) into the folder."
        )
    try:
        model = model_class.from_pretrained(
            folder,
            use_safetensors=safe,
            trust_remote_code=opts.trust_remote_code,
            dtype=torch.float32,
        )
    except pickle.UnpicklingError as exc:
        raise InvalidModelError(
            f"The pickle weights in {folder} hold Python objects besides tensors, so even with "
            "--allow-pickle (allow_pickle=True) torch's weights-only loader refuses them: loading "
            "those objects could run code. Ask for a safetensors copy of the model, or convert "
            "the weights on a machine you trust (torch.load, then safetensors.torch.save_file)."
        ) from exc
    except (OSError, ValueError, RuntimeError) as exc:
        raise InvalidModelError(
            f"transformers could not load the {task} model in {folder}: {exc}"
        ) from exc
    return model, tokenizer


def _check_tokenizer_files(folder: Path) -> None:
    """Refuse a folder without tokenizer files: transformers would build a tokenizer of a handful
    of special tokens from the config alone, and every text would get the same embedding."""
    if not any((folder / name).exists() for name in TOKENIZER_FILES):
        raise InvalidModelError(
            f"The folder {folder} has no tokenizer files (none of {', '.join(TOKENIZER_FILES)}), "
            "so its texts cannot be split into the model's tokens. Copy the tokenizer files that "
            "came with the model into the folder (tokenizer.save_pretrained(folder) writes them)."
        )


def _build_from_config(source: Source, task: str) -> tuple[Any, Any, Pooling | None]:
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    entry = source.entry
    assert entry is not None and entry.config is not None
    tokenizer_entry = get_entry(entry.tokenizer or "minilm")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_entry.weights_path())
    if entry.chat_template:
        tokenizer.chat_template = entry.chat_template
    settings = dict(entry.config)
    config = AutoConfig.for_model(settings.pop("model_type"), **settings)
    model_class = AutoModelForCausalLM if task == "text-generation" else AutoModel
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(entry.seed)
        model = model_class.from_config(config, dtype=torch.float32)
    if task == "text-generation":
        model.generation_config.eos_token_id = config.eos_token_id
        model.generation_config.pad_token_id = config.pad_token_id
    return model, tokenizer, Pooling(max_seq_length=min(256, config.max_position_embeddings))


def _pooling(folder: Path, model: Any, tokenizer: Any) -> Pooling:
    """Read sentence-transformers' pooling, normalisation and length settings when present."""
    limit = min(
        int(getattr(model.config, "max_position_embeddings", 512) or 512),
        int(tokenizer.model_max_length if tokenizer.model_max_length < 1e9 else 512),
    )
    modules_path = folder / "modules.json"
    if not modules_path.exists():
        return Pooling(max_seq_length=limit)
    modules = json.loads(modules_path.read_text(encoding="utf-8"))
    mode, normalize = "mean", False
    for module in modules:
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            config = read_json(folder / module.get("path", "") / "config.json")
            for candidate in ("cls", "max", "mean", "lasttoken"):
                if config.get(f"pooling_mode_{candidate}_token") or config.get(
                    f"pooling_mode_{candidate}_tokens"
                ):
                    mode = candidate
                    break
        normalize = normalize or kind.endswith("Normalize")
    settings_path = folder / "sentence_bert_config.json"
    if settings_path.exists():
        limit = int(read_json(settings_path).get("max_seq_length", limit))
    return Pooling(mode=mode, normalize=normalize, max_seq_length=limit)


def _info(
    source: Source, task: str, model: Any, files: list[Path], folder: Path | None
) -> ModelInfo:
    entry = source.entry
    unique = list(model.parameters())  # tied weights appear once
    config = model.config
    context = next(
        (
            getattr(config, name)
            for name in (
                "max_position_embeddings",
                "n_positions",
                "max_sequence_length",
                "seq_length",
            )
            if getattr(config, name, None)
        ),
        0,
    )
    return ModelInfo(
        name=source.name,
        model_id=source.model_id,
        task=task,
        architecture=(config.architectures or [type(model).__name__])[0],
        model_type=config.model_type,
        params=int(sum(p.numel() for p in unique)),
        weight_bytes=int(sum(p.numel() * p.element_size() for p in unique)),
        disk_bytes=folder_bytes(files),
        dtype=str(unique[0].dtype).removeprefix("torch."),
        license=entry.license if entry else _license_from_card(folder),
        source=entry.source if entry else (f"hub:{source.hub_id}" if source.hub_id else "path"),
        path=str(source.location or ""),
        context_length=int(context),
        load_seconds=0.0,
        weight_sha256={p.name: sha256_file(p) for p in files},
    )


def _license_from_card(folder: Path | None) -> str:
    """The ``license:`` of a model card's front matter, if the folder has a README.md."""
    card = folder / "README.md" if folder else None
    if card and card.exists():
        found = re.search(
            r"^license:\s*(\S+)", card.read_text(encoding="utf-8", errors="replace"), re.M
        )
        if found:
            return found.group(1)
    return "unknown (check the model card)"
