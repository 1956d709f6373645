# Local development of ecom_etl. Needs Python 3.11 and Java 17 (a JDK); nothing else (no Docker, no AWS account).
#   make run         the batch job on the built-in generated data (creates .venv on first use)
#   make demo        the whole platform locally; ends with the dashboard, the API and the stream job running
#   make test        everything, as CI runs it, on the Glue 5.1 stack (Spark 3.5.6, Delta 3.3.2, Python 3.11)
#   make test-fast   the pure transforms and unit tests only (one Spark session, no emulator jobs)
#   make test-glue6  the suite on the Glue 6.0 stack (Spark 4.1.1, Delta 4.2.0, ANSI SQL, Python 3.13), less one_stack tests
#   make lint        ruff (lint and format check), cfn-lint and checkov (part of make test)
#   make bench       Spark vs DuckDB vs pandas at 1x, 10x, 10x as one file, 100x (appends to bench/results/batch.md; long)
#   make bench-stream  the streaming benchmark (appends to bench/results/stream.md)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
# Glue 6.0 runs Python 3.13, so its leg does too (pyenv's, where it is installed that way).
PYTHON_GLUE6 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13))
VENV ?= .venv
VENV_GLUE6 ?= .venv-glue6
VENV_TOOLS ?= .venv-tools
CFN_LINT_VERSION = 1.58.0
CHECKOV_VERSION = 3.3.30
WAREHOUSE ?= warehouse
PYTEST_ARGS ?=

.PHONY: install install-glue6 run demo demo-stop test test-fast test-glue6 lint lint-infra browser bench bench-stream clean

# One virtualenv per Spark stack, each with the Python of its Glue version; each gets its Spark
# configured for spark-submit (Delta, S3, UTC) and the Delta log store for S3 built (needs javac).
$(VENV)/.installed: PY = $(PYTHON)
$(VENV)/.installed: EXTRA = spark
$(VENV_GLUE6)/.installed: PY = $(PYTHON_GLUE6)
$(VENV_GLUE6)/.installed: EXTRA = spark4
%/.installed: setup.cfg pyproject.toml $(wildcard java/ecom/*/*.java)
	@test -n "$(PY)" || { echo "no Python for $* (Glue 6.0's leg needs Python 3.13)"; exit 1; }
	@test -x $*/bin/python || $(PY) -m venv $*
	$*/bin/python -m pip install --quiet --upgrade pip
	$*/bin/python -m pip install --quiet -e ".[$(EXTRA),dev,glue,bench]"
	$*/bin/ecom-etl setup-spark
	@touch $@

# The template linters pin their own boto3 and friends: they get a virtualenv of their own.
$(VENV_TOOLS)/.installed: Makefile
	@test -x $(VENV_TOOLS)/bin/python || $(PYTHON) -m venv $(VENV_TOOLS)
	$(VENV_TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_TOOLS)/bin/python -m pip install --quiet cfn-lint==$(CFN_LINT_VERSION) checkov==$(CHECKOV_VERSION)
	@touch $@

install: $(VENV)/.installed
install-glue6: $(VENV_GLUE6)/.installed

run: install
	@mkdir -p $(WAREHOUSE)
	$(VENV)/bin/ecom-etl batch --warehouse $(WAREHOUSE) --summary-json $(WAREHOUSE)/summary.json
	@echo "summary: $(WAREHOUSE)/summary.json   tables: $(WAREHOUSE)/{silver,quarantine,gold}/"

demo: install
	$(VENV)/bin/ecom-etl demo

demo-stop:
	@if test -f .ecom-etl/demo.pid; then kill $$(cat .ecom-etl/demo.pid) && echo "demo stopping"; \
	else echo "no demo running"; $(VENV)/bin/ecom-etl local down; fi

test: install lint browser
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(VENV)/bin/python -m pytest -m "not slow" $(PYTEST_ARGS)

# The dashboard test draws the page in Debian's Chromium (headless).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: install lint-infra
	$(VENV)/bin/ruff check ecom_etl jobs tests bench conftest.py
	$(VENV)/bin/ruff format --check ecom_etl jobs tests bench conftest.py

lint-infra: $(VENV_TOOLS)/.installed
	$(VENV_TOOLS)/bin/cfn-lint infra/cloudformation/*.yaml
	$(VENV_TOOLS)/bin/checkov --quiet --compact --skip-download --framework cloudformation -d infra/cloudformation

# Tests marked one_stack (template checks, pure-Python units) cannot differ between the stacks: once is enough.
test-glue6: install-glue6
	$(VENV_GLUE6)/bin/python -m pytest -m "not one_stack" $(PYTEST_ARGS)

BENCH_SIZES ?= 1x,10x,10x-one-file,100x
BENCH_RUNS ?= 3

bench: install
	$(VENV)/bin/python bench/batch_bench.py --sizes $(BENCH_SIZES) --runs $(BENCH_RUNS) --test-suite

bench-stream: install
	$(VENV)/bin/python bench/stream_bench.py

clean:
	rm -rf $(WAREHOUSE) data/generated data/demo-stream .ecom-etl report.html .pytest_cache build *.egg-info
