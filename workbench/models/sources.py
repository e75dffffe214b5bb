"""Where a model name leads: a catalog alias, a local folder, a GGUF file or a cached hub id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbench.kit.errors import InvalidModelError, ModelNotFoundError
from workbench.models.catalog import CatalogEntry, load_catalog, unknown_alias_message

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


@dataclass(frozen=True)
class Source:
    """A resolved model location.

    ``kind`` is ``"folder"`` (a Hugging Face folder), ``"gguf"`` (a GGUF file) or ``"config"``
    (a tiny random model built from the catalog's config).
    """

    kind: str
    name: str
    location: Path | None
    entry: CatalogEntry | None = None
    hub_id: str | None = None

    @property
    def model_id(self) -> str:
        if self.entry:
            return self.entry.name
        return self.hub_id or str(self.location)


def looks_like_path(name: str) -> bool:
    """Whether the user clearly meant a file or folder rather than an alias or a hub id."""
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or "\\" in name
        or name.endswith((".gguf", ".safetensors", ".bin", ".json"))
    )


def resolve(name: str, *, allow_download: bool = False) -> Source:
    """Turn what the user typed into a :class:`Source`.

    Order: catalog alias, existing path, then (for ``owner/name``) the local Hugging Face cache.

    Raises
    ------
    ModelNotFoundError
        For an unknown alias (with the closest suggestions), a missing path, or a hub id that is
        not cached while downloads are off.
    """
    if not isinstance(name, str) or not name.strip():
        raise ModelNotFoundError(
            "No model given: pass a catalog alias (see `workbench models list`), a folder, "
            "a .gguf file or a hub id."
        )
    name = name.strip()
    catalog = load_catalog()
    if name in catalog:
        entry = catalog[name]
        if entry.kind == "config":
            return Source("config", name, None, entry)
        path = entry.weights_path()
        return Source("gguf" if path.suffix == ".gguf" else "folder", name, path, entry)
    path = Path(name).expanduser()
    if path.exists():
        return _from_path(name, path)
    if path.is_symlink():  # a link that leads nowhere: to a missing file, or round in a loop
        raise ModelNotFoundError(
            f"The path {name!r} is a symbolic link that leads to no file (it points to a missing "
            "path, or back to itself in a loop). Fix the link or give the model's real folder."
        )
    if looks_like_path(name):
        raise ModelNotFoundError(
            f"The path {name!r} does not exist (resolved to {path.resolve()}). Check the "
            "spelling and the current folder, or pass a catalog alias (see `workbench models list`)."
        )
    if _HUB_ID.match(name):
        return Source("folder", name, hub_snapshot(name, allow_download), hub_id=name)
    raise ModelNotFoundError(unknown_alias_message(name, catalog))


def _from_path(name: str, path: Path) -> Source:
    if path.is_dir():
        return Source("folder", name, path.resolve())
    if path.suffix == ".gguf":
        return Source("gguf", name, path.resolve())
    raise InvalidModelError(
        f"{path} is a single {path.suffix or 'extensionless'} file. Pass the folder that holds "
        "it with its config.json and tokenizer, or a .gguf file."
    )


def hub_snapshot(repo_id: str, allow_download: bool) -> Path:
    """The local folder of a hub model from the Hugging Face cache.

    Nothing is downloaded unless ``allow_download`` is true.

    Raises
    ------
    ModelNotFoundError
        If the model is not cached (and cannot or may not be downloaded).
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = constants.HF_HUB_OFFLINE
    try:
        return Path(snapshot_download(repo_id, local_files_only=offline or not allow_download))
    except LocalEntryNotFoundError as exc:
        why = (
            "the hub is switched off (HF_HUB_OFFLINE=1)"
            if offline
            else "downloads are off by default"
            if not allow_download
            else "the hub could not be reached (no network?)"
        )
        raise ModelNotFoundError(
            f"The hub model {repo_id!r} is not in the local Hugging Face cache "
            f"({constants.HF_HUB_CACHE}) and {why}, so it cannot be loaded. On a machine with "
            f"internet run `hf download {repo_id}` (and copy the cache folder here if this machine "
            "is offline), or allow the download with allow_download=True (CLI: --allow-download). "
            "If you meant a local folder, write it as ./" + repo_id + "."
        ) from exc
    except Exception as exc:  # repository not found, gated, network errors
        raise ModelNotFoundError(
            f"The hub model {repo_id!r} could not be fetched: {exc}. Check the id on the hub, "
            "or download it elsewhere with `hf download` and copy the cache."
        ) from exc
