"""Database plumbing: naming convention, engine, infrastructure tables, units of work.

Each service has its own ``MetaData`` (its own database); :func:`define_infrastructure_tables` adds the outbox,
inbox, dead-letter, idempotency and periodic-job tables to it, so the relay, the consumer runner, the idempotency
store and the periodic jobs work the same everywhere.

* :class:`UnitOfWork` — one read-write transaction per use case; events go to the outbox in it, and so does the
  ``Idempotency-Key`` record of the HTTP request that runs it (see :mod:`renovation_common.idempotency`).
* :class:`ReadOnlyUnitOfWork` — a read-only transaction for queries; what it loaded stays usable after it ends
  (objects are detached, never expired), so no use case writes ``expunge_all()`` itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import greenlet_spawn

from renovation_common import idempotency
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
    pre_ping: bool = True,
    echo: bool = False,
) -> AsyncEngine:
    """An asyncpg engine holding at most ``pool_size + max_overflow`` connections (overflow defaults to the pool size).

    ``transaction_pooler``: the URL is a PgBouncer in transaction mode, where consecutive transactions of one client
    connection may run on different server connections, so no named prepared statement may outlive a transaction:
    asyncpg's statement cache and SQLAlchemy's prepared-statement cache are turned off (both then use unnamed
    statements, re-parsed per execution).

    ``pre_ping``: test each connection as it leaves the pool (on asyncpg three round trips: BEGIN, ``;``,
    ROLLBACK). Without it a connection the server dropped fails the one statement that meets it; SQLAlchemy then
    sees the disconnect and discards the pool's connections, so the next transactions connect afresh.

    Errors never quote the statement's parameters (``hide_parameters``): they end up in logs, and a parameter may be
    a secret, a personal field or a URL carrying a token.
    """
    connect_args: dict[str, Any] = {}
    if transaction_pooler:
        connect_args = {"statement_cache_size": 0, "prepared_statement_cache_size": 0}
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_pre_ping=pre_ping,
        echo=echo,
        hide_parameters=True,
        connect_args=connect_args,
    )


@dataclass(frozen=True)
class InfrastructureTables:
    outbox: sa.Table
    inbox: sa.Table
    dead_letters: sa.Table
    idempotency_keys: sa.Table
    periodic_jobs: sa.Table


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
    sa.Index("ix_outbox_published_at", outbox.c.published_at, postgresql_where=outbox.c.published_at.is_not(None))
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(120), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    sa.Index("ix_inbox_processed_at", inbox.c.processed_at)
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
    sa.Index("ix_dead_letters_created_at", dead_letters.c.created_at)
    idempotency_keys = sa.Table(
        "idempotency_keys",
        metadata,
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer),
        # the response, encrypted (DATA_ENCRYPTION_KEYS): it may hold a once-shown secret or personal data
        sa.Column("response_body", sa.LargeBinary),
        sa.Column("response_headers", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        # the request that claimed the key (several units of work of one request share it)
        sa.Column("request_nonce", UUID(as_uuid=True)),
    )
    sa.Index("ix_idempotency_keys_created_at", idempotency_keys.c.created_at)
    periodic_jobs = sa.Table(
        "periodic_jobs",
        metadata,
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_started_at", sa.DateTime(timezone=True)),
        sa.Column("last_finished_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("runs", sa.BigInteger, nullable=False, server_default="0"),
    )
    return InfrastructureTables(outbox, inbox, dead_letters, idempotency_keys, periodic_jobs)


def outbox_values(event: CloudEvent, subject_prefix: str) -> tuple[str, str, str, str]:
    """An outbox row's values, the one format every writer of the outbox uses (:meth:`UnitOfWork.flush_events`,
    :meth:`UnitOfWork.events_if` and :func:`outbox_insert_sql`): event id, subject (``<prefix>.<type>``), event
    type and the payload as JSON text (pydantic's own serializer, once; the database parses it)."""
    return event.id, f"{subject_prefix}.{event.type}", event.type, event.model_dump_json(exclude_none=True)


def outbox_insert_sql(first: int, *, payload: str = "{payload}::jsonb", source: str = "") -> str:
    """The INSERT of one outbox row as SQL text, for a use case that writes its event in the same statement as its
    state change (a data-modifying CTE on the driver connection: one round trip less than a separate INSERT).

    ``$first`` … ``$first+3`` are bound to :func:`outbox_values`' four values. ``payload`` is the SQL expression of
    the payload, ``{payload}`` standing for the bound JSON text: a statement may fill in figures it computes itself
    (``jsonb_set({payload}::jsonb, '{data,count}', to_jsonb(c.n))``). ``source`` (``from answer``) makes the row
    conditional on what the statement wrote. The caller tells its unit of work with
    :meth:`UnitOfWork.published_in_statement`, so the relay is woken at commit as for :meth:`UnitOfWork.publish`."""
    event_id, subject, event_type, body = (f"${first + i}" for i in range(4))
    value = payload.replace("{payload}", f"{body}::text")
    return (
        f"insert into outbox (event_id, subject, event_type, payload) "
        f"select {event_id}::uuid, {subject}::text, {event_type}::text, {value} {source}"
    )


@functools.cache
def _outbox_insert(outbox: sa.Table) -> sa.Insert:
    """The outbox INSERT of :meth:`UnitOfWork.flush_events` (the values of :func:`outbox_values`): the payload
    arrives as JSON text and the database parses it, instead of a Python dict serialized again by the driver."""
    return sa.insert(outbox).values(
        event_id=sa.bindparam("event_id", type_=UUID(as_uuid=False)),
        subject=sa.bindparam("subject"),
        event_type=sa.bindparam("event_type"),
        payload=sa.cast(sa.bindparam("payload_json", type_=sa.Text), JSONB),
    )


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
        self._events_in_statements = False
        self.wrote_events = False  # the transaction has written events into the outbox (flushed or in statements)
        self._statements: Any = None  # a pool connection outside any transaction (driver(begin=False))
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        self.session = self._sessionmaker()
        await self.session.begin()
        self._pending_events = []
        self._events_in_statements = self.wrote_events = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.session.in_transaction():
                await self.session.rollback()
        finally:
            try:
                await self.session.close()
            finally:
                if self._statements is not None:
                    statements, self._statements = self._statements, None
                    await greenlet_spawn(statements.close)  # back to the pool (nothing to reset)

    def publish(self, event: CloudEvent) -> None:
        """Record an event to be published once this transaction commits."""
        self._pending_events.append(event)

    def events_if(self, events: Sequence[CloudEvent], source: sa.FromClause, when: sa.ColumnElement[bool]) -> sa.Insert:
        """The outbox INSERT of ``events`` (rows as :meth:`flush_events` writes them), taking effect only where
        ``when`` holds on a row of ``source`` — e.g. a data-modifying CTE's RETURNING, so that the statement that
        decides (say, an upsert that may open an alarm or only count a repeat) writes its events too: one round trip
        instead of a statement and then the events. Embed it in that statement (``.cte()`` + ``add_cte``); the relay
        is woken after the commit as for :meth:`publish`. (A statement on the driver connection writes the same
        row with :func:`outbox_insert_sql`.)"""
        self._events_in_statements = self.wrote_events = True
        selects = [
            sa.select(
                sa.cast(sa.literal(event_id), UUID(as_uuid=False)),
                sa.literal(subject, sa.String),
                sa.literal(event_type, sa.String),
                sa.cast(sa.literal(payload, sa.Text), JSONB),
            )
            .select_from(source)
            .where(when)
            for event_id, subject, event_type, payload in (outbox_values(e, self.subject_prefix) for e in events)
        ]
        rows = selects[0] if len(selects) == 1 else sa.union_all(*selects)
        return sa.insert(self.infra.outbox).from_select(["event_id", "subject", "event_type", "payload"], rows)

    def published_in_statement(self) -> None:
        """The use case wrote an outbox row itself, in one of its driver-level statements
        (:func:`outbox_insert_sql`; a SQLAlchemy statement embeds :meth:`events_if`, which tells this itself): the
        relay is woken after commit, as for the events of :meth:`publish`."""
        self._events_in_statements = self.wrote_events = True

    async def driver(self, *, begin: bool = True) -> Any:
        """This transaction's asyncpg connection, the transaction begun (``BEGIN`` sent now unless a statement
        has begun it), for a use case's hottest statements: fixed SQL, parameters bound by the driver, no
        statement building or result processing by SQLAlchemy. The session stays usable beside it (the same
        connection and transaction); :meth:`commit` and leaving the block end the transaction as always.

        ``begin=False``: a connection of the pool outside any transaction, each statement its own — for a use
        case whose whole write is one statement (no ``BEGIN``/``COMMIT`` round trips, no session); it goes back
        to the pool when the block ends. Not with an ``Idempotency-Key`` pending
        (:func:`renovation_common.idempotency.key_pending`): its record belongs in the effect's transaction."""
        if begin:
            return await driver_connection(self.session)
        if self._statements is None:
            engine = self.session.bind
            assert isinstance(engine, AsyncEngine), "a unit of work's session is bound to its engine"
            self._statements = await engine.raw_connection()
        return self._statements.driver_connection

    async def flush_events(self) -> None:
        if not self._pending_events:
            return
        prefix = self.subject_prefix
        rows = [
            dict(zip(("event_id", "subject", "event_type", "payload_json"), outbox_values(e, prefix), strict=True))
            for e in self._pending_events
        ]
        await self.session.execute(_outbox_insert(self.infra.outbox), rows)
        self._pending_events = []
        self.wrote_events = True

    async def commit(self) -> None:
        had_events = bool(self._pending_events) or self._events_in_statements
        await self.flush_events()
        await idempotency.claim_in_transaction(self.session, self.infra.idempotency_keys)
        await self.session.commit()
        if had_events and self._on_commit_events is not None:
            self._on_commit_events()

    async def rollback(self) -> None:
        self._pending_events = []
        self._events_in_statements = False
        await self.session.rollback()


async def driver_connection(session: AsyncSession, *, begin: bool = True) -> Any:
    """The asyncpg connection of ``session``'s transaction, begun: ``BEGIN`` (``BEGIN READ ONLY`` in a read-only
    unit of work) is sent by SQLAlchemy's asyncpg adapter before the first statement it runs itself; a use case
    whose first statement goes to the driver has the adapter begin it now, so that statement, and the session's
    commit or rollback, are in the one transaction.

    ``begin=False``: the connection as it is — outside a transaction, each statement is its own (a read that
    needs none, or a use case whose whole write is one statement: no ``BEGIN``/``COMMIT`` round trips); the
    session's commit then has nothing to commit."""
    conn = await session.connection()
    fairy = await conn.get_raw_connection()
    adapter = fairy.dbapi_connection
    if begin and adapter is not None and getattr(adapter, "_transaction", None) is None:
        await adapter._start_transaction()  # what the adapter does before its own first statement
    return fairy.driver_connection


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

    async def driver(self, *, begin: bool = True) -> Any:
        if not begin:
            raise RuntimeError("a consumer's unit of work rides on the inbox transaction: it has no other")
        return await super().driver()

    async def commit(self) -> None:
        await self.flush_events()

    async def rollback(self) -> None:
        self._pending_events = []


async def rows_after_id(
    session: AsyncSession, table: sa.Table, equals: Mapping[str, Any], after: Any, limit: int
) -> list[Any]:
    """A page of a list: rows of ``table`` whose columns equal ``equals`` (``None`` values are no filter), by
    ``id`` after the cursor's ``after`` (keyset pagination: ask ``limit + 1`` to know whether a next page exists)."""
    stmt = sa.select(table).order_by(table.c.id).limit(limit)
    for column, value in equals.items():
        if value is not None:
            stmt = stmt.where(table.c[column] == value)
    if after is not None:
        stmt = stmt.where(table.c.id > after)
    return list((await session.execute(stmt)).all())


async def upsert_newest(
    session: AsyncSession,
    table: sa.Table,
    key: str | tuple[str, ...],
    values: dict[str, Any],
    *,
    version_column: str = "source_version",
) -> bool:
    """Write a read-model row from an event unless the stored row is newer.

    Events of one aggregate carry its version (``version`` in the contract); ``values[version_column]`` is it. An
    event older than what the read model holds (replicas of a consumer, a redelivery, a replay) is ignored, so read
    models keep the newest state whatever the arrival order. Equal versions apply (events of producers that do not
    count versions carry 0). Returns whether the row was written.
    """
    return await upsert_newest_many(session, table, key, [values], version_column=version_column) > 0


async def upsert_newest_many(
    session: AsyncSession,
    table: sa.Table,
    key: str | tuple[str, ...],
    rows: Sequence[dict[str, Any]],
    *,
    version_column: str = "source_version",
    tiebreak_column: str | None = None,
) -> int:
    """:func:`upsert_newest` for many rows in one statement (a consumer's batch of events); returns how many rows
    were written.

    The rows are taken in order, as if written one after the other: of several rows with one key, the newest
    version wins (the later one on equal versions), and a stored row newer than it is kept. Every row has the same
    columns. ``tiebreak_column`` (e.g. the event's time) decides between equal versions, for producers that do not
    count versions yet (they send 0): the row with the greater value wins, equal values apply.
    """
    keys = (key,) if isinstance(key, str) else key
    order = (version_column,) if tiebreak_column is None else (version_column, tiebreak_column)
    newest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for values in rows:
        k = tuple(values[c] for c in keys)
        kept = newest.get(k)
        if kept is None or tuple(kept[c] for c in order) <= tuple(values[c] for c in order):
            newest[k] = values
    if not newest:
        return 0
    chosen = list(newest.values())
    insert = pg_insert(table)  # executed with many parameter sets: one cached statement, sent as one multi-row INSERT
    updates: dict[str, Any] = {k: insert.excluded[k] for k in chosen[0] if k not in keys}
    if "updated_at" in table.c and "updated_at" not in chosen[0]:
        updates["updated_at"] = sa.func.now()
    stmt = insert.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_=updates,
        where=sa.tuple_(*(table.c[c] for c in order)) <= sa.tuple_(*(insert.excluded[c] for c in order)),
    ).returning(table.c[keys[0]])
    return len((await session.execute(stmt, chosen)).all())


class ReadOnlyUnitOfWork:
    """A read-only transaction for a query use case: ``async with runtime.read() as uow: ... uow.session``.

    The transaction is ``READ ONLY`` (a write is an error, not a surprise). What was loaded is detached when the
    block ends, so it stays readable after it (no expired attributes, no lazy loads).
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        self.session = self._sessionmaker()
        await self.session.begin()
        # the driver opens it as BEGIN READ ONLY (one round trip less than a SET TRANSACTION after BEGIN);
        # the characteristic is reset when the connection goes back to the pool
        await self.session.connection(execution_options={"postgresql_readonly": True})
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            self.session.expunge_all()
            if self.session.in_transaction():
                await self.session.rollback()
        finally:
            await self.session.close()


UowFactory = Callable[[], UnitOfWork]
ReaderFactory = Callable[[], ReadOnlyUnitOfWork]


async def purge_infrastructure(
    sessionmaker: async_sessionmaker[AsyncSession],
    infra: InfrastructureTables,
    *,
    older_than_days: float,
    chunk: int = 5000,
    max_chunks: int = 200,
) -> int:
    """Delete, in chunks of ``chunk`` rows (each its own short transaction), sent outbox rows, inbox rows,
    idempotency records and dead letters older than ``older_than_days``; return how many rows went."""
    cutoff = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, older_than_days * 86400.0)
    targets = (
        (infra.outbox, infra.outbox.c.seq, infra.outbox.c.published_at),
        (infra.inbox, None, infra.inbox.c.processed_at),
        (infra.idempotency_keys, None, infra.idempotency_keys.c.created_at),
        (infra.dead_letters, infra.dead_letters.c.id, infra.dead_letters.c.created_at),
    )
    total = 0
    for table, key, when in targets:
        for _ in range(max_chunks):
            async with sessionmaker() as session, session.begin():
                if key is not None:
                    ids = sa.select(key).where(when < cutoff).limit(chunk).scalar_subquery()
                    result = await session.execute(sa.delete(table).where(key.in_(ids)))
                else:
                    ctid: sa.ColumnElement[Any] = sa.literal_column("ctid")
                    ids = sa.select(ctid).select_from(table).where(when < cutoff).limit(chunk).scalar_subquery()
                    result = await session.execute(sa.delete(table).where(ctid.in_(ids)))
            deleted = int(getattr(result, "rowcount", 0) or 0)
            total += deleted
            if deleted < chunk:
                break
    return total
