"""pytest plugin (registered through the ``pytest11`` entry point): real Postgres and real NATS for tests.

* ``stack`` — session: the servers named by ``DATABASE_URL`` / ``NATS_URL`` (``make test`` sets them to its own
  isolated embedded servers), or, when unset, embedded servers started for this pytest session in a temp dir.
* ``database_factory`` — creates a fresh database, applies a service's migrations, drops it at the end.
* ``nats_client`` / ``jetstream`` — a connected client.
* ``make_token`` — signs a development JWT with the scope claims you give.
* ``service_client`` — runs a service's app (lifespan included: relay, consumers) against a fresh database and
  yields an ``httpx.AsyncClient`` bound to it.
* ``no_leftover_tasks`` — fails a test that leaves a background task running (the event loop is shared by the whole
  session, so such a task — a dispatcher, a relay, a consumer — would go on working, on a dropped database or on
  the next test's events); the task is cancelled. A test suite turns it on for all its tests with an autouse
  fixture requesting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from renovation_common.auth import issue_dev_token
from renovation_common.devstack import SERVICES, Stack, create_databases
from renovation_common.settings import DEV_JWT_SECRET, database_url_for


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The servers of ``DATABASE_URL``/``NATS_URL`` (with the broker variables ``make test`` sets: auth callout and
    system users, the device account seed, ``MQTT_URL``/``MQTT_CA_FILE``), or embedded ones for this session, whose
    environment is exported so that apps under test find the broker exactly as deployed (TLS MQTT, auth callout)."""
    if os.environ.get("DATABASE_URL") and os.environ.get("NATS_URL"):
        external = Stack(Path("."))
        external.database_url = os.environ["DATABASE_URL"]
        external.use_external_nats(os.environ)
        yield external
        return
    embedded = Stack(tmp_path_factory.mktemp("stack"), fast=True)
    embedded.start()
    saved = {k: os.environ.get(k) for k in embedded.env()}
    os.environ.update(embedded.env())
    try:
        yield embedded
    finally:
        embedded.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def _drop_database(server_url: str, name: str) -> None:
    import asyncpg

    admin = database_url_for(server_url, "postgres").replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


DatabaseFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def database_factory(stack: Stack) -> AsyncIterator[DatabaseFactory]:
    """``await database_factory("survey")`` → URL of a new, migrated database for that service."""
    from renovation_common.migrations import upgrade_head

    created: list[str] = []

    async def create(service: str | None = None, *, migrate: bool = True) -> str:
        name = f"t_{(service or 'db').replace('-', '_')}_{uuid.uuid4().hex[:10]}"
        await create_databases(stack.database_url, [name])
        created.append(name)
        url = database_url_for(stack.database_url, name)
        if service and migrate:
            info = next(s for s in SERVICES if service in (s.name, s.package))
            await asyncio.to_thread(upgrade_head, info.directory, url)
        return url

    yield create
    for name in created:
        with contextlib.suppress(Exception):  # best-effort cleanup
            await _drop_database(stack.database_url, name)


@pytest.fixture
async def nats_client(stack: Stack) -> AsyncIterator[Any]:
    import nats

    nc = await nats.connect(stack.nats_url)
    yield nc
    await nc.close()


@pytest.fixture
def jetstream(nats_client: Any) -> Any:
    return nats_client.jetstream()


TokenFactory = Callable[..., str]


@pytest.fixture
def make_token() -> TokenFactory:
    def make(role: str, *, sub: str | None = None, ttl_s: int = 3600, **scope: str | None) -> str:
        return issue_dev_token(
            secret=os.environ.get("JWT_SECRET") or DEV_JWT_SECRET,
            role=role,
            sub=sub or f"{role}-{uuid.uuid4().hex[:6]}",
            ttl_s=ttl_s,
            **cast(dict[str, Any], scope),
        )

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_app(app: Any, *, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """Run an ASGI app's lifespan and yield a client talking to it in-process."""
    async with AsyncExitStack() as es:
        await es.enter_async_context(app.router.lifespan_context(app))
        client = await es.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, timeout=30)
        )
        yield client


ServiceClientFactory = Callable[..., Any]


@pytest.fixture
async def service_client(
    database_factory: DatabaseFactory, stack: Stack
) -> AsyncIterator[Callable[..., Awaitable[tuple[Any, httpx.AsyncClient]]]]:
    """``app, client = await service_client(create_app_fn, "survey", **settings_overrides)``."""
    async with AsyncExitStack() as es:

        async def start(factory: Callable[..., Any], service: str, **overrides: Any) -> tuple[Any, httpx.AsyncClient]:
            url = await database_factory(service)
            app = factory(database_url=url, nats_url=stack.nats_url, log_json=False, **overrides)
            client = await es.enter_async_context(running_app(app))
            return app, client

        yield start


@pytest.fixture
async def no_leftover_tasks() -> AsyncIterator[None]:
    """Every task the test started has ended when it ends (cancelled ones get up to 10 s to unwind)."""
    before = set(asyncio.all_tasks())
    yield
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        left = [t for t in asyncio.all_tasks() if t not in before and t is not asyncio.current_task() and not t.done()]
        if not left or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    assert not left, "background tasks outlived the test: " + ", ".join(sorted({t.get_name() for t in left}))


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 15.0, interval_s: float = 0.1) -> None:
    """Wait until ``check()`` is true (for asynchronous effects: relays, consumers)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(interval_s)


async def all_pages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], *, page_size: int = 2, **params: Any
) -> list[Any]:
    """Every item of a cursor-paginated list, following ``next_cursor`` page by page (small pages: the cursor is
    exercised); each page must answer 200."""
    seen: list[Any] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": page_size, **({"cursor": cursor} if cursor else {})}
        r = await client.get(path, headers=headers, params=query)
        assert r.status_code == 200, r.text
        seen += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return seen
