"""Database plumbing: naming convention, engine, infrastructure tables, unit of work, repository base.

Each service has its own ``MetaData`` (its own database); :func:`define_infrastructure_tables` adds the outbox,
inbox, dead-letter and idempotency tables to it, so the relay and the consumer runner work the same everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from renovation_common.events import CloudEvent

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> sa.MetaData:
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int | None = None,
    transaction_pooler: bool = False,
    echo: bool = False,
) -> AsyncEngine:
    """An asyncpg engine holding at most ``pool_size + max_overflow`` connections (overflow defaults to the pool size).

    ``transaction_pooler``: the URL is a PgBouncer in transaction mode, where consecutive transactions of one client
    connection may run on different server connections, so no named prepared statement may outlive a transaction:
    asyncpg's statement cache and SQLAlchemy's prepared-statement cache are turned off (both then use unnamed
    statements, re-parsed per execution).
    """
    connect_args: dict[str, Any] = {}
    if transaction_pooler:
        connect_args = {"statement_cache_size": 0, "prepared_statement_cache_size": 0}
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_pre_ping=True,
        echo=echo,
        connect_args=connect_args,
    )


@dataclass(frozen=True)
class InfrastructureTables:
    outbox: sa.Table
    inbox: sa.Table
    dead_letters: sa.Table
    idempotency_keys: sa.Table


def define_infrastructure_tables(metadata: sa.MetaData) -> InfrastructureTables:
    """Add the messaging and idempotency tables to a service's metadata (call once per service)."""
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
    )
    sa.Index("ix_outbox_pending", outbox.c.seq, postgresql_where=outbox.c.published_at.is_(None))
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(120), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    dead_letters = sa.Table(
        "dead_letters",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("consumer", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(200)),
        sa.Column("event_type", sa.String(200)),
        sa.Column("stream_seq", sa.BigInteger),
        sa.Column("deliveries", sa.Integer, nullable=False, server_default="1"),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("consumer", "stream_seq"),
    )
    idempotency_keys = sa.Table(
        "idempotency_keys",
        metadata,
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response_body", sa.LargeBinary),
        sa.Column("response_headers", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
    )
    return InfrastructureTables(outbox, inbox, dead_letters, idempotency_keys)


def outbox_row(event: CloudEvent, subject: str) -> dict[str, Any]:
    return {
        "event_id": uuid.UUID(event.id),
        "subject": subject,
        "event_type": event.type,
        "payload": event.model_dump(mode="json", exclude_none=True),
        "headers": {},
    }


class UnitOfWork:
    """One transaction per use case: load, change, record events, commit.

    Events added with :meth:`publish` go to the outbox table in the same transaction as the state change;
    the relay sends them after commit. Leaving the block without :meth:`commit` rolls everything back.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        infra: InfrastructureTables,
        *,
        subject_prefix: str = "renovation",
        on_commit_events: Any = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.infra = infra
        self.subject_prefix = subject_prefix
        self._on_commit_events = on_commit_events
        self._pending_events: list[CloudEvent] = []
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        self.session = self._sessionmaker()
        await self.session.begin()
        self._pending_events = []
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.session.in_transaction():
                await self.session.rollback()
        finally:
            await self.session.close()

    def publish(self, event: CloudEvent) -> None:
        """Record an event to be published once this transaction commits."""
        self._pending_events.append(event)

    async def flush_events(self) -> None:
        if not self._pending_events:
            return
        rows = [outbox_row(e, f"{self.subject_prefix}.{e.type}") for e in self._pending_events]
        await self.session.execute(sa.insert(self.infra.outbox), rows)
        self._pending_events = []

    async def commit(self) -> None:
        had_events = bool(self._pending_events)
        await self.flush_events()
        await self.session.commit()
        if had_events and self._on_commit_events is not None:
            self._on_commit_events()

    async def rollback(self) -> None:
        self._pending_events = []
        await self.session.rollback()


class ConsumerUnitOfWork(UnitOfWork):
    """A unit of work riding on a transaction someone else owns: a consumer's inbox transaction.

    Use cases called from an event handler take it like any unit of work. Events they publish are written to the
    outbox in that same transaction (on :meth:`commit` or :meth:`flush_events`); the consumer runner commits, so the
    inbox row, the effects and the outgoing events land together or not at all.
    """

    def __init__(self, session: AsyncSession, infra: InfrastructureTables, *, subject_prefix: str = "renovation"):
        super().__init__(async_sessionmaker(), infra, subject_prefix=subject_prefix)
        self.session = session

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._pending_events = []  # the owner of the transaction decides; unflushed events go with a failure

    async def commit(self) -> None:
        await self.flush_events()

    async def rollback(self) -> None:
        self._pending_events = []


ModelT = TypeVar("ModelT")


class SqlRepository(Generic[ModelT]):
    """Repository base for one ORM class. SQL lives in repositories (adapters), never in domain code."""

    model: type[ModelT]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, ident: Any, *, for_update: bool = False) -> ModelT | None:
        return await self.session.get(self.model, ident, with_for_update=for_update)

    def add(self, obj: ModelT) -> None:
        self.session.add(obj)

    async def list_after(
        self,
        *,
        order_column: Any,
        after: Any | None,
        limit: int,
        filters: Sequence[Any] = (),
    ) -> list[ModelT]:
        stmt = sa.select(self.model).where(*filters).order_by(order_column).limit(limit)
        if after is not None:
            stmt = stmt.where(order_column > after)
        return list((await self.session.scalars(stmt)).all())


def utc_now_sql() -> sa.ColumnElement[datetime]:
    return sa.func.now()
