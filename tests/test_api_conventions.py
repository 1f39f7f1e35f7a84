"""House rules every service's HTTP API must keep (checked on the generated OpenAPI documents)."""

from __future__ import annotations

import importlib
import os
import re

import httpx
import pytest

from renovation_common.auth import REQUIRED_CLAIMS, Role, issue_dev_token
from renovation_common.devstack import SERVICES
from renovation_common.error_catalog import catalog, render_markdown
from renovation_common.error_scan import repository_root, scan
from renovation_common.openapi import BEARER_SCHEME, ROLES_EXTENSION, api_routes, required_roles
from renovation_common.settings import DEV_JWT_SECRET

OPERATIONS_PATHS = {"/healthz", "/readyz", "/metrics"}
UNSAFE = {"post", "put", "patch", "delete"}
# /v1 operations that authenticate their caller otherwise than with a bearer token (no role, no Idempotency-Key)
NOT_BEARER = {("finance", "post", "/v1/payment-providers/{provider}/callbacks")}  # the provider's signature
# unsafe operations that store nothing (a pure computation): a retry computes the same again, no Idempotency-Key
STATELESS = {("projects", "post", "/v1/solve")} | {
    (name, "post", "/v1/links") for name in ("survey", "projects", "finance", "smart_community", "webhooks")
}
UNUSED = {"database_url": "postgresql://unused@127.0.0.1:1/unused", "nats_url": "nats://127.0.0.1:1"}
SCOPE = {
    "district_id": "510105",
    "street_id": "510105001",
    "community_id": "c-conventions",
    "household_id": "h-conventions",
}


def _app(package, **overrides):
    module = importlib.import_module(f"{package}.entrypoints.app")
    return module.create_app(**UNUSED, **overrides)


@pytest.fixture(scope="module", params=[s.package for s in SERVICES])
def spec(request):
    return request.param, _app(request.param).openapi()


def _token(role: Role) -> dict[str, str]:
    claims = {c: SCOPE[c] for c in REQUIRED_CLAIMS[role]} or {"district_id": SCOPE["district_id"]}
    jwt = issue_dev_token(
        secret=os.environ.get("JWT_SECRET") or DEV_JWT_SECRET, role=role.value, sub=f"{role.value}-conv", **claims
    )
    return {"Authorization": f"Bearer {jwt}"}


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, op


def test_openapi_3_1_with_title(spec):
    _, doc = spec
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"]


def test_every_operation_has_a_unique_stable_operation_id_and_a_tag(spec):
    name, doc = spec
    seen = set()
    for path, method, op in _operations(doc):
        op_id = op.get("operationId", "")
        assert op_id and "__" not in op_id, f"{name} {method.upper()} {path}: set operation_id explicitly"
        assert op_id not in seen, f"{name}: duplicate operationId {op_id}"
        seen.add(op_id)
        assert op.get("tags"), f"{name} {method.upper()} {path}: no tag"


def test_business_paths_are_versioned(spec):
    name, doc = spec
    for path in doc["paths"]:
        assert path in OPERATIONS_PATHS or path.startswith("/v1/"), f"{name}: {path} is not under /v1"


@pytest.mark.parametrize("service", [s.package for s in SERVICES])
async def test_every_business_operation_refuses_a_call_without_a_token(service, service_client):
    """Called without a token, every /v1 operation answers 401 problem+json, before touching any data."""
    module = importlib.import_module(f"{service}.entrypoints.app")
    app, client = await service_client(module.create_app, service, consumers_enabled=False, relay_enabled=False)
    checked = 0
    for path, method, _ in _operations(app.openapi()):
        if path in OPERATIONS_PATHS:
            continue
        url = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
        r = await client.request(method.upper(), url, json={})
        assert r.status_code == 401, f"{service} {method.upper()} {path} answered {r.status_code} without a token"
        assert r.headers["content-type"] == "application/problem+json"
        checked += 1
    assert checked or not any(p.startswith("/v1/") for p in app.openapi()["paths"])


@pytest.mark.parametrize("service", [s.package for s in SERVICES])
def test_every_operation_has_its_own_summary_and_description(service):
    """Summary and description written for the operation (FastAPI's summary made from the function name and an
    empty docstring do not count). The failure lists every offender."""
    offenders = []
    for route in api_routes(_app(service)):
        if not route.include_in_schema:
            continue
        missing = [what for what in ("summary", "description") if not (getattr(route, what) or "").strip()]
        if missing:
            for method in sorted(route.methods):
                offenders.append(f"{method} {route.path_format} ({route.name}): no {' and no '.join(missing)}")
    assert not offenders, f"{service}: {len(offenders)} operation(s) undocumented:\n  " + "\n  ".join(offenders)


def test_bearer_scheme_roles_and_idempotency_key_on_every_business_operation(spec):
    """Swagger's Authorize button (an HTTP bearer JWT scheme); every /v1 operation names its roles (what its
    route's role dependency admits) and requires the scheme; every unsafe one documents ``Idempotency-Key``."""
    name, doc = spec
    scheme = doc["components"]["securitySchemes"][BEARER_SCHEME]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    routes = {(r.path_format, m.lower()): r for r in api_routes(_app(name)) for m in r.methods}
    for path, method, op in _operations(doc):
        where = f"{name} {method.upper()} {path}"
        if path in OPERATIONS_PATHS or (name, method, path) in NOT_BEARER:
            assert op["security"] == [], where
            continue
        roles = required_roles(routes[(path, method)])
        assert roles, f"{where}: no role dependency (authorize)"
        linkable = op.get("x-signed-link") is True  # a chart or an export: a signed link opens it as well
        assert op["security"] == [{BEARER_SCHEME: []}] + ([{"signedLink": []}] if linkable else []), where
        assert op[ROLES_EXTENSION] == sorted(r.value for r in roles), where
        assert all(f"`{r.value}`" in op["description"] for r in roles), f"{where}: roles not in the description"
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        if method in UNSAFE and (name, method, path) not in STATELESS:
            assert "Idempotency-Key" in headers, f"{where}: Idempotency-Key not documented"
        else:
            assert "Idempotency-Key" not in headers, where


def test_servers_name_the_public_url_and_the_gateway_prefix():
    doc = _app("webhooks", root_path="/webhooks", public_base_url="https://api.example.gov.cn/webhooks").openapi()
    assert [s["url"] for s in doc["servers"]] == ["https://api.example.gov.cn/webhooks", "/webhooks"]
    assert [s["url"] for s in _app("survey").openapi()["servers"]] == ["/"]


@pytest.mark.parametrize("service", [s.package for s in SERVICES])
async def test_documented_roles_are_the_roles_the_routes_enforce(service, service_client):
    """For every /v1 operation: a token of a role outside ``x-required-roles`` is refused with 403
    ``role_not_allowed``; a token of each listed role gets past the role check (whatever the operation then says)."""
    app, client = await service_client(
        importlib.import_module(f"{service}.entrypoints.app").create_app,
        service,
        consumers_enabled=False,
        relay_enabled=False,
        workers_enabled=False,
    )
    checked = 0
    for path, method, op in _operations(app.openapi()):
        if ROLES_EXTENSION not in op:
            continue
        url = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
        admitted = {Role(r) for r in op[ROLES_EXTENSION]}
        outsider = next((r for r in Role if r not in admitted), None)  # None: every role is admitted
        if outsider is not None:
            refused = await client.request(method.upper(), url, json={}, headers=_token(outsider))
            assert refused.status_code == 403, f"{service} {method.upper()} {path} as {outsider}: {refused.text[:200]}"
            assert refused.json()["code"] == "role_not_allowed", refused.text[:200]
        for role in admitted:
            r = await client.request(method.upper(), url, json={}, headers=_token(role))
            code = r.json().get("code") if r.headers.get("content-type") == "application/problem+json" else None
            assert code not in ("role_not_allowed", "scope_claim_missing"), f"{service} {method} {path} as {role}"
        checked += 1
    assert checked


# ---------------------------------------------------------------------------------------------- error catalog


def test_every_code_raised_anywhere_is_catalogued_and_every_entry_is_raised():
    found = scan(repository_root())
    entries = catalog()
    assert not sorted(set(found) - set(entries)), (
        "add these codes to libs/common/src/renovation_common/error_catalog.toml (en, zh_title, zh): "
        + ", ".join(sorted(set(found) - set(entries)))
    )
    assert not sorted(set(entries) - set(found)), "catalogued but raised nowhere: " + ", ".join(
        sorted(set(entries) - set(found))
    )
    for e in entries.values():
        assert e.en.strip() and e.zh_title.strip() and e.zh.strip(), e.code
        assert re.search(r"[\u4e00-\u9fff]", e.zh_title + e.zh), f"{e.code}: the Chinese texts hold no Chinese"


def test_the_scan_sees_each_way_a_code_is_raised():
    """A scan that silently found nothing would make the catalog test pass vacuously."""
    found = scan(repository_root())
    assert {
        "out_of_scope",  # Forbidden(..., code="out_of_scope")
        "not_found",  # class attribute of a DomainError subclass
        "plan_infeasible",  # class attribute of a domain ValueError subclass
        "target_not_allowed",  # positional code argument: TargetRefused(detail, "target_not_allowed")
        "invalid_questionnaire",  # default of an exception's code parameter
        "idempotency_key_reused",  # problem_response(409, "idempotency_key_reused", ...)
        "method_not_allowed",  # errors._HTTP_CODES
        "http_error",  # its fallback
        "validation_error",
    } <= set(found)
    assert found["out_of_scope"].statuses == {403}
    assert len(found) > 150


def test_docs_errors_md_is_generated_from_the_catalog_and_the_source():
    current = (repository_root() / "docs" / "errors.md").read_text()
    assert current == render_markdown(repository_root()), (
        "regenerate: .venv/bin/python -m renovation_common.error_catalog > docs/errors.md"
    )


async def test_problems_speak_chinese_when_the_request_asks_for_it(service_client):
    from webhooks.entrypoints.app import create_app

    _, client = await service_client(create_app, "webhooks", consumers_enabled=False, relay_enabled=False)
    url = "/v1/subscriptions/00000000-0000-4000-8000-000000000000"
    admin = _token(Role.DISTRICT_ADMIN)

    english = await client.get(url, headers=admin)
    assert english.status_code == 404
    assert english.json()["title"] == "Resource not found" and "detail_en" not in english.json()
    assert "content-language" not in english.headers and english.headers["vary"] == "Accept-Language"

    chinese = await client.get(url, headers={**admin, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    body = chinese.json()
    assert chinese.status_code == 404 and body["code"] == "subscription_not_found"
    assert (body["title"], body["detail"]) == ("订阅不存在", catalog()["subscription_not_found"].zh)
    assert body["detail_en"] == english.json()["detail"]
    assert chinese.headers["content-language"] == "zh-CN"

    # English preferred over Chinese by quality: English
    assert (await client.get(url, headers={**admin, "Accept-Language": "zh;q=0.5, en"})).json()["title"] == (
        "Resource not found"
    )
    # the same for problems made outside the routes: the token check, validation, the Idempotency-Key middleware
    zh = {"Accept-Language": "zh-CN"}
    assert (await client.get(url, headers=zh)).json()["title"] == "缺少访问令牌"
    invalid = await client.get("/v1/subscriptions/not-a-uuid", headers={**admin, **zh})
    assert (invalid.status_code, invalid.json()["title"]) == (422, "请求参数校验失败")
    assert invalid.json()["errors"]
    key = await client.post("/v1/subscriptions", headers={**admin, **zh, "Idempotency-Key": "k" * 201}, json={})
    assert (key.status_code, key.json()["title"]) == (400, "幂等键格式无效")


# ---------------------------------------------------------------------------------------------- docs UI and CORS


@pytest.mark.parametrize("service", [s.package for s in SERVICES])
async def test_swagger_ui_and_redoc_load_only_the_services_own_assets(service):
    """Behind the gateway's prefix: every script, style and icon of /docs and /redoc is served by the service
    itself under the prefix (nothing from a CDN or a font service), and the pages load the prefixed document."""
    app = _app(service, root_path="/svc", log_level="WARNING")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        for page, document in (("/docs", "url: '/svc/openapi.json'"), ("/redoc", 'spec-url="/svc/openapi.json"')):
            html = (await client.get(page)).text
            assert document in html, page
            assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", ""), page
            assets = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert len(assets) >= 2, page
            for url in assets:
                assert url.startswith("/svc/docs/assets/"), url
                asset = await client.get(url.removeprefix("/svc"))
                assert asset.status_code == 200 and len(asset.content) > 1000, url
                assert asset.headers["content-type"].split(";")[0] in ("text/javascript", "text/css", "image/png")
        assert "persistAuthorization" in (await client.get("/docs")).text  # the token survives a reload
        assert (await client.get("/docs/assets/..%2Fsettings.py")).status_code == 404


async def test_cors_admits_the_configured_origins_only():
    app = _app("webhooks", cors_allow_origins=["https://h5.example.gov.cn"], log_level="WARNING", max_body_bytes=2048)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        ok = "https://h5.example.gov.cn"
        preflight = await client.options(
            "/v1/subscriptions",
            headers={
                "Origin": ok,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, accept-language",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ok
        assert "Idempotency-Key" in preflight.headers["access-control-allow-headers"]
        assert "PATCH" in preflight.headers["access-control-allow-methods"]

        other = await client.options(
            "/v1/subscriptions", headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in other.headers

        refused = await client.get("/v1/subscriptions", headers={"Origin": ok})  # 401: the page can read it
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ok
        assert "X-Request-Id" in refused.headers["access-control-expose-headers"]
        assert "Idempotent-Replayed" in refused.headers["access-control-expose-headers"]
        too_large = await client.post("/v1/subscriptions", headers={"Origin": ok}, content=b"x" * 4096)
        assert too_large.status_code == 413 and too_large.headers["access-control-allow-origin"] == ok

    plain = httpx.ASGITransport(app=_app("webhooks", log_level="WARNING"))  # the default: no CORS at all
    async with httpx.AsyncClient(transport=plain, base_url="http://api") as client:
        r = await client.get("/v1/subscriptions", headers={"Origin": "https://h5.example.gov.cn"})
        assert not any(h.startswith("access-control-") for h in r.headers)


# ---------------------------------------------------------------------------------------------- self-describing schemas

# string properties of these names hold one of a closed set of values: the document lists them (enum / const / $ref)
CLOSED_SET_NAMES = {
    "kind", "state", "status", "role", "channel", "outcome", "severity", "trade", "source_kind", "stance",
    "category", "phase", "decided_by", "limited_by", "rule", "period", "placement", "type",
}  # fmt: skip
NOT_CLOSED = {  # named so, but not a closed set: why
    ("Problem", "type"): "a problem type is a URI",
    ("ProblemItem", "type"): "a problem type is a URI",
    (
        "PeriodStatsRead",
        "period",
    ): "the period's label (2026-03, 2026-Q1, 2026; a pattern); its kind is StatsRead.period",
}
# objects in a response whose keys are open, each with why (a free-form object is allowed only here)
FREE_FORM = {
    ("smart_community", "DeviceEventRead", "readings"): "vendor-defined measurement keys, numeric values",
    ("smart_community", "GatewayEvent", "readings"): "vendor-defined measurement keys, numeric values",
}


def _deref(doc, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _schema_errors(doc, schema, instance) -> list[str]:
    """What is wrong with ``instance`` against ``schema`` ($refs resolved against the document's components)."""
    import jsonschema

    root = {**schema, "components": doc.get("components", {})}
    validator = jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in validator.iter_errors(instance)
    ]


def _media_examples(doc, media) -> list[tuple[str, object]]:
    found = []
    if "example" in media:
        found.append(("example", media["example"]))
    for key, example in (media.get("examples") or {}).items():
        if "value" in example:
            found.append((f"examples.{key}", example["value"]))
    schema = media.get("schema") or {}
    components = [_deref(doc, b) for b in [schema, *schema.get("anyOf", [])] if "$ref" in b]  # an optional body
    for where, s in [("schema", schema)] + [("component", c) for c in components]:
        found.extend((f"{where}.examples[{i}]", e) for i, e in enumerate(s.get("examples") or []))
    return found


def test_every_request_body_has_an_example_and_every_example_fits_its_schema(spec):
    """Examples for every request body (the operation's media type or the body's schema); every example of the
    document — of a body, of a response, of a component — validates against its schema."""
    name, doc = spec
    offenders = []
    for path, method, op in _operations(doc):
        where = f"{method.upper()} {path}"
        for media_type, media in (op.get("requestBody") or {}).get("content", {}).items():
            examples = _media_examples(doc, media)
            binary = (media.get("schema") or {}).get("format") == "binary" and not media_type.startswith("text/")
            described = [e for e in (media.get("examples") or {}).values() if e.get("summary") and e.get("description")]
            if not examples and not (binary and described):  # a workbook cannot be inline: described instead
                offenders.append(f"{where} ({media_type}): the request body has no example")
            for label, example in examples:
                offenders += [f"{where} request {label}: {e}" for e in _schema_errors(doc, media["schema"], example)]
        for status, response in (op.get("responses") or {}).items():
            for media in (response.get("content") or {}).values():
                if "schema" in media:
                    for label, example in _media_examples(doc, media):
                        errors = _schema_errors(doc, media["schema"], example)
                        offenders += [f"{where} {status} {label}: {e}" for e in errors]
    for component, schema in doc.get("components", {}).get("schemas", {}).items():
        for i, example in enumerate(schema.get("examples") or []):
            offenders += [f"{component}.examples[{i}]: {e}" for e in _schema_errors(doc, schema, example)]
    assert not offenders, f"{name}: {len(offenders)} problem(s):\n  " + "\n  ".join(offenders)


def _walk(doc, schema, where, seen):
    """Every (where, property name, property schema, owning component) under ``schema``, following $refs once."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        component = schema["$ref"].rsplit("/", 1)[-1]
        if component not in seen:
            seen.add(component)
            yield from _walk(doc, doc["components"]["schemas"][component], component, seen)
        return
    yield where, schema
    for prop, sub in (schema.get("properties") or {}).items():
        yield from _walk(doc, sub, f"{where}.{prop}", seen)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            yield from _walk(doc, schema[key], f"{where}[{key}]", seen)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in schema.get(key) or []:
            yield from _walk(doc, sub, where, seen)


def _branches(schema):
    """A property's schema without ``null`` (``X | None`` is ``anyOf: [X, null]``)."""
    subs = schema.get("anyOf") or schema.get("oneOf")
    if subs:
        return [b for s in subs if s.get("type") != "null" for b in _branches(s)]
    return [schema]


def test_closed_set_strings_list_their_values(spec):
    """A string property named ``kind``, ``status``, ``trade``, … has an enum (or a const, or a $ref to an enum)."""
    name, doc = spec
    offenders = []
    for component, schema in doc.get("components", {}).get("schemas", {}).items():
        for prop, sub in (schema.get("properties") or {}).items():
            if prop not in CLOSED_SET_NAMES or (component, prop) in NOT_CLOSED:
                continue
            for branch in _branches(sub):
                items = branch.get("items") if branch.get("type") == "array" else None
                target = items if isinstance(items, dict) else branch
                target = _deref(doc, target)  # a $ref: to an enum, or to an object (not a string at all)
                if target.get("type") == "string" and not ("enum" in target or "const" in target):
                    offenders.append(f"{component}.{prop}: a free string (give it an enum / Literal)")
    assert not offenders, f"{name}: {len(offenders)} closed set(s) undeclared:\n  " + "\n  ".join(offenders)


def test_response_objects_are_typed(spec):
    """No free-form object (``type: object`` without properties, keys open to anything) in what an operation
    answers, except the allow-listed ones (each with its reason)."""
    name, doc = spec
    offenders, seen = set(), set()
    for path, method, op in _operations(doc):
        for status, response in (op.get("responses") or {}).items():
            for media in (response.get("content") or {}).values():
                start = f"{method.upper()} {path} {status}"
                for where, node in _walk(doc, media.get("schema") or {}, start, seen):
                    extra = node.get("additionalProperties", True)
                    free = node.get("type") == "object" and not node.get("properties") and extra in (True, {})
                    if free and (name, *where.split(".", 1)) not in FREE_FORM:
                        offenders.add(where)
    assert not offenders, f"{name}: free-form object(s) in responses:\n  " + "\n  ".join(sorted(offenders))


def test_the_free_form_allow_list_is_current():
    """Every allow-listed free-form property exists, and what it allows is at least typed by its values."""
    for (service, component, prop), reason in FREE_FORM.items():
        schema = _app(service).openapi()["components"]["schemas"][component]["properties"][prop]
        assert reason and any(isinstance(b.get("additionalProperties"), dict) for b in _branches(schema)), (
            f"{service} {component}.{prop}: give the open keys a value type (additionalProperties: {{...}})"
        )
