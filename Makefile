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

# The citizen portal's assets: GOV.UK Frontend and the Ministry of Justice's components
# (its compiled stylesheet, for the timeline, and the images that stylesheet names) from
# npm (pinned by the lock file), copied with the portal's own stylesheet and script into
# the folder the API serves at /assets.
PORTAL := portal/assets
PORTAL_STATIC := portal/static
PORTAL_SOURCES := $(PORTAL)/package-lock.json $(PORTAL)/portal.css $(PORTAL)/portal.mjs
PORTAL_STAMP := $(PORTAL_STATIC)/.built-$(shell cat $(PORTAL_SOURCES) | cksum | cut -d' ' -f1)
GOVUK := $(PORTAL)/node_modules/govuk-frontend/dist/govuk
MOJ := $(PORTAL)/node_modules/@ministryofjustice/frontend/moj
# The browser tests drive Debian's Chromium.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck unit install clean assets

$(STAMP): pyproject.toml $(SDK)/pyproject.toml
	@test -n "$(PYTHON)" || { echo "no Python 3.11 or newer with venv found; set PYTHON=..." >&2; exit 1; }
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e $(SDK) -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

$(PORTAL_STAMP): $(PORTAL_SOURCES) $(PORTAL)/package.json
	@command -v npm >/dev/null || { echo "npm is needed to fetch the portal's assets" >&2; exit 1; }
	cd $(PORTAL) && npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(PORTAL_STATIC) && mkdir -p $(PORTAL_STATIC)
	cp -R $(GOVUK)/assets/. $(PORTAL_STATIC)/
	cp $(GOVUK)/govuk-frontend.min.css $(GOVUK)/govuk-frontend.min.js $(MOJ)/moj-frontend.min.css \
		$(PORTAL)/portal.css $(PORTAL)/portal.mjs $(PORTAL_STATIC)/
	grep -o 'url(/assets/images/[^)]*)' $(MOJ)/moj-frontend.min.css | sort -u \
		| sed 's|url(/assets/images/\(.*\))|$(MOJ)/assets/images/\1|' \
		| xargs -I{} cp {} $(PORTAL_STATIC)/images/
	touch $@

assets: $(PORTAL_STAMP)

$(CHROMIUM):
	$(SUDO) apt-get install -y chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

install: $(STAMP) $(PORTAL_STAMP)

run: $(STAMP) $(PORTAL_STAMP)
	$(BIN)/ledger run

test: $(STAMP) $(PORTAL_STAMP) $(CHROMIUM) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

clean:
	rm -rf $(VENV) .ledger .pytest_cache .mypy_cache .ruff_cache $(PORTAL_STATIC) $(PORTAL)/node_modules
