"""The engine under a transaction-mode pooler (PgBouncer): no named prepared statement may outlive a transaction,
because the next transaction of the same client connection may run on another server connection."""

from __future__ import annotations

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
