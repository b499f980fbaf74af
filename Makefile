# The two set-up commands of the README:
#   make dashboard   install into .venv and serve the dashboard on the embedded Indian Pines scene
#   make test        install into .venv and run every test (lint, unit, integration, notebooks)
#
#   make data        fetch every dataset that has a published checksum into the download cache
#
# Settings you may override: PYTHON (the interpreter that makes the venv), TORCH_SPEC (the torch
# build: the default is a CPU wheel; e.g. TORCH_SPEC="torch==2.13.0" with PIP_INDEX_URL set to a
# CUDA index for a GPU build), EXPLORE_DATA_DIR (real benchmark data: default ../shared/data when
# it exists, else the tests read the download cache), CHROMIUM, PORT, EXPLORE_UPLOAD_MAX_MB (the
# dashboard's upload limit in MB, default 512; the websocket message size follows it).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PORT ?= 5006
EXPLORE_UPLOAD_MAX_MB ?= 512
# An upload travels base64-encoded (4/3 of its size) in one websocket message, plus 1 MiB.
WEBSOCKET_MAX_BYTES = $(shell echo $$(( $(EXPLORE_UPLOAD_MAX_MB) * 1398102 + 1048576 )))
SHARED_DATA := $(abspath ../shared/data)
EXPLORE_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)/README.md),$(SHARED_DATA),)
BIN := $(VENV)/bin
LINT_PATHS := $(wildcard explore tests apps benchmarks)
STAMP := $(VENV)/.explore-installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: setup browser data dashboard test lint format clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "explore needs Python 3.11 or newer: $(PYTHON) is $$($(PYTHON) -V 2>&1)"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
		{ echo "$(PYTHON) cannot make virtual environments: install venv (Debian / Ubuntu: sudo apt install python3-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

# Browser tests drive Debian's Chromium with Playwright (no browser download): install it once,
# with apt-get as root or through password-less sudo; otherwise they are skipped (CI requires
# them: EXPLORE_REQUIRE_BROWSER=1).
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if ! command -v apt-get >/dev/null; then \
			echo "no $(CHROMIUM) and no apt-get: browser tests will be skipped"; \
		elif [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		elif sudo -n true 2>/dev/null; then \
			sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; \
		else echo "no $(CHROMIUM), and installing it needs root: browser tests will be skipped"; fi; \
	fi

# Real benchmark data for the tests and notebooks: every dataset with a published checksum.
data: setup
	$(BIN)/explore download --all

dashboard: setup
	$(BIN)/panel serve apps/hsi_dashboard.py --address 127.0.0.1 --port $(PORT) \
		--allow-websocket-origin 127.0.0.1:$(PORT) --allow-websocket-origin localhost:$(PORT) \
		--websocket-max-message-size $(WEBSOCKET_MAX_BYTES)

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
