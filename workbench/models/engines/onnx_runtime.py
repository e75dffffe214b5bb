"""The ONNX Runtime engine: an embedding model exported to ONNX and run by onnxruntime, behind the
same ``embed`` interface as the transformers runner.

The model is exported once with ``torch.onnx.export`` (the encoder up to its last hidden state)
and the int8 variant made once from that export with ``onnxruntime.quantization.quantize_dynamic``.
Both are cached under ``<cache>/onnx/<sha256 of the weights and config>-<variant>.onnx``, keyed
by the model's content, written to a temporary file first and then renamed, like the GGUF
conversion cache. Tokenization, pooling and normalisation are the transformers runner's own
(:class:`~workbench.models.runners.EmbeddingRunner`), so both engines embed the same tokens the
same way and differ only in the encoder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError, InvalidModelError
from workbench.kit.files import atomic_write_text
from workbench.kit.paths import cache_dir
from workbench.models.engines import ENGINES, ONNXRUNTIME
from workbench.models.runners import EmbeddingRunner, _pool

ENGINE = ENGINES[ONNXRUNTIME]
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
META_SUFFIX = ".json"
# The worst-text cosine to transformers fp32 that dynamic int8 keeps on minilm here (0.98 on 512
# varied texts, above 0.99 on the sample sentences): below the decision's usual 0.99 bar.
INT8_MIN_COSINE = 0.97


def onnxruntime_module() -> Any:
    """onnxruntime, imported, or the one-paragraph install error."""
    return ENGINE.require()


def model_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's config and weights (names, shapes, dtypes and bytes): the cache key,
    so that the same weights find the same export whatever folder they were loaded from."""
    digest = hashlib.sha256()
    config = getattr(model, "config", None)
    digest.update(config.to_json_string(use_diff=False).encode() if config is not None else b"")
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().contiguous().cpu()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    digest.update(f"torch {torch.__version__} opset {OPSET}".encode())
    return digest.hexdigest()


class _Encoder(torch.nn.Module):
    """The model's last hidden state from its three inputs: what the export records."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
        return self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state


def variant_file(reference: EmbeddingRunner, variant: str) -> tuple[Path, dict[str, Any]]:
    """The ONNX file of ``variant`` for ``reference``'s model: exported (fp32) or quantized
    (int8, from the fp32 export) the first time, from the cache after that.

    Returns
    -------
    (file, meta)
        ``meta`` holds ``variant``, ``sha256_of_model``, ``make_seconds`` (export or quantization
        time when it was made), ``bytes`` and ``cache_hit``.

    Raises
    ------
    InvalidInputError
        For a variant the engine does not offer.
    InvalidModelError
        When the export or the quantization fails.
    """
    if variant not in ENGINE.variants:
        raise InvalidInputError(
            f"Unknown onnxruntime variant {variant!r}; the onnxruntime engine offers "
            f"{', '.join(ENGINE.variants)}."
        )
    digest = model_digest(reference.model)
    target = cache_dir() / "onnx" / f"{digest}-{variant}.onnx"
    cached = _valid_cache(target)
    if cached is not None:
        return target, {**cached, "cache_hit": True}
    onnxruntime_module()
    source = variant_file(reference, "onnx-fp32")[0] if variant == "onnx-int8" else None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    started = time.perf_counter()
    try:
        if source is None:
            _export(reference, tmp)
        else:
            _quantize(source, tmp)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        what = "export" if source is None else "int8 quantization"
        raise InvalidModelError(
            f"The ONNX {what} of {reference.info.name} failed ({type(exc).__name__}: {exc}). "
            f"The onnxruntime engine runs BERT-like encoders; use the transformers engine for "
            f"this model, or leave {variant} out of --variants."
        ) from exc
    meta = {
        "variant": variant,
        "model": reference.info.name,
        "sha256_of_model": digest,
        "made_from": str(source) if source else "torch.onnx.export",
        "make_seconds": round(time.perf_counter() - started, 3),
        "bytes": tmp.stat().st_size,
        "made_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    os.replace(tmp, target)
    atomic_write_text(target.with_name(target.name + META_SUFFIX), json.dumps(meta, indent=2))
    return target, {**meta, "cache_hit": False}


def _valid_cache(target: Path) -> dict[str, Any] | None:
    """The cached file's metadata if the file is there whole, else None (made again)."""
    meta_path = target.with_name(target.name + META_SUFFIX)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if target.stat().st_size == meta.get("bytes"):
            return meta
    except (ValueError, OSError):
        pass
    return None


def _export(reference: EmbeddingRunner, path: Path) -> None:
    """The encoder to ONNX with batch and sequence length left free."""
    sample = reference.tokenizer(
        ["an example sentence", "a second, somewhat longer example sentence"],
        padding=True,
        return_tensors="pt",
    )
    if "token_type_ids" not in sample:
        sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
    free = {0: "batch", 1: "tokens"}
    # The TorchScript exporter: it needs no extra package (the dynamo one needs onnxscript) and
    # keeps the weights inside the one file; its deprecation warning is not the user's concern.
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Encoder(reference.model).eval(),
            tuple(sample[name] for name in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: free for name in (*INPUTS, "last_hidden_state")},
            opset_version=OPSET,
            dynamo=False,
        )


def _quantize(source: Path, path: Path) -> None:
    """Dynamic int8 of the weight matrices: per output channel, int8 weights, uint8 activations.

    Only matrix products with a constant weight are quantized: quantizing attention's
    activation-by-activation products too brought the worst-text cosine on minilm from 0.98 to
    0.91, and per-tensor scales brought it to 0.91 as well.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the quantizer's advice to pre-process (static models only)
    try:
        quantize_dynamic(
            str(source),
            str(path),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"MatMulConstBOnly": True},
        )
    finally:
        quiet.setLevel(level)


class OnnxEmbeddingRunner(EmbeddingRunner):
    """Sentence embeddings from an ONNX Runtime session: ``embed`` as the transformers runner
    has it (same tokenizer, same pooling and normalisation), the encoder run by onnxruntime."""

    engine = ONNXRUNTIME

    def __init__(
        self,
        path: Path,
        tokenizer: Any,
        info: Any,
        pooling: Any,
        *,
        variant: str,
        threads: int,
    ) -> None:
        self.tokenizer = tokenizer
        self.info = info
        self.pooling = pooling
        self.variant = variant
        self.onnx_path = Path(path)
        self.threads = 0
        self.model: Any = None  # the onnxruntime session
        self.export_meta: dict[str, Any] = {}  # how the ONNX file was made (or found cached)
        self.set_threads(threads)
        self._inputs = {i.name for i in self.model.get_inputs()}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.name} {self.variant} ({self.threads} threads)>"

    def with_model(self, model: Any, **info_changes: Any) -> EmbeddingRunner:
        raise InvalidInputError(
            "An onnxruntime runner cannot take a PyTorch model; apply transformers variants to "
            "the transformers runner."
        )

    def set_threads(self, threads: int) -> None:
        """Run on ``threads`` CPU threads from now on (a new session when the count changes:
        onnxruntime fixes its thread pool when a session is made)."""
        threads = checks.whole("threads", threads, 1)
        if threads == self.threads:
            return
        ort = onnxruntime_module()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        self.model = ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.threads = threads

    def embed_tokens(self, batch: Any) -> torch.Tensor:
        """Embeddings of already tokenized texts (the tokenizer's output): float32 rows."""
        feed = {}
        for name in INPUTS:
            if name in self._inputs:
                value = batch.get(name)
                if value is None:  # a tokenizer without token types: all zeros, as in BERT
                    value = torch.zeros_like(batch["input_ids"])
                feed[name] = np.asarray(value, dtype=np.int64)
        hidden = torch.from_numpy(self.model.run(None, feed)[0])
        mask = torch.as_tensor(np.asarray(batch["attention_mask"]))
        with torch.inference_mode():
            out = _pool(hidden, mask, self.pooling).float()
            if self.pooling.normalize:
                out = torch.nn.functional.normalize(out, p=2, dim=1)
        return out


def load_onnxruntime(
    name: str,
    variant: str | None = None,
    *,
    threads: int | None = None,
    reference: EmbeddingRunner | None = None,
    progress: bool = False,
) -> OnnxEmbeddingRunner:
    """Load an embedding model into ONNX Runtime.

    Parameters
    ----------
    name
        A catalog alias, folder or hub id of an embedding model (``minilm``).
    variant
        ``onnx-fp32`` (default) or ``onnx-int8``: see :data:`~workbench.models.engines.ENGINES`.
    threads
        CPU threads (default: every core).
    reference
        The transformers runner of the same model, when already loaded (the benchmark's): its
        weights are exported and its tokenizer and pooling reused. Loaded from ``name`` if absent.

    Raises
    ------
    MissingExtraError
        When onnxruntime or onnx is not installed (before anything loads).
    InvalidModelError
        For a model that is not an embedding model, or one the export cannot take.
    """
    onnxruntime_module()
    variant = variant or ENGINE.default_variant
    if variant not in ENGINE.variants:
        raise InvalidInputError(
            f"Unknown onnxruntime variant {variant!r}; the onnxruntime engine offers "
            f"{', '.join(ENGINE.variants)}."
        )
    started = time.perf_counter()
    if reference is None:
        from workbench.models.loader import load_model

        reference = load_model(name, progress=progress)
    if not isinstance(reference, EmbeddingRunner) or reference.task != "embeddings":
        raise InvalidModelError(
            f"The onnxruntime engine runs embedding models here; {name!r} is "
            f"{reference.info.task}. Use the transformers engine for it (or llama.cpp for a "
            "GGUF chat model)."
        )
    path, meta = variant_file(reference, variant)
    runner = OnnxEmbeddingRunner(
        path,
        reference.tokenizer,
        reference.info,
        reference.pooling,
        variant=variant,
        threads=threads or os.cpu_count() or 1,
    )
    size = path.stat().st_size
    runner.info = replace(
        reference.info,
        dtype="int8" if variant == "onnx-int8" else "float32",
        weight_bytes=size,
        disk_bytes=size,
        path=str(path),
        load_seconds=round(time.perf_counter() - started, 3),
        weight_sha256={},
    )
    runner.export_meta = meta
    return runner


__all__ = [
    "INT8_MIN_COSINE",
    "OnnxEmbeddingRunner",
    "load_onnxruntime",
    "model_digest",
    "variant_file",
]
