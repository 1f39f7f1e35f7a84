"""House rules every service's HTTP API must keep (checked on the generated OpenAPI documents)."""

from __future__ import annotations

import importlib
import re

import pytest

from renovation_common.devstack import SERVICES

OPERATIONS_PATHS = {"/healthz", "/readyz", "/metrics"}
UNSAFE = {"post", "put", "patch", "delete"}


@pytest.fixture(scope="module", params=[s.package for s in SERVICES])
def spec(request):
    module = importlib.import_module(f"{request.param}.entrypoints.app")
    app = module.create_app(database_url="postgresql://unused@127.0.0.1:1/unused", nats_url="nats://127.0.0.1:1")
    return request.param, app.openapi()


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
