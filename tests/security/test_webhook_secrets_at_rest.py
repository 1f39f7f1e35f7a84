"""Issue 12, point 4 (webhooks): a once-shown ``whsec_`` signing secret never sits in clear in any table.

A subscription is created and its secret rotated, both with an ``Idempotency-Key`` (whose stored response is the one
place the secret would be copied to), and a ping is delivered; then every column of every row of every table of the
webhooks database is searched for each secret in every form it could take: as text, its base64 body alone, and the
hex of its bytes (how a ``bytea`` column reads as text). The only place a secret lives is the subscriptions table,
sealed under ``WEBHOOKS_SECRET_ENCRYPTION_KEY``; the idempotency record keeps the response only encrypted (and still
replays it). Nor is a secret written to the logs.
"""

from __future__ import annotations

import base64
import uuid

import pytest
import sqlalchemy as sa

from renovation_common.testing import bearer
from renovation_common.testing.plugin import eventually, running_app
from webhooks.adapters.secrets import SecretBox
from webhooks.entrypoints.app import create_app

pytestmark = pytest.mark.integration

KEY = "at-rest-" + "k" * 40


def forms(secret: str) -> list[str]:
    """Every way the secret (or the 32 bytes behind it) could be written down in a row read as text."""
    body = secret.removeprefix("whsec_")
    raw = base64.b64decode(body)
    return [
        secret,
        body,
        body.rstrip("="),
        secret.encode().hex(),
        raw.hex(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


async def tables_as_text(session) -> dict[str, list[str]]:
    names = (
        await session.execute(
            sa.text("select tablename from pg_tables where schemaname = current_schema() order by tablename")
        )
    ).scalars()
    return {
        name: list((await session.execute(sa.text(f'select t::text from "{name}" t'))).scalars())
        for name in list(names)
    }


async def test_create_and_rotate_with_idempotency_keys_leave_no_secret_in_clear(
    database_factory, stack, make_token, capfd
):
    app = create_app(
        database_url=await database_factory("webhooks"),
        nats_url=stack.nats_url,
        secret_encryption_key=KEY,
        allowed_target_networks=["127.0.0.0/8"],
        dispatcher_poll_interval_s=0.2,
    )
    async with running_app(app) as client:  # stopped inside the test: its logs are all captured below
        secrets = await _create_rotate_and_scan(app, client, make_token)
    logged = "".join(capfd.readouterr())
    assert "webhook_attempt" in logged  # the delivery of the ping was logged ...
    assert not [form for secret in secrets for form in forms(secret) if form in logged]  # ... without a secret


async def _create_rotate_and_scan(app, client, make_token) -> list[str]:
    gov = bearer(make_token("gov_system", sub="gov-at-rest", district_id="510105"))
    body = {"url": "http://127.0.0.1:9/hook?token=abc", "event_types": ["finance.*"], "description": "市住建委"}

    create_key = {**gov, "Idempotency-Key": f"create-{uuid.uuid4()}"}
    created = await client.post("/v1/subscriptions", json=body, headers=create_key)
    assert created.status_code == 201, created.text
    first = created.json()["secret"]
    replayed = await client.post("/v1/subscriptions", json=body, headers=create_key)
    assert replayed.status_code == 201 and replayed.json()["secret"] == first  # the stored response replays
    sid = created.json()["id"]

    rotate_key = {**gov, "Idempotency-Key": f"rotate-{uuid.uuid4()}"}
    rotate = f"/v1/subscriptions/{sid}/rotate-secret"
    rotated = await client.post(rotate, json={"grace_period_s": 3600}, headers=rotate_key)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["secret"]
    assert second != first
    again = await client.post(rotate, json={"grace_period_s": 3600}, headers=rotate_key)
    assert again.json()["secret"] == second  # replayed, not rotated twice
    ping = await client.post(f"/v1/subscriptions/{sid}/test", headers=gov)
    assert ping.status_code == 202

    async def attempted() -> bool:  # nothing listens on port 9: a failed attempt, its error recorded
        return bool((await client.get(f"/v1/deliveries/{ping.json()['id']}/attempts", headers=gov)).json())

    await eventually(attempted)

    async with app.state.sessionmaker() as session:
        tables = await tables_as_text(session)
        idempotency = (
            await session.execute(
                sa.text("select key, response_body from idempotency_keys where completed_at is not null")
            )
        ).all()
        [stored] = (
            await session.execute(
                sa.text("select secret_encrypted, previous_secret_encrypted from subscriptions where id = :id"),
                {"id": uuid.UUID(sid)},
            )
        ).all()

    # the scan is over the tables that hold copies of the responses and events, and over the effect itself
    assert {"subscriptions", "idempotency_keys", "outbox", "events", "deliveries", "delivery_attempts"} <= tables.keys()
    assert all(tables[t] for t in ("subscriptions", "idempotency_keys", "events", "deliveries", "delivery_attempts"))
    assert {k for k, _ in idempotency} == {create_key["Idempotency-Key"], rotate_key["Idempotency-Key"]}
    assert all(response for _, response in idempotency)
    leaks = [
        (table, form[:12])
        for table, rows in tables.items()
        for secret in (first, second)
        for form in forms(secret)
        for row in rows
        if form in row
    ]
    assert leaks == [], f"a signing secret in clear: {leaks}"
    # where it lives: the subscriptions table, sealed (current and, for the grace period, previous)
    box = SecretBox(KEY)
    assert box.open(stored.secret_encrypted) == second
    assert box.open(stored.previous_secret_encrypted) == first
    return [first, second]
