#!/usr/bin/env bash
# `make shell`: chat with the assistant in the terminal. Starts the demo shop and the action server in the
# background (unless they already answer), runs `rasa shell` through the runtime `make run` serves
# (`python -m rasa_runtime shell`: its patches, no TensorFlow, JSON log lines), and stops what it started when
# you leave.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DEMOSHOP_PORT=${DEMOSHOP_PORT:-8081}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
mkdir -p logs var
# Rasa and the action server share this bearer token: the environment's, or this checkout's generated one.
ACTION_SERVER_TOKEN=$($BIN/python -m foundation.local_secrets ACTION_SERVER_TOKEN)
export ACTION_SERVER_TOKEN
started=()
cleanup() { for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

up() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
wait_for() {
  for _ in $(seq 1 120); do up "$1" && return 0; sleep 0.5; done
  echo "error: $2 did not start; see logs/$3.log" >&2; exit 1
}

if ! up "http://127.0.0.1:$DEMOSHOP_PORT/health"; then
  DEMOSHOP_PORT=$DEMOSHOP_PORT $BIN/python -m demoshop >> logs/demoshop.log 2>&1 & started+=($!)
  wait_for "http://127.0.0.1:$DEMOSHOP_PORT/health" "the demo shop" demoshop
fi
if ! up "http://127.0.0.1:$ACTIONS_PORT/health"; then
  DEMOSHOP_URL=http://127.0.0.1:$DEMOSHOP_PORT ACTIONS_PORT=$ACTIONS_PORT $BIN/python -m actions >> logs/actions.log 2>&1 & started+=($!)
  wait_for "http://127.0.0.1:$ACTIONS_PORT/health" "the action server" actions
fi

cat <<MSG
Chat with the Larkspur assistant (Ctrl-D or /stop to leave). Try: "where is my refund?"
To verify, use a seeded customer's email, e.g. $(curl -fsS -H "Authorization: Bearer ${DEMOSHOP_API_KEY:-demoshop-dev-key}" "http://127.0.0.1:$DEMOSHOP_PORT/v1/customers/C1001" | $BIN/python -c 'import json,sys; print(json.load(sys.stdin)["email"])'),
and read the one-time code with:  make codes
MSG
$BIN/python -m rasa_runtime shell --model models/larkspur.tar.gz --endpoints endpoints.yml
