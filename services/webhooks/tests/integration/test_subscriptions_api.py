"""Subscriptions API: secret shown once, ownership by role and scope, validation, SSRF at creation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from renovation_common.testing.plugin import bearer, eventually


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
    # the token's subject becomes the owner: bounded like any input (not a database error)
    long_sub = gov("g" * 201)
    r = await client.post("/v1/subscriptions", json={"url": receiver.url(), "event_types": ["*"]}, headers=long_sub)
    assert (r.status_code, r.json()["code"]) == (403, "subject_too_long")


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


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_filters_lie_in_the_callers_scope_by_the_platforms_records(
    start_app, receiver, gov, make_token, register_community
):
    """District and community filters are bounded by the caller's scope; where a community lies is the platform's
    record of it (survey.community.registered.v1), never the caller's word: a body naming another scope is a 403."""
    app, client = await start_app(dispatcher_enabled=False)
    d7, d8 = _unique("d7"), _unique("d8")
    c7, c8, unknown = _unique("c7"), _unique("c8"), _unique("c-unknown")
    await register_community(c7, d7)
    await register_community(c8, d8)

    assert await _district_of(app, c7) == d7 and await _district_of(app, c8) == d8  # the consumer recorded them

    def body(**filters: str | None) -> dict:
        return {"url": receiver.url(), "event_types": ["*"], **filters}

    async def create(headers: dict, **filters: str | None):
        return await client.post("/v1/subscriptions", json=body(**filters), headers=headers)

    admin7 = bearer(make_token("district_admin", district_id=d7))
    gov7 = gov("gov-7", district_id=d7)
    city = gov("gov-city")
    for caller in (admin7, gov7):
        # a body naming another district, or a community of another district: 403
        r = await create(caller, district_id=d8)
        assert (r.status_code, r.json()["code"]) == (403, "out_of_scope"), r.text
        r = await create(caller, community_id=c8)
        assert (r.status_code, r.json()["code"]) == (403, "out_of_scope"), r.text
        r = await create(caller, district_id=d7, community_id=c8)
        assert (r.status_code, r.json()["code"]) == (403, "out_of_scope"), r.text
        # a community nobody registered is refused, not trusted
        r = await create(caller, community_id=unknown)
        assert (r.status_code, r.json()["code"]) == (400, "unknown_community"), r.text
        # their own community: bound to their district
        r = await create(caller, community_id=c7)
        assert r.status_code == 201, r.text
        assert (r.json()["district_id"], r.json()["community_id"]) == (d7, c7)

    # a city-level system (gov_system without a district claim): any district, any registered community ...
    r = await create(city, community_id=c8)
    assert r.status_code == 201 and (r.json()["district_id"], r.json()["community_id"]) == (None, c8), r.text
    assert (await create(city, district_id=d7)).status_code == 201
    # ... but not a community outside the district it filters on, nor one nobody registered
    r = await create(city, district_id=d7, community_id=c8)
    assert (r.status_code, r.json()["code"]) == (400, "community_outside_district"), r.text
    assert (await create(city, community_id=unknown)).json()["code"] == "unknown_community"

    # changing the community filter is checked the same way
    own = (await create(admin7)).json()
    patch = f"/v1/subscriptions/{own['id']}"
    r = await client.patch(patch, json={"community_id": c8}, headers=admin7)
    assert (r.status_code, r.json()["code"]) == (403, "out_of_scope"), r.text
    r = await client.patch(patch, json={"community_id": unknown}, headers=admin7)
    assert (r.status_code, r.json()["code"]) == (400, "unknown_community"), r.text
    r = await client.patch(patch, json={"community_id": c7}, headers=admin7)
    assert r.status_code == 200 and r.json()["community_id"] == c7
    r = await client.patch(patch, json={"community_id": None}, headers=admin7)
    assert r.status_code == 200 and r.json()["community_id"] is None
    got = (await client.get(patch, headers=admin7)).json()
    assert (got["district_id"], got["community_id"]) == (d7, None)

    # a gov_system token naming a district manages only its subscriptions bound to that district
    city_sub = (await create(gov("gov-moved"), district_id=d8)).json()
    assert (
        await client.get(f"/v1/subscriptions/{city_sub['id']}", headers=gov("gov-moved", district_id=d7))
    ).status_code == 404
    listed = (await client.get("/v1/subscriptions", headers=gov("gov-moved", district_id=d7))).json()["items"]
    assert listed == []
    assert (
        await client.get(f"/v1/subscriptions/{city_sub['id']}", headers=gov("gov-moved", district_id=d8))
    ).status_code == 200


async def test_the_newest_registration_of_a_community_decides_where_it_lies(
    start_app, register_community, make_token, receiver
):
    """Issue 14: the communities read model keeps the newest state by the community's version (another relay
    replica, a redelivery or a replay may deliver an older event last); between equal versions — a producer that
    does not count them yet sends 0 — the newer event time wins."""
    app, client = await start_app(dispatcher_enabled=False)
    d_new, d_old, d_v0, community = _unique("d-new"), _unique("d-old"), _unique("d-v0"), _unique("c")
    now = datetime.now(UTC)
    await register_community(community, d_new, time=now - timedelta(minutes=10), version=3)
    assert await _district_of(app, community) == d_new
    # version 2 arriving late, with a *newer* event time: the version decides, nothing changes
    late = await register_community(community, d_old, time=now, version=2)
    await eventually(lambda: _consumed(app, late))
    assert await _district_of(app, community, wait=False) == d_new
    old_admin = bearer(make_token("district_admin", district_id=d_old))
    body = {"url": receiver.url(), "event_types": ["*"], "community_id": community}
    r = await client.post("/v1/subscriptions", json=body, headers=old_admin)
    assert (r.status_code, r.json()["code"]) == (403, "out_of_scope")
    # the same version: the newer event time wins, an older one changes nothing
    same_newer = await register_community(community, d_v0, time=now - timedelta(minutes=5), version=3)
    await eventually(lambda: _consumed(app, same_newer))
    assert await _district_of(app, community, wait=False) == d_v0
    same_older = await register_community(community, d_new, time=now - timedelta(minutes=20), version=3)
    await eventually(lambda: _consumed(app, same_older))
    assert await _district_of(app, community, wait=False) == d_v0


async def _consumed(app, event_id: str) -> bool:
    async with app.state.sessionmaker() as s:
        row = await s.execute(
            sa.text("select 1 from inbox where consumer = 'community-registry' and event_id = :e"),
            {"e": uuid.UUID(event_id)},
        )
        return row.first() is not None


async def _district_of(app, community_id: str, *, wait: bool = True) -> str | None:
    found: list[str | None] = [None]

    async def check() -> bool:
        async with app.state.sessionmaker() as s:
            found[0] = await s.scalar(
                sa.text("select district_id from communities where community_id = :c"), {"c": community_id}
            )
        return found[0] is not None

    if wait:
        await eventually(check)
    else:
        await check()
    return found[0]
