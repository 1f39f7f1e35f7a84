"""Issue 16.3: an approval reserves the fund's and the public income's shares, so a second approval cannot leave the
first unpayable (also under concurrent approvals on two replicas of the service); payment settles, cancelling or
rejecting releases; nothing is half-written."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack

import pytest
import sqlalchemy as sa

from finance.entrypoints.app import create_app
from renovation_common.testing.plugin import running_app

from .conftest import PAYMENT_SETTINGS, auth, new_id, seed_community

HOMES = [("h1", "b1", "60.00"), ("h2", "b1", "40.00")]


def _admin(make_token):
    return auth(make_token, "district_admin", district_id="D1")


def _worker(make_token, community="c1"):
    return auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id=community)


async def fund_with(client, make_token, amount_fen: int) -> str:
    r = await client.post(
        "/v1/emergency-fund/deposits",
        headers=_admin(make_token),
        json={"deposit_id": new_id(), "amount_fen": amount_fen},
    )
    assert r.status_code == 201, r.text
    return r.json()["account_id"]


async def public_income_of(client, make_token, amount_fen: int, community="c1") -> str:
    r = await client.post(
        f"/v1/communities/{community}/public-income",
        headers=_worker(make_token, community),
        json={"receipt_id": new_id(), "amount_fen": amount_fen},
    )
    assert r.status_code == 201, r.text
    return r.json()["account_id"]


async def requested(client, make_token, community="c1", **extra) -> str:
    body = {"request_id": new_id(), "community_id": community, "description": "屋面渗漏", **extra}
    r = await client.post("/v1/emergency-repairs", headers=_worker(make_token, community), json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def account(client, make_token, account_id):
    r = await client.get(f"/v1/accounts/{account_id}", headers=_admin(make_token))
    assert r.status_code == 200, r.text
    return r.json()


async def approve(client, make_token, request_id, **body):
    return await client.post(f"/v1/emergency-repairs/{request_id}/approve", headers=_admin(make_token), json=body)


async def test_an_approval_the_fund_cannot_cover_after_earlier_reservations_is_refused(finance, make_token):
    app, client = finance
    await seed_community(app, "c1", delivered=1990, homes=HOMES)
    fund = await fund_with(client, make_token, 10_000)
    first, second = await requested(client, make_token), await requested(client, make_token)

    r = await approve(client, make_token, first, approved_cost_fen=10_000, use_public_income=False)
    assert r.status_code == 200, r.text
    assert r.json()["reserved"] is True and r.json()["government_fen"] == 8_000
    held = await account(client, make_token, fund)
    assert (held["balance_fen"], held["debits_pending_fen"], held["available_fen"]) == (10_000, 8_000, 2_000)

    # the second approval sees 2,000 fen available, not 10,000: refused, and nothing of it is written
    r = await approve(client, make_token, second, approved_cost_fen=10_000, use_public_income=False)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "insufficient_funds" and problem["account"] == "emergency_fund"
    assert problem["available_fen"] == 2_000
    stored = (await client.get(f"/v1/emergency-repairs/{second}", headers=_admin(make_token))).json()
    assert stored["status"] == "requested" and stored["approved_cost_fen"] is None and stored["reserved"] is False
    assert stored["household_shares"] == [] and stored["dues_scheme_id"] is None
    assert await account(client, make_token, fund) == held
    async with app.state.sessionmaker() as session:
        refs = f"emergency_repair:{second}"
        count = "select count(*) from transfers where reference = :r"
        assert (await session.execute(sa.text(count), {"r": refs})).scalar_one() == 0
        schemes = "select count(*) from contribution_schemes where kind = 'emergency_repair'"
        assert (await session.execute(sa.text(schemes))).scalar_one() == 1

    # the first stays payable: its reservation is posted
    r = await client.post(f"/v1/emergency-repairs/{first}/pay", headers=_admin(make_token))
    assert r.status_code == 200, r.text
    after = await account(client, make_token, fund)
    assert (after["balance_fen"], after["debits_pending_fen"], after["available_fen"]) == (2_000, 0, 2_000)
    # a smaller repair fits what is left
    r = await approve(client, make_token, second, approved_cost_fen=2_500, use_public_income=False)
    assert r.status_code == 200, r.text
    assert r.json()["government_fen"] == 2_000


async def test_public_income_named_by_the_approver_is_reserved_and_checked(finance, make_token):
    app, client = finance
    await seed_community(app, "c1", delivered=1990, homes=HOMES)
    await fund_with(client, make_token, 1_000_000)
    pi = await public_income_of(client, make_token, 3_000)
    a, b, c = [await requested(client, make_token) for _ in range(3)]

    r = await approve(client, make_token, a, approved_cost_fen=10_000, public_income_fen=2_000)
    assert r.status_code == 200, r.text
    assert (r.json()["public_income_fen"], r.json()["households_fen"]) == (2_000, 0)
    assert (await account(client, make_token, pi))["available_fen"] == 1_000

    r = await approve(client, make_token, b, approved_cost_fen=10_000, public_income_fen=2_000)
    assert r.status_code == 422 and r.json()["code"] == "insufficient_funds", r.text
    assert (r.json()["account"], r.json()["available_fen"]) == ("public_income", 1_000)
    r = await approve(client, make_token, b, approved_cost_fen=10_000, public_income_fen=2_001)
    assert r.status_code == 422 and r.json()["code"] == "public_income_exceeds_owners_share"

    # without a named amount public income pays what is left after the reservation, the households the rest
    r = await approve(client, make_token, b, approved_cost_fen=10_000)
    assert r.status_code == 200, r.text
    assert (r.json()["public_income_fen"], r.json()["households_fen"]) == (1_000, 1_000)
    assert (await account(client, make_token, pi))["available_fen"] == 0
    r = await approve(client, make_token, c, approved_cost_fen=10_000)
    assert (r.json()["public_income_fen"], r.json()["households_fen"]) == (0, 2_000)

    # both paid: public income spent exactly its 3,000 fen, never below zero
    for rid in (a, b):
        assert (await client.post(f"/v1/emergency-repairs/{rid}/pay", headers=_admin(make_token))).status_code == 200
    final = await account(client, make_token, pi)
    assert (final["balance_fen"], final["debits_pending_fen"]) == (0, 0)


async def test_cancelling_releases_the_reservations_and_the_dues_rejecting_a_request_closes_it(finance, make_token):
    app, client = finance
    await seed_community(app, "c1", delivered=1990, homes=HOMES)
    fund = await fund_with(client, make_token, 10_000)
    pi = await public_income_of(client, make_token, 500)
    rid = await requested(client, make_token)
    r = await approve(client, make_token, rid, approved_cost_fen=10_000)
    assert r.status_code == 200, r.text
    assert (r.json()["public_income_fen"], r.json()["households_fen"]) == (500, 1_500)
    resident = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c1", household_id="h1")
    (due,) = (await client.get("/v1/dues", headers=resident, params={"kind": "emergency_repair"})).json()["items"]
    assert due["amount_fen"] == 900 and due["status"] == "outstanding"

    worker = _worker(make_token)
    assert (
        await client.post(f"/v1/emergency-repairs/{rid}/cancel", headers=worker, json={"reason": "x"})
    ).status_code == 403
    r = await client.post(
        f"/v1/emergency-repairs/{rid}/cancel", headers=_admin(make_token), json={"reason": "业主自修"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["close_reason"] == "业主自修"
    for account_id, balance in ((fund, 10_000), (pi, 500)):
        released = await account(client, make_token, account_id)
        assert (released["balance_fen"], released["debits_pending_fen"], released["available_fen"]) == (
            balance, 0, balance,
        )  # fmt: skip
    async with app.state.sessionmaker() as session:
        closed = await session.execute(
            sa.text("select payload from outbox where event_type = 'finance.emergency_repair.closed.v1'")
        )
        (event,) = [row[0] for row in closed]
    data = (event if isinstance(event, dict) else json.loads(event))["data"]
    assert (data["request_id"], data["status"], data["released_fen"]) == (rid, "cancelled", 8_000 + 500)
    again = await client.post(f"/v1/emergency-repairs/{rid}/cancel", headers=_admin(make_token), json={"reason": "y"})
    assert again.status_code == 200 and again.json()["closed_at"] == r.json()["closed_at"]
    mine = (await client.get(f"/v1/dues/{due['id']}", headers=resident)).json()
    assert mine["status"] == "cancelled"
    intent = await client.post(
        f"/v1/dues/{due['id']}/payment-intents",
        headers=resident,
        json={"amount_fen": 900, "method": "wechat_pay", "provider": "wechat_pay"},
    )
    assert intent.status_code == 409 and intent.json()["code"] == "due_cancelled"
    assert (await client.post(f"/v1/emergency-repairs/{rid}/pay", headers=_admin(make_token))).json()["code"] == (
        "emergency_repair_closed"
    )

    rejected = await requested(client, make_token)
    r = await client.post(
        f"/v1/emergency-repairs/{rejected}/cancel", headers=_admin(make_token), json={"reason": "非共有部分"}
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = await approve(client, make_token, rejected, approved_cost_fen=100)
    assert r.status_code == 409 and r.json()["code"] == "emergency_repair_closed"

    paid = await requested(client, make_token)
    assert (await approve(client, make_token, paid, approved_cost_fen=1_000)).status_code == 200
    assert (await client.post(f"/v1/emergency-repairs/{paid}/pay", headers=_admin(make_token))).status_code == 200
    r = await client.post(f"/v1/emergency-repairs/{paid}/cancel", headers=_admin(make_token), json={"reason": "z"})
    assert r.status_code == 409 and r.json()["code"] == "emergency_repair_already_paid"


async def test_an_approved_repair_whose_household_paid_towards_its_share_is_not_cancelled(finance, make_token):
    app, client = finance
    await seed_community(app, "c1", delivered=1990, homes=HOMES)
    fund = await fund_with(client, make_token, 10_000)
    rid = await requested(client, make_token)
    assert (
        await approve(client, make_token, rid, approved_cost_fen=10_000, use_public_income=False)
    ).status_code == 200
    dues = (await client.get("/v1/dues", headers=_worker(make_token), params={"kind": "emergency_repair"})).json()
    due = next(d for d in dues["items"] if d["household_id"] == "h2")
    receipt = {"receipt_number": "R-1", "amount_fen": 100, "method": "cash", "received_at": _recently()}
    r = await client.post(f"/v1/dues/{due['id']}/receipts", headers=_worker(make_token), json=receipt)
    assert r.status_code in (200, 201), r.text
    r = await client.post(f"/v1/emergency-repairs/{rid}/cancel", headers=_admin(make_token), json={"reason": "x"})
    assert r.status_code == 409 and r.json()["code"] == "emergency_repair_dues_paid"
    stored = (await client.get(f"/v1/emergency-repairs/{rid}", headers=_admin(make_token))).json()
    assert stored["status"] == "approved"
    assert (await account(client, make_token, fund))["debits_pending_fen"] == 8_000  # still reserved


def _recently() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(minutes=5)).isoformat()


@pytest.fixture
async def two_replicas(database_factory, stack):
    """Two instances of the finance service on one database, as two pods behind a load balancer."""
    url = await database_factory("finance")
    async with AsyncExitStack() as es:
        replicas = []
        for _ in range(2):
            app = create_app(database_url=url, nats_url=stack.nats_url, log_json=False, **PAYMENT_SETTINGS)
            replicas.append((app, await es.enter_async_context(running_app(app))))
        yield replicas


async def test_concurrent_approvals_on_two_replicas_against_a_fund_that_covers_one(two_replicas, make_token):
    (app, one), (_, two) = two_replicas
    await seed_community(app, "c1", delivered=1990, homes=HOMES)
    fund = await fund_with(one, make_token, 8_000)  # the government share of exactly one 10,000-fen repair
    rounds = 4
    for _ in range(rounds):
        a, b = await requested(one, make_token), await requested(two, make_token)
        ra, rb = await asyncio.gather(
            approve(one, make_token, a, approved_cost_fen=10_000, use_public_income=False),
            approve(two, make_token, b, approved_cost_fen=10_000, use_public_income=False),
        )
        outcomes = sorted([ra.status_code, rb.status_code])
        assert outcomes == [200, 422], (ra.text, rb.text)
        loser = ra if ra.status_code == 422 else rb
        assert loser.json()["code"] == "insufficient_funds"
        winner = a if ra.status_code == 200 else b
        held = await account(one, make_token, fund)
        assert (held["debits_pending_fen"], held["available_fen"]) == (8_000, 0)
        # release it for the next round (a cancel on the other replica)
        r = await two.post(f"/v1/emergency-repairs/{winner}/cancel", headers=_admin(make_token), json={"reason": "r"})
        assert r.status_code == 200, r.text

    # six at once on both replicas against a fund for three
    await fund_with(one, make_token, 16_000)  # 24,000 fen: three government shares
    ids = [await requested(one, make_token) for _ in range(6)]
    answers = await asyncio.gather(
        *(
            approve(one if i % 2 else two, make_token, rid, approved_cost_fen=10_000, use_public_income=False)
            for i, rid in enumerate(ids)
        )
    )
    assert sorted(r.status_code for r in answers) == [200] * 3 + [422] * 3, [r.text for r in answers]
    final = await account(one, make_token, fund)
    assert (final["balance_fen"], final["debits_pending_fen"], final["available_fen"]) == (24_000, 24_000, 0)
    async with app.state.sessionmaker() as session:
        approved = "select count(*) from emergency_repairs where status = 'approved'"
        assert (await session.execute(sa.text(approved))).scalar_one() == 3
