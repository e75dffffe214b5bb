"""The house's guards, read statically from every module under workbench/ (no import runs).

Layers point one way: notebooks -> widgets -> workbench, and inside workbench the shared kit
imports no room and the rooms import each other without a loop. A module that breaks this fails
here by name, whether the import is at the top of the file or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO_ROOT

CORE = REPO_ROOT / "workbench"
# What the headless core must never import: widget libraries, the panels, the benchmark scripts.
FORBIDDEN = ("ipywidgets", "IPython", "widgets", "benchmarks", "bench_", "_report", "tests")
ROOMS = (
    "models",
    "bench",
    "devices",
    "runs",
    "cloud",
    "cost",
    "decision",
    "eval",
    "federated",
    "publish",
    "samples",
)


def imported_modules(source: str) -> list[str]:
    """Every module an ``import`` or ``from ... import`` statement in ``source`` names."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def forbidden_imports(source: str) -> list[str]:
    """The imports in ``source`` that the core may not make."""
    return sorted({name for name in imported_modules(source) if name.startswith(FORBIDDEN)})


def room_of(module: str) -> str | None:
    """``workbench.cost.model`` -> ``cost``; the kit and top-level modules have no room."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "workbench" and parts[1] in ROOMS else None


def core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def room_arrows() -> dict[str, set[str]]:
    """Room -> the other rooms its modules import (anywhere in the module)."""
    arrows: dict[str, set[str]] = {room: set() for room in ROOMS}
    for path in core_files():
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        source_room = room_of(module)
        if source_room is None:
            continue
        for name in imported_modules(path.read_text(encoding="utf-8")):
            target = room_of(name)
            if target and target != source_room:
                arrows[source_room].add(target)
    return arrows


def find_cycle(arrows: dict[str, set[str]]) -> list[str]:
    """One loop in the room graph as a list of rooms (empty when there is none)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(room: str) -> list[str]:
        state[room] = "open"
        stack.append(room)
        for target in sorted(arrows.get(room, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[room] = "done"
        stack.pop()
        return []

    for room in sorted(arrows):
        if room not in state and (found := visit(room)):
            return found
    return []


def test_the_guard_catches_a_widget_import_inside_a_function():
    """A planted `import ipywidgets` inside a function body is found (the guard can fail)."""
    source = "def panel():\n    import ipywidgets as w\n    from IPython.display import display\n"

    assert forbidden_imports(source) == ["IPython.display", "IPython.display.display", "ipywidgets"]


def test_no_core_module_imports_widgets_ipython_or_benchmark_scripts():
    """No module under workbench/ imports ipywidgets, IPython, the panels or the benchmarks."""
    offenders = {
        str(path.relative_to(REPO_ROOT)): bad
        for path in core_files()
        if (bad := forbidden_imports(path.read_text(encoding="utf-8")))
    }

    assert offenders == {}


def test_the_kit_imports_no_room():
    """workbench/kit/ is the floor every room stands on: it imports none of them."""
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(
            {room for name in imported_modules(path.read_text()) if (room := room_of(name))}
        )
        for path in sorted((CORE / "kit").rglob("*.py"))
    }

    assert {path: rooms for path, rooms in offenders.items() if rooms} == {}


def test_the_cycle_finder_finds_a_planted_loop():
    """A loop cost -> decision -> cost is reported (the guard can fail)."""
    assert find_cycle({"cost": {"decision"}, "decision": {"cost"}}) == ["cost", "decision", "cost"]


def test_rooms_import_each_other_one_way():
    """The rooms' imports form no loop, so each room can be read on top of the ones it uses."""
    assert find_cycle(room_arrows()) == []


def test_every_room_has_the_same_parts():
    """Each room is a package with a config module and its own cli.py."""
    missing = [
        f"workbench/{room}/{part}"
        for room in ROOMS
        for part in ("__init__.py", "config.py", "cli.py")
        if not (CORE / room / part).is_file()
    ]

    assert missing == []
