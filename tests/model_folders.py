"""Helpers that write small model folders and files for the tests (imported, not collected)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

# The tiny BERT of the catalog's `tiny-bert` row, so its parameter count is known: 1,011,360.
TINY_BERT = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
TINY_BERT_PARAMS = 1_011_360


def tiny_bert_model():
    """A 2-layer BERT with random weights (seeded, so every call gives the same weights)."""
    import torch
    from transformers import AutoModel, BertConfig

    torch.manual_seed(0)
    return AutoModel.from_config(BertConfig(**TINY_BERT))


def save_tokenizer(folder: Path) -> None:
    """Write minilm's tokenizer files into ``folder``."""
    from transformers import AutoTokenizer

    from workbench.models import get_entry

    AutoTokenizer.from_pretrained(get_entry("minilm").weights_path()).save_pretrained(folder)


def save_tiny_bert(folder: Path, *, weights: str = "safetensors") -> Path:
    """Write a complete Hugging Face folder of the tiny BERT.

    ``weights`` is ``"safetensors"`` (model.safetensors), ``"pickle"`` (only pytorch_model.bin,
    written with ``torch.save``) or ``"both"``.
    """
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_bert_model()
    model.save_pretrained(folder)
    if weights in ("pickle", "both"):
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    if weights == "pickle":
        (folder / "model.safetensors").unlink()
    save_tokenizer(folder)
    return folder


def copy_folder(source: Path, target: Path) -> Path:
    """A copy of a model folder, to damage without touching the original."""
    shutil.copytree(source, target)
    return target


def write_remote_code_config(folder: Path, *, model_type: str, auto_map: bool = True) -> Path:
    """A folder whose config.json asks for the model's own Python classes."""
    folder.mkdir(parents=True, exist_ok=True)
    config: dict = {"model_type": model_type, "architectures": ["CustomModel"], "hidden_size": 8}
    if auto_map:
        config["auto_map"] = {
            "AutoConfig": "custom.CustomConfig",
            "AutoModel": "custom.CustomModel",
        }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "custom.py").write_text("raise SystemExit('remote code ran')\n", encoding="utf-8")
    return folder


def write_gguf(path: Path, architecture: str) -> Path:
    """A small but well-formed GGUF file of ``architecture`` with one 4x4 tensor."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch=architecture)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def save_tiny_mamba(folder: Path) -> Path:
    """A 1-layer Mamba text generator; its config has no max_position_embeddings (no fixed context)."""
    import torch
    from transformers import AutoModelForCausalLM, MambaConfig

    torch.manual_seed(0)
    config = MambaConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, state_size=4)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    save_tokenizer(folder)
    return folder
