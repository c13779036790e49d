# Two commands: `make run` (the whole product, embedded, with demo data) and `make test`.
# The interpreter: the system's /usr/bin/python3 when it is 3.11 or newer and can make a
# venv, else the first python3 on PATH; `make test PYTHON=python3.12` chooses another.
# Debian's is built with profile-guided and link-time optimisation and a static
# libpython: on this project's hot path it runs pure Python ~25% faster than a default
# pyenv build (docs/ingestion.md#the-interpreter).
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do \
	$$p -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
VENV ?= .venv
BIN := $(VENV)/bin
# A new pyproject.toml (the ledger's or the emitter SDK's) or another interpreter makes a
# new venv.
SDK := sdk/python
STAMP := $(VENV)/.installed-$(shell (cat pyproject.toml $(SDK)/pyproject.toml; $(PYTHON) -c 'import sys; print(sys.executable, sys.version)') | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck unit install clean

$(STAMP): pyproject.toml $(SDK)/pyproject.toml
	@test -n "$(PYTHON)" || { echo "no Python 3.11 or newer with venv found; set PYTHON=..." >&2; exit 1; }
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e $(SDK) -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ledger run

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

clean:
	rm -rf $(VENV) .ledger .pytest_cache .mypy_cache .ruff_cache
