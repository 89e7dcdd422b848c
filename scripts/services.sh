#!/usr/bin/env bash
# The one set-up script, used by `make run`, `make test` and `.ci/run`: makes sure PostgreSQL and
# RabbitMQ answer and the Python validators and the browser (Chromium) the tests run are installed.
#
#   scripts/services.sh           start what is installed but stopped; as root on Debian install
#                                 what is missing (apt-get / pip); wait until everything is ready
#   scripts/services.sh --check   change nothing: report what is missing and the exact command that
#                                 starts or installs it (also FLUXCASCADE_SETUP_CHECK_ONLY=1)
#
# Exit 0 when everything is ready, 1 otherwise (each problem is printed with its fix).
# Overrides (a test points these at closed ports; the machine's services are never stopped):
#   FLUXCASCADE_SETUP_PG_HOST / FLUXCASCADE_SETUP_PG_PORT       default 127.0.0.1 / 5432
#   FLUXCASCADE_SETUP_AMQP_HOST / FLUXCASCADE_SETUP_AMQP_PORT   default 127.0.0.1 / 5672
#   FLUXCASCADE_SETUP_WAIT_SECONDS   how long to wait for a started service, default 60
#   FLUXCASCADE_SETUP_PYTHON         the Python the tests run, default python3
set -uo pipefail

PG_HOST=${FLUXCASCADE_SETUP_PG_HOST:-127.0.0.1}
PG_PORT=${FLUXCASCADE_SETUP_PG_PORT:-5432}
AMQP_HOST=${FLUXCASCADE_SETUP_AMQP_HOST:-127.0.0.1}
AMQP_PORT=${FLUXCASCADE_SETUP_AMQP_PORT:-5672}
WAIT=${FLUXCASCADE_SETUP_WAIT_SECONDS:-60}
PYTHON=${FLUXCASCADE_SETUP_PYTHON:-python3}
CHECK_ONLY=${FLUXCASCADE_SETUP_CHECK_ONLY:-0}
case "${1:-}" in
  --check) CHECK_ONLY=1 ;;
  "") ;;
  -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "services.sh: unknown argument $1 (use --check or nothing)" >&2; exit 2 ;;
esac

# Python modules the test suite runs, as "module:pip-package".
PY_TOOLS=(
  "openapi_spec_validator:openapi-spec-validator" # crates/ingress tests: /openapi.json
  "kubernetes_validate:kubernetes-validate"       # deploy/check.sh: k8s manifests
  "check_jsonschema:check-jsonschema"             # deploy/check.sh: compose-spec schema
)

problems=0
missing() { # what, fix
  echo "MISSING: $1" >&2
  echo "  fix: $2" >&2
  problems=$((problems + 1))
}

# Root on a Debian-like system: missing packages are installed instead of reported.
can_install() {
  [ "$CHECK_ONLY" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

is_local() {
  case "$1" in 127.0.0.1 | localhost | ::1) return 0 ;; *) return 1 ;; esac
}

tcp_open() { # host port
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

pg_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
  else
    tcp_open "$PG_HOST" "$PG_PORT"
  fi
}

amqp_ready() {
  tcp_open "$AMQP_HOST" "$AMQP_PORT"
}

wait_for() { # name probe
  local i
  for ((i = 0; i < WAIT; i++)); do
    if "$2"; then return 0; fi
    sleep 1
  done
  return 1
}

# The cluster ("<version> <name>") serving $PG_PORT, whichever of several installed versions owns it.
pg_cluster_on_port() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  pg_lsclusters --no-header 2>/dev/null | awk -v port="$PG_PORT" '$3 == port {print $1 " " $2; exit}'
}

# The newest installed server version (for creating a cluster), from pg_lsclusters' view of the
# installed binaries; empty when none.
pg_newest_version() {
  local d v newest=""
  for d in /usr/lib/postgresql/*/bin/initdb; do
    [ -x "$d" ] || continue
    v=${d#/usr/lib/postgresql/}
    v=${v%%/*}
    if [ -z "$newest" ] || [ "$(printf '%s\n%s\n' "$newest" "$v" | sort -V | tail -1)" = "$v" ]; then
      newest=$v
    fi
  done
  echo "$newest"
}

pg_installed() {
  command -v pg_ctlcluster >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1
}

# Local development trusts 127.0.0.1 (the tests connect as postgres without a password); done only
# for a cluster this script created or installed.
pg_trust_localhost() { # version name
  local hba="/etc/postgresql/$1/$2/pg_hba.conf"
  [ -w "$hba" ] || return 0
  grep -q '^host all all 127.0.0.1/32 trust' "$hba" && return 0
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$1" "$2" reload >/dev/null 2>&1 || true
}

ensure_postgres() {
  if pg_ready; then
    echo "ok: PostgreSQL on $PG_HOST:$PG_PORT"
    return
  fi
  if ! is_local "$PG_HOST"; then
    missing "PostgreSQL does not answer on $PG_HOST:$PG_PORT (not this machine)" \
      "start it on $PG_HOST, or point FLUXCASCADE_SETUP_PG_HOST/PORT and DATABASE_URL at a running one"
    return
  fi
  local created=0
  if ! pg_installed; then
    if can_install; then
      echo "installing PostgreSQL (apt-get install -y postgresql)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >/dev/null; } ||
        { missing "PostgreSQL could not be installed" "apt-get update && apt-get install -y postgresql"; return; }
      created=1
    else
      missing "PostgreSQL is not installed (nothing answers on $PG_HOST:$PG_PORT)" \
        "$(sudo_prefix)apt-get install -y postgresql   (then run this script again to start it)"
      return
    fi
  fi
  local cluster start
  cluster=$(pg_cluster_on_port)
  if [ -z "$cluster" ]; then
    local version
    version=$(pg_newest_version)
    if [ -z "$version" ]; then
      missing "PostgreSQL is installed but no server version was found under /usr/lib/postgresql" \
        "$(sudo_prefix)apt-get install -y postgresql"
      return
    fi
    if [ "$CHECK_ONLY" = 1 ]; then
      missing "PostgreSQL $version is installed but no cluster listens on port $PG_PORT" \
        "$(sudo_prefix)pg_createcluster --start -p $PG_PORT $version main$( [ "$PG_PORT" = 5432 ] || echo "-$PG_PORT")"
      return
    fi
    local name=main
    [ "$PG_PORT" = 5432 ] || name="main-$PG_PORT"
    echo "creating PostgreSQL $version cluster $name on port $PG_PORT"
    pg_createcluster -p "$PG_PORT" "$version" "$name" >/dev/null ||
      { missing "could not create a PostgreSQL cluster on port $PG_PORT" "$(sudo_prefix)pg_createcluster --start -p $PG_PORT $version $name"; return; }
    cluster="$version $name"
    created=1
  fi
  # shellcheck disable=SC2086
  start="pg_ctlcluster --skip-systemctl-redirect $cluster start"
  if [ "$CHECK_ONLY" = 1 ]; then
    missing "PostgreSQL cluster $cluster (port $PG_PORT) is installed but not running" "$(sudo_prefix)$start"
    return
  fi
  echo "starting PostgreSQL: $start"
  # shellcheck disable=SC2086
  $start || true
  # shellcheck disable=SC2086
  [ "$created" = 1 ] && pg_trust_localhost $cluster
  if wait_for PostgreSQL pg_ready; then
    echo "ok: PostgreSQL on $PG_HOST:$PG_PORT"
  else
    missing "PostgreSQL cluster $cluster did not become ready on port $PG_PORT within ${WAIT}s" \
      "see /var/log/postgresql/postgresql-${cluster// /-}.log, then: $(sudo_prefix)$start"
  fi
}

sudo_prefix() {
  [ "$(id -u)" = 0 ] || echo "sudo "
}

ensure_rabbitmq() {
  if amqp_ready; then
    echo "ok: RabbitMQ on $AMQP_HOST:$AMQP_PORT"
    return
  fi
  if ! is_local "$AMQP_HOST"; then
    missing "RabbitMQ does not answer on $AMQP_HOST:$AMQP_PORT (not this machine)" \
      "start it on $AMQP_HOST, or point FLUXCASCADE_SETUP_AMQP_HOST/PORT and AMQP_URL at a running one"
    return
  fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    if can_install; then
      echo "installing RabbitMQ (apt-get install -y rabbitmq-server)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server >/dev/null; } ||
        { missing "RabbitMQ could not be installed" "apt-get update && apt-get install -y rabbitmq-server"; return; }
    else
      missing "RabbitMQ is not installed (nothing answers on $AMQP_HOST:$AMQP_PORT)" \
        "$(sudo_prefix)apt-get install -y rabbitmq-server   (then run this script again to start it)"
      return
    fi
  fi
  local start="rabbitmq-server -detached"
  [ "$AMQP_PORT" = 5672 ] || start="RABBITMQ_NODE_PORT=$AMQP_PORT RABBITMQ_NODENAME=rabbit-$AMQP_PORT $start"
  if [ "$CHECK_ONLY" = 1 ]; then
    missing "RabbitMQ is installed but not running on $AMQP_HOST:$AMQP_PORT" "$(sudo_prefix)$start"
    return
  fi
  echo "starting RabbitMQ: $start"
  if [ "$AMQP_PORT" = 5672 ]; then
    rabbitmq-server -detached >/dev/null 2>&1 || true
  else
    RABBITMQ_NODE_PORT=$AMQP_PORT RABBITMQ_NODENAME=rabbit-$AMQP_PORT rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  if wait_for RabbitMQ amqp_ready; then
    # The port opens before the broker finishes booting its plugins.
    [ "$AMQP_PORT" = 5672 ] && command -v rabbitmqctl >/dev/null 2>&1 &&
      rabbitmqctl -q await_startup >/dev/null 2>&1
    echo "ok: RabbitMQ on $AMQP_HOST:$AMQP_PORT"
  else
    missing "RabbitMQ did not become ready on $AMQP_HOST:$AMQP_PORT within ${WAIT}s" \
      "see /var/log/rabbitmq/, then: $(sudo_prefix)$start"
  fi
}

ensure_python_tools() {
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    if can_install; then
      echo "installing Python (apt-get install -y python3 python3-pip)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-pip >/dev/null ||
        { missing "Python could not be installed" "apt-get install -y python3 python3-pip"; return; }
    else
      missing "$PYTHON is not installed (the tests run Python validators)" \
        "$(sudo_prefix)apt-get install -y python3 python3-pip"
      return
    fi
  fi
  local absent=() tool
  for tool in "${PY_TOOLS[@]}"; do
    "$PYTHON" -c "import ${tool%%:*}" 2>/dev/null || absent+=("${tool#*:}")
  done
  if [ "${#absent[@]}" -eq 0 ]; then
    echo "ok: Python validators (${PY_TOOLS[*]%%:*})"
    return
  fi
  local install="$PYTHON -m pip install ${absent[*]}"
  if [ "$CHECK_ONLY" = 1 ]; then
    missing "Python packages ${absent[*]} are not installed for $PYTHON" "$install"
    return
  fi
  if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    if can_install; then
      echo "installing pip (apt-get install -y python3-pip)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pip >/dev/null ||
        { missing "pip could not be installed" "apt-get update && apt-get install -y python3-pip"; return; }
    else
      missing "pip is not installed for $PYTHON (needed for ${absent[*]})" \
        "$(sudo_prefix)apt-get install -y python3-pip, then: $install"
      return
    fi
  fi
  echo "installing: $install"
  # A distribution's own Python refuses pip installs (PEP 668, "externally managed"); then the
  # packages go beside its own, as on a CI machine.
  # shellcheck disable=SC2086
  "$PYTHON" -m pip install -q ${absent[*]} 2>/dev/null ||
    "$PYTHON" -m pip install -q --break-system-packages ${absent[*]} ||
    missing "pip could not install ${absent[*]}" "$install"
}

# The console's browser test drives headless Chromium through chromedriver (Debian packages).
ensure_browser() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "ok: chromium and chromedriver (console browser test)"
    return
  fi
  if can_install; then
    echo "installing the browser test's Chromium (apt-get install -y chromium chromium-driver)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver >/dev/null ||
      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver >/dev/null; } ||
      missing "Chromium could not be installed" "apt-get update && apt-get install -y chromium chromium-driver"
  else
    missing "chromium and/or chromedriver are not installed (the console browser test drives them)" \
      "$(sudo_prefix)apt-get install -y chromium chromium-driver"
  fi
}

ensure_postgres
ensure_rabbitmq
ensure_python_tools
ensure_browser

if [ "$problems" -gt 0 ]; then
  echo "services.sh: $problems problem(s); run the fix above, then try again" >&2
  exit 1
fi
