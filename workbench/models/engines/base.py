"""What an engine is: a named way to run a model (transformers, llama.cpp), its variants, and the
optional extra that installs it. Light on purpose: nothing here imports torch or an engine."""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from types import ModuleType

from workbench.kit.errors import InvalidInputError, WorkbenchError

PACKAGE = "ai-deployment-workbench"


class MissingExtraError(WorkbenchError):
    """An engine whose optional dependency is not installed in this environment."""


@dataclass(frozen=True)
class Engine:
    """One engine: its name, what it runs, and how to install it when it is optional.

    ``variants`` maps the engine's own variant names to their help; empty for the default
    engine, whose variants are the benchmark's (``workbench.bench.variants``). ``module`` is the
    Python package the engine imports (``None``: always there), ``also_modules`` any others its
    extra installs and it needs; ``extra`` the optional extra of this package that installs them.
    """

    name: str
    help: str
    tasks: tuple[str, ...]
    module: str | None = None
    extra: str | None = None
    pip_name: str | None = None
    build_note: str = ""
    also_modules: tuple[str, ...] = ()
    variants: dict[str, str] = field(default_factory=dict)
    default_variant: str = "fp32"

    @property
    def install_command(self) -> str:
        """The exact command that installs this engine's extra ('' when it needs none)."""
        if not self.extra:
            return ""
        return f"pip install '{PACKAGE}[{self.extra}]'"

    def require(self) -> ModuleType | None:
        """The engine's module, imported; ``None`` for an engine that needs none.

        Raises
        ------
        MissingExtraError
            One paragraph with the exact install command, when the module cannot be imported.
        """
        if self.module is None:
            return None
        try:
            for other in self.also_modules:
                importlib.import_module(other)
            return importlib.import_module(self.module)
        except ImportError as exc:
            raise MissingExtraError(self.missing_message(exc)) from exc

    def available(self) -> bool:
        """Whether :meth:`require` would succeed here."""
        try:
            self.require()
        except MissingExtraError:
            return False
        return True

    def missing_message(self, exc: BaseException | None = None) -> str:
        """The paragraph shown when the engine's module is absent."""
        reason = f" ({exc})" if exc and str(exc) and "No module named" not in str(exc) else ""
        return (
            f"The {self.name} engine needs the Python package {self.pip_name}, which is not "
            f"installed in this environment{reason}. Install the workbench's optional extra with "
            f"`{self.install_command}` (from a checkout: `pip install -e '.[{self.extra}]'`)"
            f"{self.build_note}, then run the command again; or leave {self.name} out and use "
            "the default engine, transformers."
        )


def lookup(name: str, registry: dict[str, Engine], *, flag: str = "--engines") -> Engine:
    """The engine called ``name``, or an error naming the close and known engines and the fix.

    Raises
    ------
    InvalidInputError
        For an unknown name.
    """
    if name in registry:
        return registry[name]
    lowered = {key.lower().replace("_", "").replace("-", ""): key for key in registry}
    close = difflib.get_close_matches(name, list(registry), n=2, cutoff=0.5)
    squashed = name.lower().replace("_", "").replace("-", "")
    if squashed in lowered and lowered[squashed] not in close:
        close.insert(0, lowered[squashed])
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise InvalidInputError(
        f"Unknown engine {name!r} ({flag}).{hint} Known engines: {', '.join(registry)}; "
        f"e.g. {flag} transformers,llama.cpp."
    )


__all__ = ["PACKAGE", "Engine", "MissingExtraError", "lookup"]
