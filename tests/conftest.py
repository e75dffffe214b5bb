"""Shared test set-up: nothing leaves the machine, and caches live in a per-run temporary folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Set before any test imports huggingface_hub, whose constants read the environment at import.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="workbench-tests-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = str(_SESSION_DIR / "hf-home")
os.environ["WORKBENCH_CACHE_DIR"] = str(_SESSION_DIR / "workbench-cache")
os.environ["WORKBENCH_RUNS_DIR"] = str(_SESSION_DIR / "runs")  # never the repository's ./runs
os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] = "1"

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The project's root folder."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def smollm2_loads():
    """Load smollm2-135m twice in a fresh cache: (first runner, second runner).

    The first load converts the GGUF file; the second must come from the cache.
    """
    from workbench.models import load_model

    first = load_model("smollm2-135m", progress=False)
    second = load_model("smollm2-135m", progress=False)
    return first, second


@pytest.fixture(scope="session")
def smollm2(smollm2_loads):
    """The bundled SmolLM2-135M-Instruct chat model (loaded once per test run)."""
    return smollm2_loads[1]


@pytest.fixture(scope="session")
def minilm():
    """The bundled all-MiniLM-L6-v2 embedding model (loaded once per test run)."""
    from workbench.models import load_model

    return load_model("minilm", progress=False)


@pytest.fixture(scope="session")
def tiny_bert():
    from workbench.models import load_model

    return load_model("tiny-bert", progress=False)


@pytest.fixture(scope="session")
def tiny_llama():
    from workbench.models import load_model

    return load_model("tiny-llama", progress=False)


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``workbench ARGS`` in a subprocess, as a user would, with this test run's caches."""
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env=os.environ.copy(),
    )
