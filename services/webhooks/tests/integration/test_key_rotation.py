"""Rotation of the key that encrypts the stored signing secrets (``WEBHOOKS_SECRET_ENCRYPTION_KEY``).

Secrets sealed with key A; the service restarted with "B,A" still signs (A decrypts) and its re-seal job moves every
secret, current and previous, under B; restarted with "B" alone it still signs. Every request is verified by a real
receiver with the official ``standardwebhooks`` package.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from renovation_common.testing.plugin import eventually
from webhooks.adapters.orm import subscriptions
from webhooks.adapters.repositories import SubscriptionRepository
from webhooks.adapters.secrets import SecretBox, SecretUndecryptable, key_id_of
from webhooks.domain.model import Subscription
from webhooks.domain.signing import format_secret
from webhooks.service_layer.secret_keys import reseal_signing_secrets

from .conftest import subscribe

KEY_A = "key-a-" + "a" * 40
KEY_B = "key-b-" + "b" * 40
KEY_C = "key-c-" + "c" * 40


async def stored(app) -> list:
    async with app.state.sessionmaker() as s:
        return (await s.execute(sa.select(subscriptions))).all()


async def test_secrets_sealed_with_a_still_sign_under_b_a_and_under_b_alone_after_the_job(
    webhooks_on, database_factory, receiver, gov, publish, capfd
):
    url = await database_factory("webhooks")
    h, d = gov(), f"d-{uuid.uuid4().hex[:8]}"

    async def delivered_with(secret: str) -> None:
        """An event reaches the receiver and verifies with ``secret`` (and only because of it)."""
        receiver.secrets = [secret]
        event_id = await publish(d)

        async def verified() -> bool:
            return event_id in receiver.ids()

        await eventually(verified)

    # 1. key A: a subscription whose secret was rotated (the previous secret signs too, for a day)
    async with webhooks_on(url, KEY_A) as (_, client):
        sub = await subscribe(client, h, receiver, d)
        first = sub["secret"]
        r = await client.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", json={"grace_period_s": 86400}, headers=h)
        second = r.json()["secret"]
        await delivered_with(first)
        await delivered_with(second)
    [row] = await stored_rows(url)
    assert row.secret_key_id == row.previous_secret_key_id == key_id_of(KEY_A)
    for token in (row.secret_encrypted, row.previous_secret_encrypted):
        with pytest.raises(SecretUndecryptable):  # B alone cannot open what A sealed: the job has work to do
            SecretBox(KEY_B).open(token)

    # 2. "B,A": A still decrypts, so deliveries verify; the job re-seals both secrets under B and says none remain
    capfd.readouterr()
    async with webhooks_on(url, f"{KEY_B},{KEY_A}") as (app, client):
        await delivered_with(first)
        await delivered_with(second)

        async def resealed() -> bool:
            [r] = await stored(app)
            return r.secret_key_id == r.previous_secret_key_id == key_id_of(KEY_B)

        # the stopped process may have left its lease on the job (stopped mid-run): it expires after the job's
        # time budget (30 s), then this process takes the job over
        await eventually(resealed, timeout_s=60)
        lines: list[dict] = []
        await eventually(lambda: _async(_reported(capfd, lines, resealed=1, remaining=0)))
    [row] = await stored_rows(url)
    assert SecretBox(KEY_B).open(row.secret_encrypted) == second
    assert SecretBox(KEY_B).open(row.previous_secret_encrypted) == first

    # 3. "B" alone (A retired): both secrets still sign
    async with webhooks_on(url, KEY_B) as (_, client):
        await delivered_with(first)
        await delivered_with(second)
    assert all(r.verified for r in receiver.received)


def _reported(capfd, lines: list[dict], **expected: int) -> bool:
    """A ``webhook_signing_secrets_resealed`` log line (JSON) with the expected counts was written."""
    for line in capfd.readouterr().out.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return any(
        entry.get("event") == "webhook_signing_secrets_resealed" and all(entry.get(k) == v for k, v in expected.items())
        for entry in lines
    )


async def _async(value: bool) -> bool:
    return value


async def stored_rows(url: str) -> list:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, poolclass=sa.pool.NullPool)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(sa.select(subscriptions))).all())
    finally:
        await engine.dispose()


async def test_reseal_is_idempotent_in_chunks_and_leaves_what_no_key_opens(webhooks_on, database_factory):
    url = await database_factory("webhooks")
    old, new, stranger = SecretBox(KEY_A), SecretBox(f"{KEY_B},{KEY_A}"), SecretBox(KEY_C)
    async with webhooks_on(url, f"{KEY_B},{KEY_A}", workers_enabled=False, dispatcher_enabled=False) as (app, _):
        runtime = app.state.runtime
        secrets = {}
        async with runtime.uow() as uow:
            repo = SubscriptionRepository(uow.session)
            for i in range(7):
                secret = format_secret(bytes([i]) * 32)
                if i < 5:  # sealed under A, a previous secret too for some
                    box, previous = old, (old.seal(secret + "-prev") if i % 2 else None)
                elif i == 5:  # sealed under B before key ids were kept (NULL key id): the id gets recorded
                    box, previous = SecretBox(KEY_B), None
                else:  # sealed under a key the ring does not hold
                    box, previous = stranger, None
                subscription = _subscription(box.seal(secret), None if i == 5 else box.key_id, previous, old.key_id)
                secrets[subscription.id] = (secret, previous is not None)
                await repo.add(subscription)
            await uow.commit()

        report = await reseal_signing_secrets(runtime.uow, runtime.read, new, chunk=2)
        assert (report.resealed, report.undecryptable, report.remaining) == (6, 1, 1)
        again = await reseal_signing_secrets(runtime.uow, runtime.read, new, chunk=2)
        assert (again.resealed, again.undecryptable, again.remaining) == (0, 1, 1)

        retired = SecretBox(KEY_B)  # A dropped: every secret it sealed is readable under B alone
        opened = 0
        for row in await stored(app):
            secret, has_previous = secrets[row.id]
            if row.secret_key_id == stranger.key_id:
                continue
            assert row.secret_key_id == new.key_id
            assert retired.open(row.secret_encrypted) == secret
            if has_previous:
                assert row.previous_secret_key_id == new.key_id
                assert retired.open(row.previous_secret_encrypted) == secret + "-prev"
            opened += 1
        assert opened == 6


def _subscription(sealed: str, key_id: str | None, previous: str | None, previous_key_id: str) -> Subscription:
    now = datetime.now(UTC)
    return Subscription(
        id=uuid.uuid4(),
        owner_sub="gov-keys",
        owner_role="gov_system",
        url="https://gov.example.cn/hook",
        event_types=("*",),
        district_id=None,
        community_id=None,
        description="",
        enabled=True,
        disabled_reason=None,
        disabled_at=None,
        max_concurrency=4,
        failing_since=None,
        previous_secret_expires_at=now if previous else None,
        created_at=now,
        updated_at=now,
        secret_encrypted=sealed,
        secret_key_id=key_id,
        previous_secret_encrypted=previous,
        previous_secret_key_id=previous_key_id if previous else None,
    )
