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

.DEFAULT_GOAL := help
.PHONY: help setup kernel data demo test test-slow lint lab bench clean distclean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/playbook: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

setup: $(BIN)/playbook kernel  ## create .venv, install the package (+dev tools) and the Jupyter kernel

kernel: $(BIN)/playbook  ## register the Jupyter kernel "seasonal-playbook" inside .venv
	@$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Seasonal Playbook (Python 3.11)" > /dev/null
	@git rev-parse --git-dir > /dev/null 2>&1 && $(BIN)/nbstripout --install || true

$(SAMPLE)/truth.json: $(wildcard playbook/data/synth/*.py) | $(BIN)/playbook
	$(BIN)/playbook generate-data --customers $(CUSTOMERS) --seed $(SEED) --out $(SAMPLE)

data: $(SAMPLE)/truth.json  ## generate the synthetic sample data (once)

demo: setup data  ## set up, generate sample data and run all five notebooks for the example campaign
	$(BIN)/playbook validate-data $(SAMPLE)
	$(BIN)/playbook run $(CAMPAIGN) --jobs $(JOBS)
	@echo "Open reports/holiday-2025/index.html"

test: setup data  ## set up and run the whole test suite (lint, types, unit tests, notebooks under nbval, end to end)
	$(BIN)/ruff check playbook tests benchmarks notebooks
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile tests notebooks --nbval-lax --nbval-current-env $(PYTEST_ARGS)

test-slow: setup data  ## the opt-in slow tests (marked slow; `make test` deselects them)
	$(BIN)/python -m pytest -m slow tests $(PYTEST_ARGS)

lint:  ## ruff on the package, tests and notebooks; mypy on the package
	$(BIN)/ruff check playbook tests benchmarks notebooks
	$(BIN)/mypy

lab: setup data  ## open JupyterLab with the project kernel
	$(BIN)/jupyter lab notebooks/

bench: setup data  ## benchmarks: whole playbook on the sample and on 1M customers (generated once, cached), heavy functions at 100k/1M
	$(BIN)/python benchmarks/bench_playbook.py
	$(BIN)/python benchmarks/bench_functions.py

clean:  ## remove generated data, reports, caches (keeps .venv; `make distclean` removes it too)
	rm -rf $(SAMPLE) reports/*/ reports/.staging reports/.private reports/_failed benchmarks/.cache .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean  ## also remove the virtual environment
	rm -rf $(VENV) *.egg-info
