#!/usr/bin/env bash
# `make bench`: the queue benchmark (our publisher/consumer vs raw lapin), the sync benchmarks and the scheduler's.
# Each prints a table and writes JSON under target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin fluxcascade --bin bench-sync --bin bench-providers --bin bench-webhooks --bin bench-scheduler --bin bench-fairness --bin bench-recovery --bin bench-match --bin bench-incremental --example queue_bench -p fluxcascade-cli -p fluxcascade-tests -p fluxcascade-queue
echo "== queue: jobs/s through our publisher + consumer vs raw lapin =="
cargo run --release -q -p fluxcascade-queue --example queue_bench
echo "== sync: HubSpot → Jobber against the sandbox =="
cargo run --release -q -p fluxcascade-tests --bin bench-sync
echo "== providers: HubSpot → each provider as target (no limits); HubSpot → HubSpot at the documented limit =="
cargo run --release -q -p fluxcascade-tests --bin bench-providers
echo "== webhooks: change → target written latency at 100/s; acceptance vs the confirmed-publish ceiling =="
cargo run --release -q -p fluxcascade-tests --bin bench-webhooks
echo "== scheduler: 100,000 schedules in 50 zones (10,000 every minute), 2 replicas: fire lag, doubled, missed, CPU per tick =="
cargo run --release -q -p fluxcascade-tests --bin bench-scheduler
echo "== fairness: org B's webhook latency and 1,000-record sync, org A idle vs busy (importing; budget spent) =="
cargo run --release -q -p fluxcascade-tests --bin bench-fairness
echo "== match: against a 100,000-record target (search by field): records/s, HubSpot requests per 100 source records =="
cargo run --release -q -p fluxcascade-tests --bin bench-match
echo "== incremental cost: a 1,000,000-contact HubSpot source, 10 changed: the incremental run's time, reads and requests =="
cargo run --release -q -p fluxcascade-tests --bin bench-incremental
echo "== recovery: an 8 s database cut and an 8 s broker cut during a 20,000-contact sync: time to progress again =="
cargo run --release -q -p fluxcascade-tests --bin bench-recovery
