"""A plain, non-editable install works from any folder: the catalogs, the dashboard notebooks and
the Voila template ship inside the wheel.

The wheel is built from this checkout and installed, without its dependencies, into a fresh
virtual environment that borrows the test environment's libraries (torch, flwr, ...) through a
path entry: the editable install of this checkout is not visible there, and every command runs
from an empty folder, so anything read from the checkout instead of the package fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv holding only the built wheel, its libraries borrowed; and an empty working folder."""
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WORKBENCH_DATA_DIR")}
    env.update(WORKBENCH_RUNS_DIR=str(root / "runs"), HF_HUB_OFFLINE="1")
    # Prepare: build the wheel without network (setuptools and wheel are in the test env), from a
    # copy of the checkout, so the build's own folders never land in it.
    source = root / "source"
    top_level = {".git", ".venv", "runs", "build", "dist", "tests", ".cache"}

    def skip(folder: str, names: list[str]) -> list[str]:
        outside = Path(folder) == REPO_ROOT
        return [n for n in names if (outside and n in top_level) or n.endswith(".egg-info")]

    shutil.copytree(REPO_ROOT, source, symlinks=True, ignore=skip)
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(root / "dist"), str(source)],
        cwd=root, env=env,
    )  # fmt: skip
    wheel = next((root / "dist").glob("ai_deployment_workbench-*.whl"))
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=env)
    python = venv / "bin" / "python"
    run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        root,
        env,
    )
    # The test environment's libraries, as a plain path entry: .pth files there (the editable
    # install's finder among them) are not processed, so only the wheel provides `workbench`.
    borrowed = (
        venv
        / "lib"
        / f"python{sys.version_info.major}.{sys.version_info.minor}"
        / "site-packages"
        / "borrowed.pth"
    )
    borrowed.write_text("\n".join([*site.getsitepackages(), sysconfig.get_paths()["purelib"]]))
    work = root / "elsewhere"
    work.mkdir()
    return {"wheel": wheel, "venv": venv, "python": python, "env": env, "work": work}


def test_the_wheel_carries_the_catalogs_dashboards_and_template(installed):
    """The wheel holds the model, device and price catalogs, the dashboards and the template."""
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())

    for expected in (
        "workbench/data/models.toml",
        "workbench/data/devices.csv",
        "workbench/data/prices/api_tokens.csv",
        "workbench/data/scenarios/support_chatbot.toml",
        "workbench/data/federated/support_tickets.csv",
        "workbench/data/evals/ticket-routing.jsonl",
        "workbench/data/load_profiles.csv",
        "workbench/publish/dashboards/decision.ipynb",
        "workbench/publish/share/jupyter/voila/templates/workbench-offline/index.html.j2",
        "workbench/federated/flower_app/pyproject.toml",
    ):
        assert expected in names


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    """`import workbench` in the fresh venv resolves to its own site-packages."""
    code = "import workbench; print(workbench.__file__)"

    where = run([str(installed["python"]), "-c", code], installed["work"], installed["env"])

    assert str(installed["venv"]) in where and str(REPO_ROOT) not in where


def test_models_list_works_from_any_folder(installed):
    """`workbench models list --json` reads the shipped catalog: minilm and smollm2-135m."""
    out = run([str(installed["venv"] / "bin" / "workbench"), "models", "list", "--json"],
              installed["work"], installed["env"])  # fmt: skip

    aliases = {row["alias"] for row in json.loads(out)}
    assert {"minilm", "smollm2-135m"} <= aliases


def test_prices_list_works_from_any_folder(installed):
    """`workbench prices list --json` reads the shipped price catalog, every row sourced and dated."""
    out = run([str(installed["venv"] / "bin" / "workbench"), "prices", "list", "--json"],
              installed["work"], installed["env"])  # fmt: skip

    rows = json.loads(out)
    assert rows and all(row["source"] and row["as_of"] for row in rows)


def test_publish_works_from_any_folder(installed):
    """A run made with the installed package publishes into a dashboard folder from the wheel."""
    workbench = str(installed["venv"] / "bin" / "workbench")
    env, work = installed["env"], installed["work"]
    run([workbench, "fed", "run", "--clients", "4", "--rounds", "1", "--fraction", "1"], work, env)
    run_id = json.loads(run([workbench, "runs", "list", "--json"], work, env))[0]["id"]

    run([workbench, "publish", run_id, "--out", "app"], work, env)

    notebook = json.loads((work / "app" / "dashboard.ipynb").read_text())
    assert "FederatedDashboard" in "".join("".join(c["source"]) for c in notebook["cells"])
    assert (work / "app" / "voila.json").is_file()
    assert (work / "app" / "runs" / run_id / "run.json").is_file()
