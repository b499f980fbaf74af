# The two set-up commands of the README:
#   make dashboard   install into .venv and serve the dashboard on the embedded Indian Pines scene
#   make test        install into .venv and run every test (lint, unit, integration, notebooks)
#
# Settings you may override: PYTHON (the interpreter that makes the venv), TORCH_SPEC (the torch
# build: the default is a CPU wheel; e.g. TORCH_SPEC="torch==2.13.0" with PIP_INDEX_URL set to a
# CUDA index for a GPU build), EXPLORE_DATA_DIR (real benchmark data; tests need it), PORT.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PORT ?= 5006
EXPLORE_DATA_DIR ?= $(abspath ../shared/data)
BIN := $(VENV)/bin
LINT_PATHS := $(wildcard explore tests apps benchmarks)
STAMP := $(VENV)/.explore-installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: setup browser dashboard test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

# Browser tests drive Debian's Chromium with Playwright (no browser download): install it once.
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if command -v apt-get >/dev/null; then \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; \
		else echo "no $(CHROMIUM) and no apt-get: browser tests will be skipped"; fi; \
	fi

dashboard: setup
	$(BIN)/panel serve apps/hsi_dashboard.py --address 127.0.0.1 --port $(PORT) \
		--allow-websocket-origin 127.0.0.1:$(PORT) --allow-websocket-origin localhost:$(PORT)

lint: setup
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

test: lint browser
	EXPLORE_DATA_DIR="$(EXPLORE_DATA_DIR)" EXPLORE_CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest -q

format: setup
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
