"""Scope comes from the server's records, never from the request body: one out-of-scope case per create route.

World: district D1 with streets S1 (community c1: households h1, h2) and S2 (community c2: household h9, project
p2); district D2 (community c3). Callers are scoped to D1/S1/c1; bodies name targets elsewhere — or name the
caller's own scope next to a target that the records place elsewhere.
"""

import pytest
from sqlalchemy import text

from renovation_common.testing.plugin import all_pages

from .conftest import auth, new_id, recently, seed_community, seed_project, seed_scheme


@pytest.fixture
async def world(finance, make_token):
    app, client = finance
    await seed_community(app, "c1", homes=[("h1", "b1", "60.00"), ("h2", "b1", "70.00")])
    await seed_community(app, "c2", street="S2", homes=[("h9", "b9", "50.00")])
    await seed_community(app, "c3", district="D2", street="S3", homes=[("h3", "b3", "50.00")])
    await seed_project(app, "p1", "c1")
    await seed_project(app, "p2", "c2", street="S2")
    await seed_project(app, "p3", "c3", district="D2", street="S3")
    return app, client


def refused(r, code="out_of_scope"):
    assert r.status_code == 403, r.text
    assert r.json()["code"] == code, r.text
    return True


async def test_create_account_takes_its_scope_from_the_record_it_names(world, make_token):
    _app, client = world
    admin = auth(make_token, "district_admin", district_id="D1")

    async def create(**body):
        return await client.post("/v1/accounts", headers=admin, json={"kind": "household", "name": "x", **body})

    r = await create(household_id="h1")  # district, street and community come from the household's record
    assert r.status_code == 201, r.text
    assert (r.json()["district_id"], r.json()["street_id"], r.json()["community_id"]) == ("D1", "S1", "c1")
    assert (await create(district_id="D1")).json()["district_id"] == "D1"  # district-level: the caller's own
    assert refused(await create(household_id="h3"))  # a household of D2
    assert refused(await create(household_id="h3", district_id="D1"))  # ... whatever district the body claims
    assert refused(await create(district_id="D2"))
    assert refused(await create(project_id="p3"))
    assert refused(await create(community_id="c3", district_id="D1", street_id="S1"))
    assert refused(await create(household_id="h1", community_id="c2"))  # the household is not in c2
    assert refused(await create(household_id="h1", street_id="S2"))
    assert refused(await create(household_id="h1", project_id="p2"))  # records that disagree with each other
    for body, code in (
        ({"household_id": "h-unknown"}, "household_unknown"),
        ({"community_id": "c-unknown"}, "community_unknown"),
        ({"project_id": "p-unknown"}, "project_unknown"),
        ({"street_id": "S1"}, "account_target_required"),
    ):
        r = await create(**body)
        assert r.status_code == 422 and r.json()["code"] == code, r.text
    street_account = await client.post(
        "/v1/accounts",
        headers=auth(make_token, "district_admin", district_id="D2"),
        json={"kind": "household", "name": "x", "household_id": "h1"},
    )
    assert refused(street_account)


async def test_create_funding_plan_takes_its_scope_from_the_project(world, make_token):
    _app, client = world
    officer = auth(make_token, "street_officer", district_id="D1", street_id="S1")
    body = {"sources": [{"source": "donations", "planned_fen": 100}]}
    assert (
        await client.post("/v1/funding-plans", headers=officer, json={"project_id": "p1", **body})
    ).status_code == 201
    assert refused(await client.post("/v1/funding-plans", headers=officer, json={"project_id": "p2", **body}))
    admin = auth(make_token, "district_admin", district_id="D1")
    assert refused(await client.post("/v1/funding-plans", headers=admin, json={"project_id": "p3", **body}))
    r = await client.post("/v1/funding-plans", headers=officer, json={"project_id": "p-unknown", **body})
    assert r.status_code == 422 and r.json()["code"] == "project_unknown"


async def test_create_contribution_scheme_takes_its_scope_from_the_community(world, make_token):
    _app, client = world
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c1")
    body = {"kind": "water_meter", "title": "水表"}
    assert (
        await client.post("/v1/contribution-schemes", headers=worker, json={"community_id": "c1", **body})
    ).status_code == 201
    assert refused(await client.post("/v1/contribution-schemes", headers=worker, json={"community_id": "c2", **body}))
    officer = auth(make_token, "street_officer", district_id="D1", street_id="S1")
    assert refused(await client.post("/v1/contribution-schemes", headers=officer, json={"community_id": "c2", **body}))
    unbound = auth(make_token, "community_worker", district_id="D1", street_id="S1")
    r = await client.post("/v1/contribution-schemes", headers=unbound, json={"community_id": "c1", **body})
    assert refused(r, "scope_claim_missing")


async def test_request_emergency_repair_takes_its_scope_from_the_community(world, make_token):
    _app, client = world

    def body(community):
        return {"request_id": new_id(), "community_id": community, "description": "供水主管爆裂"}

    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c1")
    assert (await client.post("/v1/emergency-repairs", headers=worker, json=body("c1"))).status_code == 201
    assert refused(await client.post("/v1/emergency-repairs", headers=worker, json=body("c2")))
    unbound = auth(make_token, "community_worker", district_id="D1", street_id="S1")
    assert refused(await client.post("/v1/emergency-repairs", headers=unbound, json=body("c1")), "scope_claim_missing")
    # a resident's community is the one finance's records hold for the household, not the token's or the body's
    resident = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c1", household_id="h1")
    assert (await client.post("/v1/emergency-repairs", headers=resident, json=body("c1"))).status_code == 201
    assert refused(await client.post("/v1/emergency-repairs", headers=resident, json=body("c2")))
    lying = auth(make_token, "resident", district_id="D1", street_id="S2", community_id="c2", household_id="h1")
    assert refused(await client.post("/v1/emergency-repairs", headers=lying, json=body("c2")))
    stranger = auth(make_token, "resident", district_id="D1", community_id="c1", household_id="h-unknown")
    assert refused(await client.post("/v1/emergency-repairs", headers=stranger, json=body("c1")))


async def test_public_income_intents_receipts_and_transfers_take_their_scope_from_the_records(world, make_token):
    app, client = world
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c1")
    money = {"receipt_id": new_id(), "amount_fen": 100}
    assert (await client.post("/v1/communities/c1/public-income", headers=worker, json=money)).status_code == 201
    assert refused(
        await client.post("/v1/communities/c2/public-income", headers=worker, json={**money, "receipt_id": new_id()})
    )
    async with app.state.sessionmaker() as session:  # the refused call created no account in c2 either
        codes = (await session.execute(text("select code from accounts where code = 'public_income:c2'"))).all()
    assert codes == []

    _scheme, dues = await seed_scheme(client, make_token, "c2", street="S2")
    intent = {"amount_fen": 1, "method": "unionpay", "provider": "wechat_pay"}
    assert refused(await client.post(f"/v1/dues/{dues['h9']['id']}/payment-intents", headers=worker, json=intent))
    receipt = {"receipt_number": "R-1", "amount_fen": 1, "method": "cash", "received_at": recently()}
    assert refused(await client.post(f"/v1/dues/{dues['h9']['id']}/receipts", headers=worker, json=receipt))
    officer = auth(make_token, "finance_officer", district_id="D1", street_id="S1")
    assert refused(await client.post(f"/v1/dues/{dues['h9']['id']}/receipts", headers=officer, json=receipt))

    d2 = auth(make_token, "district_admin", district_id="D2")
    admin = auth(make_token, "district_admin", district_id="D1")
    a = (await client.post("/v1/accounts", headers=admin, json={"kind": "government", "name": "t"})).json()["id"]
    b = (await client.post("/v1/accounts", headers=admin, json={"kind": "fund_source", "name": "f"})).json()["id"]
    t = {"transfers": [{"id": new_id(), "debit_account_id": a, "credit_account_id": b, "amount_fen": 1}]}
    assert refused(await client.post("/v1/transfers", headers=d2, json=t))


async def test_lists_of_accounts_and_funding_plans_hold_only_the_callers_scope(world, make_token):
    _app, client = world
    admins = {d: auth(make_token, "district_admin", district_id=d) for d in ("D1", "D2")}
    made = {}
    for name, body, district in (
        ("h1", {"household_id": "h1"}, "D1"),
        ("h2", {"household_id": "h2"}, "D1"),
        ("h9", {"household_id": "h9"}, "D1"),
        ("h3", {"household_id": "h3"}, "D2"),
        ("district", {}, "D1"),
    ):
        r = await client.post(
            "/v1/accounts",
            headers=admins[district],
            json={"kind": "household" if body else "government", "name": name, **body},
        )
        assert r.status_code == 201, r.text
        made[name] = r.json()["id"]
    for project, district in (("p1", "D1"), ("p2", "D1"), ("p3", "D2")):
        body = {"project_id": project, "sources": [{"source": "government_subsidy", "planned_fen": 100_000}]}
        r = await client.post("/v1/funding-plans", headers=admins[district], json=body)
        assert r.status_code == 201, r.text

    mine = {made[k] for k in ("h1", "h2", "h9", "h3", "district")}
    d1 = {a["id"] for a in await all_pages(client, "/v1/accounts", admins["D1"])} & mine
    assert d1 == {made["h1"], made["h2"], made["h9"], made["district"]}
    street = auth(make_token, "street_officer", district_id="D1", street_id="S1")
    s1 = await all_pages(client, "/v1/accounts", street)
    assert {a["id"] for a in s1} & mine == {made["h1"], made["h2"]}  # not S2's, not the district's treasury
    assert all(a["street_id"] == "S1" for a in s1)
    resident = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c1", household_id="h1")
    assert [a["id"] for a in await all_pages(client, "/v1/accounts", resident)] == [made["h1"]]
    by_kind = await all_pages(client, "/v1/accounts", admins["D1"], kind="government")
    assert made["district"] in {a["id"] for a in by_kind} and {a["kind"] for a in by_kind} == {"government"}
    assert {a["id"] for a in await all_pages(client, "/v1/accounts", admins["D1"], community_id="c2")} & mine == {
        made["h9"]
    }
    assert (
        await all_pages(client, "/v1/accounts", street, community_id="c2") == []
    )  # another street's community: nothing
    gov = auth(make_token, "gov_system", district_id="D2")
    assert {a["id"] for a in await all_pages(client, "/v1/accounts", gov)} & mine == {made["h3"]}

    plans = await all_pages(client, "/v1/funding-plans", admins["D1"])
    assert sorted(p["project_id"] for p in plans) == ["p1", "p2"] and {p["status"] for p in plans} == {"draft"}
    assert [p["project_id"] for p in await all_pages(client, "/v1/funding-plans", street)] == ["p1"]
    assert await all_pages(client, "/v1/funding-plans", admins["D1"], status="approved") == []
    assert [p["project_id"] for p in await all_pages(client, "/v1/funding-plans", gov)] == ["p3"]
    r = await client.get("/v1/funding-plans", headers=resident)
    assert r.status_code == 403
    r = await client.get("/v1/accounts", headers=admins["D1"], params={"cursor": "%%%"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
