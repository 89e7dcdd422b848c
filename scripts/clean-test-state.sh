#!/usr/bin/env bash
# `make clean-test-state`: drops what interrupted test and bench runs left behind — their
# databases (fc_e2e_*, fc_reseal_*, fc_retention_*, fluxcascade_test_*, fluxcascade_worker_test_*) in the local PostgreSQL and their queues (e2e_*,
# ingress_test_*, fctest-*, fcbench-*, bench_wh_*) in the local RabbitMQ. A finished run removes
# its own; only a killed one leaves any. Never touches the `make run` database or `fluxcascade.*`.
set -euo pipefail
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}"

dbs=$(psql "$PGURL" -Atc "SELECT datname FROM pg_database
  WHERE datname LIKE 'fc\_e2e\_%' OR datname LIKE 'fc\_reseal\_%' OR datname LIKE 'fc\_retention\_%'
     OR datname LIKE 'fluxcascade\_test\_%' OR datname LIKE 'fluxcascade\_worker\_test\_%'")
for db in $dbs; do
  psql "$PGURL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
done
echo "dropped $(echo "$dbs" | grep -c . || true) test databases"

queues=$(rabbitmqctl -q list_queues --no-table-headers name 2>/dev/null |
  grep -E '^(e2e_|ingress_test_|fctest-|fcbench-|bench_wh_)' || true)
for q in $queues; do
  rabbitmqctl -q delete_queue "$q" >/dev/null
done
echo "deleted $(echo "$queues" | grep -c . || true) test queues"
