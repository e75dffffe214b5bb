"""Loading from paths, GGUF files and the hub cache: each bad input gets a clear, typed error."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

import pytest
from model_folders import (
    TINY_BERT_PARAMS,
    copy_folder,
    save_tiny_bert,
    write_gguf,
    write_remote_code_config,
)

from workbench.kit.errors import InvalidModelError, ModelNotFoundError, UnsafeModelError
from workbench.models import load_model


@pytest.fixture(scope="module")
def saved_bert(tmp_path_factory) -> Path:
    """A complete tiny BERT folder (config.json, model.safetensors, tokenizer), saved once."""
    return save_tiny_bert(tmp_path_factory.mktemp("saved") / "tiny-bert")


@pytest.fixture(scope="module")
def pickle_bert(tmp_path_factory) -> Path:
    """A tiny BERT folder whose only weights are a pickle (pytorch_model.bin)."""
    return save_tiny_bert(tmp_path_factory.mktemp("pickle") / "tiny-bert", weights="pickle")


def hub_cache_model(folder: Path) -> str:
    """Put ``folder`` into the Hugging Face hub cache as a fresh org/name; return that id."""
    from huggingface_hub import constants

    org, name = "org", f"tiny-{uuid.uuid4().hex[:8]}"
    repo = Path(constants.HF_HUB_CACHE) / f"models--{org}--{name}"
    commit = hashlib.sha1(name.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    for file in sorted(folder.iterdir()):
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copyfile(file, blob)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    return f"{org}/{name}"


# Paths


def test_missing_path_is_not_found():
    """A path that does not exist raises ModelNotFoundError naming it and saying what to check."""
    with pytest.raises(ModelNotFoundError) as error:
        load_model("./no/such/model", progress=False)

    message = str(error.value)
    assert "'./no/such/model' does not exist" in message
    assert "Check the spelling" in message


def test_folder_without_config_is_invalid(tmp_path):
    """A folder without config.json raises InvalidModelError naming the folder and config.json."""
    (tmp_path / "notes.txt").write_text("not a model", encoding="utf-8")

    with pytest.raises(InvalidModelError) as error:
        load_model(str(tmp_path), progress=False)

    message = str(error.value)
    assert str(tmp_path) in message
    assert "no config.json" in message
    assert "save_pretrained" in message


def test_folder_without_config_points_to_its_gguf_file(tmp_path):
    """A folder holding a .gguf but no config.json says to pass the .gguf file instead."""
    write_gguf(tmp_path / "model.Q4_0.gguf", "llama")

    with pytest.raises(InvalidModelError) as error:
        load_model(str(tmp_path), progress=False)

    assert "It holds model.Q4_0.gguf: pass that file's path instead" in str(error.value)


def test_single_weight_file_asks_for_its_folder(saved_bert):
    """A path to model.safetensors itself raises InvalidModelError asking for the folder."""
    with pytest.raises(InvalidModelError) as error:
        load_model(str(saved_bert / "model.safetensors"), progress=False)

    assert "Pass the folder that holds it" in str(error.value)


def test_saved_folder_loads_with_its_params(saved_bert):
    """A folder written by save_pretrained loads as an embeddings model with the right params."""
    runner = load_model(str(saved_bert), progress=False)

    assert runner.task == "embeddings"
    assert runner.info.params == TINY_BERT_PARAMS
    assert runner.info.source == "path"


def test_saved_folder_reports_the_weight_file_sha256(saved_bert):
    """info.weight_sha256 holds the SHA-256 of model.safetensors, as hashlib computes it."""
    weights = saved_bert / "model.safetensors"

    info = load_model(str(saved_bert), progress=False).info

    assert info.weight_sha256 == {
        "model.safetensors": hashlib.sha256(weights.read_bytes()).hexdigest()
    }


def test_saved_folder_reports_disk_bytes(saved_bert):
    """info.disk_bytes is the size of the weight file on disk."""
    info = load_model(str(saved_bert), progress=False).info

    assert info.disk_bytes == (saved_bert / "model.safetensors").stat().st_size


def test_changed_weight_file_gets_a_new_sha256(saved_bert, tmp_path):
    """After the weights are changed in place, the reported SHA-256 follows the new content."""
    folder = copy_folder(saved_bert, tmp_path / "model")
    weights = folder / "model.safetensors"
    load_model(str(folder), progress=False)
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # flip bits of the last weight: same size, different content
    weights.write_bytes(bytes(data))

    info = load_model(str(folder), progress=False).info

    assert info.weight_sha256["model.safetensors"] == hashlib.sha256(data).hexdigest()


# Damaged and unsupported files


def test_truncated_safetensors_is_invalid(saved_bert, tmp_path):
    """A model.safetensors cut to half its size raises InvalidModelError saying 'truncated'."""
    folder = copy_folder(saved_bert, tmp_path / "model")
    weights = folder / "model.safetensors"
    with weights.open("r+b") as handle:
        handle.truncate(weights.stat().st_size // 2)

    with pytest.raises(InvalidModelError) as error:
        load_model(str(folder), progress=False)

    message = str(error.value)
    assert str(weights) in message
    assert "truncated" in message
    assert "copy it again" in message


def test_safetensors_with_garbage_header_is_invalid(saved_bert, tmp_path):
    """A model.safetensors overwritten with text raises InvalidModelError naming the file."""
    folder = copy_folder(saved_bert, tmp_path / "model")
    (folder / "model.safetensors").write_bytes(b"not a safetensors file at all" * 4)

    with pytest.raises(InvalidModelError) as error:
        load_model(str(folder), progress=False)

    assert "model.safetensors is truncated or corrupt" in str(error.value)


def test_folder_with_config_but_no_weights_is_invalid(saved_bert, tmp_path):
    """A folder with config.json but no weight files raises InvalidModelError saying so."""
    folder = copy_folder(saved_bert, tmp_path / "model")
    (folder / "model.safetensors").unlink()

    with pytest.raises(InvalidModelError) as error:
        load_model(str(folder), progress=False)

    assert "no weight files" in str(error.value)


def test_unsupported_gguf_architecture_is_invalid(tmp_path):
    """A GGUF file of an architecture transformers cannot load names that architecture."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    architecture = "rwkv6qwen2"
    assert architecture not in GGUF_SUPPORTED_ARCHITECTURES
    path = write_gguf(tmp_path / "rwkv.gguf", architecture)

    with pytest.raises(InvalidModelError) as error:
        load_model(str(path), progress=False)

    message = str(error.value)
    assert "rwkv.gguf" in message
    assert "'rwkv6qwen2'" in message
    assert "llama.cpp" in message


def test_garbage_gguf_file_is_invalid(tmp_path):
    """A '.gguf' file of random bytes raises InvalidModelError naming the file."""
    path = tmp_path / "broken.gguf"
    path.write_bytes(bytes(range(256)) * 4)

    with pytest.raises(InvalidModelError) as error:
        load_model(str(path), progress=False)

    message = str(error.value)
    assert str(path) in message
    assert "not a readable GGUF file" in message


def test_empty_gguf_file_is_invalid(tmp_path):
    """An empty '.gguf' file raises InvalidModelError rather than a numpy error."""
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")

    with pytest.raises(InvalidModelError) as error:
        load_model(str(path), progress=False)

    assert "not a readable GGUF file" in str(error.value)


# The hub cache


def test_uncached_hub_id_is_not_found_offline():
    """A hub id not in the cache raises ModelNotFoundError naming HF_HUB_OFFLINE and `hf download`."""
    with pytest.raises(ModelNotFoundError) as error:
        load_model("someone/not-cached-model", progress=False)

    message = str(error.value)
    assert "'someone/not-cached-model'" in message
    assert "HF_HUB_OFFLINE" in message
    assert "`hf download someone/not-cached-model`" in message


def test_cached_hub_id_loads_from_the_cache(saved_bert):
    """A hub id present in the local hub cache loads, and its source says hub:<id>."""
    repo_id = hub_cache_model(saved_bert)

    runner = load_model(repo_id, task="embeddings", progress=False)

    assert runner.info.source == f"hub:{repo_id}"
    assert runner.info.model_id == repo_id
    assert runner.info.params == TINY_BERT_PARAMS


def test_cached_hub_model_embeds(saved_bert):
    """A model loaded from the hub cache embeds a sentence into a 32-number unit vector."""
    runner = load_model(hub_cache_model(saved_bert), task="embeddings", progress=False)

    vectors = runner.embed(["hello world"])

    assert vectors.shape == (1, 32)
    assert vectors[0] @ vectors[0] == pytest.approx(1.0, abs=1e-5)


# Pickles and remote code


def test_pickle_weights_are_refused_by_default(pickle_bert):
    """A folder with only pytorch_model.bin raises UnsafeModelError naming it and allow_pickle."""
    with pytest.raises(UnsafeModelError) as error:
        load_model(str(pickle_bert), progress=False)

    message = str(error.value)
    assert "pytorch_model.bin" in message
    assert "allow_pickle=True" in message
    assert "--allow-pickle" in message


def test_pickle_weights_load_with_opt_in(pickle_bert):
    """With allow_pickle=True the pickle folder loads with the same params as the model saved."""
    runner = load_model(str(pickle_bert), allow_pickle=True, progress=False)

    assert runner.info.params == TINY_BERT_PARAMS
    assert list(runner.info.weight_sha256) == ["pytorch_model.bin"]


def test_pickle_weights_load_the_saved_values(pickle_bert, saved_bert):
    """The opted-in pickle weights equal the weights that were saved (not a fresh random init)."""
    from_pickle = load_model(str(pickle_bert), allow_pickle=True, progress=False)
    from_safetensors = load_model(str(saved_bert), progress=False)

    assert (from_pickle.embed(["a test"]) == from_safetensors.embed(["a test"])).all()


def test_safetensors_win_over_pickle(saved_bert, tmp_path):
    """When both model.safetensors and pytorch_model.bin exist, it loads without allow_pickle."""
    folder = save_tiny_bert(tmp_path / "both", weights="both")

    runner = load_model(str(folder), progress=False)

    assert list(runner.info.weight_sha256) == ["model.safetensors"]


def test_remote_code_is_refused_by_default(tmp_path):
    """A config with auto_map and a custom model_type raises UnsafeModelError naming trust_remote_code."""
    folder = write_remote_code_config(tmp_path / "custom", model_type="my-custom-model")

    with pytest.raises(UnsafeModelError) as error:
        load_model(str(folder), progress=False)

    message = str(error.value)
    assert str(folder) in message
    assert "trust_remote_code=True" in message
    assert "--trust-remote-code" in message


def test_auto_map_on_a_known_model_type_is_refused(tmp_path):
    """An auto_map is refused even when its model_type is one transformers knows ('bert')."""
    folder = write_remote_code_config(tmp_path / "custom", model_type="bert")

    with pytest.raises(UnsafeModelError) as error:
        load_model(str(folder), progress=False)

    assert "custom classes" in str(error.value)


def test_unknown_model_type_is_refused(tmp_path):
    """A model_type transformers does not implement (no auto_map) is refused as remote code."""
    folder = write_remote_code_config(
        tmp_path / "custom", model_type="my-custom-model", auto_map=False
    )

    with pytest.raises(UnsafeModelError) as error:
        load_model(str(folder), progress=False)

    assert "'my-custom-model' is not one transformers implements" in str(error.value)


def test_damaged_gguf_cache_is_dropped_for_reconversion(tmp_path):
    """A conversion cache whose weights were cut short is removed, not trusted."""
    from workbench.models import gguf

    cache = save_tiny_bert(tmp_path / "cached")
    (cache / gguf.META).write_text('{"first_load_seconds": 1.0}')
    weights = cache / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])

    assert gguf._valid_cache(cache) is None
    assert not cache.exists()


def test_intact_gguf_cache_is_reused(tmp_path):
    """A complete conversion cache is reported as a hit with its recorded first-load time."""
    from workbench.models import gguf

    cache = save_tiny_bert(tmp_path / "cached")
    (cache / gguf.META).write_text('{"first_load_seconds": 1.5}')

    assert gguf._valid_cache(cache) == {"first_load_seconds": 1.5}
