# Two commands do everything from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup run test test-slow test-all lint format bench clean-db vendor browser-deps deploy-deps i18n i18n-check

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

## Run the CRM on http://127.0.0.1:8000 (embedded PostgreSQL unless DATABASE_URL is set),
## with a demo WhatsApp sandbox on :8900 unless DEMO=0.
DEMO ?= 1
run: setup
	$(BIN)/wacrm serve $(if $(filter 1,$(DEMO)),--demo,)

## The whole test suite (fast part), against TEST_DATABASE_URL or an embedded PostgreSQL;
## TEST_WORKERS processes (a module's tests stay together in one process).
TEST_WORKERS ?= 2
test: setup browser-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

## Long fault and load tests.
test-slow: setup browser-deps deploy-deps
	$(BIN)/python -m pytest -m slow

test-all: setup browser-deps deploy-deps
	$(BIN)/python -m pytest -m 'slow or not slow'

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

browser-deps:
	@sh scripts/ensure-chromium.sh

## Debian programs of the deployment tests (pgbouncer, caddy, nginx, podman, ...).
deploy-deps:
	@sh scripts/ensure-deploy-tools.sh

bench: setup
	$(BIN)/python -m bench.run

## Refresh the vendored browser libraries (htmx, its SSE extension, Chart.js) from npm; commit them.
vendor:
	sh scripts/vendor.sh

## Translations: extract every gettext string of the code and templates into messages.pot and merge
## it into each language's .po (src/wacrm/i18n/locale/); translate the new entries, then
## `make i18n-check`. The .po files are read at start-up (compiled in memory): nothing to build.
LOCALES := src/wacrm/i18n/locale
i18n: setup
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header -k _ -k N_ -k Text -k gettext -k ngettext:1,2 -k pgettext:1c,2 -o $(LOCALES)/messages.pot .
	for lang in en es pt_BR de; do \
	  if [ -f $(LOCALES)/$$lang/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel update --no-fuzzy-matching --omit-header -i $(LOCALES)/messages.pot -d $(LOCALES) -l $$lang; \
	  else \
	    $(BIN)/pybabel init -i $(LOCALES)/messages.pot -d $(LOCALES) -l $$lang; \
	  fi; \
	done

## Every catalog compiles and is complete (no untranslated or fuzzy entry).
i18n-check: setup
	$(BIN)/python -m wacrm.i18n.check
