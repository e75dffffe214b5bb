"""What ``load_model`` is willing to do: the explicit opt-ins, declared once for the Python API,
the ``models`` flags (``--allow-pickle``, ``--trust-remote-code``, ``--allow-download``,
``--task``) and their help."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kit.fields import check_fields, spec
from workbench.models.catalog import TASKS


@dataclass(frozen=True)
class LoadOptions:
    """Choices that change what ``load_model`` is willing to do."""

    allow_pickle: bool = spec(False, help="allow pickle weights (.bin/.pt); can run code")
    trust_remote_code: bool = spec(False, help="run Python code shipped with the model")
    allow_download: bool = spec(False, help="let a hub id download when not cached")
    task: str | None = spec(
        None,
        help="override the task",
        choices=TASKS,
        optional=True,
        fix="Leave it empty to use the catalog's or the model's own task.",
    )
    progress: bool = spec(True, help="show a progress bar while loading")

    def __post_init__(self) -> None:
        check_fields(self)


__all__ = ["LoadOptions"]
