"""`alembic upgrade head` on an empty database gives exactly the tables the ORM declares, check constraints included
(autogenerate does not compare those, so they are compared by name here)."""

import asyncio
import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from finance.adapters.orm import metadata
from renovation_common.migrations import alembic_config


async def test_migrations_match_models(database_factory):
    url = await database_factory("finance")
    engine = create_async_engine(url, poolclass=sa.pool.NullPool)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
            )
            in_db = set(
                (await conn.execute(sa.text("select conname from pg_constraint where contype = 'c'"))).scalars()
            )
    finally:
        await engine.dispose()
    assert diff == []
    declared = {
        str(c.name)
        for table in metadata.tables.values()
        for c in table.constraints
        if isinstance(c, sa.CheckConstraint)
    }
    assert {"ck_payments_receipt_proof", "ck_payments_provider_proof", "ck_payment_intents_amount_positive"} <= declared
    assert declared - in_db == set()


async def test_0004_keeps_payments_posted_before_proofs_and_old_pods_keep_working(database_factory):
    """Expand only: a payment of the removed declare-paid route survives as 'legacy' with its due's community, and a
    pod of the previous release (inserting without the new columns) still works during a rollout."""
    url = await database_factory("finance", migrate=False)
    cfg = alembic_config(Path(__file__).parents[2], url)
    await asyncio.to_thread(command.upgrade, cfg, "0002")
    engine = create_async_engine(url, poolclass=sa.pool.NullPool)
    pool, scheme, due = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def old_pod_pays(conn):
        await conn.execute(
            sa.text(
                "insert into payments (id, due_id, amount_fen, transfer_group_id, paid_by) "
                "values (:id, :due, 100, :g, 'resident-1')"
            ),
            {"id": uuid.uuid4(), "due": due, "g": uuid.uuid4()},
        )

    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "insert into accounts (id, kind, name, allow_negative) "
                    "values (:id, 'contribution_pool', 'p', false)"
                ),
                {"id": pool},
            )
            await conn.execute(
                sa.text(
                    "insert into contribution_schemes (id, community_id, district_id, kind, title, "
                    "amount_fen_per_household, pool_account_id, created_by) "
                    "values (:id, 'c-old', 'D1', 'water_meter', 't', 80000, :pool, 'w')"
                ),
                {"id": scheme, "pool": pool},
            )
            await conn.execute(
                sa.text(
                    "insert into dues (id, scheme_id, household_id, community_id, district_id, building_id, "
                    "floor_area_m2, amount_fen) values (:id, :s, 'h1', 'c-old', 'D1', 'b1', 50, 80000)"
                ),
                {"id": due, "s": scheme},
            )
            await old_pod_pays(conn)
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with engine.begin() as conn:
            await old_pod_pays(conn)  # the previous release, still running during the rollout
            rows = (await conn.execute(sa.text("select source, community_id from payments order by created_at"))).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [("legacy", "c-old"), ("legacy", None)]
