# The two commands of the README: `make demo` and `make test`. Both work on a fresh machine:
# they create .venv, install the project, and (for tests) the Debian packages the ODBC proof needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
IVORIS := $(BIN)/ivoris
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: demo test install system-deps odbc-up odbc-down lint pytest sqlserver-proof bench-quick docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Debian packages: unixODBC (pyodbc and dbt-sqlserver load libodbc), PostgreSQL and its ODBC driver
# (the real server the pyodbc code is tested against). Installed only when missing.
system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(IVORIS) demo

odbc-up: system-deps
	@bash scripts/odbc-postgres.sh start

odbc-down:
	@bash scripts/odbc-postgres.sh stop

# ruff for Python; sqlfluff on the compiled SQL of the project (rendered staging models included).
lint: install
	$(BIN)/ruff check extract tests
	@bash scripts/lint-sql.sh

# The ODBC tests need the throwaway PostgreSQL; it is stopped again whatever pytest's outcome.
pytest: install odbc-up
	$(BIN)/pytest; status=$$?; bash scripts/odbc-postgres.sh stop >/dev/null 2>&1 || true; exit $$status

test: install system-deps lint pytest sqlserver-proof bench-quick

sqlserver-proof: install system-deps
	@bash scripts/sqlserver-proof.sh

bench-quick: install
	$(IVORIS) bench --quick --out bench-results/bench-quick.json

docs: install
	$(BIN)/dbt docs generate --project-dir . --profiles-dir .

clean:
	rm -rf target logs warehouse data bench-results .odbc
