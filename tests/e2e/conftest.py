"""The whole system as real processes: its own embedded Postgres and NATS (so it can restart them), every
service's migrations, and the five services started with ``python -m <package>`` on free ports."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from renovation_common.devstack import SERVICES, ServiceInfo, Stack, migrate_all, pick_port

pytestmark = pytest.mark.integration


@dataclass
class System:
    stack: Stack
    log_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def info(self, name: str) -> ServiceInfo:
        return next(s for s in SERVICES if name in (s.name, s.package))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[self.info(name).name]}"

    def env(self, svc: ServiceInfo) -> dict[str, str]:
        return {
            **os.environ,
            **self.stack.env(),
            f"{svc.env_prefix}PORT": str(self.ports[svc.name]),
            f"{svc.env_prefix}DATABASE_URL": "",
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "OUTBOX_POLL_INTERVAL_S": "0.2",
        }

    def start(self, name: str) -> None:
        svc = self.info(name)
        self.ports.setdefault(svc.name, pick_port())
        log = open(self.log_dir / f"{svc.name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[svc.name] = subprocess.Popen(
            [sys.executable, "-m", svc.package], env=self.env(svc), stdout=log, stderr=log, start_new_session=True
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[self.info(name).name]
        proc.send_signal(sig)
        proc.wait(30)

    async def wait_ready(self, *names: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            for name in names or [s.name for s in SERVICES]:
                while True:
                    proc = self.procs[self.info(name).name]
                    if proc.poll() is not None:
                        log = (self.log_dir / f"{self.info(name).name}.log").read_text()[-3000:]
                        raise AssertionError(f"{name} exited with {proc.returncode}:\n{log}")
                    try:
                        if (await client.get(self.url(name) + "/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{name} not ready within {timeout_s}s")
                    await asyncio.sleep(0.2)

    def restart_nats(self) -> None:
        assert self.stack.nats is not None
        self.stack.nats.stop()
        self.stack.nats.start()  # same data dir and ports: streams, consumers and messages survive

    def restart_postgres(self) -> None:
        assert self.stack.postgres is not None
        self.stack.postgres.stop()
        self.stack.postgres.start()

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
    for svc in SERVICES:
        sys_.start(svc.name)
    try:
        await sys_.wait_ready()
        yield sys_
    finally:
        sys_.stop_all()
