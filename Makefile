# Set-up is part of every target: each creates .venv in the repo and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := dev,sandbox,k8s,api,rl,ray
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/install.sh 2>/dev/null | sha1sum | cut -c1-12)
export ENVFARM_HOME ?= $(CURDIR)/.envfarm-home

.PHONY: setup demo test lint types imports unit bench clean

$(STAMP): pyproject.toml scripts/install.sh
	PYTHON=$(PYTHON) EXTRAS=$(EXTRAS) bash scripts/install.sh
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/envfarm demo

lint: setup
	$(BIN)/ruff check envfarm tests bench
	$(BIN)/ruff format --check envfarm tests bench

types: setup
	$(BIN)/mypy

imports: setup
	$(BIN)/lint-imports

test: lint types imports
	$(BIN)/python -m pytest -q -ra

bench: setup
	$(BIN)/python bench/store.py

clean:
	rm -rf $(VENV) .envfarm-home .pytest_cache .mypy_cache .ruff_cache
