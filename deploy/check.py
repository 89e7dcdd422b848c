"""deploy/check.py: the validations behind deploy/check.sh (run that, not this).

usage: check.py DEPLOY_DIR SOURCE_ROOT

DEPLOY_DIR is the deploy/ folder to check (a test checks a broken copy), SOURCE_ROOT the repository
whose crates/ define what the binary reads. Prints "ok: ..." per passed check and "error: ..." per
defect; exits 1 when there is any defect.
"""

import fnmatch
import json
import os
import re
import sys

import jsonschema
import kubernetes_validate
import yaml

# The Kubernetes version the manifests target (the oldest supported minor we deploy to); a
# kubernetes-validate that no longer bundles it validates against its oldest bundled version.
K8S_VERSION = os.environ.get("FLUXCASCADE_CHECK_K8S_VERSION", "1.30")
_bundled = kubernetes_validate.utils.all_versions()
if not any(kubernetes_validate.utils.major_minor(v) <= K8S_VERSION for v in _bundled):
    K8S_VERSION = kubernetes_validate.utils.major_minor(_bundled[0])
# Variables the deploy files may set though the binary does not read them: the standard log filter
# and OpenTelemetry's variables (read by the SDK), and the one KEDA reads.
EXTRA_VARS = ["RUST_LOG", "OTEL_*", "AMQP_SCALER_URL"]

errors = []


def error(msg):
    errors.append(msg)


def load_all(path):
    with open(path) as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def yaml_files(root):
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            if f.endswith((".yaml", ".yml")):
                out.append(os.path.join(dirpath, f))
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# What the binary reads.
# ---------------------------------------------------------------------------------------------
def providers(src):
    text = open(os.path.join(src, "crates/core/src/domain.rs")).read()
    names = re.findall(r'ProviderKind::\w+ => "([a-z]+)"', text)
    if not names:
        error("crates/core/src/domain.rs: no ProviderKind names found")
    return sorted({n.upper() for n in names})


def read_vars(src):
    """Every variable name crates/cli/src/config.rs (and the telemetry crate) reads.
    `{p}` / `{}` placeholders are expanded over the providers."""
    files = [os.path.join(src, "crates/cli/src/config.rs")]
    tdir = os.path.join(src, "crates/telemetry/src")
    if os.path.isdir(tdir):
        files += [os.path.join(tdir, f) for f in sorted(os.listdir(tdir)) if f.endswith(".rs")]
    names = set()
    provs = providers(src)
    for path in files:
        text = open(path).read()
        # Test modules set variables of their own.
        text = text.split("#[cfg(test)]")[0]
        for lit in re.findall(r'"((?:FLUXCASCADE_|DATABASE_URL|AMQP_URL)[A-Za-z0-9_{}]*)"', text):
            if "{" in lit:
                for p in provs:
                    names.add(re.sub(r"\{[a-z]*\}", p, lit))
            else:
                names.add(lit)
        if "_SEARCH" in text:
            names |= {f"FLUXCASCADE_RATE_BUDGET_{p}_SEARCH" for p in provs}
    if not names:
        error("crates/cli/src/config.rs: no variables found")
    return names


def matches(name, patterns):
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


# ---------------------------------------------------------------------------------------------
# Kubernetes.
# ---------------------------------------------------------------------------------------------
def load_schema(deploy, name):
    with open(os.path.join(deploy, "schemas", name)) as fh:
        return json.load(fh)


def group(api_version):
    return api_version.split("/")[0] if "/" in api_version else ""


def validate_k8s(deploy):
    k8s = os.path.join(deploy, "k8s")
    own = {
        ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject.schema.json",
        ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda-triggerauthentication.schema.json",
        ("kustomize.config.k8s.io/v1beta1", "Kustomization"): "kustomization.schema.json",
    }
    docs = []  # (relative path, doc)
    count = 0
    before = len(errors)
    for path in yaml_files(k8s):
        rel = os.path.relpath(path, deploy)
        for doc in load_all(path):
            where = f"{rel} ({doc.get('kind', '?')} {(doc.get('metadata') or {}).get('name', '')})"
            if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
                error(f"{rel}: a document without apiVersion/kind")
                continue
            key = (doc["apiVersion"], doc["kind"])
            try:
                if key in own:
                    jsonschema.Draft202012Validator(load_schema(deploy, own[key])).validate(doc)
                elif "." in group(doc["apiVersion"]) and not group(doc["apiVersion"]).endswith(".k8s.io"):
                    error(f"{where}: no schema for {key[0]} {key[1]} (add one to deploy/schemas/)")
                    continue
                else:
                    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            except jsonschema.ValidationError as e:
                path_s = "/".join(str(p) for p in e.absolute_path)
                error(f"{where}: {path_s or '(root)'}: {e.message}")
                continue
            except kubernetes_validate.utils.SchemaNotFoundError as e:
                error(f"{where}: {e.message}")
                continue
            if (doc.get("metadata") or {}).get("namespace"):
                error(f"{where}: manifests must be namespace-free")
            docs.append((rel, doc))
            count += 1
    if len(errors) == before:
        print(f"ok: {count} Kubernetes documents validate (Kubernetes {K8S_VERSION} schemas, strict; KEDA and kustomize from deploy/schemas/)")
    return docs


def kustomizations(deploy, docs):
    for rel, doc in docs:
        if doc["kind"] != "Kustomization":
            continue
        base = os.path.dirname(os.path.join(deploy, rel))
        listed = set(doc.get("resources", []))
        for res in sorted(listed):
            if not os.path.exists(os.path.join(base, res)):
                error(f"{rel} lists missing file {res}")
        for f in sorted(os.listdir(base)):
            if f.endswith((".yaml", ".yml")) and f not in listed and f not in ("kustomization.yaml", "secret.example.yaml"):
                error(f"{os.path.relpath(os.path.join(base, f), deploy)} is not listed in {rel}")


def containers(doc, init=True):
    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
    out = list(spec.get("containers") or [])
    if init:
        out += list(spec.get("initContainers") or [])
    return spec, out


def env_of(c):
    return {e["name"]: e.get("value") for e in c.get("env") or []}


def k8s_semantics(deploy, src, docs):
    by_kind = {}
    for rel, doc in docs:
        by_kind.setdefault(doc["kind"], []).append((rel, doc))
    deployments = {d["metadata"]["name"]: (rel, d) for rel, d in by_kind.get("Deployment", [])}
    configmap = next((d for _r, d in by_kind.get("ConfigMap", []) if d["metadata"]["name"] == "fluxcascade-config"), None)
    if configmap is None:
        error("k8s: no ConfigMap fluxcascade-config")
        return
    cm = configmap.get("data") or {}
    secrets = {d["metadata"]["name"]: d for _r, d in by_kind.get("Secret", [])}

    # Migrations run before every role: an init container `fluxcascade migrate` in each Deployment
    # (idempotent; the migrate command serialises concurrent runs with an advisory lock).
    for name, (rel, d) in deployments.items():
        if not name.startswith("fluxcascade-"):
            continue
        spec, _ = containers(d)
        inits = spec.get("initContainers") or []
        if not any((c.get("args") or [None])[0] == "migrate" for c in inits):
            error(f"{rel}: no init container running `fluxcascade migrate` (migrations must precede the role)")
        # Behind a Service: keep serving while the endpoint removal propagates.
        pod_labels = ((d["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        served = any(
            (svc.get("spec") or {}).get("selector")
            and all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items())
            for _r, svc in by_kind.get("Service", [])
        )
        for c in spec.get("containers") or []:
            if served and prestop_seconds(c) <= 0:
                error(f"{rel}: container {c['name']} serves a Service but has no preStop sleep")
    for _rel, job in by_kind.get("Job", []):
        if not (job.get("metadata") or {}).get("generateName"):
            error(f"k8s: Job {job['metadata'].get('name')} has a fixed name: re-applying it fails (immutable)")

    # Ingress readiness = "can accept": the probe must not depend on the broker or the database.
    ingress = deployments.get("fluxcascade-ingress")
    if ingress:
        rel, d = ingress
        _, cs = containers(d, init=False)
        probe = ((cs[0].get("readinessProbe") or {}).get("httpGet") or {}).get("path")
        if probe != "/healthz":
            error(f"{rel}: readinessProbe path {probe!r}: use /healthz (a broker blip must not empty the Service; /readyz answers 503 in-app)")

    # The worker drains within its grace period.
    worker = deployments.get("fluxcascade-worker")
    if worker:
        rel, d = worker
        spec, cs = containers(d, init=False)
        env = env_of(cs[0])
        drain = int(env.get("FLUXCASCADE_SHUTDOWN_GRACE_SECONDS") or cm.get("FLUXCASCADE_SHUTDOWN_GRACE_SECONDS") or 30)
        pre = prestop_seconds(cs[0])
        grace = int(spec.get("terminationGracePeriodSeconds", 30))
        if grace <= drain + pre:
            error(f"{rel}: terminationGracePeriodSeconds {grace} must exceed preStop {pre}s + drain {drain}s")

    # KEDA: a trigger on every consumed queue, scale-down behaviour, known target and secret key.
    prefix = cm.get("FLUXCASCADE_QUEUE_PREFIX", "fluxcascade")
    kinds = consumed_kinds(src)
    for rel, so in by_kind.get("ScaledObject", []):
        spec = so["spec"]
        target = spec["scaleTargetRef"]["name"]
        if target not in deployments:
            error(f"{rel}: scaleTargetRef {target} is not a Deployment here")
        queues = {t["metadata"].get("queueName") for t in spec["triggers"] if t["type"] == "rabbitmq"}
        want = {f"{prefix}.{k}" for k in kinds}
        for q in sorted(want - queues):
            error(f"{rel}: no trigger on consumed queue {q}")
        for q in sorted(queues - want):
            error(f"{rel}: trigger on {q}, which no worker consumes")
        behavior = (((spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}).get("behavior") or {})
        if "scaleDown" not in behavior:
            error(f"{rel}: no advanced.horizontalPodAutoscalerConfig.behavior.scaleDown (cooldownPeriod does nothing with minReplicaCount > 0)")
        for t in spec["triggers"]:
            auth = (t.get("authenticationRef") or {}).get("name")
            if auth and auth not in {d["metadata"]["name"] for _r, d in by_kind.get("TriggerAuthentication", [])}:
                error(f"{rel}: authenticationRef {auth} is not defined")
    for rel, ta in by_kind.get("TriggerAuthentication", []):
        for ref in ta["spec"].get("secretTargetRef", []):
            s = secrets.get(ref["name"])
            if s is None or ref["key"] not in (s.get("stringData") or s.get("data") or {}):
                error(f"{rel}: secret {ref['name']} key {ref['key']} is not in secret.example.yaml")

    db_budget(deploy, deployments, by_kind, cm)


def prestop_seconds(c):
    pre = (c.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre:
        return int(pre["sleep"].get("seconds", 0))
    cmd = (pre.get("exec") or {}).get("command") or []
    if len(cmd) == 2 and cmd[0] == "sleep":
        return int(cmd[1])
    return 0


def consumed_kinds(src):
    """The job kinds the worker consumes (crates/worker/src/lib.rs's consumers plus deliveries)."""
    text = open(os.path.join(src, "crates/worker/src/lib.rs")).read()
    kinds = {k.lower() for k in re.findall(r"JobKind::(\w+)", text)}
    if "deliveries" in text:
        kinds.add("delivery")
    kinds.discard("unspecified")
    return sorted(kinds)


def db_budget(deploy, deployments, by_kind, cm):
    """max workers x pool + ingress + scheduler (+ one connection per migrate init container)
    stays under Postgres max_connections minus the superuser reserve, with a margin."""
    configmap = next(d for _r, d in by_kind["ConfigMap"] if d["metadata"]["name"] == "fluxcascade-config")
    ann = (configmap["metadata"].get("annotations") or {})
    try:
        max_conn = int(ann["fluxcascade.io/postgres-max-connections"])
        margin = int(ann.get("fluxcascade.io/postgres-connection-margin", "10"))
    except (KeyError, ValueError):
        error("k8s/configmap.yaml: annotation fluxcascade.io/postgres-max-connections (an integer) is required for the connection budget")
        return
    max_replicas = {so["spec"]["scaleTargetRef"]["name"]: so["spec"].get("maxReplicaCount", 100) for _r, so in by_kind.get("ScaledObject", [])}
    total = 0
    parts = []
    for name, (rel, d) in sorted(deployments.items()):
        if not name.startswith("fluxcascade-"):
            continue
        _, cs = containers(d, init=False)
        env = env_of(cs[0])
        pool = env.get("FLUXCASCADE_DB_POOL_SIZE") or cm.get("FLUXCASCADE_DB_POOL_SIZE")
        if pool is None:
            error(f"{rel}: FLUXCASCADE_DB_POOL_SIZE is not set (the default, 2 x concurrency + 8, breaks the budget)")
            continue
        concurrency = env.get("FLUXCASCADE_WORKER_CONCURRENCY") or cm.get("FLUXCASCADE_WORKER_CONCURRENCY") or 8
        if name == "fluxcascade-worker" and int(pool) < 2 * int(concurrency):
            error(f"{rel}: FLUXCASCADE_DB_POOL_SIZE {pool} < 2 x concurrency {concurrency} (each running batch holds a lock connection and needs a query connection)")
        replicas = max_replicas.get(name, d["spec"].get("replicas", 1))
        total += replicas * int(pool)
        parts.append(f"{name} {replicas}x{pool}")
    budget = max_conn - 3 - margin  # 3: Postgres's default superuser_reserved_connections
    if total > budget:
        error(f"k8s: Postgres connections at full scale {total} ({', '.join(parts)}) exceed {max_conn} max_connections - 3 reserved - {margin} margin = {budget}")
    else:
        print(f"ok: Postgres connections at full scale {total} ({', '.join(parts)}) <= {budget} ({max_conn} - 3 reserved - {margin} margin)")


# ---------------------------------------------------------------------------------------------
# Compose.
# ---------------------------------------------------------------------------------------------
def compose_semantics(deploy):
    compose = yaml.safe_load(open(os.path.join(deploy, "docker-compose.yml")))
    services = compose.get("services", {})
    for name, svc in services.items():
        for dep in svc.get("depends_on") or {}:
            if dep not in services:
                error(f"docker-compose.yml: {name} depends on unknown service {dep}")
        one_shot = svc.get("restart") == "no"
        if not one_shot and not (svc.get("healthcheck") or {}).get("test"):
            error(f"docker-compose.yml: service {name} has no healthcheck")
        image = svc.get("image", "")
        if image and "fluxcascade" not in image and (":" not in image or image.endswith(":latest")):
            error(f"docker-compose.yml: service {name} image {image} is not pinned to a version")
    rabbit = services.get("rabbitmq") or {}
    if not rabbit.get("hostname"):
        error("docker-compose.yml: rabbitmq has no stable hostname (its data dir is named after it)")
    if not re.match(r"rabbitmq:4\.", rabbit.get("image", "")):
        error("docker-compose.yml: rabbitmq must run a supported 4.x image")
    return services


def compose_env(services):
    """The variables set for the FluxCascade services (those built from deploy/Dockerfile)."""
    names = set()
    for svc in services.values():
        if "fluxcascade" not in str(svc.get("image", "")):
            continue
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
        names |= set(env)
    return names


def k8s_env(docs):
    names = set()
    for _rel, d in docs:
        meta = d.get("metadata") or {}
        if d["kind"] == "ConfigMap" and meta.get("name") == "fluxcascade-config":
            names |= set(d.get("data") or {})
        if d["kind"] == "Secret" and meta.get("name") == "fluxcascade-secrets":
            names |= set(d.get("stringData") or {}) | set(d.get("data") or {})
        if d["kind"] == "Deployment":
            _, cs = containers(d)
            for c in cs:
                if c.get("image") == "fluxcascade":
                    names |= set(env_of(c))
    return names


def dockerfile_env(deploy):
    text = open(os.path.join(deploy, "Dockerfile")).read().replace("\\\n", " ")
    names = set()
    for line in text.splitlines():
        if line.strip().startswith("ENV "):
            names |= set(re.findall(r"([A-Z_][A-Z0-9_]*)=", line))
    return names, text


def env_lint(deploy, src, docs, services):
    policy = yaml.safe_load(open(os.path.join(deploy, "env-policy.yaml")))
    defaulted = policy.get("defaulted") or {}
    compose_only = policy.get("compose_only") or {}
    k8s_only = policy.get("k8s_only") or {}
    read = read_vars(src)
    in_compose = compose_env(services)
    in_k8s = k8s_env(docs)
    in_image, _ = dockerfile_env(deploy)
    before = len(errors)
    for name in sorted(read):
        if matches(name, defaulted):
            continue
        if name not in in_compose and name not in in_image and not matches(name, k8s_only):
            error(f"docker-compose.yml: {name} (read by the binary) is not set; set it or list it in env-policy.yaml")
        if name not in in_k8s and name not in in_image and not matches(name, compose_only):
            error(f"k8s/: {name} (read by the binary) is not set; set it or list it in env-policy.yaml")
    for where, names in (("docker-compose.yml", in_compose), ("k8s/", in_k8s), ("Dockerfile", in_image)):
        for name in sorted(names):
            if name not in read and not matches(name, EXTRA_VARS):
                error(f"{where}: sets {name}, which the binary does not read (typo?)")
    for section in (defaulted, compose_only, k8s_only):
        for pattern in section:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in read):
                error(f"env-policy.yaml: {pattern} matches nothing the binary reads")
    if len(errors) == before:
        print(f"ok: the {len(read)} variables the binary reads are set or deliberately defaulted in compose and k8s")


def dockerfile_lint(deploy):
    _, text = dockerfile_env(deploy)
    for m in re.finditer(r"cargo build[^\n&;]*", text):
        if "--locked" not in m.group(0):
            error(f"Dockerfile: `{m.group(0).strip()}` without --locked")
    for m in re.finditer(r"ARG (\w+_IMAGE)=(\S+)", text):
        image = m.group(2)
        tag = image.split("@")[0].rsplit(":", 1)[-1] if ":" in image else ""
        if not re.search(r"\d+\.\d+", tag):
            error(f"Dockerfile: {m.group(1)}={image} is not pinned to an exact version")
    if not re.search(r"FLUXCASCADE_LISTEN=0\.0\.0\.0:8080", text):
        error("Dockerfile: the image must set FLUXCASCADE_LISTEN=0.0.0.0:8080 (a bare `docker run ... ingress` listens on loopback otherwise)")


def main():
    deploy, src = sys.argv[1], sys.argv[2]
    for path in yaml_files(deploy):
        try:
            load_all(path)
        except yaml.YAMLError as e:
            error(f"{os.path.relpath(path, deploy)}: {e}")
    if errors:
        return finish()
    docs = validate_k8s(deploy)
    kustomizations(deploy, docs)
    k8s_semantics(deploy, src, docs)
    services = compose_semantics(deploy)
    env_lint(deploy, src, docs, services)
    dockerfile_lint(deploy)
    return finish()


def finish():
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
