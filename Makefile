# The points till (会员积分收银台): developer and CI entry points.
#
#   make setup          Debian packages (only missing ones), .venv, pip install -e '.[hq,dev]'
#                       pinned by constraints.txt (make lock updates the pins)
#   make test           setup + lint + typecheck + pytest: the one command developers and CI run
#   make run            the till on its embedded demo data. Needs a desktop session
#                       (X11 or Wayland: DISPLAY or WAYLAND_DISPLAY); Qt picks the platform.
#   make run-offscreen  `pos-app --smoke` with no display (QT_QPA_PLATFORM=offscreen)
#   make lint | typecheck | bench | installer | clean | distclean
#
# setup is idempotent and cheap when warm: system packages are checked with one
# dpkg-query, and pip runs only when pyproject.toml or constraints.txt is newer than
# .venv/.stamp.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp
# The tests (and offscreen runs) never need a display.
OFFSCREEN := QT_QPA_PLATFORM=offscreen

CONSTRAINTS := constraints.txt

.PHONY: help setup system lock run run-offscreen test lint typecheck pytest bench installer clean distclean

help:
	@sed -n '2,11s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

# --- setup -------------------------------------------------------------------------

setup: system $(STAMP)

system:
	@scripts/setup_system.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[hq,dev]'
	@touch $@

# The newest releases pyproject.toml allows, then the pins rewritten from what got installed.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade -e '.[hq,dev]'
	@{ sed -n '/^#/p' $(CONSTRAINTS); $(BIN)/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	@mv $(CONSTRAINTS).new $(CONSTRAINTS)
	@touch $(STAMP)
	@echo "constraints.txt updated: run make test, then commit it"

# --- run ---------------------------------------------------------------------------

# The embedded demo: a till database under var/ with demo data (built on first run),
# receipts previewed as PNG next to it. Without a display the till opens offscreen,
# saves a picture of its main window to var/till.png and exits.
DEMO_DB ?= var/demo.sqlite

run: setup
	@mkdir -p var
	@if [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ] && [ "$${QT_QPA_PLATFORM:-}" != "offscreen" ]; then \
	  echo "make run: no display here; opening the till offscreen and saving var/till.png" >&2; \
	  $(OFFSCREEN) $(BIN)/pos-app --db $(DEMO_DB) --smoke --screenshot var/till.png; \
	else \
	  $(BIN)/pos-app --db $(DEMO_DB); \
	fi

run-offscreen: setup
	@mkdir -p var
	$(OFFSCREEN) $(BIN)/pos-app --db $(DEMO_DB) --smoke --screenshot var/till.png

# --- checks ------------------------------------------------------------------------

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy pos_app

pytest: setup
	$(OFFSCREEN) $(BIN)/pytest -q

# Runs every check even when an earlier one fails, so one run shows every problem,
# and runs pytest last, so the output ends with pytest's summary line.
test: setup
	@failed=""; \
	echo "==> lint"; \
	$(BIN)/ruff check . && $(BIN)/ruff format --check . || failed="$$failed lint"; \
	echo "==> typecheck"; \
	$(BIN)/mypy pos_app || failed="$$failed typecheck"; \
	if [ -n "$$failed" ]; then echo "==> FAILED:$$failed (see above); running pytest anyway"; fi; \
	echo "==> pytest"; \
	rc=0; $(OFFSCREEN) $(BIN)/pytest -q || rc=$$?; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	if [ -n "$$failed" ]; then exit 1; fi

# --- benchmarks and packaging ------------------------------------------------------

# Each benchmarks/bench_*.py runs as a script from the repository root; tests.support
# (e.g. tests.support.pgcluster.PgCluster for a private PostgreSQL) is importable.
bench: setup
	@shopt -s nullglob; benches=(benchmarks/bench_*.py); \
	if [ $${#benches[@]} -eq 0 ]; then echo "no benchmarks/bench_*.py yet"; exit 0; fi; \
	for bench in "$${benches[@]}"; do \
	  echo "==> $$bench"; \
	  $(OFFSCREEN) PYTHONPATH=. $(BIN)/python "$$bench"; \
	done

installer: setup
	@test -f build_installer.spec || { echo "build_installer.spec is missing" >&2; exit 1; }
	$(BIN)/pyinstaller --noconfirm --clean build_installer.spec

# --- cleaning ----------------------------------------------------------------------

clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis benchmarks/out *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
