"""What a benchmark variant is: a named change to a loaded model, with the tasks it suits."""

from __future__ import annotations

import difflib
from typing import Any, ClassVar

from workbench.kit.errors import InvalidInputError
from workbench.models.runners import ModelRunner


class VariantError(InvalidInputError):
    """A variant that does not exist, or that this model cannot take."""


class Variant:
    """A way to run a model; subclasses override :meth:`apply` and maybe :meth:`unsupported`."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ("embeddings", "text-generation")
    engine: ClassVar[str] = "transformers"

    def unsupported(self, runner: ModelRunner) -> str | None:
        """Why this variant cannot run ``runner``'s model, or None when it can."""
        if runner.task not in self.tasks:
            return f"it applies to {' and '.join(self.tasks)} models and {runner.info.name} is {runner.task}"
        return None

    def check(self, runner: ModelRunner) -> None:
        """Raise :class:`VariantError` saying which variant and why, if it cannot run."""
        reason = self.unsupported(runner)
        if reason:
            raise VariantError(
                f"The variant {self.name!r} cannot run {runner.info.name}: {reason}. "
                "Drop it from --variants, or see `workbench bench --help` for the others."
            )

    def apply(self, runner: ModelRunner) -> ModelRunner:
        """A runner with this variant's model (the reference runner is left unchanged)."""
        raise NotImplementedError

    def generate_kwargs(self) -> dict[str, Any]:
        """Extra arguments to ``model.generate`` (e.g. a cache implementation)."""
        return {}


def lookup(name: str, registry: dict[str, Variant]) -> Variant:
    """The registered variant called ``name``, or an error listing the close and known names."""
    if name in registry:
        return registry[name]
    close = difflib.get_close_matches(name, list(registry), n=2, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise VariantError(f"Unknown variant {name!r}.{hint} Known variants: {', '.join(registry)}.")
