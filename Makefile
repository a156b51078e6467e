# CETS developer and CI entry points. Every recipe line runs under /bin/sh.
#
#   make venv      create .venv with the system python3 and install cets[dev] (editable)
#   make postgres  make sure PostgreSQL server binaries exist (installs Debian's package if not)
#   make web       fetch the dashboard's front-end library from the npm registry (pinned hash)
#   make browser   make sure Debian's Chromium (and a CJK font) exist for the browser tests
#   make lint      ruff check + ruff format --check + mypy
#   make test      lint, then the whole pytest suite with PostgreSQL tests REQUIRED
#   make run       build the demo database (once) with the market simulator and the Hubei
#                  prices, print the dashboard's URL and a key per demo login, serve on :8000
#   make bench     ledger, matching, order-entry, settlement, compliance and supervision
#                  benchmarks (the `bench` extra)
#   make clean     remove caches and build artefacts (keeps .venv)
#
# Overridable: PYTHON (interpreter used to create the venv), PYTEST_ARGS, DEMO_DB, SIM_ARGS, PORT.

SHELL := /bin/sh

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
SIM_ARGS ?=
DEMO_DB ?= var/demo.db
# Real history for the demo's market data, when the shared data sits beside the checkout.
HUBEI ?= ../shared/data/cn-pilot-prices/hubei_daily_2014-2021.csv
PORT ?= 8000
LINT_PATHS := src tests bench

.DEFAULT_GOAL := test

.PHONY: venv web browser postgres lint test run bench clean

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

web:
	$(PYTHON) scripts/web-vendor.py

browser:
	bash scripts/ensure-chromium.sh

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

# Prerequisites are made left to right: lint runs (and must pass) before the suite.
test: venv web lint postgres browser
	CETS_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# The demo: `cets sim year` builds a simulated compliance year into DEMO_DB once (a new
# database each time it is missing; SIM_ARGS varies it, e.g. SIM_ARGS="--days 60 --seed 7"),
# with Hubei's real price history when the shared data is beside the checkout. Each run issues
# fresh keys for the demo logins and serves with the demo's clock and live traders.
run: venv web
	@if [ ! -f $(DEMO_DB) ]; then \
	  mkdir -p $(dir $(DEMO_DB)) && \
	  $(BIN)/cets sim year --db sqlite:///$(abspath $(DEMO_DB)) $(SIM_ARGS) \
	    $$(if [ -f $(HUBEI) ]; then echo --hubei $(HUBEI); fi) || \
	  { rm -f $(DEMO_DB); exit 1; }; fi
	@$(BIN)/cets sim logins --db sqlite:///$(abspath $(DEMO_DB)) --url http://127.0.0.1:$(PORT)/
	$(BIN)/cets serve --demo --host 127.0.0.1 --port $(PORT) --db sqlite:///$(abspath $(DEMO_DB))

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
