# Local development of ecom_etl. Needs Python 3.11 and Java 17; nothing else (no Docker, no AWS account).
#   make run         the batch job on the built-in generated data (creates .venv on first use)
#   make test        the test suite on the Glue 5.1 stack (Spark 3.5.6, Delta 3.3.2)
#   make test-glue6  the same suite on the Glue 6.0 stack (Spark 4.1.1, Delta 4.2.0, ANSI SQL)
#   make bench-stream  the streaming benchmark (appends to bench/results/stream.md)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
VENV_GLUE6 ?= .venv-glue6
WAREHOUSE ?= warehouse
PYTEST_ARGS ?=

.PHONY: install install-glue6 run test test-glue6 bench-stream clean

# One virtualenv per Spark stack; each gets its Spark configured for spark-submit (Delta, UTC).
%/.installed: setup.cfg pyproject.toml
	@test -x $*/bin/python || $(PYTHON) -m venv $*
	$*/bin/python -m pip install --quiet --upgrade pip
	$*/bin/python -m pip install --quiet -e ".[$(if $(findstring glue6,$*),spark4,spark),dev,glue]"
	$*/bin/ecom-etl setup-spark
	@touch $@

install: $(VENV)/.installed
install-glue6: $(VENV_GLUE6)/.installed

run: install
	@mkdir -p $(WAREHOUSE)
	$(VENV)/bin/ecom-etl batch --warehouse $(WAREHOUSE) --summary-json $(WAREHOUSE)/summary.json
	@echo "summary: $(WAREHOUSE)/summary.json   tables: $(WAREHOUSE)/{silver,quarantine,gold}/"

test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-glue6: install-glue6
	$(VENV_GLUE6)/bin/python -m pytest $(PYTEST_ARGS)

bench-stream: install
	$(VENV)/bin/python bench/stream_bench.py

clean:
	rm -rf $(WAREHOUSE) data/generated .pytest_cache build *.egg-info
