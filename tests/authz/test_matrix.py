"""The authorisation matrix: every operation of every service × every role, expected allow (Y) or deny (.).

How each cell is checked (one app per service, in-process, fresh migrated database, real NATS):
* the caller holds a token of that role carrying the role's natural scope claims for the *home* scope
  (``world.CLAIMS``), and the path parameters name resources seeded in that scope (``world.SEEDERS``);
* **Y** (allow): the answer is neither 401 nor 403, and not a 5xx. It may be 404/409/422: the request got past
  authentication, the role check and the scope check (bodies are seeded for some operations so that the use case
  runs; elsewhere ``{}`` gets a 422 *after* the role check);
* **.** (deny): 403 problem+json with code ``role_not_allowed`` (role checks run before the body is validated);
* the operations endpoints (``/healthz``, ``/readyz``, ``/metrics``) are public and listed with Y everywhere;
* **signed** operations (``SIGNED``: payment providers' callbacks) admit no bearer token at all: they are
  authenticated by an HMAC signature over the body (``docs/payments.md``), so their row is all ``.`` and every
  role's token — unsigned — gets 401 problem+json. The callbacks' own refusals are proved in
  ``tests/security/test_payments.py``.

Out-of-scope checks: for every allowed role of an operation whose path names seeded resources (reads, and unsafe
calls without a body), a token of the same role scoped to *another* district/street/community/household is
refused: 403 ``out_of_scope`` (or another 403 code), or 404 where the service hides existence on purpose:
* ``webhooks``: subscriptions and deliveries outside the caller's ownership/district read as 404 (README);
* the other services answer 403 (``out_of_scope``).
Lists (GET without a path parameter) filter by scope instead: called from another scope they answer 200 without
any of the seeded home resources (or refuse with 403/422 when the token lacks a claim the list needs).

The tables (one per service, in ``world/<service>.py``) must list exactly the operations of the services' OpenAPI
documents: an operation added without a row (or a row left for a removed operation) fails
``test_matrix_lists_every_operation``.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from renovation_common.auth import Role
from renovation_common.devstack import SERVICES

from .world import APP_SETTINGS, COMMON_SETTINGS, MATRICES, SEEDERS, headers_for

pytestmark = pytest.mark.integration

ROLE_COLUMNS = {
    "res": Role.RESIDENT,
    "cw": Role.COMMUNITY_WORKER,
    "so": Role.STREET_OFFICER,
    "da": Role.DISTRICT_ADMIN,
    "con": Role.CONTRACTOR,
    "qs": Role.QUALITY_SUPERVISOR,
    "op": Role.OPERATOR,
    "gov": Role.GOV_SYSTEM,
    "dg": Role.DEVICE_GATEWAY,
    "fo": Role.FINANCE_OFFICER,
}


PUBLIC = {"healthz", "readyz", "metrics"}

# Authenticated by a signature over the request body, not by a token (no role is admitted).
SIGNED = {"receivePaymentCallback"}

# Out-of-scope answers that are 404 on purpose (existence hidden), per (service, operationId); everything else
# outside the caller's scope must be 403.
HIDES_AS_404: dict[str, set[str] | None] = {
    "webhooks": None,  # None = every operation: other owners' subscriptions and deliveries read as 404
}

# Batches answer 200 and refuse each item on its own (offline sync: one bad item never sinks the rest).
ITEMWISE = {"syncResponses"}

# Operations the delete would spoil for later calls: run last (dict order = call order).
RUN_LAST = {"deleteSubscription"}


def parse_matrix(texts: dict[str, str] = MATRICES) -> dict[tuple[str, str], frozenset[Role]]:
    """Each service's table (``world/<service>.py``): a header row of role columns, then one row per operation."""
    table: dict[tuple[str, str], frozenset[Role]] = {}
    for name, text in texts.items():
        table.update(_parse_one(name, text, table))
    return table


def _parse_one(
    name: str, text: str, seen: dict[tuple[str, str], frozenset[Role]]
) -> dict[tuple[str, str], frozenset[Role]]:
    lines = [line.split() for line in text.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    roles = [ROLE_COLUMNS[c] for c in header[2:]]
    assert len(roles) == len(Role) and set(roles) == set(Role), f"{name}: one column per role"
    table: dict[tuple[str, str], frozenset[Role]] = {}
    for row in rows:
        service, op, *cells = row
        assert len(cells) == len(roles), f"{service} {op}: {len(cells)} cells"
        assert set(cells) <= {"Y", "."}, f"{service} {op}: cells are Y or ."
        assert service == name, f"{service} {op}: listed in the table of {name}"
        assert (service, op) not in table and (service, op) not in seen, f"{service} {op} listed twice"
        table[(service, op)] = frozenset(r for r, c in zip(roles, cells, strict=True) if c == "Y")
    return table


TABLE = parse_matrix()


def _app_module(service: str) -> Any:
    info = next(s for s in SERVICES if s.name == service)
    return importlib.import_module(f"{info.package}.entrypoints.app")


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                out.append((path, method, op))
    return out


def test_matrix_lists_every_operation():
    documented: set[tuple[str, str]] = set()
    for svc in SERVICES:
        app = _app_module(svc.name).create_app(
            database_url="postgresql://unused@127.0.0.1:1/unused", nats_url="nats://127.0.0.1:1"
        )
        documented |= {(svc.name, op["operationId"]) for _, _, op in _operations(app.openapi())}
    missing = sorted(documented - TABLE.keys())
    stale = sorted(TABLE.keys() - documented)
    assert not missing, f"operations without a row in the authorisation matrix: {missing}"
    assert not stale, f"rows for operations that no longer exist: {stale}"


def test_matrix_agrees_with_the_declared_role_dependencies():
    """The table is written by hand; the routes declare roles with ``require_roles``. Both must say the same."""
    from fastapi.routing import APIRoute

    def declared(dependant: Any) -> set[Role]:
        out = set(getattr(dependant.call, "allowed_roles", ()) or ())
        for sub in dependant.dependencies:
            out |= declared(sub)
        return out

    for svc in SERVICES:
        routers = importlib.import_module(f"{svc.package}.entrypoints.api").routers
        for route in (r for router in routers for r in router.routes if isinstance(r, APIRoute)):
            assert declared(route.dependant) == set(TABLE[(svc.name, route.operation_id)]), (
                f"{svc.name} {route.operation_id}: the routes admit {sorted(declared(route.dependant))}"
            )


def _has_body(op: dict[str, Any]) -> bool:
    return "requestBody" in op


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
async def test_every_role_on_every_operation(service, service_client, make_token):
    module = _app_module(service)
    app, client = await service_client(module.create_app, service, **COMMON_SETTINGS, **APP_SETTINGS[service])
    seeds = await SEEDERS[service](app, client, make_token)
    ops = sorted(_operations(app.openapi()), key=lambda o: o[2]["operationId"] in RUN_LAST)
    problems: list[str] = []
    for path, method, op in ops:
        op_id = op["operationId"]
        allowed = TABLE[(service, op_id)]
        url, _ = seeds.path_for(op_id, path)
        for role in Role:
            headers = headers_for(make_token, role, seeds.home)
            body = seeds.body_for(op_id, role) if _has_body(op) else None
            params = seeds.queries.get(op_id)
            r = await client.request(method.upper(), url, json=body, params=params, headers=headers)
            cell = f"{service} {method.upper()} {path} ({op_id}) as {role.value}: {r.status_code}"
            if r.status_code >= 500:
                problems.append(f"{cell} — server error {r.text[:200]}")
            elif op_id in SIGNED:
                if r.status_code != 401 or r.headers.get("content-type") != "application/problem+json":
                    problems.append(f"{cell} — an unsigned call must be 401 problem+json, got {r.text[:200]}")
            elif role in allowed or op_id in PUBLIC:
                if r.status_code in (401, 403):
                    problems.append(f"{cell} — expected allow, got {r.text[:200]}")
            elif r.status_code != 403 or r.json().get("code") != "role_not_allowed":
                problems.append(f"{cell} — expected 403 role_not_allowed, got {r.text[:200]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
async def test_scoped_roles_are_refused_outside_their_scope(service, service_client, make_token):
    module = _app_module(service)
    app, client = await service_client(module.create_app, service, **COMMON_SETTINGS, **APP_SETTINGS[service])
    seeds = await SEEDERS[service](app, client, make_token)
    hides = HIDES_AS_404.get(service, set())
    checked = 0
    problems: list[str] = []
    for path, method, op in _operations(app.openapi()):
        op_id = op["operationId"]
        if op_id in PUBLIC or "{" not in path or (_has_body(op) and not seeds.has_body(op_id)):
            continue
        url, seeded = seeds.path_for(op_id, path)
        if not seeded:
            continue
        for role in sorted(TABLE[(service, op_id)]):
            headers = headers_for(make_token, role, seeds.home, away=True)
            body = seeds.body_for(op_id, role) if _has_body(op) else None
            params = seeds.queries.get(op_id)
            r = await client.request(method.upper(), url, json=body, params=params, headers=headers)
            expected = {404} if hides is None or op_id in hides else {403}
            checked += 1
            if op_id in ITEMWISE and r.status_code == 200:
                # a batch answers each item on its own: every item must have been refused
                statuses = {item["status"] for item in r.json()["items"]}
                if not statuses <= expected:
                    problems.append(f"{service} {op_id} as {role.value} from another scope: items {statuses}")
            elif r.status_code not in expected:
                problems.append(
                    f"{service} {method.upper()} {path} ({op_id}) as {role.value} from another scope: "
                    f"{r.status_code} (expected {sorted(expected)}) {r.text[:200]}"
                )
    for path, method, op in _operations(app.openapi()):
        op_id = op["operationId"]
        if method != "get" or op_id in PUBLIC or "{" in path or op_id == "listWorkPackageTypes":
            continue
        for role in sorted(TABLE[(service, op_id)]):
            headers = headers_for(make_token, role, seeds.home, away=True)
            r = await client.get(path, params=seeds.queries.get(op_id), headers=headers)
            checked += 1
            leaked = [v for v in seeds.params.values() if v in r.text]
            if r.status_code not in (200, 403, 422) or (r.status_code == 200 and leaked):
                problems.append(
                    f"{service} GET {path} ({op_id}) as {role.value} from another scope: {r.status_code}, "
                    f"home resources listed: {leaked}"
                )
    assert checked, f"{service}: no out-of-scope call was made"
    assert not problems, "\n".join(problems)
