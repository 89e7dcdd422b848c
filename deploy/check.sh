#!/usr/bin/env bash
# Static checks of deploy/ that need no Docker daemon and no cluster:
#  1. every YAML file parses (all documents);
#  2. every Kubernetes manifest has apiVersion, kind and metadata.name, and
#     kustomization.yaml lists every manifest (except the example Secret);
#  3. the compose file's services reference only defined services;
#  4. if kubectl is installed, `kubectl kustomize` renders the k8s/ directory;
#     if `docker compose` is available, it validates the compose file.
set -euo pipefail
cd "$(dirname "$0")"

mapfile -t files < <(find . -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "check.sh: no YAML files found" >&2
  exit 1
fi

python3 -c 'import yaml,sys; [list(yaml.safe_load_all(open(f))) for f in sys.argv[1:]]' "${files[@]}"
echo "ok: ${#files[@]} YAML files parse"

python3 - <<'PY'
import os
import sys

import yaml

errors = []

# Kubernetes manifests: k8s/ and the optional RabbitMQ cluster in k8s/rabbitmq/.
k8s = []
for d in ("k8s", "k8s/rabbitmq"):
    k8s += sorted(os.path.relpath(os.path.join(d, f), "k8s") for f in os.listdir(d) if f.endswith((".yaml", ".yml")))
for name in k8s:
    with open(os.path.join("k8s", name)) as fh:
        for i, doc in enumerate(yaml.safe_load_all(fh)):
            if doc is None:
                continue
            where = f"k8s/{name} (document {i})"
            if not isinstance(doc, dict):
                errors.append(f"{where}: not a mapping")
                continue
            for key in ("apiVersion", "kind"):
                if not doc.get(key):
                    errors.append(f"{where}: missing {key}")
            if doc.get("kind") != "Kustomization" and not (doc.get("metadata") or {}).get("name"):
                errors.append(f"{where}: missing metadata.name")
            if "namespace" in (doc.get("metadata") or {}):
                errors.append(f"{where}: manifests must be namespace-free")

for d in ("", "rabbitmq/"):
    with open(f"k8s/{d}kustomization.yaml") as fh:
        kustomization = yaml.safe_load(fh)
    listed = {d + r for r in kustomization.get("resources", [])}
    for res in sorted(listed):
        if not os.path.exists(os.path.join("k8s", res)):
            errors.append(f"k8s/{d}kustomization.yaml lists missing file {res}")
    for name in k8s:
        if os.path.dirname(name) + "/" != (d or "/") and not (d == "" and "/" not in name):
            continue
        if name not in listed and name not in (d + "kustomization.yaml", "secret.example.yaml"):
            errors.append(f"k8s/{name} is not listed in k8s/{d}kustomization.yaml")

# Compose file.
with open("docker-compose.yml") as fh:
    compose = yaml.safe_load(fh)
services = compose.get("services", {})
for name, svc in services.items():
    for dep in (svc.get("depends_on") or {}):
        if dep not in services:
            errors.append(f"docker-compose.yml: {name} depends on unknown service {dep}")

for e in errors:
    print(f"error: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
print(f"ok: {len(k8s)} k8s files and {len(services)} compose services are consistent")
PY

if command -v kubectl >/dev/null 2>&1; then
  kubectl kustomize k8s >/dev/null
  kubectl kustomize k8s/rabbitmq >/dev/null
  echo "ok: kubectl kustomize k8s and k8s/rabbitmq render"
else
  echo "skip: kubectl not installed"
fi

if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml config --quiet
  echo "ok: docker compose config"
else
  echo "skip: docker compose not available"
fi
