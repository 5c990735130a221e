#!/usr/bin/env bash
# Installs the Debian packages the tests start for real (PostgreSQL, Redis for the serving benchmark, Chromium
# for the browser tests, nginx for the web chat's production configuration, RabbitMQ for `make run-cluster`,
# Prometheus for the alert rules and the scrape test), and docker-compose for validating docker/compose.yml. Does
# nothing when they are already there.
# Needs root (CI runs as root); otherwise prints the command to run.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# Redis: the lock store the Rasa replicas of `make bench-serve` share.
have_cmd redis-server || need+=(redis-server)
# Chromium: the browser the web chat tests (tests/browser) drive headless with Playwright.
[ -x /usr/bin/chromium ] || need+=(chromium)
# nginx: serves the web chat in production (docker/nginx/webchat.conf); tests/integration/test_webchat_nginx.py
# starts it with that configuration.
[ -x /usr/sbin/nginx ] || have_cmd nginx || need+=(nginx)
# RabbitMQ: the Rasa replicas' event broker in `make run-cluster` and `make chaos` (cluster/backing.py starts its own
# node on unusual loopback ports); tests/integration/test_run_cluster.py checks the events reach it.
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
# Prometheus: promtool checks and unit-tests docker/prometheus/ (tests/unit/test_prometheus_rules.py), and
# tests/integration/test_prometheus_scrape.py starts the server (its package's service is never started here).
{ have_cmd promtool && [ -x /usr/bin/prometheus ]; } || need+=(prometheus)
# docker-compose: `docker-compose config` validates docker/compose.yml without a Docker engine
# (make validate-deploy, tests/integration/test_deploy_manifests.py).
have_cmd docker-compose || need+=(docker-compose)

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! have_cmd apt-get; then
  echo "error: the tests need these Debian packages: ${need[*]}" >&2
  echo "install them with:  sudo apt-get install -y ${need[*]}   (or run: sudo make system-deps)" >&2
  exit 1
fi

echo "installing ${need[*]} (Debian packages used by the tests)"
# Keep apt from starting the packages' own services: the tests start their own, on unusual ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1; fi
trap '[ $created_policy -eq 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
