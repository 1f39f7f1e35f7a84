"""Subscriptions API: secret shown once, ownership by role and scope, validation, SSRF at creation."""

from __future__ import annotations

import uuid

from renovation_common.testing.plugin import bearer


async def test_crud_secret_once_and_ownership(start_app, receiver, gov, make_token):
    _, client = await start_app()
    owner = gov("gov-owner")
    body = {"url": receiver.url(), "event_types": ["finance.*", "*"], "district_id": "d-7", "description": "市住建委"}
    resp = await client.post("/v1/subscriptions", json=body, headers=owner)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["event_types"] == ["*", "finance.*"]
    sid = created["id"]

    got = await client.get(f"/v1/subscriptions/{sid}", headers=owner)
    assert got.status_code == 200 and "secret" not in got.json()
    assert created["secret"] not in got.text
    listed = await client.get("/v1/subscriptions", headers=owner)
    assert [s["id"] for s in listed.json()["items"]] == [sid]
    assert created["secret"] not in listed.text and "whsec_" not in listed.text

    # another gov system sees nothing of it
    other = gov("gov-other")
    assert (await client.get(f"/v1/subscriptions/{sid}", headers=other)).json()["code"] == "subscription_not_found"
    assert (await client.get("/v1/subscriptions", headers=other)).json()["items"] == []
    assert (await client.delete(f"/v1/subscriptions/{sid}", headers=other)).status_code == 404

    # district_admin: their district's subscriptions only
    admin7 = bearer(make_token("district_admin", district_id="d-7"))
    admin8 = bearer(make_token("district_admin", district_id="d-8"))
    assert (await client.get(f"/v1/subscriptions/{sid}", headers=admin7)).status_code == 200
    assert (await client.get(f"/v1/subscriptions/{sid}", headers=admin8)).status_code == 404
    denied = await client.post("/v1/subscriptions", json={**body, "district_id": "d-7"}, headers=admin8)
    assert denied.status_code == 403 and denied.json()["code"] == "out_of_scope"
    own = await client.post("/v1/subscriptions", json={**body, "district_id": None}, headers=admin8)
    assert own.status_code == 201 and own.json()["district_id"] == "d-8"

    # other roles are refused
    resident = bearer(make_token("resident", household_id="h-1"))
    assert (await client.get("/v1/subscriptions", headers=resident)).json()["code"] == "role_not_allowed"
    assert (await client.get("/v1/subscriptions")).status_code == 401

    # patch, rotate, delete
    patched = await client.patch(
        f"/v1/subscriptions/{sid}", json={"description": "new", "event_types": ["survey.*"]}, headers=admin7
    )
    assert patched.status_code == 200 and patched.json()["event_types"] == ["survey.*"]
    rotated = await client.post(f"/v1/subscriptions/{sid}/rotate-secret", json={"grace_period_s": 60}, headers=owner)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created["secret"] and rotated.json()["previous_secret_expires_at"]
    assert (await client.delete(f"/v1/subscriptions/{sid}", headers=owner)).status_code == 204
    assert (await client.get(f"/v1/subscriptions/{sid}", headers=owner)).status_code == 404


async def test_validation_errors(start_app, receiver, gov):
    _, client = await start_app()
    h = gov()

    async def code(**body):
        payload = {"url": receiver.url(), "event_types": ["finance.*"], **body}
        resp = await client.post("/v1/subscriptions", json=payload, headers=h)
        assert resp.headers["content-type"].startswith("application/problem+json")
        return resp.status_code, resp.json()["code"]

    assert await code(url="ftp://127.0.0.1/x") == (400, "url_scheme_not_allowed")
    assert await code(url="http://user:pw@127.0.0.1/x") == (400, "invalid_url")
    assert await code(event_types=["Finance.*"]) == (400, "invalid_event_type_pattern")
    assert await code(event_types=["finance.contribution"]) == (400, "invalid_event_type_pattern")
    assert await code(event_types=[]) == (422, "validation_error")
    assert await code(event_types=["x.*"] * 51) == (422, "validation_error")
    assert await code(description="x" * 501) == (422, "validation_error")
    assert await code(max_concurrency=0) == (422, "validation_error")
    assert await code(surprise=1) == (422, "validation_error")
    assert (await client.get(f"/v1/subscriptions/{uuid.uuid4()}", headers=h)).status_code == 404
    assert (await client.get("/v1/subscriptions?cursor=@@", headers=h)).json()["code"] == "invalid_cursor"


async def test_private_targets_refused_unless_allowed(start_app, receiver, gov):
    _, strict = await start_app(allowed_target_networks=[])
    h = gov()
    for url in (
        receiver.url(),
        f"http://localhost:{receiver.port}/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
    ):
        resp = await strict.post("/v1/subscriptions", json={"url": url, "event_types": ["*"]}, headers=h)
        assert resp.status_code == 400 and resp.json()["code"] == "target_not_allowed", (url, resp.text)
    resp = await strict.post(
        "/v1/subscriptions", json={"url": "http://no-such-host.invalid/x", "event_types": ["*"]}, headers=h
    )
    assert resp.json()["code"] == "target_unresolvable"

    _, allowed = await start_app(allowed_target_networks=["127.0.0.0/8"])
    resp = await allowed.post("/v1/subscriptions", json={"url": receiver.url(), "event_types": ["*"]}, headers=h)
    assert resp.status_code == 201
    # the allowlist covers loopback only, not other private networks
    resp = await allowed.post("/v1/subscriptions", json={"url": "http://10.0.0.1/x", "event_types": ["*"]}, headers=h)
    assert resp.status_code == 400
    # and a change of URL is checked as well
    sid = (await allowed.get("/v1/subscriptions", headers=h)).json()["items"][0]["id"]
    patched = await allowed.patch(f"/v1/subscriptions/{sid}", json={"url": "http://192.168.0.1/"}, headers=h)
    assert patched.json()["code"] == "target_not_allowed"
