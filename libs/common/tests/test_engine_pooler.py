"""The engine under a transaction-mode pooler (PgBouncer): no named prepared statement may outlive a transaction,
because the next transaction of the same client connection may run on another server connection."""

from __future__ import annotations

import asyncio
import shutil
from typing import ClassVar

import pytest
import sqlalchemy as sa
from pydantic_settings import SettingsConfigDict

from renovation_common.db import create_engine
from renovation_common.settings import ServiceSettings

NAMED_STATEMENTS = sa.text("select count(*) from pg_prepared_statements where name <> ''")


async def _named_statements_after_queries(url: str, *, transaction_pooler: bool) -> int:
    engine = create_engine(url, pool_size=1, max_overflow=0, transaction_pooler=transaction_pooler)
    try:
        async with engine.connect() as conn:
            for i in range(3):  # each in its own transaction, like the services' units of work
                await conn.execute(sa.text("select cast(:i as integer) + 1"), {"i": i})
                await conn.commit()
            count = await conn.scalar(NAMED_STATEMENTS)
            return int(count or 0)
    finally:
        await engine.dispose()


@pytest.mark.integration
async def test_transaction_pooler_leaves_no_named_prepared_statement(database_factory) -> None:
    url = await database_factory(None, migrate=False)
    # canary: the probe sees the named statements of the default (cached) engine
    assert await _named_statements_after_queries(url, transaction_pooler=False) > 0
    assert await _named_statements_after_queries(url, transaction_pooler=True) == 0


@pytest.mark.integration
async def test_pool_bounds_follow_the_settings(database_factory) -> None:
    url = await database_factory(None, migrate=False)
    engine = create_engine(url, pool_size=3, max_overflow=2)
    try:
        assert engine.pool.size() == 3
        assert engine.pool._max_overflow == 2  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
    default = create_engine(url, pool_size=4)
    try:
        assert default.pool._max_overflow == 4  # type: ignore[attr-defined]  # overflow defaults to the pool size
    finally:
        await default.dispose()


def test_settings_carry_the_pool_and_pooler_options(monkeypatch: pytest.MonkeyPatch) -> None:
    class Probe(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore")
        service_name: ClassVar[str] = "probe"

    monkeypatch.setenv("PROBE_DB_POOL_SIZE", "4")
    monkeypatch.setenv("PROBE_DB_MAX_OVERFLOW", "1")
    monkeypatch.setenv("PROBE_DB_TRANSACTION_POOLER", "true")
    s = Probe()
    assert (s.db_pool_size, s.db_max_overflow, s.db_transaction_pooler) == (4, 1, True)
    monkeypatch.delenv("PROBE_DB_MAX_OVERFLOW")
    assert Probe().db_max_overflow is None


async def _transactions_through(url: str, *, transaction_pooler: bool) -> list[str]:
    """300 concurrent transactions shaped like the services' (ORM statements with parameters, then a raw asyncpg
    temp table + COPY + query, as smart-community's bulk insert does); returns the errors."""
    engine = create_engine(url, pool_size=8, max_overflow=0, transaction_pooler=transaction_pooler)
    errors: list[str] = []
    async with engine.begin() as conn:
        await conn.execute(sa.text("create table if not exists pooled (id serial primary key, v integer)"))

    async def one(i: int) -> None:
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text("insert into pooled (v) values (:v)"), {"v": i})
                await conn.execute(sa.text("select count(*) from pooled where v > :v"), {"v": i % 7})
                raw = (await conn.get_raw_connection()).driver_connection
                await raw.execute("create temp table if not exists stage (a integer, b text) on commit delete rows")
                await raw.copy_records_to_table("stage", records=[(i, "x"), (i + 1, "y")], columns=["a", "b"])
                assert await raw.fetchval("select count(*) from stage where a >= $1", i) == 2
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    try:
        for _ in range(5):
            await asyncio.gather(*(one(i) for i in range(60)))
    finally:
        await engine.dispose()
    return errors


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("pgbouncer") is None, reason="pgbouncer not installed (apt-get install pgbouncer)")
async def test_engine_works_through_pgbouncer_in_transaction_mode(database_factory, pgbouncer) -> None:
    url = await database_factory(None, migrate=False)
    pooled = pgbouncer(url)
    # canary: with the caches on, prepared statements go missing between server connections
    assert await _transactions_through(pooled, transaction_pooler=False)
    assert await _transactions_through(pooled, transaction_pooler=True) == []


@pytest.mark.integration
async def test_read_only_unit_of_work_refuses_writes_and_leaves_the_connection_writable(database_factory) -> None:
    """The read-only transaction is opened READ ONLY by the driver (no SET after BEGIN); the next transaction on
    the same pooled connection writes again, and a pool without pre-ping serves it."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from renovation_common.db import ReadOnlyUnitOfWork

    url = await database_factory(None, migrate=False)
    engine = create_engine(url, pool_size=1, max_overflow=0, pre_ping=False)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("create table ro_probe (n int)"))
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with ReadOnlyUnitOfWork(sessions) as read:
            assert await read.session.scalar(sa.text("show transaction_read_only")) == "on"
            with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
                await read.session.execute(sa.text("insert into ro_probe values (1)"))
        async with sessions() as session, session.begin():  # the same (only) connection, writable again
            assert await session.scalar(sa.text("show transaction_read_only")) == "off"
            await session.execute(sa.text("insert into ro_probe values (2)"))
        async with engine.connect() as conn:
            assert await conn.scalar(sa.text("select count(*) from ro_probe")) == 1
    finally:
        await engine.dispose()
