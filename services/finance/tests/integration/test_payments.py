"""Paying a due: intents (never post money), staff receipts and signed provider callbacks (post on proof)."""

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from .conftest import auth, callback, recently, seed_community, seed_scheme, signed

CALLBACKS = "/v1/payment-providers/wechat_pay/callbacks"


async def ledger_of(app, due_id):
    async with app.state.sessionmaker() as session:
        transfers = (
            await session.execute(
                sa.text("select amount_fen, group_id from transfers where reference = :r"), {"r": f"due:{due_id}"}
            )
        ).all()
        paid = (await session.execute(sa.text("select paid_fen from dues where id = :d"), {"d": due_id})).scalar_one()
        events = (
            await session.execute(
                sa.text("select count(*) from outbox where event_type = 'finance.contribution.paid.v1'")
            )
        ).scalar_one()
    return transfers, paid, events


async def test_an_intent_posts_nothing_and_the_signed_callback_posts_it_once(clocked, make_token):
    app, client, _clock = clocked
    await seed_community(app, "c1", homes=[("h1", "b1", "60.00"), ("h2", "b1", "70.00")])
    _scheme, dues = await seed_scheme(client, make_token)
    resident = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c1", household_id="h1")
    due = dues["h1"]

    r = await client.post(
        f"/v1/dues/{due['id']}/payment-intents",
        headers=resident,
        json={"amount_fen": 50_000, "method": "wechat_pay", "provider": "wechat_pay"},
    )
    assert r.status_code == 201, r.text
    intent = r.json()
    assert intent["status"] == "pending" and intent["household_id"] == "h1" and intent["payment_id"] is None
    order = intent["provider_order"]
    assert order["merchant_order_id"] == intent["id"] and order["amount_fen"] == 50_000
    assert order["currency"] == "CNY" and order["notify_path"] == CALLBACKS
    assert datetime.fromisoformat(order["expires_at"]) - datetime.fromisoformat(intent["created_at"]) < timedelta(
        seconds=1801
    )
    assert await ledger_of(app, due["id"]) == ([], 0, 0)  # an intent moves no money

    # the household and staff in scope read it; the neighbour does not
    assert (await client.get(f"/v1/payment-intents/{intent['id']}", headers=resident)).json()["id"] == intent["id"]
    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c1")
    listed = (await client.get(f"/v1/dues/{due['id']}/payment-intents", headers=worker)).json()["items"]
    assert [i["id"] for i in listed] == [intent["id"]]
    neighbour = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c1", household_id="h2")
    assert (await client.get(f"/v1/payment-intents/{intent['id']}", headers=neighbour)).status_code == 403
    assert (await client.get(f"/v1/dues/{due['id']}/payment-intents", headers=neighbour)).status_code == 403

    raw, headers = signed(callback(intent, "4200000001"))
    r = await client.post(CALLBACKS, content=raw, headers=headers)
    assert r.status_code == 200, r.text
    posted = r.json()
    assert posted["replayed"] is False and posted["amount_fen"] == 50_000 and posted["due_id"] == due["id"]
    transfers, paid, events = await ledger_of(app, due["id"])
    assert sorted(t.amount_fen for t in transfers) == [50_000, 50_000] and len({t.group_id for t in transfers}) == 1
    assert (paid, events) == (50_000, 1)
    after = (await client.get(f"/v1/payment-intents/{intent['id']}", headers=resident)).json()
    assert after["status"] == "succeeded" and after["payment_id"] == posted["payment_id"]
    assert after["provider_txn_id"] == "4200000001" and after["provider_order"] is None
    view = (await client.get(f"/v1/dues/{due['id']}", headers=resident)).json()
    assert view["paid_fen"] == 50_000 and view["payments"][0]["source"] == "provider"
    assert view["payments"][0]["intent_id"] == intent["id"] and view["payments"][0]["method"] == "wechat_pay"


async def test_intent_rules(clocked, make_token):
    app, client, _clock = clocked
    await seed_community(app, "c1", homes=[("h1", "b1", "60.00"), ("h2", "b1", "70.00")])
    _scheme, dues = await seed_scheme(client, make_token, amount=1_000)
    resident = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c1", household_id="h1")

    async def intent(due, who=resident, **body):
        body = {"amount_fen": 100, "method": "alipay", "provider": "alipay", **body}
        return await client.post(f"/v1/dues/{due['id']}/payment-intents", headers=who, json=body)

    assert (await intent(dues["h2"])).status_code == 403  # not their household's due
    r = await intent(dues["h1"], amount_fen=1_001)
    assert r.status_code == 422 and r.json()["code"] == "overpayment"
    r = await intent(dues["h1"], provider="paypal")
    assert r.status_code == 422 and r.json()["code"] == "payment_provider_unknown"
    r = await intent(dues["h1"], method="bitcoin")
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = await intent(dues["h1"], amount_fen="100")
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = await client.post(
        f"/v1/dues/{uuid.uuid4()}/payment-intents",
        headers=resident,
        json={"amount_fen": 1, "method": "alipay", "provider": "alipay"},
    )
    assert r.status_code == 404 and r.json()["code"] == "due_not_found"
    # staff in scope may create one on the household's behalf (e.g. a QR code shown at the door)
    for role, claims in (
        ("community_worker", {"community_id": "c1", "street_id": "S1"}),
        ("street_officer", {"street_id": "S1"}),
        ("finance_officer", {}),
    ):
        assert (await intent(dues["h2"], auth(make_token, role, district_id="D1", **claims))).status_code == 201, role
    other = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c9")
    assert (await intent(dues["h2"], other)).status_code == 403
    unbound = auth(make_token, "community_worker", district_id="D1", street_id="S1")
    r = await intent(dues["h2"], unbound)
    assert r.status_code == 403 and r.json()["code"] == "scope_claim_missing"
    assert await ledger_of(app, dues["h2"]["id"]) == ([], 0, 0)


async def test_intents_expire_and_a_payment_after_expiry_is_refused(clocked, make_token):
    app, client, clock = clocked
    await seed_community(app, "c1", homes=[("h1", "b1", "60.00")])
    _scheme, dues = await seed_scheme(client, make_token, amount=1_000)
    resident = auth(make_token, "resident", district_id="D1", street_id="S1", community_id="c1", household_id="h1")
    due = dues["h1"]
    body = {"amount_fen": 400, "method": "wechat_pay", "provider": "wechat_pay"}
    late = (await client.post(f"/v1/dues/{due['id']}/payment-intents", headers=resident, json=body)).json()
    paid_in_time = (await client.post(f"/v1/dues/{due['id']}/payment-intents", headers=resident, json=body)).json()
    expiry = datetime.fromisoformat(late["expires_at"])
    assert expiry == clock.now + timedelta(seconds=1800)

    clock.advance(seconds=1801)
    r = await client.get(f"/v1/payment-intents/{late['id']}", headers=resident)
    assert r.json()["status"] == "expired" and r.json()["provider_order"] is None
    # paid (by the provider's signed word) after the expiry it was told: refused, nothing posted
    raw, headers = signed(callback(late, "T-late", paid_at=clock.now.isoformat()), timestamp=int(clock.now.timestamp()))
    r = await client.post(CALLBACKS, content=raw, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "payment_intent_expired"
    assert await ledger_of(app, due["id"]) == ([], 0, 0)
    # paid before the expiry, delivered late (the provider retried): posted
    in_time = (expiry - timedelta(seconds=60)).isoformat()
    raw, headers = signed(callback(paid_in_time, "T-retry", paid_at=in_time), timestamp=int(clock.now.timestamp()))
    r = await client.post(CALLBACKS, content=raw, headers=headers)
    assert r.status_code == 200, r.text
    assert (await ledger_of(app, due["id"]))[1:] == (400, 1)


async def test_receipts_by_workers_and_finance_officers_in_scope(finance, make_token):
    app, client = finance
    await seed_community(app, "c1", homes=[("h1", "b1", "60.00"), ("h2", "b1", "70.00"), ("h3", "b2", "50.00")])
    _scheme, dues = await seed_scheme(client, make_token, amount=1_000)

    async def receipt(who, due, number, amount=100, **over):
        body = {"receipt_number": number, "amount_fen": amount, "method": "cash", "received_at": recently(), **over}
        return await client.post(f"/v1/dues/{due['id']}/receipts", headers=who, json=body)

    worker = auth(make_token, "community_worker", district_id="D1", street_id="S1", community_id="c1")
    officer = auth(make_token, "finance_officer", district_id="D1")
    street_officer_fo = auth(make_token, "finance_officer", district_id="D1", street_id="S1")
    r = await receipt(worker, dues["h1"], "W-1")
    assert r.status_code == 201 and r.json()["paid_fen"] == 100
    r = await receipt(officer, dues["h2"], "F-1", 250, method="pos")
    assert r.status_code == 201 and r.json()["payments"][0]["method"] == "pos"
    assert (await receipt(street_officer_fo, dues["h3"], "F-2", 1_000, method="bank_transfer")).status_code == 201
    assert (await receipt(officer, dues["h3"], "F-3", 1)).json()["code"] == "overpayment"

    refused = {
        "community_worker of another community": auth(
            make_token, "community_worker", district_id="D1", street_id="S1", community_id="c2"
        ),
        "community_worker without a community claim": auth(
            make_token, "community_worker", district_id="D1", street_id="S1"
        ),
        "finance_officer of another district": auth(make_token, "finance_officer", district_id="D2"),
        "finance_officer of another street": auth(make_token, "finance_officer", district_id="D1", street_id="S2"),
        "finance_officer without a district": auth(make_token, "finance_officer"),
    }
    for name, who in refused.items():
        r = await receipt(who, dues["h1"], f"X-{name[:10]}")
        assert r.status_code == 403, (name, r.text)
    for role, claims in (
        ("resident", {"community_id": "c1", "household_id": "h1"}),
        ("street_officer", {"street_id": "S1"}),
        ("district_admin", {}),
    ):
        r = await receipt(auth(make_token, role, district_id="D1", **claims), dues["h1"], "X-role")
        assert r.status_code == 403 and r.json()["code"] == "role_not_allowed", role

    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    r = await receipt(worker, dues["h1"], "W-2", received_at=future)
    assert r.status_code == 422 and r.json()["code"] == "received_at_in_future"
    r = await receipt(worker, dues["h1"], "W-2", received_at=recently(days=181))
    assert r.status_code == 422 and r.json()["code"] == "received_at_too_old"
    r = await receipt(worker, dues["h1"], "W-2", received_at="2026-03-02T10:00:00")  # no offset
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    for bad in ("", "has space", "x" * 65, "中文编号"):
        assert (await receipt(worker, dues["h1"], bad)).status_code == 422, bad

    async with app.state.sessionmaker() as session:
        rows = (await session.execute(sa.text("select receipt_number, paid_by, source from payments"))).all()
    assert sorted(r.receipt_number for r in rows) == ["F-1", "F-2", "W-1"]
    assert {r.source for r in rows} == {"receipt"}
