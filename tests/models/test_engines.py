"""Engines are chosen by name, and an engine whose extra is absent fails with the install command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench.kit.errors import InvalidInputError
from workbench.models.engines import (
    DEFAULT_ENGINE,
    ENGINES,
    MissingExtraError,
    engine_of_variant,
    get_engine,
    load_engine_model,
    require_engine,
)

INSTALL = "pip install 'ai-deployment-workbench[llama-cpp]'"


@pytest.fixture
def no_llama_cpp(monkeypatch):
    """llama_cpp cannot be imported, as on a machine without the extra."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)


def test_the_engines_are_transformers_llama_cpp_and_onnxruntime():
    """transformers is the default engine; llama.cpp and onnxruntime are the others."""
    assert DEFAULT_ENGINE == "transformers"
    assert list(ENGINES) == ["transformers", "llama.cpp", "onnxruntime"]


def test_an_unknown_engine_names_the_close_one_and_the_fix():
    """A misspelt engine is refused with the name it was close to and an example flag."""
    with pytest.raises(InvalidInputError) as caught:
        get_engine("llamacpp")
    message = str(caught.value)
    assert "Unknown engine 'llamacpp'" in message
    assert "Did you mean 'llama.cpp'?" in message
    assert "--engines transformers,llama.cpp" in message


def test_each_variant_belongs_to_one_engine():
    """llama.cpp's quantisation types are its variants; every other name is transformers'."""
    assert engine_of_variant("q4_1") == engine_of_variant("q8_0") == "llama.cpp"
    assert engine_of_variant("int8-weight-only") == engine_of_variant("fp32") == "transformers"


def test_transformers_needs_no_extra(no_llama_cpp):
    """The default engine needs nothing beyond the base install."""
    assert require_engine("transformers").name == "transformers"


def test_a_missing_extra_is_one_paragraph_with_the_install_command(no_llama_cpp):
    """Choosing llama.cpp without llama-cpp-python says exactly how to install it."""
    with pytest.raises(MissingExtraError) as caught:
        require_engine("llama.cpp")
    message = str(caught.value)
    assert INSTALL in message
    assert "llama-cpp-python" in message
    assert "\n" not in message


def test_loading_on_a_missing_engine_fails_before_any_model_loads(no_llama_cpp, monkeypatch):
    """load_engine_model checks the extra before it resolves or loads anything."""
    import workbench.models.sources as sources

    def refuse(*args, **kwargs):
        raise AssertionError("a model was resolved before the extra was checked")

    monkeypatch.setattr(sources, "resolve", refuse)
    with pytest.raises(MissingExtraError):
        load_engine_model("smollm2-135m", "llama.cpp")


def test_the_engine_registry_imports_neither_torch_nor_an_engine():
    """Importing the registry (as a benchmark config does) stays light."""
    code = (
        "import sys, workbench.models.engines, workbench.bench.config; "
        "print(sorted({'torch', 'llama_cpp', 'onnxruntime', 'onnx', 'transformers'} "
        "& set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
