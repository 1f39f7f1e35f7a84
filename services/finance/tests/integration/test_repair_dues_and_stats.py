"""Issue 16.3: the household shares of a repair are dues residents see and pay through the payment rules; collection
totals count each household once; district statistics in the Jiaxing form by month, quarter and year."""

from __future__ import annotations

from datetime import UTC, datetime

from .conftest import auth, callback, new_id, recently, seed_community, seed_scheme, signed

CALLBACKS = "/v1/payment-providers/wechat_pay/callbacks"
HOMES = [("h1", "b1", "60.00"), ("h2", "b1", "40.00"), ("h3", "b2", "50.00")]


def resident(make_token, household, community="c1"):
    return auth(
        make_token, "resident", district_id="D1", street_id="S1", community_id=community, household_id=household
    )


async def approved_repair(
    client, make_token, *, cost, buildings=(), kind="repair", community="c1", street="S1"
) -> dict:
    worker = auth(make_token, "community_worker", district_id="D1", street_id=street, community_id=community)
    admin = auth(make_token, "district_admin", district_id="D1")
    body = {"request_id": new_id(), "community_id": community, "description": "供水主管爆裂", "kind": kind}
    if buildings:
        body["building_ids"] = list(buildings)
    r = await client.post("/v1/emergency-repairs", headers=worker, json=body)
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/v1/emergency-repairs/{r.json()['id']}/approve",
        headers=admin,
        json={"approved_cost_fen": cost, "use_public_income": False},
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_household_shares_become_dues_residents_see_and_pay_on_proof(finance, make_token):
    app, client = finance
    await seed_community(app, "c1", delivered=1990, homes=HOMES)
    await seed_community(app, "c2", delivered=1990, homes=[("x1", "b9", "70.00")])
    admin = auth(make_token, "district_admin", district_id="D1")
    assert (
        await client.post(
            "/v1/emergency-fund/deposits", headers=admin, json={"deposit_id": new_id(), "amount_fen": 10**7}
        )
    ).status_code == 201
    _scheme, water = await seed_scheme(client, make_token)  # a water-meter due for every household of c1
    repair = await approved_repair(client, make_token, cost=100_000, buildings=["b1"])  # owners 20,000 on 60 + 40 m²
    shares = {s["household_id"]: s["amount_fen"] for s in repair["household_shares"]}
    assert shares == {"h1": 12_000, "h2": 8_000}

    # the resident sees their own dues: the water meter and their share of the repair
    mine = (await client.get("/v1/dues", headers=resident(make_token, "h1"))).json()["items"]
    assert sorted((d["kind"], d["amount_fen"]) for d in mine) == [("emergency_repair", 12_000), ("water_meter", 80_000)]
    repair_due = next(d for d in mine if d["kind"] == "emergency_repair")
    assert repair_due["scheme_id"] == repair["dues_scheme_id"] and repair_due["status"] == "outstanding"
    h3 = (await client.get("/v1/dues", headers=resident(make_token, "h3"), params={"kind": "emergency_repair"})).json()
    assert h3["items"] == []  # building 2 is not concerned
    assert (
        await client.get("/v1/dues", headers=resident(make_token, "h1"), params={"household_id": "h2"})
    ).status_code == 403

    # pays through the payment rules: an intent (posts nothing), then the provider's signed callback
    r = await client.post(
        f"/v1/dues/{repair_due['id']}/payment-intents",
        headers=resident(make_token, "h1"),
        json={"amount_fen": 5_000, "method": "wechat_pay", "provider": "wechat_pay"},
    )
    assert r.status_code == 201, r.text
    raw, headers = signed(callback(r.json(), "txn-repair-1"))
    r = await client.post(CALLBACKS, content=raw, headers=headers)
    assert r.status_code == 200, r.text
    # the rest in cash to the grid worker, who records a receipt; a resident cannot
    receipt = {"receipt_number": "R-9", "amount_fen": 7_000, "method": "cash", "received_at": recently()}
    assert (
        await client.post(f"/v1/dues/{repair_due['id']}/receipts", headers=resident(make_token, "h1"), json=receipt)
    ).status_code == 403
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c1")
    r = await client.post(f"/v1/dues/{repair_due['id']}/receipts", headers=worker, json=receipt)
    assert r.status_code in (200, 201), r.text
    paid = (await client.get(f"/v1/dues/{repair_due['id']}", headers=resident(make_token, "h1"))).json()
    assert (paid["paid_fen"], paid["status"]) == (12_000, "paid")
    assert {p["source"] for p in paid["payments"]} == {"provider", "receipt"}

    # the repair is paid: the household's account is charged its share, which its payments settled to zero
    assert (await client.post(f"/v1/emergency-repairs/{repair['id']}/pay", headers=admin)).status_code == 200
    accounts = (await client.get("/v1/dues", headers=resident(make_token, "h1"))).json()
    assert accounts["items"]
    async with app.state.sessionmaker() as session:
        import sqlalchemy as sa

        h1 = await session.execute(
            sa.text("select credits_posted - debits_posted from accounts where code = 'household:h1'")
        )
        h2 = await session.execute(
            sa.text("select credits_posted - debits_posted from accounts where code = 'household:h2'")
        )
        assert (h1.scalar_one(), h2.scalar_one()) == (0, -8_000)  # h2 still owes its share

    # staff: the dues of their scope, with filters and cursor pagination, no filter required
    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/dues", headers=worker, params=params)).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    seen = [d for p in pages for d in p]
    assert len(seen) == 5 and {d["community_id"] for d in seen} == {"c1"} and all(len(p) <= 2 for p in pages)
    outstanding = (
        await client.get("/v1/dues", headers=worker, params={"kind": "emergency_repair", "status": "outstanding"})
    ).json()["items"]
    assert [d["household_id"] for d in outstanding] == ["h2"]
    officer = auth(make_token, "finance_officer", district_id="D1")
    district = (await client.get("/v1/dues", headers=officer, params={"limit": 100})).json()["items"]
    assert len(district) == 5  # c2 has no dues yet
    other = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c2")
    assert (await client.get("/v1/dues", headers=other)).json()["items"] == []
    r = await client.get("/v1/dues", headers=other, params={"household_id": "h1"})
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    away = auth(make_token, "district_admin", district_id="D2")
    assert (await client.get("/v1/dues", headers=away)).json()["items"] == []
    assert water  # the water-meter dues are listed above among the five


async def test_collection_totals_count_each_household_once(finance, make_token):
    app, client = finance
    await seed_community(app, "c1", delivered=1990, homes=HOMES)
    admin = auth(make_token, "district_admin", district_id="D1")
    await client.post("/v1/emergency-fund/deposits", headers=admin, json={"deposit_id": new_id(), "amount_fen": 10**7})
    _scheme, water = await seed_scheme(client, make_token)
    repair = await approved_repair(client, make_token, cost=100_000, buildings=["b1"])
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c1")
    dues = (await client.get("/v1/dues", headers=worker, params={"household_id": "h1"})).json()["items"]
    repair_due = next(d for d in dues if d["kind"] == "emergency_repair")
    # h1 pays both its dues, its repair share in two payments; nobody else pays
    for number, due_id, amount in (
        ("R-1", water["h1"]["id"], 80_000),
        ("R-2", repair_due["id"], 6_000),
        ("R-3", repair_due["id"], 6_000),
    ):
        body = {"receipt_number": number, "amount_fen": amount, "method": "cash", "received_at": recently()}
        assert (await client.post(f"/v1/dues/{due_id}/receipts", headers=worker, json=body)).status_code in (200, 201)

    result = (await client.get("/v1/communities/c1/collection", headers=worker)).json()
    total = result["total"]
    assert total["households"] == 3  # h1, h2, h3 — h1 and h2 owe two dues each, still three households
    assert total["households_paying"] == 1  # h1: two dues, three payments, one paying household
    assert total["households_paid_in_full"] == 1
    assert (total["due_fen"], total["paid_fen"]) == (3 * 80_000 + 20_000, 92_000)
    by_kind = {s["kind"]: s["total"] for s in result["schemes"]}
    assert by_kind["emergency_repair"]["households"] == 2 and by_kind["emergency_repair"]["households_paying"] == 1
    assert by_kind["water_meter"]["households"] == 3
    assert repair["dues_scheme_id"] in {s["scheme_id"] for s in result["schemes"]}


async def test_district_statistics_by_month_quarter_and_year_in_the_jiaxing_form(clocked, make_token):
    app, client, clock = clocked
    await seed_community(app, "c1", delivered=1990, homes=HOMES)
    await seed_community(app, "c9", street="S9", delivered=1990, homes=[("z1", "b1", "80.00")])
    admin = auth(make_token, "district_admin", district_id="D1")
    await client.post("/v1/emergency-fund/deposits", headers=admin, json={"deposit_id": new_id(), "amount_fen": 10**8})
    # paid at: 15 Jan (repair), 31 Mar 20:00 UTC = 1 Apr 04:00 in China (renewal), 10 Apr (repair, street S9)
    for paid_at, cost, kind, community, street in (
        (datetime(2026, 1, 15, 2, tzinfo=UTC), 1_000_003, "repair", "c1", "S1"),
        (datetime(2026, 3, 31, 20, tzinfo=UTC), 500_000, "renewal", "c1", "S1"),
        (datetime(2026, 4, 10, 2, tzinfo=UTC), 250_000, "repair", "c9", "S9"),
    ):
        clock.now = paid_at
        repair = await approved_repair(client, make_token, cost=cost, kind=kind, community=community, street=street)
        assert (await client.post(f"/v1/emergency-repairs/{repair['id']}/pay", headers=admin)).status_code == 200
    span = {"from": "2026-01-01T00:00:00+08:00", "to": "2027-01-01T00:00:00+08:00"}

    month = (await client.get("/v1/emergency-repairs/stats", headers=admin, params={**span, "period": "month"})).json()
    assert [(p["period"], p["uses"]) for p in month["periods"]] == [("2026-01", 1), ("2026-04", 2)]
    jan, apr = month["periods"]
    assert (jan["total_fen"], jan["government_fen"], jan["owners_fen"]) == (1_000_003, 800_003, 200_000)
    assert (jan["total_yuan"], jan["government_yuan"], jan["owners_yuan"]) == ("10000.03", "8000.03", "2000.00")
    assert jan["period_start"] == "2026-01-01T00:00:00+08:00"
    assert apr["by_kind"]["renewal"]["uses"] == 1 and apr["by_kind"]["repair"]["uses"] == 1
    assert apr["government_fen"] == 400_000 + 200_000 and apr["owners_fen"] == 100_000 + 50_000
    quarter = (
        await client.get("/v1/emergency-repairs/stats", headers=admin, params={**span, "period": "quarter"})
    ).json()
    assert [(p["period"], p["uses"]) for p in quarter["periods"]] == [("2026-Q1", 1), ("2026-Q2", 2)]
    year = (await client.get("/v1/emergency-repairs/stats", headers=admin, params={**span, "period": "year"})).json()
    assert [(p["period"], p["uses"], p["total_fen"]) for p in year["periods"]] == [("2026", 3, 1_750_003)]
    assert year["summary_zh"] == "共计3笔、1.75万元" and year["totals"]["total_yuan"] == "17500.03"
    assert year["by_kind"]["repair"]["uses"] == 2 and year["totals"]["owners_fen"] == 350_000
    assert year["totals"]["government_fen"] + year["totals"]["owners_fen"] == year["totals"]["total_fen"]

    # who may read: the district's admin, finance office and government systems; a street officer their street
    for role in ("finance_officer", "gov_system"):
        r = await client.get("/v1/emergency-repairs/stats", headers=auth(make_token, role, district_id="D1"))
        assert r.status_code == 200 and r.json()["uses"] == 3, r.text
    street = auth(make_token, "street_officer", district_id="D1", street_id="S9")
    r = await client.get("/v1/emergency-repairs/stats", headers=street, params={"period": "year"})
    assert (r.json()["street_id"], r.json()["uses"], r.json()["total_fen"]) == ("S9", 1, 250_000)
    other = auth(make_token, "district_admin", district_id="D2")
    assert (
        await client.get("/v1/emergency-repairs/stats", headers=other, params={"district_id": "D1"})
    ).status_code == 403
    assert (await client.get("/v1/emergency-repairs/stats", headers=other)).json()["uses"] == 0
    for role in ("resident", "community_worker", "operator"):
        token = auth(make_token, role, district_id="D1", street_id="S1", community_id="c1", household_id="h1")
        assert (await client.get("/v1/emergency-repairs/stats", headers=token)).status_code == 403
    bad = await client.get("/v1/emergency-repairs/stats", headers=admin, params={"period": "week"})
    assert bad.status_code == 422
