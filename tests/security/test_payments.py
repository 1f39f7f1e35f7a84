"""Issue 12, point 1: nobody can fake a payment. Money is posted only on proof — a staff receipt with a number
unique in the community, or a payment provider's callback signed with HMAC-SHA256 over its raw body.

Real Postgres and NATS (the finance app in-process on a fresh migrated database). Every refusal is checked on the
ledger too: no transfer, no paid amount, no ``finance.contribution.paid.v1`` in the outbox. Each test fails on the
code before the issue (a resident could ``POST /v1/dues/{id}/payments`` and the money was posted; there was no
callback, no receipt, and ``"100"`` was read as 100 fen).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from finance.domain.payments import signature_header
from finance.entrypoints.app import create_app
from finance.service_layer import readmodels
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.testing.plugin import bearer

pytestmark = pytest.mark.integration

DOC = Path(__file__).parents[2] / "docs" / "payments.md"
SECRET = "security-suite-wechat-secret-0123456789abcdef"
OLD_SECRET = "security-suite-wechat-previous-0123456789ab"
ALIPAY_SECRET = "security-suite-alipay-secret-0123456789abcdef"
SETTINGS = {
    "payment_provider_secrets": {"wechat_pay": [SECRET, OLD_SECRET], "alipay": [ALIPAY_SECRET]},
    "log_level": "WARNING",
}
CALLBACKS = "/v1/payment-providers/wechat_pay/callbacks"


# ---------------------------------------------------------------------------------------------- the world
class World:
    """Community c1 (households h1, h2, h3) and c2 (household k1) in district D1; a water-meter due each."""

    def __init__(self, app: Any, client: Any, make_token: Any) -> None:
        self.app, self.client, self.make_token = app, client, make_token
        self.dues: dict[str, dict[str, Any]] = {}
        self.pools: dict[str, str] = {}

    def token(self, role: str, **claims: str) -> dict[str, str]:
        return bearer(self.make_token(role, **claims))

    def resident(self, household: str = "h1", community: str = "c1") -> dict[str, str]:
        return self.token("resident", district_id="D1", street_id="S1", community_id=community, household_id=household)

    def worker(self, community: str = "c1") -> dict[str, str]:
        return self.token("community_worker", district_id="D1", street_id="S1", community_id=community)

    async def seed(self) -> World:
        homes = {"c1": ["h1", "h2", "h3"], "c2": ["k1"]}
        async with self.app.state.runtime.uow() as uow:
            for cid, hids in homes.items():
                await readmodels.record_community(
                    uow,
                    CommunityRegistered(
                        community_id=cid,
                        district_id="D1",
                        street_id="S1",
                        name=cid,
                        delivered_year=1985,
                        maintenance_fund_established=False,
                    ),
                )
                for hid in hids:
                    await readmodels.record_household(
                        uow,
                        HouseholdRegistered(
                            household_id=hid,
                            community_id=cid,
                            district_id="D1",
                            street_id="S1",
                            building_id="b1",
                            building_code="1",
                            floor_area_m2=Decimal("60.00"),
                            delivered_year=1985,
                            maintenance_fund_established=False,
                        ),
                    )
        for cid in homes:
            r = await self.client.post(
                "/v1/contribution-schemes",
                headers=self.worker(cid),
                json={"community_id": cid, "kind": "water_meter", "title": "水表改造"},
            )
            assert r.status_code == 201, r.text
            self.pools[cid] = r.json()["pool_account_id"]
            dues = await self.client.get("/v1/dues", headers=self.worker(cid), params={"scheme_id": r.json()["id"]})
            self.dues |= {d["household_id"]: d for d in dues.json()["items"]}
        return self

    async def intent(self, household: str = "h1", amount: int = 80_000, provider: str = "wechat_pay") -> dict:
        r = await self.client.post(
            f"/v1/dues/{self.dues[household]['id']}/payment-intents",
            headers=self.resident(household, "c2" if household.startswith("k") else "c1"),
            json={"amount_fen": amount, "method": "wechat_pay", "provider": provider},
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def ledger(self) -> dict[str, Any]:
        """Everything money: transfers, groups, due totals, balances, announced payments."""
        async with self.app.state.sessionmaker() as session:

            async def one(q: str, **p: Any) -> Any:
                return (await session.execute(sa.text(q), p)).scalar_one()

            return {
                "transfers": await one("select count(*) from transfers"),
                "groups": await one("select count(distinct group_id) from transfers"),
                "payments": await one("select count(*) from payments"),
                "paid_fen": await one("select coalesce(sum(paid_fen), 0) from dues"),
                "events": await one("select count(*) from outbox where event_type = 'finance.contribution.paid.v1'"),
                "debits_eq_credits": await one("select sum(debits_posted) = sum(credits_posted) from accounts"),
                "external": await one(
                    "select coalesce(sum(credits_posted - debits_posted), 0) from accounts where kind = 'external'"
                ),
                "households": await one(
                    "select coalesce(sum(credits_posted - debits_posted), 0) from accounts where kind = 'household'"
                ),
                "pools": await one(
                    "select coalesce(sum(credits_posted - debits_posted), 0) from accounts "
                    "where kind = 'contribution_pool'"
                ),
            }


NOTHING = {"transfers": 0, "groups": 0, "payments": 0, "paid_fen": 0, "events": 0, "external": 0, "pools": 0}


def posted_once(amount: int) -> dict[str, Any]:
    """One payment: two linked transfers (outside → household → pool), one group, the books balanced."""
    return {
        "transfers": 2,
        "groups": 1,
        "payments": 1,
        "paid_fen": amount,
        "events": 1,
        "debits_eq_credits": True,
        "external": -amount,
        "households": 0,
        "pools": amount,
    }


def nothing(ledger: dict[str, Any]) -> bool:
    return {k: ledger[k] for k in NOTHING} == NOTHING


@pytest.fixture
async def world(service_client, make_token) -> World:
    app, client = await service_client(create_app, "finance", **SETTINGS)
    return await World(app, client, make_token).seed()


def body_of(intent: dict, txn: str = "4200000000000001", **overrides: Any) -> dict[str, Any]:
    return {
        "event": "payment.succeeded",
        "provider_txn_id": txn,
        "intent_id": intent["id"],
        "amount_fen": intent["amount_fen"],
        "currency": "CNY",
        "paid_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def signed(body: Any, secret: str = SECRET, ts: int | None = None) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    stamp = str(int(time.time()) if ts is None else ts)
    return raw, {
        "Content-Type": "application/json",
        "Payment-Timestamp": stamp,
        "Payment-Signature": signature_header(secret.encode(), stamp, raw),
    }


def refused(r: Any, status: int, code: str) -> bool:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.headers
    assert r.json()["code"] == code, r.text
    return True


# ---------------------------------------------------------------------------------------------- no declaring
async def test_a_resident_cannot_post_a_payment(world):
    due = world.dues["h1"]
    resident = world.resident()
    # the old way — declaring a payment posted — no longer exists
    r = await world.client.post(
        f"/v1/dues/{due['id']}/payments", headers=resident, json={"payment_id": str(uuid.uuid4()), "amount_fen": 80_000}
    )
    assert r.status_code in (404, 405), r.text
    receipt = {"receipt_number": "R-1", "amount_fen": 80_000, "method": "cash", "received_at": "2026-01-01T08:00:00Z"}
    assert refused(
        await world.client.post(f"/v1/dues/{due['id']}/receipts", headers=resident, json=receipt),
        403,
        "role_not_allowed",
    )
    # a resident's own intent posts nothing; calling the callback with their token (no signature) is 401
    intent = await world.intent()
    raw = json.dumps(body_of(intent)).encode()
    r = await world.client.post(
        CALLBACKS, content=raw, headers={**resident, "Content-Type": "application/json", "Payment-Timestamp": "1"}
    )
    assert refused(r, 401, "callback_signature_missing")
    assert nothing(await world.ledger())
    assert (await world.client.get(f"/v1/dues/{due['id']}", headers=resident)).json()["paid_fen"] == 0


@pytest.mark.parametrize(
    "role", ["resident", "community_worker", "street_officer", "district_admin", "finance_officer", "gov_system"]
)
async def test_a_bearer_token_of_any_role_does_not_authenticate_a_callback(world, role):
    """The callback's category in the authorisation matrix (SIGNED): no token is admitted, every unsigned call is
    401 — however privileged the token."""
    intent = await world.intent()
    token = world.token(role, district_id="D1", street_id="S1", community_id="c1", household_id="h1")
    r = await world.client.post(CALLBACKS, json=body_of(intent), headers=token)
    assert refused(r, 401, "callback_signature_missing")
    assert r.headers["www-authenticate"].startswith("Payment-Signature")
    assert nothing(await world.ledger())


# ---------------------------------------------------------------------------------------------- forged and stale
async def test_forged_callbacks_are_401_and_post_nothing(world):
    intent = await world.intent()
    body = body_of(intent)
    raw, good = signed(body)
    cheaper = json.dumps({**body, "amount_fen": 1}, separators=(",", ":")).encode()
    respaced = json.dumps(body, indent=1).encode()  # the same JSON, other bytes: we verify bytes, not meaning
    cases: list[tuple[str, bytes, dict[str, str], str]] = [
        ("no headers", raw, {"Content-Type": "application/json"}, "callback_signature_missing"),
        ("no signature", raw, {"Payment-Timestamp": good["Payment-Timestamp"]}, "callback_signature_missing"),
        ("no timestamp", raw, {"Payment-Signature": good["Payment-Signature"]}, "callback_signature_missing"),
        (
            "another secret",
            raw,
            signed(body, secret="an-attacker-guess-0123456789abcdef-xyz")[1],
            "callback_signature_invalid",
        ),
        ("alipay's secret", raw, signed(body, secret=ALIPAY_SECRET)[1], "callback_signature_invalid"),
        ("body changed after signing", cheaper, good, "callback_signature_invalid"),
        ("body re-serialised", respaced, good, "callback_signature_invalid"),
        (
            "signature of another timestamp",
            raw,
            {**good, "Payment-Timestamp": str(int(time.time()) - 1)},
            "callback_signature_invalid",
        ),
        ("garbage", raw, {**good, "Payment-Signature": "v1=%%%"}, "callback_signature_invalid"),
        (
            "bare base64, no scheme",
            raw,
            {**good, "Payment-Signature": good["Payment-Signature"][3:]},
            "callback_signature_invalid",
        ),
        ("timestamp not digits", raw, {**good, "Payment-Timestamp": "1e9"}, "callback_timestamp_invalid"),
    ]
    for name, content, headers, code in cases:
        r = await world.client.post(CALLBACKS, content=content, headers=headers)
        assert refused(r, 401, code), name
    assert nothing(await world.ledger())
    # the genuine one still works afterwards (and only once)
    assert (await world.client.post(CALLBACKS, content=raw, headers=good)).status_code == 200
    assert await world.ledger() == posted_once(80_000)


async def test_a_stale_or_future_timestamp_is_401_even_with_a_valid_signature(world):
    intent = await world.intent()
    body = body_of(intent)
    now = int(time.time())
    for ts in (now - 301 - 5, now + 301 + 5, 0):  # 5 s of slack for a loaded machine, never flaky
        raw, headers = signed(body, ts=ts)
        assert refused(
            await world.client.post(CALLBACKS, content=raw, headers=headers), 401, "callback_timestamp_out_of_tolerance"
        ), ts
    assert nothing(await world.ledger())
    raw, headers = signed(body, ts=now - 240)  # inside the 300 s tolerance
    assert (await world.client.post(CALLBACKS, content=raw, headers=headers)).status_code == 200


async def test_an_unknown_provider_is_401(world):
    intent = await world.intent()
    raw, headers = signed(body_of(intent))
    for provider in ("paypal", "wechat-pay", "0"):
        r = await world.client.post(f"/v1/payment-providers/{provider}/callbacks", content=raw, headers=headers)
        assert refused(r, 401, "payment_provider_unknown"), provider
    r = await world.client.post("/v1/payment-providers/WeChat%20Pay/callbacks", content=raw, headers=headers)
    assert r.status_code == 422  # not a provider name at all
    assert nothing(await world.ledger())


async def test_an_oversized_body_is_413_before_it_is_read_whole(world):
    intent = await world.intent()
    big = json.dumps({**body_of(intent), "padding": "x" * 20_000}).encode()
    raw, headers = signed(big)  # even correctly signed
    assert refused(await world.client.post(CALLBACKS, content=raw, headers=headers), 413, "payload_too_large")

    async def chunks():  # no Content-Length: refused while streaming
        for i in range(0, len(raw), 1024):
            yield raw[i : i + 1024]

    r = await world.client.post(CALLBACKS, content=chunks(), headers=headers)
    assert refused(r, 413, "payload_too_large")
    assert nothing(await world.ledger())


# ---------------------------------------------------------------------------------------------- replays
async def test_a_replayed_callback_posts_nothing_twice_and_answers_the_first_result(world):
    intent = await world.intent()
    raw, headers = signed(body_of(intent, "T-replay"))
    first = await world.client.post(CALLBACKS, content=raw, headers=headers)
    assert first.status_code == 200 and first.json()["replayed"] is False
    again = await world.client.post(CALLBACKS, content=raw, headers=headers)  # the captured request, resent
    assert again.status_code == 200 and again.json() == {**first.json(), "replayed": True}
    retried = await world.client.post(CALLBACKS, content=raw, headers=signed(raw, secret=OLD_SECRET)[1])
    assert retried.json() == {**first.json(), "replayed": True}  # the provider's retry, re-signed (old secret)
    assert await world.ledger() == posted_once(80_000)

    # the same transaction id for another intent or amount, a second transaction for a paid intent: refused
    other = await world.intent("h2")
    raw2, headers2 = signed(body_of(other, "T-replay"))
    assert refused(await world.client.post(CALLBACKS, content=raw2, headers=headers2), 409, "provider_txn_id_reused")
    raw3, headers3 = signed(body_of(intent, "T-replay", amount_fen=79_999))
    assert refused(await world.client.post(CALLBACKS, content=raw3, headers=headers3), 409, "provider_txn_id_reused")
    raw4, headers4 = signed(body_of(intent, "T-second"))
    assert refused(
        await world.client.post(CALLBACKS, content=raw4, headers=headers4), 409, "payment_intent_already_paid"
    )
    assert await world.ledger() == posted_once(80_000)


async def test_an_amount_or_intent_mismatch_is_refused_and_posts_nothing(world):
    intent = await world.intent(amount=50_000)
    ali = await world.intent("h2", provider="alipay")
    cases = [
        (body_of(intent, amount_fen=50_001), 422, "payment_amount_mismatch"),
        (body_of(intent, amount_fen=49_999), 422, "payment_amount_mismatch"),
        (body_of(intent, intent_id=str(uuid.uuid4())), 422, "payment_intent_unknown"),
        (body_of(ali), 422, "payment_intent_provider_mismatch"),  # alipay's intent reported by wechat_pay
        (body_of(intent, amount_fen="50000"), 422, "validation_error"),  # a string is not money
        (body_of(intent, amount_fen=50_000.0), 422, "validation_error"),
        (body_of(intent, currency="USD"), 422, "validation_error"),
        (body_of(intent, event="payment.refunded"), 422, "validation_error"),
        (body_of(intent, paid_at="2026-03-02T10:15:00"), 422, "validation_error"),  # no offset
        (body_of(intent, paid_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()), 422, "paid_at_in_future"),
        (b"not json at all", 422, "validation_error"),
    ]
    for body, status, code in cases:
        raw, headers = signed(body)
        assert refused(await world.client.post(CALLBACKS, content=raw, headers=headers), status, code), body
    assert nothing(await world.ledger())
    # an overpayment by callback (the due was settled at the counter meanwhile) is refused too
    receipt = {
        "receipt_number": "C-1",
        "amount_fen": 80_000,
        "method": "cash",
        "received_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    assert (
        await world.client.post(f"/v1/dues/{world.dues['h1']['id']}/receipts", headers=world.worker(), json=receipt)
    ).status_code == 201
    raw, headers = signed(body_of(intent))
    assert refused(await world.client.post(CALLBACKS, content=raw, headers=headers), 422, "overpayment")
    assert await world.ledger() == posted_once(80_000)


# ---------------------------------------------------------------------------------------------- concurrency
async def test_twenty_concurrent_duplicate_callbacks_post_exactly_once(world):
    intent = await world.intent()
    raw, headers = signed(body_of(intent, "T-burst"))
    answers = await asyncio.gather(*(world.client.post(CALLBACKS, content=raw, headers=headers) for _ in range(20)))
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
    assert sorted(a.json()["replayed"] for a in answers) == [False] + [True] * 19
    assert all((a.headers.get("idempotent-replayed") == "true") == a.json()["replayed"] for a in answers)
    assert len({a.json()["payment_id"] for a in answers}) == 1
    assert await world.ledger() == posted_once(80_000)


async def test_twenty_concurrent_transactions_for_one_intent_post_exactly_one(world):
    intent = await world.intent()
    signed_calls = [signed(body_of(intent, f"T-{i}")) for i in range(20)]
    answers = await asyncio.gather(*(world.client.post(CALLBACKS, content=r, headers=h) for r, h in signed_calls))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 19, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"payment_intent_already_paid"}
    assert await world.ledger() == posted_once(80_000)


# ---------------------------------------------------------------------------------------------- receipts
def receipt_body(number: str, amount: int = 80_000) -> dict[str, Any]:
    received = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    return {"receipt_number": number, "amount_fen": amount, "method": "cash", "received_at": received}


async def test_receipt_numbers_are_unique_per_community(world):
    async def record(household: str, body: dict, community: str = "c1") -> Any:
        return await world.client.post(
            f"/v1/dues/{world.dues[household]['id']}/receipts", headers=world.worker(community), json=body
        )

    first = receipt_body("JS-0001")
    assert (await record("h1", first)).status_code == 201
    assert (await record("h1", first)).status_code == 200  # the same receipt again: the first result
    assert refused(await record("h2", receipt_body("JS-0001")), 409, "receipt_number_taken")
    assert refused(await record("h1", {**first, "amount_fen": 1}), 409, "receipt_number_taken")
    assert (await record("k1", receipt_body("JS-0001"), "c2")).status_code == 201  # another community: fine
    ledger = await world.ledger()
    assert (ledger["payments"], ledger["paid_fen"], ledger["transfers"]) == (2, 160_000, 4)

    # concurrently, on different dues of one community: one wins, the others are 409 (the database decides)
    body = receipt_body("JS-0002", 1)
    answers = await asyncio.gather(*(record(h, body) for h in ("h2", "h3", "h2", "h3", "h2", "h3")))
    # whichever due wins, its two duplicates are replays of it (200) and the other due's three are refused
    assert sorted(a.status_code for a in answers) == [200, 200, 201, 409, 409, 409], [a.text for a in answers]
    assert (await world.ledger())["paid_fen"] == 160_001

    # and it is the database's constraint, not only the application's check
    async with world.app.state.sessionmaker() as session:
        with pytest.raises(IntegrityError, match="uq_payments_community_id_receipt_number"):
            async with session.begin():
                await session.execute(
                    sa.text(
                        "insert into payments (id, due_id, community_id, amount_fen, transfer_group_id, paid_by, "
                        "source, method, receipt_number, received_at) values (:id, :due, 'c1', 1, :g, 'x', "
                        "'receipt', 'cash', 'JS-0001', now())"
                    ),
                    {"id": uuid.uuid4(), "due": world.dues["h3"]["id"], "g": uuid.uuid4()},
                )


async def test_money_given_as_a_string_is_422_never_fen(world):
    due = world.dues["h1"]["id"]
    admin = world.token("district_admin", district_id="D1")
    calls = [
        (f"/v1/dues/{due}/receipts", world.worker(), {**receipt_body("S-1"), "amount_fen": "100"}),
        (
            f"/v1/dues/{due}/payment-intents",
            world.resident(),
            {"amount_fen": "100", "method": "wechat_pay", "provider": "wechat_pay"},
        ),
        (
            "/v1/contribution-schemes",
            world.worker(),
            {"community_id": "c1", "kind": "water_meter", "title": "t", "amount_fen_per_household": "100"},
        ),
        ("/v1/emergency-fund/deposits", admin, {"deposit_id": str(uuid.uuid4()), "amount_fen": "100"}),
        ("/v1/communities/c1/public-income", world.worker(), {"receipt_id": str(uuid.uuid4()), "amount_fen": "100"}),
        ("/v1/contribution-schemes", world.worker(), {"community_id": 1, "kind": "water_meter", "title": "t"}),
        (f"/v1/dues/{due}/receipts", world.worker(), {**receipt_body("S-2"), "amount_fen": True}),
        (f"/v1/dues/{due}/receipts", world.worker(), {**receipt_body("S-3"), "amount_fen": 100.0}),
    ]
    for path, headers, body in calls:
        assert refused(await world.client.post(path, headers=headers, json=body), 422, "validation_error"), path
    intent = await world.intent()
    raw, headers = signed(body_of(intent, amount_fen=str(intent["amount_fen"])))
    assert refused(await world.client.post(CALLBACKS, content=raw, headers=headers), 422, "validation_error")
    assert nothing(await world.ledger())


# ---------------------------------------------------------------------------------------------- the contract
def _doc_block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return next(b for b in blocks if containing in b)


def test_the_worked_example_recomputes():
    doc = DOC.read_text(encoding="utf-8")
    secret = re.search(r"Secret \(an example; never use it\): `([^`]+)`", doc).group(1)
    ts = re.search(r"Timestamp: `(\d+)`", doc).group(1)
    body = _doc_block("json", "payment.succeeded").rstrip("\n").encode()
    headers = dict(line.split(": ", 1) for line in _doc_block("http", "Payment-Signature").strip().splitlines())
    assert headers["Payment-Timestamp"] == ts
    assert headers["Payment-Signature"] == signature_header(secret.encode(), ts, body)
    assert f"# {headers['Payment-Signature'][3:]}" in _doc_block("sh", "openssl")
    snippet: dict[str, Any] = {}
    exec(compile(_doc_block("python", "def verify_payment_callback"), str(DOC), "exec"), snippet)  # noqa: S102
    assert snippet["verify_payment_callback"]([secret], headers, body, now=int(ts))
    assert not snippet["verify_payment_callback"]([secret], headers, body + b" ", now=int(ts))
    assert not snippet["verify_payment_callback"]([secret], headers, body, now=int(ts) + 301)


async def test_the_documented_python_snippet_signs_a_callback_the_service_accepts(world):
    snippet: dict[str, Any] = {}
    exec(compile(_doc_block("python", "def sign_payment_callback"), str(DOC), "exec"), snippet)  # noqa: S102
    intent = await world.intent()
    raw = json.dumps(body_of(intent, "T-doc"), ensure_ascii=False).encode()
    headers = snippet["sign_payment_callback"](SECRET, raw)
    r = await world.client.post(CALLBACKS, content=raw, headers=headers)
    assert r.status_code == 200 and r.json()["provider_txn_id"] == "T-doc", r.text
    assert snippet["verify_payment_callback"]([OLD_SECRET, SECRET], headers, raw)
    assert not snippet["verify_payment_callback"]([OLD_SECRET], headers, raw)
    assert await world.ledger() == posted_once(80_000)
    # a documented refusal code, as documented
    assert "callback_timestamp_out_of_tolerance" in DOC.read_text(encoding="utf-8")
