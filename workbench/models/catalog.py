"""The model catalog (``data/models.toml``): aliases for the models the workbench knows."""

from __future__ import annotations

import difflib
import importlib.util
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.kit.errors import InvalidInputError, ModelNotFoundError
from workbench.kit.paths import data_dir

TASKS = ("embeddings", "text-generation")


@dataclass(frozen=True)
class CatalogEntry:
    """One row of the catalog."""

    alias: str
    name: str
    task: str
    license: str
    params: int
    notes: str
    source: str
    as_of: str
    package: str | None = None
    path: str | None = None
    install: str | None = None
    config: dict[str, Any] | None = None
    tokenizer: str | None = None
    seed: int = 0
    chat_template: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InvalidInputError(
                f"model {self.alias!r} has task {self.task!r}; "
                f"`task` must be one of {', '.join(TASKS)}."
            )
        if (self.package is None) == (self.config is None):
            raise InvalidInputError(
                f"model {self.alias!r} must set exactly one of `package` "
                "(weights shipped in a Python package) or `config` (a tiny random model)."
            )

    @property
    def kind(self) -> str:
        """``"package"`` for real shipped weights, ``"config"`` for tiny random models."""
        return "package" if self.package else "config"

    def installed(self) -> bool:
        """Whether the weights are on this machine (always true for config-built models)."""
        return self.package is None or importlib.util.find_spec(self.package) is not None

    def weights_path(self) -> Path:
        """The folder or GGUF file inside the installed package.

        Raises
        ------
        ModelNotFoundError
            If the package is not installed or does not hold the expected file.
        """
        assert self.package and self.path
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(
                f"Model {self.alias!r} comes from the Python package {self.package!r}, which is "
                f"not installed in this environment. Install it with `{self.install}` "
                "(or run `make install`), then try again."
            )
        target = Path(next(iter(spec.submodule_search_locations))) / self.path
        if not target.exists():
            raise ModelNotFoundError(
                f"Model {self.alias!r}: the package {self.package!r} is installed but has no "
                f"{self.path!r} ({target}). Reinstall it with `{self.install} --force-reinstall`."
            )
        return target

    def to_dict(self) -> dict[str, Any]:
        """The row as plain values, with whether it is installed here."""
        return {
            "alias": self.alias,
            "name": self.name,
            "task": self.task,
            "params": self.params,
            "license": self.license,
            "installed": self.installed(),
            "kind": self.kind,
            "source": self.source,
            "as_of": self.as_of,
            "install": self.install,
            "notes": self.notes,
        }


_FIELDS = set(CatalogEntry.__dataclass_fields__) - {"extra"}
_REQUIRED = ("alias", "name", "task", "license", "params", "notes", "source", "as_of")


def load_catalog(path: Path | None = None) -> dict[str, CatalogEntry]:
    """Read the catalog, keyed by alias.

    Parameters
    ----------
    path
        A TOML file with ``[[model]]`` tables; defaults to ``data/models.toml``.

    Raises
    ------
    InvalidInputError
        If the file is not valid TOML or a row misses a required field.
    """
    path = path or data_dir() / "models.toml"
    try:
        rows = tomllib.loads(path.read_text(encoding="utf-8")).get("model", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"Cannot read the model catalog {path}: {exc}.") from exc
    catalog: dict[str, CatalogEntry] = {}
    for number, row in enumerate(rows, start=1):
        missing = [name for name in _REQUIRED if name not in row]
        if missing:
            raise InvalidInputError(
                f"{path}: model #{number} ({row.get('alias', 'no alias')}) lacks "
                f"{', '.join(missing)}; every row needs {', '.join(_REQUIRED)}."
            )
        known = {k: v for k, v in row.items() if k in _FIELDS}
        extra = {k: v for k, v in row.items() if k not in _FIELDS}
        try:
            entry = CatalogEntry(**known, extra=extra)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{path}: {exc}") from exc
        if entry.alias in catalog:
            raise InvalidInputError(f"{path}: the alias {entry.alias!r} appears twice.")
        catalog[entry.alias] = entry
    return catalog


def get_entry(alias: str, catalog: dict[str, CatalogEntry] | None = None) -> CatalogEntry:
    """The catalog row for ``alias``, or an error that suggests the closest aliases."""
    catalog = load_catalog() if catalog is None else catalog
    if alias in catalog:
        return catalog[alias]
    raise ModelNotFoundError(unknown_alias_message(alias, catalog))


def unknown_alias_message(alias: str, catalog: dict[str, CatalogEntry]) -> str:
    """One paragraph for a name that is neither an alias, a path nor a hub id."""
    close = difflib.get_close_matches(alias, list(catalog), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"Unknown model {alias!r}: it is not an alias in the catalog, not an existing path and "
        f"not a Hugging Face hub id (owner/name).{hint} Known aliases: {', '.join(sorted(catalog))} "
        "(see `workbench models list`)."
    )
