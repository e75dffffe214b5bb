"""What must not leave this machine in a published folder or an exported page: its paths
(rewritten) and credentials from the environment (refused)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from workbench import runs
from workbench.kit.paths import REPO_ROOT
from workbench.publish.config import RUNS_FOLDER
from workbench.publish.errors import PublishError

_PATH_END = r"(?![\w.~-])"  # a path ends where a name character cannot follow


def clean_files(folder: Path, root: Path) -> None:
    """Rewrite the build machine's paths in every file; refuse a file holding a credential."""
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = file.read_text(encoding="utf-8")
        refuse_credentials(text, file.relative_to(folder).as_posix())
        cleaned = scrub_paths(text, root)
        if cleaned != text:
            file.write_text(cleaned, encoding="utf-8")


def refuse_credentials(text: str, where: str) -> None:
    """Refuse to publish ``text`` (the file ``where``) when it holds a credential's value.

    Raises
    ------
    PublishError
        Naming the variable (never its value), the run it came from, and how to leave it out.
    """
    name = runs.credential_in(text)
    if name is None:
        return
    run = where.split("/")[1] if where.startswith(f"{RUNS_FOLDER}/") else None
    owner = f"run {run} ({where})" if run else where
    raise PublishError(
        f"Refusing to publish: {owner} contains the value of the environment variable "
        f"{name}, which looks like a credential, and a published folder is shared. "
        + (
            "Leave that run out, or make it again without the credential in its tables "
            if run
            else "Remove it from the dashboard template "
        )
        + f"(if {name} is not a credential, unset it in this shell and publish again)."
    )


def machine_paths(runs_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """Absolute paths of this machine that must not leave it, each with what replaces it.

    The runs directory becomes ``runs`` (where a published folder keeps its copies), the
    repository ``<repo>`` and the home folder ``~``; longest first, so the most precise wins.
    """
    pairs: dict[str, str] = {}
    for path, replacement in (
        (Path.home(), "~"),
        (REPO_ROOT, "<repo>"),
        (runs.resolve_runs_dir(runs_dir), RUNS_FOLDER),
    ):
        for form in {str(path), str(path.resolve())}:
            if form.count("/") >= 1 and len(form) > 1:
                pairs[form.rstrip("/")] = replacement
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


def scrub_paths(text: str, runs_dir: str | os.PathLike[str] | None = None) -> str:
    """``text`` with this machine's paths (:func:`machine_paths`) replaced."""
    for path, replacement in machine_paths(runs_dir):
        text = re.sub(rf"(?<![\w.~-]){re.escape(path)}{_PATH_END}", replacement, text)
    return text


__all__ = ["clean_files", "machine_paths", "refuse_credentials", "scrub_paths"]
