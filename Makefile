# CETS developer and CI entry points. Every recipe line runs under /bin/sh.
#
#   make venv      create .venv with the system python3 and install cets[dev] (editable)
#   make postgres  make sure PostgreSQL server binaries exist (installs Debian's package if not)
#   make lint      ruff check + ruff format --check + mypy
#   make test      lint, then the whole pytest suite with PostgreSQL tests REQUIRED
#   make run       build the demo database (once) from DEMO and the Hubei prices, serve on :8000
#   make bench     ledger, matching, order-entry, settlement, compliance and supervision
#                  benchmarks (the `bench` extra)
#   make clean     remove caches and build artefacts (keeps .venv)
#
# Overridable: PYTHON (interpreter used to create the venv), PYTEST_ARGS, DEMO.

SHELL := /bin/sh

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
DEMO ?= tests/scenarios/demo.yaml
DEMO_DB ?= var/demo.db
# Real history for the demo's market data, when the shared data sits beside the checkout.
HUBEI ?= ../shared/data/cn-pilot-prices/hubei_daily_2014-2021.csv
PORT ?= 8000
LINT_PATHS := src tests bench

.DEFAULT_GOAL := test

.PHONY: venv postgres lint test run bench clean

venv: $(STAMP)

# Only the interpreter already on the machine is used: plain "python3 -m venv", no uv, no
# Python downloads. pip comes from the venv itself and talks to PyPI only.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

postgres:
	bash scripts/ensure-postgres.sh

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

# Prerequisites are made left to right: lint runs (and must pass) before the suite.
test: venv lint postgres
	CETS_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

run: venv
	@if [ ! -f $(DEMO_DB) ]; then \
	  mkdir -p $(dir $(DEMO_DB)) && \
	  $(BIN)/cets init --db sqlite:///$(abspath $(DEMO_DB)) >/dev/null && \
	  $(BIN)/cets scenario run $(DEMO) --db sqlite:///$(abspath $(DEMO_DB)) >/dev/null && \
	  $(BIN)/cets person add sup --name "Demo supervisor" --role supervisor \
	    --db sqlite:///$(abspath $(DEMO_DB)) >/dev/null && \
	  echo "demo database built from $(DEMO): $(DEMO_DB)" && \
	  if [ -f $(HUBEI) ]; then \
	    $(BIN)/cets import prices $(HUBEI) --db sqlite:///$(abspath $(DEMO_DB)) >/dev/null && \
	    echo "Hubei's published daily prices 2014-2021 imported as instrument HBEA"; fi; fi
	@echo "API key of the demo's authority person (admin); send it as the X-API-Key header:"
	@$(BIN)/cets key issue admin --db sqlite:///$(abspath $(DEMO_DB)) | tail -n 1
	@echo "API key of the demo's supervisor (sup), who alone sees /v1/supervision:"
	@$(BIN)/cets key issue sup --db sqlite:///$(abspath $(DEMO_DB)) | tail -n 1
	$(BIN)/cets serve --host 127.0.0.1 --port $(PORT) --db sqlite:///$(abspath $(DEMO_DB))

bench: venv postgres
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[bench]'
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/order_entry.py
	$(BIN)/python bench/settlement.py
	$(BIN)/python bench/compliance.py
	$(BIN)/python bench/supervision.py
	$(BIN)/python bench/supervision_store.py

clean:
	rm -rf build dist test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -rf src/*.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
