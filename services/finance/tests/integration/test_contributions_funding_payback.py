"""Contributions (dues, payments, collection), funding plans (approve, receive, disburse) and payback analyses."""

import sqlalchemy as sa

from .conftest import auth, new_id, recently, seed_community, seed_project


async def test_contribution_scheme_dues_payments_collection(finance, make_token):
    app, client = finance
    await seed_community(app, "c1", homes=[("h1", "b1", "72.35"), ("h2", "b1", "60.00"), ("h3", "b2", "10.01")])
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c1")
    r = await client.post(
        "/v1/contribution-schemes",
        headers=worker,
        json={"community_id": "c1", "kind": "maintenance_fund", "title": "维修资金", "rate_fen_per_m2": 499},
    )
    assert r.status_code == 422 and r.json()["code"] == "maintenance_rate_below_minimum"
    r = await client.post(
        "/v1/contribution-schemes",
        headers=worker,
        json={"community_id": "c1", "kind": "maintenance_fund", "title": "维修资金", "rate_fen_per_m2": 555},
    )
    assert r.status_code == 201, r.text
    scheme = r.json()
    # 72.35 × 555 = 40,154.25 → 40,154; 60 × 555 = 33,300; 10.01 × 555 = 5,555.55 → 5,556
    assert scheme["dues_count"] == 3 and scheme["dues_total_fen"] == 40_154 + 33_300 + 5_556
    water = await client.post(
        "/v1/contribution-schemes", headers=worker, json={"community_id": "c1", "kind": "water_meter", "title": "水表"}
    )
    assert water.json()["dues_total_fen"] == 3 * 80_000

    resident = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c1", household_id="h1")
    mine = (await client.get("/v1/dues", headers=resident)).json()["items"]
    assert {d["household_id"] for d in mine} == {"h1"} and len(mine) == 2
    assert (await client.get("/v1/dues", headers=resident, params={"household_id": "h2"})).status_code == 403
    due = next(d for d in mine if d["scheme_id"] == scheme["id"])
    assert due["amount_fen"] == 40_154

    # money is posted on proof only: a worker of the community records the receipts
    def receipt(number, amount):
        return {"receipt_number": number, "amount_fen": amount, "method": "cash", "received_at": recently()}

    first = receipt("C1-0001", 40_000)
    r = await client.post(f"/v1/dues/{due['id']}/receipts", headers=worker, json=first)
    assert r.status_code == 201, r.text
    assert r.json()["paid_fen"] == 40_000
    paid = r.json()["payments"][0]
    assert (paid["source"], paid["method"], paid["receipt_number"], paid["amount_fen"], paid["intent_id"]) == (
        "receipt",
        "cash",
        "C1-0001",
        40_000,
        None,
    )
    r = await client.post(f"/v1/dues/{due['id']}/receipts", headers=worker, json=first)
    assert r.status_code == 200 and r.json()["paid_fen"] == 40_000  # the same receipt again posts once
    r = await client.post(f"/v1/dues/{due['id']}/receipts", headers=worker, json=receipt("C1-0002", 155))
    assert r.status_code == 422 and r.json()["code"] == "overpayment"
    r = await client.post(f"/v1/dues/{due['id']}/receipts", headers=worker, json=receipt("C1-0002", 154))
    assert r.json()["outstanding_fen"] == 0
    # a resident cannot post money, not even on their own due
    r = await client.post(f"/v1/dues/{due['id']}/receipts", headers=resident, json=receipt("C1-0003", 1))
    assert r.status_code == 403 and r.json()["code"] == "role_not_allowed"

    coll = (
        await client.get("/v1/communities/c1/collection", headers=worker, params={"scheme_id": scheme["id"]})
    ).json()
    s = coll["schemes"][0]
    assert s["total"]["paid_fen"] == 40_154 and s["total"]["households_paid_in_full"] == 1
    assert s["total"]["rate_percent"] == "50.82"  # 40,154 / 79,010 = 50.821…
    b1 = next(b for b in s["buildings"] if b["building_id"] == "b1")
    assert b1["rate_percent"] == "54.67" and b1["households"] == 2
    pool = (
        await client.get(
            f"/v1/accounts/{scheme['pool_account_id']}", headers=auth(make_token, "district_admin", district_id="D1")
        )
    ).json()
    assert pool["balance_fen"] == 40_154

    async with app.state.sessionmaker() as session:
        types = (await session.execute(sa.text("select event_type from outbox"))).scalars().all()
    assert types.count("finance.contribution.paid.v1") == 2


async def test_funding_plan_approve_receive_disburse(finance, make_token):
    app, client = finance
    await seed_community(app, "c2")
    await seed_project(app, "p1", "c2")
    officer = auth(make_token, "street_officer", district_id="D1", street_id="S1")
    admin = auth(make_token, "district_admin", district_id="D1")
    r = await client.post(
        "/v1/funding-plans",
        headers=officer,
        json={
            "project_id": "p1",
            "sources": [
                {"source": "government_subsidy", "planned_fen": 1_000_000},
                {"source": "donations", "planned_fen": 200_000},
            ],
            "milestones": [{"code": "underground", "amount_fen": 700_000}, {"code": "above", "amount_fen": 500_000}],
        },
    )
    assert r.status_code == 201, r.text
    plan_id = r.json()["id"]
    assert r.json()["status"] == "draft" and r.json()["total_planned_fen"] == 1_200_000
    early = await client.post(
        f"/v1/funding-plans/{plan_id}/receipts",
        headers=admin,
        json={"receipt_id": new_id(), "source": "donations", "amount_fen": 1},
    )
    assert early.status_code == 409 and early.json()["code"] == "plan_not_approved"
    assert (await client.post(f"/v1/funding-plans/{plan_id}/approve", headers=officer)).status_code == 403
    r = await client.post(f"/v1/funding-plans/{plan_id}/approve", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    for source, amount in (("government_subsidy", 600_000), ("donations", 200_000)):
        r = await client.post(
            f"/v1/funding-plans/{plan_id}/receipts",
            headers=admin,
            json={"receipt_id": new_id(), "source": source, "amount_fen": amount},
        )
        assert r.status_code == 201, r.text
    d = {"disbursement_id": new_id(), "milestone": "underground", "source": "government_subsidy", "amount_fen": 600_000}
    r = await client.post(f"/v1/funding-plans/{plan_id}/disbursements", headers=admin, json=d)
    assert r.status_code == 201, r.text
    assert (
        await client.post(f"/v1/funding-plans/{plan_id}/disbursements", headers=admin, json=d)
    ).status_code == 201  # a retry: same result, nothing new
    # more than was received from this source: the fund account may not go below zero
    r = await client.post(
        f"/v1/funding-plans/{plan_id}/disbursements",
        headers=admin,
        json={"disbursement_id": new_id(), "milestone": "above", "source": "government_subsidy", "amount_fen": 1},
    )
    assert r.status_code == 422 and r.json()["code"] == "insufficient_funds"
    r = await client.post(
        f"/v1/funding-plans/{plan_id}/disbursements",
        headers=admin,
        json={"disbursement_id": new_id(), "milestone": "underground", "source": "donations", "amount_fen": 100_001},
    )
    assert r.status_code == 422 and r.json()["code"] == "milestone_overdrawn"
    plan = (await client.get(f"/v1/funding-plans/{plan_id}", headers=officer)).json()
    by_source = {s["source"]: s for s in plan["sources"]}
    assert by_source["government_subsidy"] == {
        **by_source["government_subsidy"],
        "planned_fen": 1_000_000,
        "received_fen": 600_000,
        "disbursed_fen": 600_000,
    }
    assert plan["total_received_fen"] == 800_000 and plan["total_disbursed_fen"] == 600_000
    assert len(plan["disbursements"]) == 1
    async with app.state.sessionmaker() as session:
        types = (await session.execute(sa.text("select event_type from outbox"))).scalars().all()
    assert sorted(types) == ["finance.disbursement.posted.v1", "finance.funding_plan.approved.v1"]


async def test_payback_analysis_roles_and_result(finance, make_token):
    _app, client = finance
    operator = auth(make_token, "operator", district_id="D1")
    body = {
        "title": "t",
        "investment_fen": 100_000,
        "years": 3,
        "discount_rate": "0.10",
        "revenues": [{"kind": "parking", "annual_fen": 50_000}],
    }
    r = await client.post("/v1/payback-analyses", headers=operator, json=body)
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["payback_year"] == 2 and result["npv_fen"] == 24_343 and result["irr"] == "0.233752"
    again = await client.get(f"/v1/payback-analyses/{result['id']}", headers=operator)
    assert again.json()["npv_fen"] == 24_343
    resident = auth(make_token, "resident", household_id="h1")
    assert (await client.post("/v1/payback-analyses", headers=resident, json=body)).status_code == 403
    bad = await client.post("/v1/payback-analyses", headers=operator, json={**body, "years": 51})
    assert bad.status_code == 422
