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


def create_infrastructure_tables_v1() -> None:
    """Create the outbox, inbox, dead-letter and idempotency tables (for a service's first migration).

    This is version 1 of those tables, frozen: a later change to them ships as a new migration in each service.
    """
    from alembic import op

    from renovation_common.db import define_infrastructure_tables, new_metadata

    metadata = new_metadata()
    define_infrastructure_tables(metadata)
    metadata.create_all(op.get_bind())


def drop_infrastructure_tables_v1() -> None:
    from alembic import op

    for table in ("idempotency_keys", "dead_letters", "inbox", "outbox"):
        op.drop_table(table)
