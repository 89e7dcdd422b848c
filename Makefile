# FluxCascade — the two commands: `make run` (whole system + demo) and `make test` (the suite).
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run build test test-cluster bench lint fmt clean-test-state services-check

## Build, migrate, start sandbox + ingress + scheduler + 2 workers, create the demo org and run a sync. Ctrl-C stops all.
run:
	./scripts/services.sh
	./scripts/run.sh

build:
	$(CARGO) build --release --bin fluxcascade

## The whole suite: unit, integration and end-to-end tests against the local PostgreSQL and RabbitMQ.
## scripts/services.sh first starts them (or says how to install them) and installs the Python validators.
## (crates/cli's tests make cargo build target/debug/fluxcascade, which the end-to-end tests spawn.)
test:
	./scripts/services.sh
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=$${FLUXCASCADE_TEST_THREADS:-4}

## The 3-node RabbitMQ cluster test (ignored by `make test`): starts fc-rabbit-1..3 (ports 5681-5683)
## beside the machine's broker, stops and restarts one mid-sync, then stops the cluster.
test-cluster:
	$(CARGO) build --bin fluxcascade
	./scripts/rabbit-cluster.sh start
	$(CARGO) test -p fluxcascade-tests --test cluster -- --ignored --nocapture; \
	  status=$$?; ./scripts/rabbit-cluster.sh stop; exit $$status

## Benchmarks: print a table and write JSON under target/bench/.
bench:
	./scripts/bench.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Only reports what `make run`/`make test` would start or install (changes nothing).
services-check:
	./scripts/services.sh --check

## Drops databases and queues left behind by interrupted test runs.
clean-test-state:
	./scripts/clean-test-state.sh
