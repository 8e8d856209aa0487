# Two commands on a fresh machine: `make run` and `make test`.  Each does its own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: venv init run jobs test lint bench clean messages

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

init: venv
	$(PY) -m ledger init

# The web app on http://127.0.0.1:8000 and the job runner, on var/ledger.db; Ctrl-C stops both.
run: init
	@trap 'kill 0' EXIT; \
	$(PY) -m jobs & \
	$(VENV)/bin/gunicorn --bind 127.0.0.1:8000 --workers 2 --access-logfile - 'api:create_app()'

jobs: init
	$(PY) -m jobs

# Page texts: extract the message ids, merge them into the Chinese catalogue, compile it.
# Translate the new or fuzzy entries in api/translations/zh/LC_MESSAGES/messages.po, then run again.
messages: venv
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --add-location=file --sort-output \
	  --project=Anlian --copyright-holder=Anlian -o api/translations/messages.pot .
	$(VENV)/bin/pybabel update -i api/translations/messages.pot -d api/translations -l zh \
	  --width=100 --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d api/translations --statistics

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The whole suite, SQLite and PostgreSQL both (LEDGER_TEST_POSTGRES_URL), Redis-backed rate
# limits (LEDGER_TEST_REDIS_URL) and browser tests in Debian's Chromium, on two workers.
test: lint
	LEDGER_TEST_POSTGRES_URL=$${LEDGER_TEST_POSTGRES_URL:-$(TEST_POSTGRES_URL)} \
	LEDGER_TEST_REDIS_URL=$${LEDGER_TEST_REDIS_URL:-$(TEST_REDIS_URL)} \
	$(PY) -m pytest -n 2 -q

bench: venv
	$(PY) bench/ledger.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
