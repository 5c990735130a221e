# Larkspur support assistant: every target a newcomer would guess.
# `make run` starts the stack on embedded defaults; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
BIN         := $(VENV)/bin
PY          := $(BIN)/python
STAMP       := $(VENV)/.installed
RASA        := $(BIN)/rasa
MODEL       := models/larkspur.tar.gz
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null)
DEMOSHOP_PORT ?= 8081
ACTIONS_PORT  ?= 5055
export RASA_TELEMETRY_ENABLED ?= false
export PYTHONDONTWRITEBYTECODE ?= 1
export SQLALCHEMY_SILENCE_UBER_WARNING ?= 1

.PHONY: help install system-deps demoshop actions run shell codes train validate evaluate test test-unit test-conversations lock clean

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

actions: install ## run the action server in the foreground (port ACTIONS_PORT)
	ACTIONS_PORT=$(ACTIONS_PORT) $(PY) -m actions

run: install ## start the assistant's stack on embedded defaults
	$(PY) -m demoshop

train: $(MODEL) ## train the model when it is missing or older than the data

$(MODEL): $(STAMP) $(TRAINING_INPUTS)
	$(RASA) train --fixed-model-name larkspur --out models
	@touch $@

validate: install ## rasa data validate, failing on any warning not documented
	$(PY) scripts/validate_data.py

shell: install train ## chat in the terminal (starts the demo shop and the action server, stops them after)
	@scripts/shell.sh

codes: install ## show the one-time codes and emails the demo shop "sent", newest first
	@$(PY) scripts/outbox.py

# The held-out macro F1 target is 90%; CI fails under MIN_MACRO_F1, a regression floor until the data
# reaches the target (see README, Measuring understanding).
MIN_MACRO_F1 ?= 0.83
evaluate: install train ## NLU on a held-out split and on unseen phrasings; reports to results/
	$(PY) scripts/evaluate_nlu.py --min-macro-f1 $(MIN_MACRO_F1)

test-conversations: install train ## the conversation tests in tests/conversations with rasa test
	$(PY) scripts/conversation_tests.py

test: install system-deps validate train ## run every test
	$(PY) -m pytest
	$(MAKE) --no-print-directory test-conversations
	$(MAKE) --no-print-directory evaluate

test-unit: install ## run the unit tests only
	$(PY) -m pytest tests/unit

lock: install ## regenerate requirements.lock from the virtualenv
	@{ echo "# Full pinned set of every package in the virtualenv (pip freeze of a Python 3.10 venv)."; \
	   echo "# Regenerate with: make lock"; $(PY) -m pip freeze --exclude-editable | sort -f; } > requirements.lock

clean: ## remove the virtualenv, runtime data and results
	rm -rf $(VENV) var logs results .pytest_cache
