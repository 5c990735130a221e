# Larkspur support assistant: every target a newcomer would guess.
# `make run` starts the stack on embedded defaults; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
BIN         := $(VENV)/bin
PY          := $(BIN)/python
STAMP       := $(VENV)/.installed
export RASA_TELEMETRY_ENABLED ?= false
export PYTHONDONTWRITEBYTECODE ?= 1
export SQLALCHEMY_SILENCE_UBER_WARNING ?= 1

.PHONY: help install system-deps demoshop run test test-unit lock clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## build the virtualenv (does nothing when it is up to date)

$(STAMP): requirements.txt requirements-dev.txt requirements.lock scripts/find-python.sh
	@python=$$(scripts/find-python.sh) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
	  echo "creating $(VENV) with $$python"; rm -rf $(VENV); "$$python" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt -c requirements.lock
	@touch $@

system-deps: ## install the Debian packages the tests start for real (PostgreSQL, ...)
	@scripts/install-system-deps.sh

demoshop: install ## run the demo shop (CRM, orders, payments, helpdesk) in the foreground
	$(PY) -m demoshop

run: install ## start the assistant's stack on embedded defaults
	$(PY) -m demoshop

test: install system-deps ## run every test
	$(PY) -m pytest

test-unit: install ## run the unit tests only
	$(PY) -m pytest tests/unit

lock: install ## regenerate requirements.lock from the virtualenv
	@{ echo "# Full pinned set of every package in the virtualenv (pip freeze of a Python 3.10 venv)."; \
	   echo "# Regenerate with: make lock"; $(PY) -m pip freeze --exclude-editable | sort -f; } > requirements.lock

clean: ## remove the virtualenv, runtime data and results
	rm -rf $(VENV) var logs results .pytest_cache
