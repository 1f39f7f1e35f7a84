"""The stack: Postgres and NATS (external or embedded), the services' databases and their migrations."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from renovation_common.devstack.broker import EmbeddedNats
from renovation_common.devstack.catalog import SERVICES, ServiceInfo
from renovation_common.devstack.postgres import EmbeddedPostgres

# The broker variables a client of an external NATS (NATS_URL set) may find in the environment.
BROKER_CLIENT_VARIABLES = (
    "NATS_AUTH_URL",
    "NATS_SYSTEM_URL",
    "NATS_DEVICE_ACCOUNT_SEED",
    "NATS_MONITOR_URL",
    "MQTT_URL",
    "MQTT_CA_FILE",
)


@dataclass
class Stack:
    """Postgres + NATS for development and tests: the servers named by the environment, or embedded ones."""

    data_dir: Path
    fast: bool = False
    database_url: str = ""
    nats_url: str = ""
    mqtt_port: int = 0
    nats_monitor_port: int = 0
    postgres: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    use_environment: bool = True  # False: always embedded (e2e and fault tests own their servers)
    broker_env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        external_db = os.environ.get("DATABASE_URL") if self.use_environment else None
        external_nats = os.environ.get("NATS_URL") if self.use_environment else None
        if external_db:
            self.database_url = external_db
        else:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres", fast=self.fast)
            self.database_url = self.postgres.start()
        if external_nats:
            self.use_external_nats(os.environ)
        else:
            self.nats = EmbeddedNats(self.data_dir / "nats")
            self.nats_url = self.nats.start()
            self.mqtt_port = self.nats.mqtt_port
            self.nats_monitor_port = self.nats.monitor_port
            self.broker_env = self.nats.environment()

    def use_external_nats(self, environ: Mapping[str, str]) -> None:
        self.nats_url = environ["NATS_URL"]
        self.mqtt_port = int(environ.get("MQTT_PORT", "8883"))
        self.broker_env = {k: environ[k] for k in BROKER_CLIENT_VARIABLES if environ.get(k)}

    def stop(self) -> None:
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def env(self) -> dict[str, str]:
        """What the services and tests need to reach these servers (broker users, MQTT URL and CA included)."""
        return {
            **self.broker_env,
            "DATABASE_URL": self.database_url,
            "NATS_URL": self.nats_url,
            "MQTT_PORT": str(self.mqtt_port),
        }


async def create_databases(server_url: str, names: list[str]) -> None:
    import asyncpg

    from renovation_common.settings import database_url_for

    admin_url = database_url_for(server_url, "postgres").replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin_url)
    try:
        for name in names:
            exists = await conn.fetchval("select 1 from pg_database where datname = $1", name)
            if not exists:
                await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()


def migrate_all(server_url: str, services: tuple[ServiceInfo, ...] = SERVICES) -> None:
    from renovation_common.migrations import upgrade_head
    from renovation_common.settings import database_url_for

    asyncio.run(create_databases(server_url, [s.database for s in services]))
    for svc in services:
        if (svc.directory / "alembic.ini").exists():
            upgrade_head(svc.directory, database_url_for(server_url, svc.database))
            print(f"[devstack] migrated {svc.database}", flush=True)


def redact_url(url: str) -> str:
    """``nats://user:secret@host`` → ``nats://user:***@host`` (for printing)."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


@contextlib.contextmanager
def embedded_stack(data_dir: Path, *, fast: bool = True) -> Iterator[Stack]:
    stack = Stack(data_dir, fast=fast)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
