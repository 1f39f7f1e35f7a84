"""A throwaway 'probe' service schema for the common library's proof tests: infrastructure tables plus two
tables the tests write to."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


def _start_pgbouncer(directory: Path, server_url: str) -> tuple[subprocess.Popen[bytes], int]:
    """PgBouncer in transaction mode in front of the test Postgres, few server connections so that consecutive
    transactions of one client connection land on different ones (what production's Pooler does under load)."""
    from renovation_common.devstack import pick_port, wait_for_port

    server = urlsplit(server_url)
    port = pick_port(6432)
    directory.chmod(0o755)  # PgBouncer drops root to nobody (it refuses to run as root)
    users = directory / "users.txt"
    users.write_text(f'"{server.username or "postgres"}" "{server.password or ""}"\n')
    conf = directory / "pgbouncer.ini"
    conf.write_text(
        f"[databases]\n* = host={server.hostname} port={server.port or 5432}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\nauth_file = {users}\n"
        "pool_mode = transaction\ndefault_pool_size = 3\nmax_client_conn = 200\nunix_socket_dir =\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    for f in (users, conf):
        f.chmod(0o644)
    binary = shutil.which("pgbouncer")
    assert binary is not None
    cmd = [binary, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(conf)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc=proc)
    return proc, port


@pytest.fixture
def pgbouncer(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``pgbouncer(database_url)`` → the same database through PgBouncer in transaction mode (stopped at the end)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(url: str) -> str:
        proc, port = _start_pgbouncer(tmp_path, url)
        procs.append(proc)
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, f"{parts.username or 'postgres'}@127.0.0.1:{port}", parts.path, "", ""))

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)
