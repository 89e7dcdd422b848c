#!/usr/bin/env bash
# A 3-node RabbitMQ cluster for `make test-cluster`, run as the current user beside (never instead
# of) the machine's own broker: nodes fc-rabbit-1..3@localhost on AMQP ports 5681-5683
# (FC_RABBIT_PORT_BASE + N), distribution ports 25681-25683, state under FC_RABBIT_CLUSTER_DIR
# (default /tmp/fc-rabbit-cluster), their own erlang cookie, config and env file (the machine's
# /etc/rabbitmq files are never read), no plugins.
#
#   scripts/rabbit-cluster.sh start          start the 3 nodes and join 2 and 3 to 1 (fresh state)
#   scripts/rabbit-cluster.sh stop           stop the 3 nodes and delete their state
#   scripts/rabbit-cluster.sh stop-node N    stop node N (its Erlang VM), keeping its state
#   scripts/rabbit-cluster.sh start-node N   start node N again; it rejoins the cluster
#   scripts/rabbit-cluster.sh status         cluster status as node 1 sees it
#   scripts/rabbit-cluster.sh urls           the AMQP_URL listing the 3 nodes
#
# Only nodes named fc-rabbit-<N> are ever addressed; rabbit@<host> on port 5672 is not touched.
set -euo pipefail

BASE="${FC_RABBIT_CLUSTER_DIR:-/tmp/fc-rabbit-cluster}"
PORT_BASE="${FC_RABBIT_PORT_BASE:-5680}"
DIST_BASE="${FC_RABBIT_DIST_PORT_BASE:-25680}"
NODES=(1 2 3)

# The real scripts, not the distribution's /usr/sbin wrappers (those switch to the rabbitmq user
# and its cookie).
if [[ -z "${RABBITMQ_BIN_DIR:-}" ]]; then
  if [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
    RABBITMQ_BIN_DIR=/usr/lib/rabbitmq/bin
  else
    RABBITMQ_BIN_DIR="$(dirname "$(command -v rabbitmq-server)")"
  fi
fi

die() { echo "rabbit-cluster: $*" >&2; exit 1; }

node_name() { echo "fc-rabbit-$1@localhost"; }
node_port() { echo $((PORT_BASE + $1)); }

check_n() {
  [[ "${1:-}" =~ ^[123]$ ]] || die "node number must be 1, 2 or 3 (got '${1:-}')"
}

# The environment of node $1 (also what rabbitmqctl needs to reach it: HOME holds the cookie).
node_env() {
  local n=$1
  export HOME="$BASE"
  export RABBITMQ_NODENAME
  RABBITMQ_NODENAME="$(node_name "$n")"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT
  RABBITMQ_NODE_PORT="$(node_port "$n")"
  export RABBITMQ_DIST_PORT=$((DIST_BASE + n))
  export RABBITMQ_MNESIA_BASE="$BASE/mnesia"
  export RABBITMQ_LOG_BASE="$BASE/log"
  export RABBITMQ_PID_FILE="$BASE/fc-rabbit-$n.pid"
  export RABBITMQ_CONFIG_FILE="$BASE/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$BASE/advanced.config"
  export RABBITMQ_CONF_ENV_FILE="$BASE/rabbitmq-env.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$BASE/enabled_plugins"
  export RABBITMQ_ENABLED_PLUGINS=""
  export ERL_EPMD_ADDRESS=127.0.0.1
}

ctl() {
  local n=$1
  shift
  (node_env "$n" && "$RABBITMQ_BIN_DIR/rabbitmqctl" -n "$(node_name "$n")" "$@")
}

prepare() {
  mkdir -p "$BASE/mnesia" "$BASE/log"
  if [[ ! -f "$BASE/.erlang.cookie" ]]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BASE/.erlang.cookie")
  fi
  chmod 400 "$BASE/.erlang.cookie"
  # Defaults only: the node listens on RABBITMQ_NODE_IP_ADDRESS:RABBITMQ_NODE_PORT; quorum
  # queues get all 3 nodes as members (the default initial group size is the cluster size).
  printf 'loopback_users.guest = true\n' >"$BASE/rabbitmq.conf"
  printf '[].\n' >"$BASE/advanced.config"
  printf '[].\n' >"$BASE/enabled_plugins"
  : >"$BASE/rabbitmq-env.conf"
}

start_node() {
  local n=$1
  if ctl "$n" ping >/dev/null 2>&1; then
    echo "$(node_name "$n") is already running"
    return
  fi
  # The whole subshell's output goes to the log, so no caller's pipe is held open by the node.
  (node_env "$n" && exec nohup "$RABBITMQ_BIN_DIR/rabbitmq-server") \
    >>"$BASE/log/fc-rabbit-$n.out" 2>&1 </dev/null &
  local i
  for i in $(seq 1 60); do
    if [[ -f "$BASE/fc-rabbit-$n.pid" ]] && ctl "$n" await_startup --timeout 5 >/dev/null 2>&1; then
      echo "$(node_name "$n") is up on 127.0.0.1:$(node_port "$n")"
      return
    fi
    sleep 1
  done
  die "$(node_name "$n") did not start; see $BASE/log/"
}

stop_node() {
  local n=$1
  if ctl "$n" ping >/dev/null 2>&1; then
    ctl "$n" stop "$BASE/fc-rabbit-$n.pid" >/dev/null
    echo "$(node_name "$n") stopped"
  else
    echo "$(node_name "$n") was not running"
  fi
}

urls() {
  local n out=()
  for n in "${NODES[@]}"; do
    out+=("amqp://guest:guest@127.0.0.1:$(node_port "$n")/%2f")
  done
  (IFS=,; echo "${out[*]}")
}

cmd="${1:-}"
case "$cmd" in
  start)
    [[ -d "$BASE/mnesia" ]] && for n in "${NODES[@]}"; do stop_node "$n" >/dev/null; done
    rm -rf "$BASE"
    prepare
    for n in "${NODES[@]}"; do start_node "$n"; done
    for n in 2 3; do
      ctl "$n" stop_app >/dev/null
      ctl "$n" join_cluster "$(node_name 1)" >/dev/null
      ctl "$n" start_app >/dev/null
      echo "$(node_name "$n") joined $(node_name 1)"
    done
    ctl 1 cluster_status | grep -A4 "Running Nodes"
    echo "AMQP_URL=$(urls)"
    ;;
  stop)
    for n in 3 2 1; do stop_node "$n"; done
    rm -rf "$BASE"
    ;;
  stop-node)
    check_n "${2:-}"
    stop_node "$2"
    ;;
  start-node)
    check_n "${2:-}"
    [[ -d "$BASE/mnesia" ]] || die "no cluster state under $BASE: run 'start' first"
    start_node "$2"
    ;;
  status)
    ctl 1 cluster_status
    ;;
  urls)
    urls
    ;;
  *)
    die "usage: $0 start|stop|stop-node N|start-node N|status|urls"
    ;;
esac
