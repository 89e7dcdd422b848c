#!/usr/bin/env bash
# Validates deploy/ for real, offline, with no Docker daemon and no cluster (runs in `make test`
# through tests/tests/deploy_check.rs):
#  1. every YAML file parses;
#  2. every Kubernetes manifest validates against its schema, strictly (unknown fields fail):
#     built-in kinds with kubernetes-validate's bundled schemas, KEDA ScaledObject /
#     TriggerAuthentication and kustomization.yaml with the schemas in schemas/;
#  3. the manifests hold together: kustomization lists every file, migrations run in an init
#     container before each role, the ingress is ready while it serves (/healthz), preStop hooks,
#     the worker's grace period exceeds its drain, KEDA triggers on every queue the worker consumes
#     with scale-down behaviour, and the Postgres connection budget at full scale fits;
#  4. docker-compose.yml validates against the compose-spec schema (check-jsonschema's vendored
#     copy), every long-running service has a healthcheck, images are pinned;
#  5. every variable the binary reads (crates/cli/src/config.rs) is set in compose and k8s or
#     listed in env-policy.yaml, and nothing sets a variable the binary does not read;
#  6. the Dockerfile builds --locked from pinned bases and listens on 0.0.0.0:8080.
# Usage: deploy/check.sh [DEPLOY_DIR]   (default: this script's folder; a test checks a broken copy)
# FLUXCASCADE_SRC: the repository whose crates/ are the source of truth (default: DEPLOY_DIR/..).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
deploy=$(cd "${1:-$here}" && pwd)
src=${FLUXCASCADE_SRC:-$deploy/..}
python=${FLUXCASCADE_SETUP_PYTHON:-python3}

missing=()
for tool in yaml:pyyaml jsonschema:jsonschema kubernetes_validate:kubernetes-validate check_jsonschema:check-jsonschema; do
  "$python" -c "import ${tool%%:*}" 2>/dev/null || missing+=("${tool#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "check.sh: missing Python packages; install them with: $python -m pip install ${missing[*]}" >&2
  echo "          (scripts/services.sh, run by make test, does this)" >&2
  exit 1
fi

"$python" -B "$here/check.py" "$deploy" "$src"
if ! out=$("$python" -m check_jsonschema --builtin-schema vendor.compose-spec "$deploy/docker-compose.yml" 2>&1); then
  echo "$out" >&2
  echo "error: docker-compose.yml does not validate against the compose-spec schema (above)" >&2
  exit 1
fi
echo "ok: docker-compose.yml validates against the compose-spec schema"

# Where kubectl is installed (not needed, not on CI), also render the kustomizations.
if command -v kubectl >/dev/null 2>&1; then
  kubectl kustomize "$deploy/k8s" >/dev/null
  kubectl kustomize "$deploy/k8s/rabbitmq" >/dev/null
  echo "ok: kubectl kustomize renders k8s and k8s/rabbitmq"
fi
