"""GGUF files: check the architecture, convert once, cache the result by the file's SHA-256."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from workbench.kit.errors import InvalidModelError
from workbench.kit.files import atomic_write_text
from workbench.kit.paths import cache_dir
from workbench.models.hashing import sha256_file
from workbench.models.safety import check_safetensors

META = "workbench-gguf.json"


def gguf_architecture(path: Path) -> str:
    """The ``general.architecture`` field of a GGUF file.

    Raises
    ------
    InvalidModelError
        If the file is not a readable GGUF file.
    """
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
        field = reader.fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    except (ValueError, KeyError, IndexError, OSError) as exc:
        raise InvalidModelError(
            f"{path} is not a readable GGUF file ({exc}). Check that it is complete and really "
            "a .gguf model (llama.cpp's format)."
        ) from exc


def check_supported(path: Path) -> str:
    """Refuse a GGUF file whose architecture transformers cannot turn into a model.

    Raises
    ------
    InvalidModelError
        Naming the architecture and the ones that are supported.
    """
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    architecture = gguf_architecture(path)
    # The mapping that lists architectures also has non-architecture keys.
    supported = set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"}
    candidates = {architecture, architecture.replace("-", "_"), architecture.split("-")[0]}
    if not candidates & supported:
        raise InvalidModelError(
            f"{path.name} is a GGUF file of architecture {architecture!r}, which transformers "
            f"cannot load (it supports {', '.join(sorted(supported))}). Use "
            "the model's safetensors folder instead, or run the GGUF file with llama.cpp."
        )
    return architecture


def cached_conversion(path: Path, *, task: str) -> tuple[Path, dict]:
    """A Hugging Face folder converted from a GGUF file, made on first use and reused after.

    The folder lives under ``<cache>/gguf/<sha256 of the file>-<task>/`` and is written to a
    temporary folder first, then renamed, so an interrupted conversion never leaves a half cache
    behind; a damaged cache is noticed and converted again.

    Returns
    -------
    (folder, meta)
        ``meta`` holds ``sha256``, ``first_load_seconds`` (conversion time) and ``cache_hit``.
    """
    digest = sha256_file(path)
    target = cache_dir() / "gguf" / f"{digest}-{task}"
    meta = _valid_cache(target)
    if meta is not None:
        return target, {**meta, "cache_hit": True}
    check_supported(path)
    start = time.perf_counter()
    tokenizer, model = _convert(path, task)
    seconds = time.perf_counter() - start
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    # A GGUF-loaded model refuses save_pretrained; once de-quantized it is an ordinary model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    meta = {
        "gguf_file": str(path),
        "sha256": digest,
        "first_load_seconds": round(seconds, 3),
        "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_text(tmp / META, json.dumps(meta, indent=2))
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished the same conversion first
        shutil.rmtree(tmp, ignore_errors=True)
    return target, {**meta, "cache_hit": False}


def _valid_cache(target: Path) -> dict | None:
    """The cache's metadata if the cached folder is complete, else None (and the folder removed)."""
    meta_path = target / META
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        for weights in target.glob("*.safetensors"):
            check_safetensors(weights)
        return meta
    except (ValueError, OSError, InvalidModelError):
        shutil.rmtree(target, ignore_errors=True)  # damaged: convert again
        return None


def _convert(path: Path, task: str):
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    model_class = AutoModelForCausalLM if task == "text-generation" else AutoModel
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = model_class.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise InvalidModelError(
            f"transformers could not convert {path.name}: {exc}. Use the model's safetensors "
            "folder instead, or run the GGUF file with llama.cpp."
        ) from exc
    return tokenizer, model
