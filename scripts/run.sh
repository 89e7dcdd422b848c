#!/usr/bin/env bash
# `make run`: builds, migrates, starts the sandbox, ingress, the scheduler and two workers, sets up the demo org
# (HubSpot + Jobber sandbox connections, 1,000 contacts, a contacts → clients mapping), runs a sync
# and prints the API key, the URLs and the outcome. Ctrl-C stops everything.
# Ports, database and queue prefix can be overridden (the end-to-end test runs it side by side).
set -euo pipefail
cd "$(dirname "$0")/.."

API_LISTEN=${FLUXCASCADE_API_LISTEN:-127.0.0.1:8080}
SANDBOX_LISTEN=${FLUXCASCADE_SANDBOX_LISTEN:-127.0.0.1:9100}
WORKERS=${FLUXCASCADE_WORKERS:-2}
CONTACTS=${FLUXCASCADE_DEMO_CONTACTS:-1000}
STATE_DIR=${FLUXCASCADE_STATE_DIR:-.run}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fluxcascade}
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export FLUXCASCADE_QUEUE_PREFIX=${FLUXCASCADE_QUEUE_PREFIX:-fluxcascade}
export FLUXCASCADE_SANDBOX_URL="http://${SANDBOX_LISTEN}"
export RUST_LOG=${RUST_LOG:-info}
# Local development only: outbound webhook URLs may use http and reach loopback/private addresses
# (e.g. a receiver on 127.0.0.1). Production leaves this unset: public https URLs only.
export FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS=${FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS:-true}
echo "note: FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS=$FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS (webhook URLs may reach private addresses; local development only)"

if [ -z "${FLUXCASCADE_BIN:-}" ]; then
  cargo build --release --bin fluxcascade
  FLUXCASCADE_BIN=target/release/fluxcascade
fi
BIN=$FLUXCASCADE_BIN
mkdir -p "$STATE_DIR"
if [ -z "${FLUXCASCADE_MASTER_KEY:-}" ]; then
  [ -s "$STATE_DIR/master.key" ] || "$BIN" admin gen-key > "$STATE_DIR/master.key"
  FLUXCASCADE_MASTER_KEY=$(cat "$STATE_DIR/master.key")
fi
export FLUXCASCADE_MASTER_KEY

pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping FluxCascade..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "stopped."
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

wait_http() { # url
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  return 1
}

"$BIN" migrate
"$BIN" sandbox --listen "$SANDBOX_LISTEN" > "$STATE_DIR/sandbox.log" 2>&1 &
pids+=($!)
wait_http "http://${SANDBOX_LISTEN}/_sandbox/stats"
"$BIN" ingress --listen "$API_LISTEN" > "$STATE_DIR/ingress.log" 2>&1 &
pids+=($!)
"$BIN" scheduler > "$STATE_DIR/scheduler.log" 2>&1 &
pids+=($!)
for i in $(seq 1 "$WORKERS"); do
  "$BIN" worker > "$STATE_DIR/worker-$i.log" 2>&1 &
  pids+=($!)
done
wait_http "http://${API_LISTEN}/healthz"

"$BIN" demo --api "http://${API_LISTEN}" --sandbox "http://${SANDBOX_LISTEN}" --contacts "$CONTACTS"
echo "  Logs:         $STATE_DIR/*.log"
echo "Press Ctrl-C to stop."
while true; do
  for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then echo "process $p exited; see $STATE_DIR/*.log" >&2; exit 1; fi
  done
  sleep 1
done
