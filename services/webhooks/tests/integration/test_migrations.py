"""`alembic upgrade head` on an empty database gives exactly the tables the ORM declares; 0004's data step."""

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from renovation_common.migrations import alembic_config
from webhooks.adapters.orm import metadata

ATTEMPT = (
    "insert into delivery_attempts (delivery_id, attempt_no, attempted_at, url, latency_ms, outcome) "
    "values (:d, :no, :now, :url, 1, 'retry')"
)


async def test_migrations_match_models(database_factory):
    url = await database_factory("webhooks")
    engine = create_async_engine(url, poolclass=sa.pool.NullPool)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_0004_strips_query_strings_from_recorded_attempts(database_factory):
    """Attempts recorded before 0004 kept full URLs (tokens in query strings included): the upgrade drops them."""
    url = await database_factory("webhooks", migrate=False)
    config = alembic_config(Path(__file__).parents[2], url)
    await asyncio.to_thread(command.upgrade, config, "0003")
    engine = create_async_engine(url, poolclass=sa.pool.NullPool)
    now, sub, event, delivery = datetime.now(UTC), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "insert into subscriptions (id, owner_sub, owner_role, url, event_types, secret_encrypted, "
                    "created_at, updated_at) values (:id, 'gov', 'gov_system', 'https://gov.example.cn/h?token=t0k', "
                    "array['*'], 'sealed', :now, :now)"
                ),
                {"id": sub, "now": now},
            )
            await conn.execute(
                sa.text(
                    "insert into events (id, type, source, time, payload, received_at) "
                    "values (:id, 'finance.x.y.v1', '/f', :now, '{}', :now)"
                ),
                {"id": event, "now": now},
            )
            await conn.execute(
                sa.text(
                    "insert into deliveries (id, subscription_id, event_id, event_type, next_attempt_at, created_at, "
                    "updated_at) values (:id, :sub, :event, 'finance.x.y.v1', :now, :now, :now)"
                ),
                {"id": delivery, "sub": sub, "event": event, "now": now},
            )
            for no, called in enumerate(
                ("https://gov.example.cn/h?token=t0k", "https://gov.example.cn/h#t0k", "https://gov.example.cn/h"), 1
            ):
                await conn.execute(sa.text(ATTEMPT), {"d": delivery, "no": no, "now": now, "url": called})
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            urls = (
                (await conn.execute(sa.text("select url from delivery_attempts order by attempt_no"))).scalars().all()
            )
            key_ids = (await conn.execute(sa.text("select secret_key_id from subscriptions"))).scalars().all()
    finally:
        await engine.dispose()
    assert urls == ["https://gov.example.cn/h"] * 3
    assert key_ids == [None]  # sealed before key ids were kept: the re-seal job opens it and records the key
