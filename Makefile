# Seasonal Campaign Playbook — `make help` lists the targets.
# Two commands on a fresh machine: `make demo` (set up + run the playbook on the sample data)
# and `make test` (set up + run every test). Needs only Python 3.11 and make.

PYTHON      ?= python3.11
VENV        ?= .venv
BIN         := $(VENV)/bin
KERNEL      ?= seasonal-playbook
CAMPAIGN    ?= campaigns/holiday-2025.yaml
SAMPLE      ?= data/sample
CUSTOMERS   ?= 20000
SEED        ?= 42
JOBS        ?= 2
PYTEST_ARGS ?=
# The locks: exact versions with hashes for Python 3.11 on linux x86_64, resolved from pyproject.toml
# by `make lock` (uv pip compile). requirements.lock: what the playbook needs to run (`make demo`);
# requirements-dev.lock: the same versions plus the test and lint tools (`make setup`, `make test`).
LOCK        := requirements.lock
DEV_LOCK    := requirements-dev.lock
UPGRADE     ?=
UV_COMPILE   = $(BIN)/uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
               --generate-hashes --custom-compile-command "make lock" --quiet $(if $(UPGRADE),--upgrade)

.DEFAULT_GOAL := help
# One recipe at a time: the install steps share one virtual environment (pytest still runs on $(JOBS) workers).
.NOTPARALLEL:
.PHONY: help setup setup-runtime kernel data demo test browser test-slow lint lab bench lock clean distclean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

# Installs exactly the locked versions (pip checks every hash), then the playbook itself without
# resolving anything. The stamps remember which lock is installed; the dev lock holds every version
# of the runtime lock, so installing it also satisfies the runtime stamp.
$(VENV)/.installed-runtime: $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: $(DEV_LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@ $(VENV)/.installed-runtime

setup: $(VENV)/.installed-dev kernel  ## create .venv, install the locked package (+dev tools) and the Jupyter kernel

setup-runtime: $(VENV)/.installed-runtime kernel  ## like setup, without the test and lint tools (requirements.lock only)

kernel: | $(VENV)/.installed-runtime  ## register the Jupyter kernel "seasonal-playbook" inside .venv
	@$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Seasonal Playbook (Python 3.11)" > /dev/null
	@if git rev-parse --git-dir > /dev/null 2>&1 && test -x $(BIN)/nbstripout; then $(BIN)/nbstripout --install; fi

lock:  ## refresh requirements.lock and requirements-dev.lock from pyproject.toml (UPGRADE=1: newest allowed versions)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv>=0.5"
	$(UV_COMPILE) --extra dev -o $(DEV_LOCK)
	$(UV_COMPILE) -c $(DEV_LOCK) -o $(LOCK)

$(SAMPLE)/truth.json: $(wildcard playbook/data/synth/*.py) | $(VENV)/.installed-runtime
	$(BIN)/playbook generate-data --customers $(CUSTOMERS) --seed $(SEED) --out $(SAMPLE)

data: $(SAMPLE)/truth.json  ## generate the synthetic sample data (once)

demo: setup-runtime data  ## set up (runtime lock only), generate sample data and run all five notebooks for the example campaign
	$(BIN)/playbook validate-data $(SAMPLE)
	$(BIN)/playbook run $(CAMPAIGN) --jobs $(JOBS)
	@echo "Open reports/holiday-2025/index.html"

test: setup data browser  ## set up and run the whole test suite (lint, types, unit tests, notebooks under nbval, end to end, browser)
	$(BIN)/ruff check playbook tests benchmarks notebooks
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile tests notebooks --nbval-lax --nbval-current-env $(PYTEST_ARGS)

test-slow: setup data  ## the opt-in slow tests (marked slow; `make test` deselects them)
	$(BIN)/python -m pytest -m slow tests $(PYTEST_ARGS)

browser:  ## Debian's Chromium for the browser tests: installed with apt-get when missing and run as root, else they skip
	@command -v chromium > /dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then \
	    echo "Installing Chromium for the browser tests (apt-get install chromium) ..."; \
	    (apt-get install -y -qq chromium > /dev/null 2>&1 || (apt-get update -qq > /dev/null 2>&1 && apt-get install -y -qq chromium > /dev/null 2>&1)) \
	      || echo "Could not install Chromium: the browser tests will be reported as skipped."; \
	  else echo "Chromium not found and not installable here (needs root and apt-get): the browser tests will be reported as skipped."; fi; }

lint:  ## ruff on the package, tests and notebooks; mypy on the package
	$(BIN)/ruff check playbook tests benchmarks notebooks
	$(BIN)/mypy

lab: setup data  ## open JupyterLab at the project root (notebooks, campaigns and reports in its file browser)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" notebooks/01_plan.ipynb

bench: setup data  ## benchmarks: whole playbook on the sample and on 1M customers (generated once, cached), heavy functions at 100k/1M
	$(BIN)/python benchmarks/bench_playbook.py
	$(BIN)/python benchmarks/bench_functions.py

clean:  ## remove generated data, reports, caches (keeps .venv; `make distclean` removes it too)
	rm -rf $(SAMPLE) reports/*/ reports/.staging reports/.private reports/_failed benchmarks/.cache .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean  ## also remove the virtual environment
	rm -rf $(VENV) *.egg-info
