# Two commands matter: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000
export UV_COMPILE_BYTECODE := 1
export VIRTUAL_ENV := $(CURDIR)/.venv
PYTEST_ARGS ?=

.PHONY: run test lint typecheck pytest pytest-future pytest-past install install-dev vendor system-deps messages clean bench

run: install vendor
	$(PY) -m app db upgrade
	$(PY) -m app demo --if-empty
	TOD_ENV=dev TOD_PORT=$(PORT) $(PY) -m app serve

test: install-dev vendor system-deps lint typecheck pytest

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck:
	$(PY) -m mypy app

pytest:
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The suite must pass on any date: the same run with the machine's clock moved (faketime, from
# system-deps, also reaches the PostgreSQL cluster and child processes). Not part of `make test`.
DATE_CHECK := $(PY) -m pytest -p no:cacheprovider -n 2 --dist loadgroup --ignore=tests/e2e

pytest-future: install-dev vendor system-deps
	faketime '+400 days' $(DATE_CHECK) $(PYTEST_ARGS)

pytest-past: install-dev vendor system-deps
	faketime '-40 days' $(DATE_CHECK) $(PYTEST_ARGS)

# --- installation -------------------------------------------------------------------------
.venv/bin/python:
	command -v uv >/dev/null || python3 -m pip install --quiet uv
	uv venv --quiet --allow-existing .venv

.venv/.runtime: requirements.lock .venv/bin/python
	uv pip install --quiet -r requirements.lock
	touch $@

.venv/.dev: requirements-dev.lock .venv/bin/python
	uv pip install --quiet -r requirements-dev.lock
	touch $@ .venv/.runtime

install: .venv/.runtime
install-dev: .venv/.dev

# Third-party front-end code comes from the npm registry into ignored folders.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

static/vendor/htmx.min.js: node_modules/.installed
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

# htmx 4's own SSE extension (the big screen); not the npm htmx-ext-sse, which is for htmx 2.
static/vendor/hx-sse.js: node_modules/.installed
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/ext/hx-sse.js static/vendor/hx-sse.js

vendor: static/vendor/htmx.min.js static/vendor/hx-sse.js

# The browser and database the test suite drives, and faketime for `make pytest-future`
# (Debian packages; needs root).
system-deps:
	@if ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| ! ls /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf >/dev/null 2>&1 \
		|| ! command -v faketime >/dev/null; then \
		echo "installing chromium, an emoji font, postgresql and faketime from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji postgresql faketime >/dev/null; \
	fi

# --- translations -------------------------------------------------------------------------
messages: install-dev
	.venv/bin/pybabel extract --no-location --sort-output -k N_ -k n_:1,2 -F babel.cfg -o app/locale/messages.pot . >/dev/null
	for l in nb nn sv en; do \
		if [ -f app/locale/$$l/LC_MESSAGES/messages.po ]; then \
			.venv/bin/pybabel update --no-fuzzy-matching --ignore-obsolete --width=100 -i app/locale/messages.pot -d app/locale -l $$l >/dev/null; \
		else .venv/bin/pybabel init -i app/locale/messages.pot -d app/locale -l $$l >/dev/null; fi; \
	done

clean:
	rm -rf .venv node_modules static/vendor .pytest_cache .mypy_cache .ruff_cache
