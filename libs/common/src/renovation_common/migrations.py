"""Alembic helpers: one ``env.py`` body for every service, and a programmatic ``upgrade head``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from renovation_common.settings import database_url_for


def alembic_config(service_dir: Path, database_url: str) -> Config:
    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade_head(service_dir: Path, database_url: str) -> None:
    """Apply every migration of the service at ``service_dir`` to ``database_url`` (sync; run in a thread)."""
    command.upgrade(alembic_config(service_dir, database_url), "head")


def run_env(target_metadata: sa.MetaData, default_url: str = "") -> None:
    """The body of each service's ``migrations/env.py`` (online, async engine)."""
    url = context.config.get_main_option("sqlalchemy.url") or default_url
    url = database_url_for(url, url.rsplit("/", 1)[-1].split("?", 1)[0])

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: sa.Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=sa.pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def _infrastructure_v1(metadata: sa.MetaData) -> None:
    """The outbox, inbox, dead-letter and idempotency tables as version 1 created them (frozen)."""
    from sqlalchemy.dialects.postgresql import JSONB, UUID

    sa.Table(
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
        sa.Index("ix_outbox_pending", "seq", postgresql_where=sa.text("published_at IS NULL")),
    )
    sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(120), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    sa.Table(
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
    sa.Table(
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


def create_infrastructure_tables_v1() -> None:
    """Create version 1 of the outbox, inbox, dead-letter and idempotency tables (a service's first migration)."""
    from alembic import op

    from renovation_common.db import new_metadata

    metadata = new_metadata()
    _infrastructure_v1(metadata)
    metadata.create_all(op.get_bind())


def drop_infrastructure_tables_v1() -> None:
    from alembic import op

    for table in ("idempotency_keys", "dead_letters", "inbox", "outbox"):
        op.drop_table(table)


def upgrade_infrastructure_v2() -> None:
    """Version 2: periodic-job leases, idempotency records claimed in the effect's transaction (request nonce),
    indexes for the retention purge. Existing idempotency records (clear-text responses of version 1) are dropped:
    they are a cache, and version 2 stores responses encrypted only."""
    from alembic import op
    from sqlalchemy.dialects.postgresql import UUID

    op.execute("DELETE FROM idempotency_keys")
    op.add_column("idempotency_keys", sa.Column("request_nonce", UUID(as_uuid=True)))
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_index(
        "ix_outbox_published_at", "outbox", ["published_at"], postgresql_where=sa.text("published_at IS NOT NULL")
    )
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])
    op.create_index("ix_dead_letters_created_at", "dead_letters", ["created_at"])
    op.create_table(
        "periodic_jobs",
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_started_at", sa.DateTime(timezone=True)),
        sa.Column("last_finished_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("runs", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name="pk_periodic_jobs"),
    )


def downgrade_infrastructure_v2() -> None:
    from alembic import op

    op.drop_table("periodic_jobs")
    op.drop_index("ix_dead_letters_created_at", "dead_letters")
    op.drop_index("ix_inbox_processed_at", "inbox")
    op.drop_index("ix_outbox_published_at", "outbox")
    op.drop_index("ix_idempotency_keys_created_at", "idempotency_keys")
    op.drop_column("idempotency_keys", "request_nonce")
