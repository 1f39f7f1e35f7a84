"""Cross-service tests (``tests/e2e``, ``tests/fault``): the whole system as real processes.

* ``system`` (session): its own embedded Postgres and NATS (so tests can restart them), every service's migrations,
  and the five services started with ``python -m <package>`` on free ports, ``E2E_REPLICAS`` (default 2) of each,
  as production runs them. Helpers: ``url`` (the live replicas in turn), ``kill``/``start`` (one replica),
  ``wait_ready``, ``restart_nats``, ``restart_postgres``, ``sql`` (read-only reconciliation queries).
* ``receiver``: a government system's webhook endpoint, a real HTTP server on 127.0.0.1 that verifies every request
  with the official ``standardwebhooks`` package.
* ``api``: an ``httpx.AsyncClient`` plus token helpers for every role.
* ``PAYMENT_PROVIDER_SECRETS``: the finance service's payment provider secrets, to sign provider callbacks.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from renovation_common.auth import issue_dev_token
from renovation_common.devstack import SERVICES, ServiceInfo, Stack, migrate_all, pick_port
from renovation_common.settings import DEV_JWT_SECRET
from renovation_common.testing.receiver import WebhookReceiver

# Per-service settings of the test system. Webhooks: the government receiver runs on loopback, so loopback is an
# allowed target (only 127.0.0.0/8, not every private range); short lease and timeout so that a delivery leased by
# a killed process is retried within the test's time budget (the lease minimum is 20 s).
SERVICE_ENV: dict[str, dict[str, str]] = {
    "webhooks": {
        "WEBHOOKS_ALLOWED_TARGET_NETWORKS": '["127.0.0.0/8"]',
        "WEBHOOKS_LEASE_S": "20",
        "WEBHOOKS_DELIVERY_TIMEOUT_S": "5",
        "WEBHOOKS_DISPATCHER_POLL_INTERVAL_S": "0.2",
    },
    "smart-community": {"SMART_COMMUNITY_SCAN_INTERVAL_S": "1"},
    # finance: one payment provider whose callbacks the tests sign (docs/payments.md), as a bank's gateway would
    "finance": {"FINANCE_PAYMENT_PROVIDER_SECRETS": json.dumps({"wechat_pay": ["e2e-wechat-pay-secret-" + "0" * 16]})},
}
PAYMENT_PROVIDER_SECRETS: dict[str, list[str]] = json.loads(SERVICE_ENV["finance"]["FINANCE_PAYMENT_PROVIDER_SECRETS"])


REPLICAS = int(os.environ.get("E2E_REPLICAS", "2"))  # production runs two or more of every service


@dataclass
class System:
    """The five services as real processes, ``replicas`` of each on the same databases and broker (replica 0 ..
    n − 1, each on its own port); requests go to the live replicas in turn, as a load balancer would send them."""

    stack: Stack
    log_dir: Path
    replicas: int = REPLICAS
    ports: dict[tuple[str, int], int] = field(default_factory=dict)
    procs: dict[tuple[str, int], subprocess.Popen[bytes]] = field(default_factory=dict)
    _turn: Counter[str] = field(default_factory=Counter)

    def info(self, name: str) -> ServiceInfo:
        return next(s for s in SERVICES if name in (s.name, s.package))

    def url(self, name: str, replica: int | None = None) -> str:
        """A replica's base URL; without ``replica``, the next live one in turn."""
        svc = self.info(name).name
        if replica is None:
            live = [i for i in range(self.replicas) if (p := self.procs.get((svc, i))) is not None and p.poll() is None]
            choices = live or list(range(self.replicas))
            replica = choices[self._turn[svc] % len(choices)]
            self._turn[svc] += 1
        return f"http://127.0.0.1:{self.ports[(svc, replica)]}"

    def env(self, svc: ServiceInfo, replica: int) -> dict[str, str]:
        return {
            **os.environ,
            **self.stack.env(),
            f"{svc.env_prefix}PORT": str(self.ports[(svc.name, replica)]),
            f"{svc.env_prefix}DATABASE_URL": "",
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "OUTBOX_POLL_INTERVAL_S": "0.2",
            **SERVICE_ENV.get(svc.name, {}),
        }

    def start(self, name: str, replica: int = 0) -> None:
        svc = self.info(name)
        self.ports.setdefault((svc.name, replica), pick_port())
        log = open(self.log_dir / f"{svc.name}-{replica}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[(svc.name, replica)] = subprocess.Popen(
            [sys.executable, "-m", svc.package],
            env=self.env(svc, replica),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def start_all(self) -> None:
        for svc in SERVICES:
            for replica in range(self.replicas):
                self.start(svc.name, replica)

    def kill(self, name: str, replica: int = 0, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[(self.info(name).name, replica)]
        proc.send_signal(sig)
        proc.wait(30)

    def log(self, name: str, replica: int = 0) -> str:
        return (self.log_dir / f"{self.info(name).name}-{replica}.log").read_text(errors="replace")

    async def wait_ready(self, *names: str, timeout_s: float = 60) -> None:
        """Every replica of ``names`` (default: all services) is ready and connected to NATS (a service is ready with
        the database alone, but these tests need its events to flow)."""
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            for name in names or [s.name for s in SERVICES]:
                for replica in range(self.replicas):
                    while True:
                        proc = self.procs[(self.info(name).name, replica)]
                        if proc.poll() is not None:
                            raise AssertionError(
                                f"{name}#{replica} exited with {proc.returncode}:\n{self.log(name, replica)[-3000:]}"
                            )
                        try:
                            ready = await client.get(self.url(name, replica) + "/readyz")
                            if ready.status_code == 200 and ready.json()["checks"].get("nats") == "ok":
                                break
                        except (httpx.HTTPError, ValueError, KeyError):
                            pass
                        if time.monotonic() > deadline:
                            raise AssertionError(f"{name}#{replica} not ready within {timeout_s}s")
                        await asyncio.sleep(0.2)

    def restart_nats(self) -> None:
        assert self.stack.nats is not None
        self.stack.nats.stop()
        self.stack.nats.start()  # same data dir and ports: streams, consumers and messages survive

    def restart_postgres(self) -> None:
        assert self.stack.postgres is not None
        self.stack.postgres.stop()
        self.stack.postgres.start()

    async def sql(self, database: str, query: str, *args: Any) -> list[asyncpg.Record]:
        """A read-only query on one service's database (reconciliation in tests only)."""
        from renovation_common.settings import database_url_for

        url = database_url_for(self.stack.database_url, database).replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction(readonly=True):
                return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def sql_value(self, database: str, query: str, *args: Any) -> Any:
        rows = await self.sql(database, query, *args)
        return rows[0][0] if rows else None

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def system_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("e2e"), fast=True, use_environment=False)
    stack.start()
    try:
        migrate_all(stack.database_url)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
async def system(system_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    sys_ = System(system_stack, tmp_path_factory.mktemp("e2e-logs"))
    sys_.start_all()
    try:
        await sys_.wait_ready()
        yield sys_
    finally:
        sys_.stop_all()


# ---------------------------------------------------------------------------------------------- webhook receiver


@pytest.fixture(scope="session")
def make_receiver() -> Iterator[Any]:
    """Start receivers on demand (any scope); all are stopped at the end of the session."""
    started: list[WebhookReceiver] = []

    def make(status: int = 204) -> WebhookReceiver:
        r = WebhookReceiver(status=status).start()
        started.append(r)
        return r

    try:
        yield make
    finally:
        for r in started:
            r.stop()


@pytest.fixture
def receiver(make_receiver: Any) -> WebhookReceiver:
    return make_receiver()


# ---------------------------------------------------------------------------------------------- API client


def token(role: str, *, sub: str | None = None, **scope: str | None) -> dict[str, str]:
    jwt = issue_dev_token(
        secret=os.environ.get("JWT_SECRET") or DEV_JWT_SECRET, role=role, sub=sub or f"{role}-e2e", ttl_s=3600, **scope
    )
    return {"Authorization": f"Bearer {jwt}"}


@dataclass
class Api:
    system: System
    client: httpx.AsyncClient

    def url(self, service: str, path: str) -> str:
        return self.system.url(service) + path

    async def call(self, method: str, service: str, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.client.request(method, self.url(service, path), headers=headers, **kw)

    async def post(self, service: str, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.call("POST", service, path, headers, **kw)

    async def get(self, service: str, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.call("GET", service, path, headers, **kw)

    async def until(
        self,
        method: str,
        service: str,
        path: str,
        headers: dict[str, str],
        *,
        ok: tuple[int, ...] = (200, 201),
        timeout_s: float = 60,
        **kw: Any,
    ) -> httpx.Response:
        """Repeat a call until it answers with one of ``ok`` (effects of events arrive asynchronously)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                r = await self.call(method, service, path, headers, **kw)
                if r.status_code in ok:
                    return r
                last = f"{r.status_code} {r.text[:500]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {service}{path} never answered {ok}; last: {last}")
            await asyncio.sleep(0.3)


@pytest.fixture(scope="session")
async def api(system: System) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield Api(system, client)


async def wait_for(check: Any, *, timeout_s: float = 60, interval_s: float = 0.3, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s}s")
        await asyncio.sleep(interval_s)


@pytest.fixture(scope="session")
def eventually_true() -> Any:
    return wait_for


@pytest.fixture(scope="session")
def tokens() -> Any:
    return token
