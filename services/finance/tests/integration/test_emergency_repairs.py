"""Emergency repair fund end to end: eligibility, 80/20 split, linked payment, stats, exports."""

import csv
import io
import uuid

from openpyxl import load_workbook

from .conftest import auth, new_id, seed_community


async def test_pre_2000_community_gets_80_20_split_and_posts_one_group(finance, make_token):
    app, client = finance
    homes = [("h1", "b1", "55.50"), ("h2", "b1", "72.25"), ("h3", "b2", "30.00")]
    await seed_community(app, "c-old", delivered=1992, homes=homes)
    admin = auth(make_token, "district_admin", district_id="D1")
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c-old")

    r = await client.post(
        "/v1/emergency-fund/deposits", headers=admin, json={"deposit_id": new_id(), "amount_fen": 5_000_000}
    )
    assert r.status_code == 201, r.text
    fund_account = r.json()["account_id"]
    r = await client.post(
        "/v1/communities/c-old/public-income", headers=worker, json={"receipt_id": new_id(), "amount_fen": 5_000}
    )
    assert r.status_code == 201, r.text
    pi_account = r.json()["account_id"]

    request_id = new_id()
    body = {"request_id": request_id, "community_id": "c-old", "description": "供水主管爆裂", "location": "1号楼"}
    r = await client.post("/v1/emergency-repairs", headers=worker, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["eligible"] is True and r.json()["status"] == "requested"
    assert (await client.post("/v1/emergency-repairs", headers=worker, json=body)).status_code == 200

    # only a district admin approves
    r = await client.post(
        f"/v1/emergency-repairs/{request_id}/approve", headers=worker, json={"approved_cost_fen": 1_000_003}
    )
    assert r.status_code == 403
    r = await client.post(
        f"/v1/emergency-repairs/{request_id}/approve", headers=admin, json={"approved_cost_fen": 1_000_003}
    )
    assert r.status_code == 200, r.text
    split = r.json()
    # 20% of 1,000,003 = 200,000.6 → owners 200,000 (the odd fen to government), government 800,003
    assert (split["government_fen"], split["owners_fen"]) == (800_003, 200_000)
    assert split["public_income_fen"] == 5_000 and split["households_fen"] == 195_000
    shares = {s["household_id"]: s["amount_fen"] for s in split["household_shares"]}
    assert sum(shares.values()) == 195_000
    # exact: 68,605.39 / 89,310.62 / 37,083.99 → floors + the 2 left-over fen to the largest remainders
    assert shares == {"h1": 68_605, "h2": 89_311, "h3": 37_084}
    assert split["government_fen"] + split["public_income_fen"] + sum(shares.values()) == 1_000_003

    r = await client.post(f"/v1/emergency-repairs/{request_id}/pay", headers=admin)
    assert r.status_code == 200, r.text
    paid = r.json()
    assert paid["status"] == "paid" and paid["transfer_group_id"]
    again = await client.post(f"/v1/emergency-repairs/{request_id}/pay", headers=admin)
    assert again.json()["transfer_group_id"] == paid["transfer_group_id"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in r.headers

    fund = (await client.get(f"/v1/accounts/{fund_account}", headers=admin)).json()
    assert fund["balance_fen"] == 5_000_000 - 800_003
    assert (await client.get(f"/v1/accounts/{pi_account}", headers=admin)).json()["balance_fen"] == 0
    statement = (await client.get(f"/v1/accounts/{fund_account}/statement", headers=admin)).json()
    # deposit, the approval's reservation (pending, nothing posted), the payment posting it
    assert [e["posted_delta_fen"] for e in statement["items"]] == [5_000_000, 0, -800_003]
    assert [e["pending_delta_fen"] for e in statement["items"]] == [0, -800_003, 800_003]
    assert statement["items"][-1]["balance_after_fen"] == 4_199_997

    # the resident sees only their own share
    resident = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c-old", household_id="h2")
    mine = (await client.get(f"/v1/emergency-repairs/{request_id}", headers=resident)).json()
    assert [s["household_id"] for s in mine["household_shares"]] == ["h2"]

    stats = (await client.get("/v1/emergency-repairs/stats", headers=admin)).json()
    assert stats["uses"] == 1 and stats["total_fen"] == 1_000_003
    assert stats["summary_zh"] == "共计1笔、1.00万元"
    future = (
        await client.get("/v1/emergency-repairs/stats", headers=admin, params={"from": "2999-01-01T00:00:00+00:00"})
    ).json()
    assert future["uses"] == 0
    other = auth(make_token, "district_admin", district_id="D2")
    assert (
        await client.get("/v1/emergency-repairs/stats", headers=other, params={"district_id": "D1"})
    ).status_code == 403

    csv_resp = await client.get("/v1/emergency-repairs/report", headers=admin, params={"format": "csv"})
    assert csv_resp.status_code == 200 and csv_resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_resp.text.lstrip("\ufeff"))))
    assert rows[1][0] == request_id and rows[-1][5] == "共计1笔、1.00万元"
    xlsx = await client.get("/v1/emergency-repairs/report", headers=admin, params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.cell(2, 7).value == 1_000_003
    export = await client.get(f"/v1/accounts/{fund_account}/statement/export", headers=admin, params={"format": "xlsx"})
    assert load_workbook(io.BytesIO(export.content)).active.max_row == 4


async def test_2005_community_is_refused_with_reason(finance, make_token):
    app, client = finance
    await seed_community(app, "c-new", delivered=2005, homes=[("n1", "b1", "80.00")])
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c-new")
    request_id = new_id()
    r = await client.post(
        "/v1/emergency-repairs",
        headers=worker,
        json={"request_id": request_id, "community_id": "c-new", "description": "漏水"},
    )
    assert r.status_code == 422
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "emergency_repair_not_eligible"
    assert problem["reason"] == "delivered_2000_or_later"
    assert "2005" in problem["detail"]
    admin = auth(make_token, "district_admin", district_id="D1")
    stored = (await client.get(f"/v1/emergency-repairs/{request_id}", headers=admin)).json()
    assert stored["status"] == "refused" and stored["refusal_reason"] == "delivered_2000_or_later"
    r = await client.post(f"/v1/emergency-repairs/{request_id}/approve", headers=admin, json={"approved_cost_fen": 100})
    assert r.status_code == 422 and r.json()["code"] == "emergency_repair_not_eligible"


async def test_established_fund_refused_and_scope_checks(finance, make_token):
    app, client = finance
    await seed_community(app, "c-fund", delivered=1990, fund=True, homes=[("f1", "b1", "50.00")])
    await seed_community(app, "c-other", delivered=1990, homes=[("o1", "b1", "50.00")])
    resident = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c-fund", household_id="f1")
    r = await client.post(
        "/v1/emergency-repairs",
        headers=resident,
        json={"request_id": new_id(), "community_id": "c-fund", "description": "x"},
    )
    assert r.json()["reason"] == "maintenance_fund_established"
    r = await client.post(
        "/v1/emergency-repairs",
        headers=resident,
        json={"request_id": new_id(), "community_id": "c-other", "description": "x"},
    )
    assert r.status_code == 403
    operator = auth(make_token, "operator", district_id="D1")
    r = await client.post(
        "/v1/emergency-repairs",
        headers=operator,
        json={"request_id": str(uuid.uuid4()), "community_id": "c-other", "description": "x"},
    )
    assert r.status_code == 403 and r.json()["code"] == "role_not_allowed"


async def test_approval_fails_whole_when_government_fund_is_short(finance, make_token):
    """The fund's share is reserved at approval: a fund that cannot hold it refuses the approval (it used to be
    approved and fail only when paid), and nothing of the approval is written."""
    app, client = finance
    await seed_community(app, "c-short", delivered=1985, homes=[("s1", "b1", "40.00")])
    admin = auth(make_token, "district_admin", district_id="D1")
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c-short")
    request_id = new_id()
    await client.post(
        "/v1/emergency-repairs",
        headers=worker,
        json={"request_id": request_id, "community_id": "c-short", "description": "x"},
    )
    r = await client.post(
        f"/v1/emergency-repairs/{request_id}/approve", headers=admin, json={"approved_cost_fen": 10_000}
    )
    assert r.status_code == 422 and r.json()["code"] == "insufficient_funds"
    assert (r.json()["account"], r.json()["available_fen"]) == ("emergency_fund", 0)
    stored = (await client.get(f"/v1/emergency-repairs/{request_id}", headers=admin)).json()
    assert stored["status"] == "requested" and stored["approved_cost_fen"] is None
    assert stored["household_shares"] == [] and stored["transfer_group_id"] is None
    r = await client.post(f"/v1/emergency-repairs/{request_id}/pay", headers=admin)
    assert r.status_code == 409 and r.json()["code"] == "emergency_repair_not_approved"


async def test_a_stale_floor_area_never_wins_in_the_repair_split(finance, make_token):
    """Issue 14: with replicas, an older household update can arrive after a newer one. The read model keeps the
    newest version, so the owners' share is apportioned on the current floor areas."""
    from decimal import Decimal

    from finance.service_layer import readmodels
    from renovation_common.contracts.survey import HouseholdUpdated

    app, client = finance
    await seed_community(app, "c-vers", delivered=1992, homes=[("h1", "b1", "50.00"), ("h2", "b1", "50.00")])

    def update(version: int, area: str) -> HouseholdUpdated:
        return HouseholdUpdated(
            household_id="h1", community_id="c-vers", district_id="D1", street_id="S1", building_id="b1",
            building_code="1", floor_area_m2=Decimal(area), delivered_year=1992,
            maintenance_fund_established=False, version=version,
        )  # fmt: skip

    for version, area in ((3, "150.00"), (2, "10.00")):  # the newer update arrives first
        async with app.state.runtime.uow() as uow:
            await readmodels.record_household(uow, update(version, area))
    admin = auth(make_token, "district_admin", district_id="D1")
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c-vers")
    deposit = {"deposit_id": new_id(), "amount_fen": 100_000}
    assert (await client.post("/v1/emergency-fund/deposits", headers=admin, json=deposit)).status_code == 201
    again = await client.post("/v1/emergency-fund/deposits", headers=admin, json=deposit)  # a replay: nothing twice
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true" and again.json()["replayed"]
    r = await client.post(
        "/v1/emergency-repairs",
        headers=worker,
        json={
            "request_id": new_id(),
            "community_id": "c-vers",
            "description": "屋面渗漏",
            "estimated_cost_fen": 100_000,
        },
    )
    assert r.status_code == 201, r.text
    approved = await client.post(
        f"/v1/emergency-repairs/{r.json()['id']}/approve",
        headers=admin,
        json={"approved_cost_fen": 100_000, "use_public_income": False},
    )
    assert approved.status_code == 200, approved.text
    shares = {s["household_id"]: s["amount_fen"] for s in approved.json()["household_shares"]}
    assert shares == {"h1": 15_000, "h2": 5_000}  # 20,000 fen of owners' share on 150 + 50 m², not on 10 + 50
