"""A throwaway 'probe' service schema for the common library's proof tests: infrastructure tables plus two
tables the tests write to."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from renovation_common.db import InfrastructureTables, create_engine, define_infrastructure_tables, new_metadata

metadata = new_metadata()
infra = define_infrastructure_tables(metadata)
things = sa.Table(
    "things",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
# No unique constraint on purpose: a double application of an event would show as two rows.
applied = sa.Table(
    "applied",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.String(64), nullable=False),
)


@dataclass
class ProbeDb:
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    infra: InfrastructureTables
    things: sa.Table = things
    applied: sa.Table = applied

    async def count(self, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
        async with self.sessionmaker() as s:
            return int(await s.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0)


@pytest.fixture
async def probe_db(database_factory) -> AsyncIterator[ProbeDb]:
    url = await database_factory(None, migrate=False)
    engine = create_engine(url, pool_size=5)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield ProbeDb(url, engine, async_sessionmaker(engine, expire_on_commit=False), infra)
    await engine.dispose()


@pytest.fixture
def unique_producer() -> str:
    """A producer name of its own per test, so its stream and subjects start empty."""
    return f"probe{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _no_leftover_tasks(request: pytest.FixtureRequest) -> None:
    """Every async test of the common library: no background task outlives it (see the plugin's fixture)."""
    if inspect.iscoroutinefunction(getattr(request.node, "function", None)):
        request.getfixturevalue("no_leftover_tasks")
